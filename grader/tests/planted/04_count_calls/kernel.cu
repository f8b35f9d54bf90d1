// Planted cheat (counting calls): computes the first 300 calls (the correctness, window and memory checks
// take fewer) and launches nothing after that, when the timing has begun. Caught: every timed output is
// checked: "output not written by the time the stage said it was done".
#include "honest04.h"

namespace {
void counted(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t s) {
  static long calls = 0;
  if (++calls > 300) return;
  launch(p, t, ws, s);
}
}  // namespace

SWA_PLANTED("04_count_calls", workspace_bytes, counted)
