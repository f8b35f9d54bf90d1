// Planted cheat (memory evasion): O(N^2) scratch from the driver API's cuMemAlloc, allocated and freed in
// every call (the old grader hooked only the runtime's cudaMalloc family). Caught: during the memory
// check the judge leaves the runner only the limit (+64 MB) of the GPU free, so the allocation fails at
// the large shape: "the run failed with the memory its limit allows".
#include <cuda.h>

#include "honest04.h"

namespace {
template <class F>
F driver(const char* name) {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult found;
  if (cudaGetDriverEntryPointByVersion(name, &fn, 12000, cudaEnableDefault, &found) != cudaSuccess) return nullptr;
  return reinterpret_cast<F>(fn);
}

void with_scores(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t s) {
  static const auto alloc = driver<CUresult (*)(CUdeviceptr*, size_t)>("cuMemAlloc");
  static const auto release = driver<CUresult (*)(CUdeviceptr)>("cuMemFree");
  const size_t bytes = static_cast<size_t>(p.batch_heads()) * p.N * p.N * sizeof(float);  // every score
  CUdeviceptr scores = 0;
  if (alloc == nullptr || alloc(&scores, bytes) != CUDA_SUCCESS)
    throw std::runtime_error("cuMemAlloc of " + std::to_string(bytes) + " bytes failed: out of memory");
  SWA_CUDA_CHECK(cudaMemsetAsync(reinterpret_cast<void*>(scores), 0, bytes, s));
  launch(p, t, ws, s);
  SWA_CUDA_CHECK(cudaStreamSynchronize(s));
  release(scores);
}
}  // namespace

SWA_PLANTED("04_cumemalloc", workspace_bytes, with_scores)
