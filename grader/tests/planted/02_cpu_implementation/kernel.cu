// Planted cheat (not on the GPU): stage 02 computed on the CPU: copy Q, K, V to the host, compute there
// (on every core), copy O back. Right, and the old grader had no time limit for stages 01-02. Caught:
// stages 01-02 must finish within a generous multiple of the solution's recorded time (or, without
// recorded timings, of the full-attention baseline's): status "too slow".
#include <algorithm>
#include <cmath>
#include <thread>
#include <vector>

#include "stage.h"

namespace {

size_t no_workspace(const swa::Problem&) { return 0; }

void on_the_cpu(const swa::Problem& p, const swa::Tensors& t, swa::Workspace, cudaStream_t s) {
  const size_t n = p.num_elements();
  std::vector<__half> q(n), k(n), v(n);
  std::vector<float> o(n);
  SWA_CUDA_CHECK(cudaMemcpyAsync(q.data(), t.q, n * sizeof(__half), cudaMemcpyDeviceToHost, s));
  SWA_CUDA_CHECK(cudaMemcpyAsync(k.data(), t.k, n * sizeof(__half), cudaMemcpyDeviceToHost, s));
  SWA_CUDA_CHECK(cudaMemcpyAsync(v.data(), t.v, n * sizeof(__half), cudaMemcpyDeviceToHost, s));
  SWA_CUDA_CHECK(cudaStreamSynchronize(s));
  const long long rows = static_cast<long long>(p.batch_heads()) * p.N;
  const unsigned workers = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned w = 0; w < workers; ++w)
    pool.emplace_back([&, w] {
      std::vector<float> score(p.N);
      for (long long row = w; row < rows; row += workers) {
        const int bh = static_cast<int>(row / p.N), i = static_cast<int>(row % p.N);
        const int lo = std::max(0, i - p.pattern.left), hi = std::min(p.N - 1, i + p.pattern.right);
        float m = -INFINITY;
        for (int j = lo; j <= hi; ++j) {
          float dot = 0;
          for (int d = 0; d < p.D; ++d)
            dot += __half2float(q[p.row_offset(bh, i) + d]) * __half2float(k[p.row_offset(bh, j) + d]);
          score[j] = p.scale * dot;
          m = std::max(m, score[j]);
        }
        float l = 0;
        for (int j = lo; j <= hi; ++j) l += (score[j] = std::exp(score[j] - m));
        for (int d = 0; d < p.D; ++d) {
          float acc = 0;
          for (int j = lo; j <= hi; ++j) acc += score[j] * __half2float(v[p.row_offset(bh, j) + d]);
          o[p.row_offset(bh, i) + d] = acc / l;
        }
      }
    });
  for (std::thread& th : pool) th.join();
  SWA_CUDA_CHECK(cudaMemcpyAsync(t.o, o.data(), n * sizeof(float), cudaMemcpyHostToDevice, s));
  SWA_CUDA_CHECK(cudaStreamSynchronize(s));
}

}  // namespace

constexpr SwaStageInfo kStage = {"02_cpu_implementation",
                                 swa::pattern_bit(swa::PatternKind::kSlidingWindow),
                                 swa::kAllHeadDims,
                                 swa::kTileM,
                                 swa::kTileN,
                                 80,
                                 false};
SWA_EXPORT_STAGE(kStage, no_workspace, on_the_cpu)
