// A planted fault: the kernel writes far past the end of O (an illegal address). The grader must report
// a CUDA error for this stage, give it no points, and go on with the others.
#include "stage.h"

namespace {

__global__ void write_out_of_bounds(float* o) { o[(size_t{1} << 40) + threadIdx.x] = 1.0f; }

size_t no_workspace(const swa::Problem&) { return 0; }

void launch(const swa::Problem&, const swa::Tensors& t, swa::Workspace, cudaStream_t stream) {
  write_out_of_bounds<<<1, 32, 0, stream>>>(t.o);
  SWA_CUDA_CHECK_LAUNCH();
}

}  // namespace

constexpr SwaStageInfo kStage = {
    "91_crash", swa::pattern_bit(swa::PatternKind::kSlidingWindow), swa::kAllHeadDims, swa::kTileM, swa::kTileN, 80,
    false};
SWA_EXPORT_STAGE(kStage, no_workspace, launch)
