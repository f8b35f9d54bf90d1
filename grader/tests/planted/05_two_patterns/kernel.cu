// Planted cheat (partial work): stage 05's solution, declaring only two of its eight patterns (sliding and
// causal). The old grader tested what a stage declared, so it lost nothing. Caught: the rubric says which
// patterns stage 05 must implement; the cases of the other six fail, each saying "does not implement".
#include "stage.h"

#pragma push_macro("SWA_EXPORT_STAGE")
#undef SWA_EXPORT_STAGE
#define SWA_EXPORT_STAGE(...)
#include "solutions/05_bonus_patterns/kernel.cu"
#pragma pop_macro("SWA_EXPORT_STAGE")

constexpr SwaStageInfo kTwo = {
    "05_two_patterns",
    swa::pattern_bit(swa::PatternKind::kSlidingWindow) | swa::pattern_bit(swa::PatternKind::kCausalSlidingWindow),
    kStage.head_dims,
    kStage.tile_m,
    kStage.tile_n,
    kStage.min_compute_capability,
    kStage.arch_specific};
SWA_EXPORT_STAGE(kTwo, workspace_bytes, launch)
