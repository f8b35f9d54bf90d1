// Planted cheat (output caching): remembers each output by its input pointers and shape, and on a second
// call with the same pointers copies the remembered output instead of computing. The old grader timed
// the same buffers over and over. Caught: each batch of timed runs has fresh inputs in the same buffers,
// and every output is checked: "wrong output in a timed run".
#include <vector>

#include "honest04.h"

namespace {
struct Entry {
  const void *q, *k, *v;
  int B, H, N, D, left, right;
  float* copy;
};

void cached(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t s) {
  static std::vector<Entry> cache;
  const size_t bytes = p.num_elements() * sizeof(float);
  for (const Entry& e : cache)
    if (e.q == t.q && e.k == t.k && e.v == t.v && e.B == p.B && e.H == p.H && e.N == p.N && e.D == p.D &&
        e.left == p.pattern.left && e.right == p.pattern.right) {
      SWA_CUDA_CHECK(cudaMemcpyAsync(t.o, e.copy, bytes, cudaMemcpyDeviceToDevice, s));
      return;
    }
  launch(p, t, ws, s);
  float* copy = nullptr;
  if (cudaMalloc(&copy, bytes) != cudaSuccess) return;
  SWA_CUDA_CHECK(cudaMemcpyAsync(copy, t.o, bytes, cudaMemcpyDeviceToDevice, s));
  cache.push_back({t.q, t.k, t.v, p.B, p.H, p.N, p.D, p.pattern.left, p.pattern.right, copy});
}
}  // namespace

SWA_PLANTED("04_cache_by_pointer", workspace_bytes, cached)
