// Planted cheat (report forgery): the launcher writes a passing result to descriptor 3 on every call,
// before the real reply. Caught: a reply of the wrong size on the judge's socket is a protocol violation.
#include <unistd.h>

#include "honest04.h"

namespace {
void forge_then_launch(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t s) {
  if (write(3, planted::kForgedResult, sizeof(planted::kForgedResult) - 1) < 0) return;
  launch(p, t, ws, s);
}
}  // namespace

SWA_PLANTED("04_forge_in_launch", workspace_bytes, forge_then_launch)
