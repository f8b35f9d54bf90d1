// timing.cpp: CUDA-event timing with warm-up, L2 flushes and medians.
#include "timing.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <stdexcept>

#include "cuda_check.h"
#include "tile_mask.h"

namespace swa {
namespace {

// Runs the stage once on `stream`; throws with the stage's message if it refuses or fails to launch.
void enqueue(const SwaStageApi& stage, DeviceProblem& gpu, cudaStream_t stream) {
  char message[1024] = {};
  const Tensors t = gpu.tensors();
  if (stage.forward(&gpu.problem(), &t, gpu.workspace(), stream, message, sizeof(message)) != kSwaOk)
    throw std::runtime_error(std::string(stage.info.name) + ": " + message);
}

// A buffer twice the size of the L2 cache: writing it evicts whatever the previous run left there.
class L2Flusher {
 public:
  L2Flusher() {
    int device = 0, l2 = 0;
    SWA_CUDA_CHECK(cudaGetDevice(&device));
    SWA_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device));
    buffer_ = DeviceArray<unsigned char>(std::max(2 * static_cast<size_t>(l2), size_t{1} << 20));
  }
  void flush(cudaStream_t stream, int run) {
    SWA_CUDA_CHECK(cudaMemsetAsync(buffer_.get(), run & 0xff, buffer_.size(), stream));
  }

 private:
  DeviceArray<unsigned char> buffer_;
};

}  // namespace

std::vector<Timing> time_stages(const std::vector<StageRun>& runs, const TimingOptions& options, cudaStream_t stream) {
  L2Flusher l2;
  cudaEvent_t start, stop;
  SWA_CUDA_CHECK(cudaEventCreate(&start));
  SWA_CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<std::vector<double>> times(runs.size());
  try {
    auto timed_run = [&](const StageRun& run, int index) {
      if (options.flush_l2) l2.flush(stream, index);
      SWA_CUDA_CHECK(cudaEventRecord(start, stream));
      enqueue(*run.stage, *run.gpu, stream);
      SWA_CUDA_CHECK(cudaEventRecord(stop, stream));
      SWA_CUDA_CHECK(cudaEventSynchronize(stop));
      float ms = 0;
      SWA_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
      return static_cast<double>(ms);
    };
    // Warm up each stage; a slow one (a large full-attention run) is only repeated a few times.
    bool slow = false;
    for (const StageRun& run : runs) {
      const double first = timed_run(run, 0);
      slow = slow || first > options.slow_run_ms;
      double warmed = first;
      for (int w = 1; first <= options.slow_run_ms && (w < options.warmup || warmed < options.warmup_ms); ++w)
        warmed += timed_run(run, w);
    }
    const int min_repeats = slow ? options.slow_repeats : options.min_repeats;
    const int max_repeats = slow ? options.slow_repeats : options.max_repeats;
    // Then the stages in turn, run by run: a passing change in the GPU's clocks falls on all of them alike.
    double spent = 0;
    for (int r = 0; r < max_repeats && !(r >= min_repeats && spent > options.budget_ms); ++r)
      for (size_t k = 0; k < runs.size(); ++k) {
        times[k].push_back(timed_run(runs[k], r));
        spent += times[k].back();
      }
  } catch (...) {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    throw;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);

  std::vector<Timing> result;
  for (std::vector<double>& t : times) {
    std::sort(t.begin(), t.end());
    const size_t n = t.size();
    result.push_back({n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]), t.front(), t.back(), static_cast<int>(n)});
  }
  return result;
}

Timing time_stage(const SwaStageApi& stage, DeviceProblem& gpu, const TimingOptions& options, cudaStream_t stream) {
  return time_stages({{&stage, &gpu}}, options, stream).front();
}

double useful_tflops(const Problem& p, long long pairs_per_head, double ms) {
  const double flops = 4.0 * p.D * static_cast<double>(pairs_per_head) * p.batch_heads();
  return ms > 0 ? flops / (ms * 1e-3) / 1e12 : 0.0;
}

TileBounds tile_bounds(const Pattern& pattern, int N, int tile_m, int tile_n) {
  struct Count {
    long long total = 0, most = 0;
  };
  auto visited = [=](const Pattern& pat) {
    const TileMask mask{pat, N, tile_m, tile_n};
    Count c;
    for (int m = 0; m < mask.num_query_tiles(); ++m) {
      long long tiles = 0;
      for (int n = mask.first_key_tile(m); n < mask.num_key_tiles(); n = mask.next_key_tile(m, n)) ++tiles;
      c.total += tiles;
      c.most = std::max(c.most, tiles);
    }
    return c;
  };
  Pattern full;
  full.kind = PatternKind::kSlidingWindow;
  full.left = full.right = N;
  const Count all = visited(full), some = visited(pattern);
  return {static_cast<double>(all.total) / static_cast<double>(some.total),
          static_cast<double>(all.most) / static_cast<double>(some.most)};
}

double tile_count_bound(const Pattern& pattern, int N) { return tile_bounds(pattern, N).average; }

}  // namespace swa
