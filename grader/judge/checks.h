// checks.h: the four checks of one stage, run by the judge against the stage's runner.
//
//   correctness  the rubric's patterns and head dimensions over a matrix of shapes, against the
//                double-precision reference
//   window       the weights the kernel really used, recovered with one-hot V columns
//   memory       the runner's GPU and host memory, read from outside, against a runner of an empty stage
//   speed        speedup over the grader's full-attention baseline, on the judge's clock, every timed
//                output checked (stages 01-02: a time limit instead)
//
// The stage runs in its runner (remote_stage.h); everything that decides a score happens here.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "feedback.h"
#include "gpu_memory.h"
#include "pattern_spec.h"
#include "problem.h"
#include "protocol.h"
#include "remote_stage.h"
#include "rubric.h"

namespace swa {

// Receives progress events as they happen: {"type": "progress", "check": ..., "case": ..., "index": k, "total": n}.
using Emit = std::function<void(const nlohmann::json&)>;

// Measured once per grade, before any stage's runner starts (grade.cpp).
struct Calibration {
  double probe_chunk_us = 0;  // the probe's longest chunk on an idle GPU (judge_kernels.h)
  int probe_chunks = 0;
  long long empty_gpu_nvml = -1;  // an empty stage's runner: GPU memory by NVML (-1: not listed)
  long long empty_gpu_device = 0;  // ... the same by the device's free memory
  HostMemory empty_host;
  bool nvml_counts_imports = false;  // NVML counts memory the runner mapped from the judge as its own
  std::map<std::string, double> clean_baseline_ms;  // by shape, timed with no runner alive
};

// Everything a stage's checks need from the judge.
struct JudgeContext {
  Rubric rubric;
  uint64_t seed = 0;  // secret: never leaves the judge
  Emit emit;
  protocol::Sharing sharing = protocol::Sharing::kVmmFd;
  bool sandbox = true;
  std::string runner;  // the swa-runner executable
  std::string empty_stage;  // the empty stage's library (the memory check's yardstick)
  std::string logs_dir;
  std::unique_ptr<GpuMemory> gpu_memory;
  Calibration calibration;
  nlohmann::json reference_timings;  // the instructor's recorded times (reference_timings.h), or null
  nlohmann::json recorded = nlohmann::json::object();  // this run's times, for --record-timings
  cudaStream_t stream = nullptr;

  RunnerLaunch launch(const std::string& library, const std::string& stage) const;
};

// The stage to grade: its name (the judge's, from the file it built) and its library.
struct GradeTarget {
  std::string name;
  std::string library;
};

// Grades one stage and returns its entry of grade.json (docs/grading.md). A failing stage is a result,
// not an exception.
nlohmann::json grade_stage(JudgeContext& ctx, const GradeTarget& target);

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
// The rubric says which patterns and head dimensions; the stage's declaration only which tiles.
CaseScope case_scope(const StageRubric& rubric, const SwaStageInfo& declared);
// Everything from the declaration (tools that try a stage on what it says it does, such as swa-cpu).
CaseScope case_scope(const SwaStageInfo& declared);

// The correctness cases: fixed shapes that each exercise one difficulty, with fresh inputs from `seed`,
// and a few random shapes.
// What a case is about (several heads, a partial tile, W = 0, ...), for the hints (feedback.h): the facts
// a correctness case starts from, before its outcome is known.
CaseFacts case_facts(const CaseSpec& c, const PatternSpec& spec, const CaseScope& scope);
std::vector<CaseSpec> correctness_cases(const CaseScope& scope, uint64_t seed);
// The window-constraint cases: one per pattern kind (two for the sliding window), small enough that
// every weight can be recovered.
std::vector<CaseSpec> window_cases(const CaseScope& scope, uint64_t seed);

// --- the checks (checks.cpp, memory_check.cpp, speed_check.cpp) -----------------------------------

nlohmann::json correctness_check(JudgeContext& ctx, RemoteStage& stage, const StageRubric& points,
                                 bool* not_implemented);
nlohmann::json window_check(JudgeContext& ctx, RemoteStage& stage, const StageRubric& points);
nlohmann::json memory_check(JudgeContext& ctx, const GradeTarget& target, RemoteStage& stage,
                            const StageRubric& points);
// The speed check; for a stage without speed points (01, 02), the time limit instead: `too_slow` says
// whether it was over it.
nlohmann::json speed_check(JudgeContext& ctx, RemoteStage& stage, const std::string& name, const StageRubric& points,
                           std::vector<std::string>* violations);
nlohmann::json time_limit(JudgeContext& ctx, RemoteStage& stage, const std::string& name, const StageRubric& points,
                          std::vector<std::string>* violations, bool* too_slow);

// Times the baseline alone (no runner alive), for Calibration::clean_baseline_ms.
double clean_baseline_ms(JudgeContext& ctx, const std::string& engine, int B, int H, int N);
std::string baseline_key(const std::string& engine, int B, int H, int N);

// Small helpers shared by the checks.
nlohmann::json check_result(const char* name, double score, double max_score, const std::string& summary,
                            std::vector<std::string> feedback = {});
uint64_t mix_seed(uint64_t a, uint64_t b);
std::string megabytes(double bytes);

}  // namespace swa
