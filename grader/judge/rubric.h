// rubric.h: how many points each check of each stage is worth, and the thresholds behind them.
//
// The defaults are docs/grading.md's table. An instructor overrides any part with a JSON rubric file
// (`swa grade --rubric FILE`); docs/grading.md shows the format. Everything score-related that is
// arithmetic, not measurement, lives here, so that it can be tested without a GPU.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "compare.h"
#include "problem.h"

namespace swa {

// How much device memory a stage may use (declared workspace plus anything allocated during a call).
enum class MemoryRule {
  kPerScore,  // bytes per (query, visible key) score: limit = bytes * B*H*N*min(N, left + right + 1)
  kPerRow,  // bytes per query row: limit = bytes * B*H*N
};

struct StageRubric {
  double correctness = 40, window = 20, memory = 10, speed = 30;  // points
  MemoryRule memory_rule = MemoryRule::kPerRow;
  double memory_bytes = 64;
  // Speed: full points at speedup >= speed_target * tile bound over the grader's full-attention baseline.
  double speed_target = 0.75;
  std::string speed_pattern = "sliding:128";
  std::string speed_baseline = "cuda_core";  // the frozen full-attention kernel it is timed against (baselines.h)
  // The tiles the bound behind the target counts; 0: the stage's declared tiles. The kit pins them for its
  // own stages, so that declaring larger tiles cannot lower a target.
  int speed_tile_m = 0, speed_tile_n = 0;
  // What the stage must implement: the correctness and window cases cover these patterns and head
  // dimensions whatever the stage declares (a stage that declares fewer fails those cases). 0: what the
  // stage declares (a stage the kit does not know, such as a planted test stage).
  uint32_t patterns = pattern_bit(PatternKind::kSlidingWindow);
  uint32_t head_dims = kAllHeadDims;
  // Stages without a speed check (01, 02) must still run on the GPU: a stage slower than this many times
  // the solution's recorded time (reference_timings.h) is "too slow" and gets 0. 0: no limit.
  double time_limit_factor = 0;
  // Gradescope visibility of each check's test: "visible", "hidden", "after_due_date", "after_published".
  std::map<std::string, std::string> visibility;

  double max_score() const { return correctness + window + memory + speed; }
};

struct Rubric {
  std::map<std::string, StageRubric> stages;  // by folder name or number ("03"); others: default_stage_rubric()
  Tolerance tolerance;  // correctness: |got - ref| <= atol * max(1, max|V|) + rtol * |ref|
  double window_outside_max = 1e-5;  // window check: largest weight allowed outside the pattern
  Tolerance window_inside{1e-4, 1e-2};  // window check: weights inside the pattern against the reference
  double stage_timeout_s = 180;  // a stage's runner is stopped after this long ...
  double silence_timeout_s = 30;  // ... or when one request goes unanswered this long (a hung kernel)

  // The rubric of a stage: the entry for its name, else the entry for its number, else the default.
  StageRubric stage(const std::string& name) const;
};

// The defaults of docs/grading.md.
Rubric default_rubric();
StageRubric default_stage_rubric(const std::string& stage_name);

// The defaults, overridden by the JSON rubric file at `path`. Throws std::runtime_error naming the file
// and the field when the file cannot be read, is not JSON, or holds an unknown field or a bad value.
Rubric load_rubric(const std::string& path);
Rubric rubric_from_json(const nlohmann::json& overrides, const std::string& source);
nlohmann::json to_json(const Rubric& rubric);

// Points for a measured speedup s against a target t (both over the baseline): none unless s > 1 (faster
// than full attention), then linear up to full at t; when t <= 1, full for any s > 1.
double speed_fraction(double speedup, double target);

// The sequence lengths the speed check times (B = H = 1 for the first three, B = 4, H = 16 for 4096).
constexpr int kSpeedSequenceLengths[] = {512, 1024, 2048, 4096};

// A stage's score, capped at the rubric's maximum (and at 0 from below): no check can give more.
double capped_score(double score, const StageRubric& rubric);

// The memory limit of a stage for a problem, in bytes.
double memory_limit_bytes(const StageRubric& rubric, const Problem& p);

}  // namespace swa
