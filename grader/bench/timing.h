// timing.h: how long a stage takes on the GPU.
//
// Warm-up runs first (module load, first-touch, clocks), then `repeats` timed runs, each between two CUDA
// events with the L2 cache flushed just before it (so every run reads its inputs from device memory, as
// a run inside a real model would); the median is the result.
#pragma once

#include <string>
#include <vector>

#include "device.h"
#include "problem.h"

namespace swa {

struct TimingOptions {
  int warmup = 3;
  double warmup_ms = 50;  // and keep warming up until this much GPU time has passed (clocks ramp up)
  int min_repeats = 20;
  int max_repeats = 100;
  double budget_ms = 1500;  // stop adding repeats past this much GPU time (never below min_repeats)
  // A run slower than slow_run_ms (a large full-attention run of a slow stage) is repeated only
  // slow_repeats times after one warm-up; the result says how many runs it took.
  double slow_run_ms = 250;
  int slow_repeats = 5;
  bool flush_l2 = true;
};

struct Timing {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  int runs = 0;
};

// Times stage.forward on `gpu` (inputs already uploaded). Throws std::runtime_error if a run fails.
Timing time_stage(const SwaStageApi& stage, DeviceProblem& gpu, const TimingOptions& options, cudaStream_t stream);

// Times several stages in turn, run by run (a, b, a, b, ...), each run between its own events with the L2
// flushed before it. A passing change in the GPU's clocks or load then falls on all of them alike, so the
// ratio of their times (a speedup) holds steady where separate timings could drift apart.
struct StageRun {
  const SwaStageApi* stage;
  DeviceProblem* gpu;
};
std::vector<Timing> time_stages(const std::vector<StageRun>& runs, const TimingOptions& options, cudaStream_t stream);

// Useful work: 4*D flops for each (query, key) pair the pattern allows, over B*H heads, in TFLOP/s.
double useful_tflops(const Problem& p, long long allowed_pairs_per_head, double ms);

// Bounds on a pattern's speedup over full attention from counting tiles of tile_m x tile_n (TileMask):
//   average  all key tiles visited at W >= N over those visited under the pattern: the bound when the GPU
//            is full and every block's work counts (B*H large);
//   busiest  the same for the query tile that visits the most: a run of fewer blocks than the GPU holds
//            (B = H = 1) ends when its busiest block does.
struct TileBounds {
  double average = 1, busiest = 1;
};
TileBounds tile_bounds(const Pattern& pattern_on_host, int N, int tile_m = kTileM, int tile_n = kTileN);
double tile_count_bound(const Pattern& pattern_on_host, int N);  // tile_bounds(...).average, 64 x 64 tiles

}  // namespace swa
