// Planted cheat (writing O only on the first call): computes a problem the first few times in a row and
// then stops launching, keeping whatever the output holds. The old grader poisoned the output once and
// timed the same buffers again and again. Caught: each timed run writes an output of its own, poisoned
// first: "output not written by the time the stage said it was done".
#include "honest04.h"

namespace {
void first_only(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t s) {
  if (planted::repeated(p)) return;
  launch(p, t, ws, s);
}
}  // namespace

SWA_PLANTED("04_first_call_only", workspace_bytes, first_only)
