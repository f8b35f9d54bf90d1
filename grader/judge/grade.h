// grade.h: grade stages, each in a process of its own.
//
// `swa grade` starts one worker process per stage (`swa grade-worker`, checks.h) and reads its progress
// and result through a pipe. A worker that crashes, hangs (no progress for the rubric's silence timeout,
// or over its stage timeout) or dies of a CUDA error costs only its own stage, with a message saying
// what happened during which case; every other stage is still graded and the reports are always written.
//
// Exit status (docs/grading.md): 0 every stage got every point; 1 something failed; 2 bad command line
// or unreadable rubric; 3 no GPU (the CPU reference's self-check ran instead).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "rubric.h"

namespace swa {

constexpr int kExitAllPassed = 0;
constexpr int kExitSomethingFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNoGpu = 3;

struct GradeOptions {
  std::string stages_dir;  // the build's stages/ (stage libraries by variant)
  std::string variant = "student";  // "student" or "solution" (or any folder under stages_dir)
  std::vector<std::string> stages;  // names to grade; empty: every stage of the variant
  std::string solutions_dir;  // where the solution libraries are, for time ratios; "" = stages_dir
  std::string out_dir = "grade-results";  // grade.json, results.json, logs/
  Rubric rubric;
  uint64_t seed = 0;
  bool verbose = false;
  std::string self;  // this program, to start workers with
};

// Grades and reports; returns the exit status above. Throws std::invalid_argument for an unknown stage.
int grade(const GradeOptions& options, std::ostream& out, std::ostream& progress);

// The worker's side: grades one stage and writes JSON lines to `report_fd` (progress events, then
// {"type": "result", "stage": {...}}).
int grade_worker(const std::string& stage, const std::string& library, const std::string& solution,
                 const std::string& rubric_file, uint64_t seed, int report_fd);

}  // namespace swa
