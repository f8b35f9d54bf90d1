// Planted cheat (partial work): on a problem of 64 heads or more (the speed check's large shape) computes
// only the first and the last head, the two the old grader checked after timing. Caught: every head of
// every timed output is checked: "output not written by the time the stage said it was done" (the
// middle heads still hold the poison).
#include "honest04.h"

namespace {
void ends_only(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t s) {
  if (p.batch_heads() < 64) return launch(p, t, ws, s);
  swa::Problem one = p;
  one.B = one.H = 1;
  for (const int bh : {0, p.batch_heads() - 1}) {
    const size_t at = p.row_offset(bh, 0);
    const swa::Tensors head{t.q + at, t.k + at, t.v + at, t.o + at};
    launch(one, head, ws, s);
  }
}
}  // namespace

SWA_PLANTED("04_skip_middle_heads", workspace_bytes, ends_only)
