// reference_timings.h: the solutions' times, recorded by the instructor, shipped instead of the solutions.
//
// The judge never loads a solution library to grade a student. Where it compares with the solution (the
// time ratio of the speed check, the time limit of stages 01-02) it reads the solution's time from this
// file, written by `swa grade --variant solution --record-timings FILE` on the instructor's GPU. Each
// time is stored with the baseline's time of the same run, and scaled by the ratio of the baselines on
// the GPU that grades:  solution here = recorded solution * (baseline here / recorded baseline).
//
//   {"schema": "swa-timings/1", "gpu": ..., "date": ..., "commit": ...,
//    "stages": {"04": {"shapes": {"B=1 H=1 N=512": {"stage_ms": 0.031, "baseline_ms": 0.047, "baseline": "cuda_core"},
//    ...},
//                      "time_limit": {...}}, ...}}
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace swa {

// The kit's file (grader/reference-timings.json next to the sources), or "" when there is none.
std::string default_reference_timings();

// Reads the file; null (and `note` says why) when it is missing. Throws std::runtime_error naming the
// file when it exists but is not a timings file.
nlohmann::json load_reference_timings(const std::string& path, std::string* note);

// The solution's time for `stage` (matched by its number) at `key` ("B=1 H=1 N=512" or "time_limit"),
// scaled to this GPU by the baseline; nullopt where the file has none.
std::optional<double> solution_time_ms(const nlohmann::json& timings, const std::string& stage, const std::string& key,
                                       double baseline_here_ms);

// Writes this run's times (JudgeContext::recorded, by stage name) as a timings file, atomically.
void write_reference_timings(const std::string& path, const nlohmann::json& recorded, const std::string& gpu,
                             const std::string& date, const std::string& commit);

}  // namespace swa
