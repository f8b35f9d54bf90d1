// Planted cheat (memory evasion): allocates 2 GiB as the library loads, before any check could count
// it, and keeps it. Caught: the judge reads the whole runner's GPU memory, however early it was taken:
// "more GPU memory than an empty stage".
#include "honest04.h"

namespace {
void* g_early = nullptr;
__attribute__((constructor)) void take_early() {
  if (cudaMalloc(&g_early, size_t{2} << 30) != cudaSuccess) g_early = nullptr;
}

void with_early(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t s) {
  if (g_early) SWA_CUDA_CHECK(cudaMemsetAsync(g_early, 0, 1 << 20, s));
  launch(p, t, ws, s);
}
}  // namespace

SWA_PLANTED("04_early_alloc", workspace_bytes, with_early)
