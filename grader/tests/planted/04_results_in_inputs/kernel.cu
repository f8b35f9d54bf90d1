// Planted cheat (storing results inside Q/K/V): computes, then marks Q (its first element set to 0) so
// that a later call on the same buffers knows the output is already there and skips the work. Caught:
// the judge checks Q, K and V after every batch of timed runs: "the stage changed its inputs".
#include "honest04.h"

namespace {
void marked(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t s) {
  __half first;
  SWA_CUDA_CHECK(cudaMemcpyAsync(&first, t.q, sizeof(first), cudaMemcpyDeviceToHost, s));
  SWA_CUDA_CHECK(cudaStreamSynchronize(s));
  if (__half2float(first) == 0.0f && p.N > 64) return;  // "already done"
  launch(p, t, ws, s);
  SWA_CUDA_CHECK(cudaMemsetAsync(const_cast<__half*>(t.q), 0, sizeof(__half), s));
}
}  // namespace

SWA_PLANTED("04_results_in_inputs", workspace_bytes, marked)
