// checks.h: the four checks of one stage. They run in a worker process of their own (grade.h), so a
// stage that crashes or hangs takes only its own points with it.
//
//   correctness  the stage's patterns over a matrix of shapes, against the double-precision reference
//   window       the weights the kernel really used, recovered with one-hot V columns
//   memory       declared workspace plus device memory allocated during a call, against the rubric's limit
//   speed        speedup over the grader's full-attention baseline (stages with a speed target)
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "problem.h"
#include "rubric.h"

namespace swa {

struct StageTarget {
  std::string name;  // the stage's folder name, e.g. "03_masked_windows"
  std::string library;  // the stage library to grade
  std::string solution;  // the solution's library of the same stage, for the time ratio; "" if none
};

// Receives progress events as they happen: {"type": "progress", "check": ..., "case": ..., "index": k, "total": n}.
using Emit = std::function<void(const nlohmann::json&)>;

// Grades one stage and returns its entry of grade.json (docs/grading.md). A failing stage is a result,
// not an exception; a CUDA error the stage causes ends it with status "cuda error" and no points.
nlohmann::json grade_stage(const StageTarget& target, const Rubric& rubric, uint64_t seed, const Emit& emit);

// The entry of a stage that could not be graded (status "crashed", "timed out", "missing", ...): every
// check failed with no points, and `message` says why.
nlohmann::json ungraded_stage(const std::string& name, const std::string& status, const std::string& message,
                              const StageRubric& rubric);

// One correctness or window case: a shape, a pattern (text form) and its inputs' seed.
struct CaseSpec {
  std::string name;  // what it exercises, e.g. "N=65: a partial last tile"
  int B, H, N, D;
  float scale;
  std::string pattern;
  float amplitude = 1.0f;  // inputs drawn from [-amplitude, amplitude]
  uint64_t seed = 1;
};

// What the cases are drawn for: the pattern kinds and head dimensions to test (pattern_bit and
// head_dim_bit sets) and the stage's tiles (its partial-tile sizes tile - 1, tile, tile + 1).
struct CaseScope {
  uint32_t patterns = pattern_bit(PatternKind::kSlidingWindow);
  uint32_t head_dims = kAllHeadDims;
  int tile_m = kTileM, tile_n = kTileN;

  // The head dimension of the cases that do not test one: 64 where it is in head_dims, else the largest.
  int base_head_dim() const;
};
CaseScope case_scope(const SwaStageInfo& info);  // what a stage declares

// The correctness cases: fixed shapes that each exercise one difficulty, with fresh inputs from `seed`,
// and a few random shapes.
std::vector<CaseSpec> correctness_cases(const CaseScope& scope, uint64_t seed);
// The window-constraint cases: one per pattern kind (two for the sliding window), small enough that
// every weight can be recovered.
std::vector<CaseSpec> window_cases(const CaseScope& scope, uint64_t seed);

}  // namespace swa
