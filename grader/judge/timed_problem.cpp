// timed_problem.cpp: batches on the judge's clock (timed_problem.h).
#include "timed_problem.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "compare.h"
#include "cuda_check.h"

namespace swa {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// Input sets that cover this many bytes do not fit in the L2 cache (60 MB on an H200), twice over.
constexpr size_t kCoverBytes = size_t{128} << 20;

}  // namespace

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

TimedProblem::TimedProblem(JudgeContext& ctx, const Problem& p, const PatternSpec& spec, size_t workspace, int max_sets)
    : ctx_(ctx), host_problem_(p), spec_(spec) {
  host_problem_.pattern = spec_.view();
  const size_t set_bytes = p.num_elements() * (3 * sizeof(__half) + sizeof(float));
  min_sets_ = static_cast<int>(std::max<size_t>(2, (kCoverBytes + set_bytes - 1) / set_bytes));
  max_sets = std::max(max_sets, min_sets_);
  arena_ = std::make_unique<ProblemArena>(host_problem_, spec_, workspace, max_sets, ctx.sharing);
  references_ = DeviceArray<float>(p.num_elements() * max_sets);
  baseline_out_ = DeviceArray<float>(p.num_elements() * max_sets);
  checks_ = DeviceArray<unsigned char>(sizeof(judge_gpu::LaunchCheck) * max_sets);
}

void TimedProblem::prepare(uint64_t seed, int count, bool with_references) {
  const size_t n = host_problem_.num_elements();
  cudaStream_t s = ctx_.stream;
  for (int set = 0; set < count; ++set) {
    judge_gpu::fill_uniform(arena_->q(set), n, mix_seed(seed, 3 * set), 1.0f, s);
    judge_gpu::fill_uniform(arena_->k(set), n, mix_seed(seed, 3 * set + 1), 1.0f, s);
    judge_gpu::fill_uniform(arena_->v(set), n, mix_seed(seed, 3 * set + 2), 1.0f, s);
  }
  // Every set's reference in one launch: one launch per set left a single head's few warps waiting on
  // each other, set after set (seconds of a grade on the H200).
  if (with_references)
    judge_gpu::reference_attention(arena_->problem(), arena_->q(0), arena_->k(0), arena_->v(0), references_.get(), s,
                                   count, arena_->stride_bytes() / sizeof(__half), n);
  SWA_CUDA_CHECK(cudaStreamSynchronize(s));
  arena_->poison();
  digest_ = judge_gpu::digest(arena_->q(0), 3 * arena_->input_bytes(), arena_->stride_bytes(), count, s);
  prepared_ = count;
}

void TimedProblem::validate_reference() {
  const size_t n = host_problem_.num_elements();
  HostInputs in;
  in.q.resize(n), in.k.resize(n), in.v.resize(n);
  SWA_CUDA_CHECK(cudaMemcpy(in.q.data(), arena_->q(0), n * sizeof(__half), cudaMemcpyDeviceToHost));
  SWA_CUDA_CHECK(cudaMemcpy(in.k.data(), arena_->k(0), n * sizeof(__half), cudaMemcpyDeviceToHost));
  SWA_CUDA_CHECK(cudaMemcpy(in.v.data(), arena_->v(0), n * sizeof(__half), cudaMemcpyDeviceToHost));
  std::vector<float> ref(n);
  SWA_CUDA_CHECK(cudaMemcpy(ref.data(), references_.get(), n * sizeof(float), cudaMemcpyDeviceToHost));
  const Comparison c =
      compare_heads(host_problem_, in, ref, {0, host_problem_.batch_heads() - 1}, Tolerance{1e-5, 1e-4});
  if (!c.passed())
    throw std::runtime_error("the grader's GPU reference disagrees with its CPU reference (" + c.summary() +
                             "): a fault of the grader, please report it");
}

bool TimedProblem::gpu_busy(double* longest_chunk_us) {
  // Switched out for another process: a chunk far longer than any on the idle GPU (and than the clock's
  // own granularity). One long chunk can be a passing hiccup (seen on the H200 with honest stages): busy
  // only when three probes in a row, 2 ms apart, find one, which work left behind on purpose does.
  const double limit = std::max(200.0, 10 * ctx_.calibration.probe_chunk_us);
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    *longest_chunk_us = judge_gpu::probe(ctx_.calibration.probe_chunks, ctx_.stream).longest_chunk_us;
    if (*longest_chunk_us <= limit) return false;
  }
  return true;
}

TimedProblem::StageBatch TimedProblem::stage_batch(RemoteStage& stage, uint32_t arena_id, int count) {
  StageBatch b;
  RunnerProcess& runner = stage.process();
  runner.freeze();
  b.busy_before = gpu_busy(&b.probe_chunk_us);
  const size_t n = host_problem_.num_elements();
  auto* checks = reinterpret_cast<judge_gpu::LaunchCheck*>(checks_.get());
  const Tolerance tol = ctx_.rubric.tolerance;  // inputs in [-1, 1]: max|V| <= 1, so atol is absolute
  // Zeroed on the stream the check runs on, and finished before the clock starts.
  SWA_CUDA_CHECK(cudaMemsetAsync(checks, 0, count * sizeof(judge_gpu::LaunchCheck), ctx_.stream));
  SWA_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  runner.thaw();
  const Clock::time_point t0 = Clock::now();
  b.outcome = stage.run(*arena_, arena_id, 0, count, ctx_.rubric.silence_timeout_s, /*check_code_after=*/false);
  // The clock stops when the runner says done (it synchronised its whole device first); every output is
  // checked right after, so work that goes on after "done" finds its outputs unwritten.
  b.ms_per_launch = ms_since(t0) / count;
  judge_gpu::check_outputs(arena_->o(0), arena_->stride_floats(), references_.get(), n, n, count,
                           static_cast<float>(tol.atol), static_cast<float>(tol.rtol), checks, ctx_.stream);
  SWA_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  runner.freeze();
  stage.check_code();  // after the clock: reading the runner's maps takes a while
  b.checks.resize(count);
  SWA_CUDA_CHECK(cudaMemcpy(b.checks.data(), checks, count * sizeof(judge_gpu::LaunchCheck), cudaMemcpyDeviceToHost));
  b.inputs_changed = judge_gpu::digest(arena_->q(0), 3 * arena_->input_bytes(), arena_->stride_bytes(), prepared_,
                                       ctx_.stream) != digest_;
  return b;
}

double TimedProblem::baseline_batch(const SwaStageApi& baseline, int count, bool* busy) {
  double probe = 0;
  *busy = gpu_busy(&probe);
  const size_t n = host_problem_.num_elements();
  Problem full = host_problem_;  // the baseline attends to every key
  full.pattern = Pattern{};
  full.pattern.left = full.pattern.right = full.N;
  auto* checks = reinterpret_cast<judge_gpu::LaunchCheck*>(checks_.get());
  char message[512] = {};
  SWA_CUDA_CHECK(cudaMemsetAsync(checks, 0, count * sizeof(judge_gpu::LaunchCheck), ctx_.stream));
  SWA_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  const Clock::time_point t0 = Clock::now();
  for (int k = 0; k < count; ++k) {
    const Tensors t{arena_->q(k), arena_->k(k), arena_->v(k), baseline_out_.get() + k * n};
    if (baseline.forward(&full, &t, Workspace{}, ctx_.stream, message, sizeof(message)) != kSwaOk)
      throw std::runtime_error(std::string("the grader's baseline failed: ") + message);
  }
  SWA_CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));  // the launches, and nothing else, on the clock
  return ms_since(t0) / count;
}

std::vector<std::string> TimedProblem::verdicts(const StageBatch& b) const {
  std::vector<std::string> found;
  const size_t n = host_problem_.num_elements();
  const int count = static_cast<int>(b.checks.size());
  for (int k = 0; k < count; ++k) {
    const judge_gpu::LaunchCheck& c = b.checks[k];
    const std::string run = " (timed run " + std::to_string(k + 1) + " of " + std::to_string(count) + ")";
    if (k > 0 && c.same_as_previous == n && (c.too_far > 0 || c.not_finite > 0)) {
      found.push_back("output reused between timed runs" + run);
    } else if (c.unwritten > 0) {
      found.push_back("output not written by the time the stage said it was done" + run);
    } else if (c.too_far > 0 || c.not_finite > 0) {
      const size_t first_bad = n - c.first_bad_from_end;
      const long long head =
          static_cast<long long>(first_bad / (static_cast<size_t>(host_problem_.N) * host_problem_.D));
      found.push_back("wrong output in a timed run" + run + ", first in head " + std::to_string(head) + " of " +
                      std::to_string(host_problem_.batch_heads()));
    }
    if (!found.empty()) break;  // the first is enough to name it
  }
  if (b.inputs_changed) found.push_back("the stage changed its inputs (Q, K or V) during the timed runs");
  if (b.busy_before) found.push_back("the GPU was still busy with the stage's work after it said it was done");
  return found;
}

}  // namespace swa
