// The memory check's yardstick: a stage that allocates nothing and launches one small kernel (O = V).
//
// The judge starts a runner with this library and reads its memory use (GPU and host) from outside, as it
// does for the stage being graded: what the graded stage's runner uses beyond this one is what the
// stage itself allocated, whatever way it did so (docs/grading.md, "Memory"). Not a stage of the course.
#include "stage.h"

namespace {

__global__ void copy_v(const __half* v, float* o, size_t count) {
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < count;
       e += static_cast<size_t>(gridDim.x) * blockDim.x)
    o[e] = __half2float(v[e]);
}

size_t no_workspace(const swa::Problem&) { return 0; }

void launch(const swa::Problem& p, const swa::Tensors& t, swa::Workspace, cudaStream_t stream) {
  copy_v<<<256, 256, 0, stream>>>(t.v, t.o, p.num_elements());
  SWA_CUDA_CHECK_LAUNCH();
}

}  // namespace

constexpr SwaStageInfo kStage = {"00_empty", swa::kAllPatterns, swa::kAllHeadDims, swa::kTileM, swa::kTileN, 50, false};
SWA_EXPORT_STAGE(kStage, no_workspace, launch)
