// baselines.h: the grader's own full-attention kernels, the yardsticks of the speed check.
//
// Speedups are measured against these kernels rather than a stage's own full-attention run, so a stage
// cannot earn speed points by running its full attention slowly. There is one per engine, so that a
// speedup measures what the pattern saves, not the difference between CUDA cores and tensor cores:
//
//   "cuda_core"  stages 03-05: 64 x 64 tiles, 256 threads, fp32 shared tiles, one-pass online softmax
//                (cuda_core.cu)
//   "mma"        stages 06-07: 64 x 64 tiles, 4 warps of 16 rows, mma.sync.m16n8k16, cp.async three
//                deep, online softmax on the accumulators (mma.cu; sm_80 or newer)
//
// The rubric names each stage's baseline (rubric.h, speed_baseline). Each is frozen: it includes only
// the problem contract (problem.h, cuda_check.h), never the headers the stages build on (tiles.cuh,
// stage.h), so editing those cannot move a speed target. It runs at the speed check's head dimension,
// D = 64, only.
#pragma once

#include <string>

#include "problem.h"

namespace swa {

constexpr int kBaselineHeadDim = 64;

// Computes full attention (every key, whatever the problem's pattern) through the stage interface.
// Throws std::invalid_argument for an unknown name, listing the known ones.
const SwaStageApi& full_attention_baseline(const std::string& engine);

// The baselines' names, for messages and rubric checks.
const char* const kBaselineNames[] = {"cuda_core", "mma"};

}  // namespace swa
