// report.h: the grader's three outputs, from one report object (the content of grade.json).
//
//   print_report      the terminal report: each stage's checks, feedback for what failed, a summary table
//   grade.json        everything: every case, measurement and timing (the input of plots/)
//   results.json      the same scores in Gradescope's autograder format
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rubric.h"

namespace swa {

struct ReportHeader {
  std::string gpu, date, commit, variant, status = "graded";  // status: "graded" or "no GPU"
  uint64_t seed = 0;
};

// Assembles grade.json from the stages' entries (checks.h): totals and the rubric in force.
nlohmann::json make_report(const ReportHeader& header, const Rubric& rubric, const std::vector<nlohmann::json>& stages);

// Gradescope's results.json: {"score", "execution_time", "output", "leaderboard", "tests": [{"name", "score",
// "max_score", "status", "output", "visibility"}, ...]}, a test per check of each stage, each test's
// visibility from the rubric ("visible" unless it says otherwise), the speedups on the leaderboard.
nlohmann::json gradescope_results(const nlohmann::json& report);

// The terminal report. `verbose` shows every failing case instead of the first few.
void print_report(const nlohmann::json& report, std::ostream& out, bool verbose = false);

// The last `count` lines of a log file, each on a line of its own after "    | ", for a report's message
// (a stage's build log, the log of a runner that crashed or hung).
std::string log_tail(const std::string& path, size_t count);

// Writes `text` to `path` through a temporary file in the same folder and a rename: a reader sees the
// old file or the new one, never a part of either.
void write_file_atomically(const std::string& path, const std::string& text);

// Writes results.json, then grade.json, into `dir` (created if needed), each atomically; returns their
// paths (grade.json first).
std::vector<std::string> write_reports(const nlohmann::json& report, const std::string& dir);

// True when every stage graded got every point (a stage skipped for want of its GPU is not held against it).
bool full_marks(const nlohmann::json& report);

}  // namespace swa
