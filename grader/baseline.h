// baseline.h: the grader's own full-attention kernel, the yardstick of the speed check.
//
// Speedups are measured against this kernel rather than a stage's own full-attention run, so a stage
// cannot earn speed points by running its full attention slowly. It is built like the stages (the
// 64 x 64 tiles of tiles.cuh and the one-pass online softmax), so a speedup over it measures what the
// pattern saves, not a difference in craft.
#pragma once

#include "problem.h"

namespace swa {

// Computes full attention (every key, whatever the problem's pattern) through the stage interface.
const SwaStageApi& full_attention_baseline();

}  // namespace swa
