// A planted fault: the launcher aborts the whole process. The grader must report the stage as crashed
// (SIGABRT) with no points, and go on with the others.
#include <cstdlib>

#include "stage.h"

namespace {

size_t no_workspace(const swa::Problem&) { return 0; }

void launch(const swa::Problem&, const swa::Tensors&, swa::Workspace, cudaStream_t) { std::abort(); }

}  // namespace

constexpr SwaStageInfo kStage = {
    "93_abort", swa::pattern_bit(swa::PatternKind::kSlidingWindow), swa::kAllHeadDims, swa::kTileM, swa::kTileN, 80,
    false};
SWA_EXPORT_STAGE(kStage, no_workspace, launch)
