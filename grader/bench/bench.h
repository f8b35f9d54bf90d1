// bench.h: time stages at the exercise's sizes and at sizes that fill the GPU, against their own
// full-attention run; results as JSON for plots/ and as a table for people.
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "timing.h"

namespace swa {

struct BenchShape {
  int B, H, N, D;
  std::string group;  // "exercise" (B = H = 1: latency) or "fill" (B*H = 64: throughput)
};

// The exercise's sizes (B = H = 1, N = 512, 1024, 2048) and B = 4, H = 16 for each N of `fill_sizes`.
std::vector<BenchShape> standard_shapes(const std::vector<int>& fill_sizes, int D = 64);

struct BenchOptions {
  std::string stages_dir;
  std::string variant = "solution";  // or "student"
  std::vector<std::string> stages;  // names; empty: every stage of the variant
  std::vector<BenchShape> shapes;
  std::vector<std::string> patterns = {"sliding:128"};  // each timed on every shape (stages skip the ones they lack)
  bool with_full = true;  // also time each stage at W >= N for the speedup
  bool check = true;  // compare two heads of each window run with the reference
  TimingOptions timing;
};

// Runs the benchmarks; progress lines go to `progress`. The JSON holds every measurement.
nlohmann::json run_benchmarks(const BenchOptions& options, std::ostream& progress);
void print_bench_table(const nlohmann::json& results, std::ostream& out);

}  // namespace swa
