// A stage built for a GPU this machine does not have: it declares the arch-specific target sm_100a. The
// grader must skip it with "skipped: needs sm_100a" (no zero with a misleading hint), and its forward()
// must refuse with kSwaUnsupportedDevice. (Its code is the toy stage's, built for the default targets.)
#include "stage.h"

#pragma push_macro("SWA_EXPORT_STAGE")
#undef SWA_EXPORT_STAGE
#define SWA_EXPORT_STAGE(...)
#include "grader/tests/planted/98_toy_tiles/kernel.cu"
#pragma pop_macro("SWA_EXPORT_STAGE")

constexpr SwaStageInfo kFuture = {
    "99_future_gpu", kStage.patterns, kStage.head_dims, kStage.tile_m, kStage.tile_n, 100, true};
SWA_EXPORT_STAGE(kFuture, workspace_bytes, launch)
