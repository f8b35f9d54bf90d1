// grade.h: `swa grade`, the judge: grade stages, each through a runner of its own.
//
// The judge makes every input (from a seed it keeps), computes the references, reads and checks every
// output, keeps the time, scores and writes the reports. The stage's code runs only in its runner
// (runner_process.h), a sandboxed process that loads that one library and launches it on memory the
// judge owns. docs/grading.md, "Trust", gives the threat model.
//
// Exit status (docs/grading.md): 0 every stage got every point; 1 something failed; 2 bad command line,
// unreadable rubric, or a machine where no runner can be started; 3 no GPU (the CPU reference's
// self-check ran instead, and no graded report was replaced).
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
  std::string variant = "student";  // "student", "solution", "planted" (or any folder under stages_dir)
  std::vector<std::string> stages;  // names or numbers to grade; empty: every stage of the variant
  std::string out_dir = "grade-results";  // grade.json, results.json, logs/
  Rubric rubric;
  uint64_t seed = 0;
  bool verbose = false;
  std::string sandbox = "auto";  // "auto" (bubblewrap where it works), "bwrap" (required), "none"
  std::string sharing = "auto";  // "auto" (VMM where it works, else IPC), "vmm", "ipc"
  std::string runner;  // the swa-runner executable
  std::string empty_stage;  // the empty stage's library
  std::string reference_timings;  // the solutions' recorded times ("" = none)
  std::string record_timings;  // write this run's times here (a solution grade)
  std::string build_logs;  // DIR/<stage>.log: the build output of a stage that did not compile
};

// Grades and reports; returns the exit status above. Throws std::invalid_argument for an unknown stage.
int grade(const GradeOptions& options, std::ostream& out, std::ostream& progress);

// The names of the stages to grade: `wanted` (names or numbers, each once) resolved against the
// available libraries and the build logs, else every stage available. Throws std::invalid_argument.
std::vector<std::string> resolve_stage_names(const std::vector<std::string>& wanted,
                                             const std::vector<std::string>& available,
                                             const std::vector<std::string>& build_logs, const std::string& variant);

}  // namespace swa
