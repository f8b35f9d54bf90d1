// A planted fault: stage 04's solution, but every window reaches one key too far on the right (the
// classic `j <= i + W + 1`). The grader must catch it in the correctness and window checks and name
// the right edge in its feedback.
#include "stage.h"

// Build the solution with its export switched off, then export it with the fault in front of it.
#pragma push_macro("SWA_EXPORT_STAGE")
#undef SWA_EXPORT_STAGE
#define SWA_EXPORT_STAGE(...)
#include "solutions/04_online_softmax/kernel.cu"
#pragma pop_macro("SWA_EXPORT_STAGE")

namespace {

void launch_one_too_far(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t stream) {
  swa::Problem wider = p;
  if (wider.pattern.right < swa::kMaxWindow) wider.pattern.right += 1;  // the fault
  launch(wider, t, ws, stream);
}

}  // namespace

constexpr SwaStageInfo kOffByOne = {"04_off_by_one",     kStage.patterns, kStage.head_dims,
                                    kStage.tile_m,       kStage.tile_n,   kStage.min_compute_capability,
                                    kStage.arch_specific};
SWA_EXPORT_STAGE(kOffByOne, workspace_bytes, launch_one_too_far)
