// A planted fault: the kernel never finishes. The grader must stop the stage's runner, report it as
// timed out with no points, and go on with the others.
#include "stage.h"

namespace {

__global__ void spin_forever() {
  for (;;) __nanosleep(1000);  // each sleep is an instruction with a side effect: the loop stays
}

size_t no_workspace(const swa::Problem&) { return 0; }

void launch(const swa::Problem&, const swa::Tensors&, swa::Workspace, cudaStream_t stream) {
  spin_forever<<<1, 32, 0, stream>>>();
  SWA_CUDA_CHECK_LAUNCH();
}

}  // namespace

constexpr SwaStageInfo kStage = {
    "92_hang", swa::pattern_bit(swa::PatternKind::kSlidingWindow), swa::kAllHeadDims, swa::kTileM, swa::kTileN, 80,
    false};
SWA_EXPORT_STAGE(kStage, no_workspace, launch)
