// timed_problem.h: timing a stage, and the baseline, on the judge's clock.
//
// A batch is `count` launches, each on an input set of its own (fresh random Q, K, V from the secret seed,
// made on the GPU by the judge) writing an output of its own (poisoned first). The judge's wall clock
// runs from the moment it lets the runner go until its own check of every output of the batch has
// finished:
//
//     judge: prepare sets, references, poison | probe | thaw, t0 -> request ........ reply -> check all -> t1, freeze
//     runner:                                                  count x forward(), cudaDeviceSynchronize()
//
// So a stage cannot hide work from the clock: an output written after the judge's check read it holds
// the poison (or a wrong value) and fails; an output written before the check read it was written
// before t1. Work queued before t0 cannot exist: the runner is frozen (SIGSTOP) while the judge prepares
// the batch, and the probe (judge_kernels.h: it sees the GPU switch away to another process) shows GPU
// work of the runner still going. Enough sets rotate that a single head does not stay in the L2 cache.
// The baseline is timed the same way in the judge itself (the runner frozen), alternating with the stage.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "checks.h"
#include "device.h"
#include "judge_kernels.h"

namespace swa {

class TimedProblem {
 public:
  // Room for up to max_sets input sets (at least two, and enough to cover twice the L2 cache).
  TimedProblem(JudgeContext& ctx, const Problem& p, const PatternSpec& spec, size_t workspace, int max_sets);

  int min_sets() const { return min_sets_; }  // the fewest launches a batch has
  int max_sets() const { return arena_->sets(); }
  ProblemArena& arena() { return *arena_; }

  // Fresh inputs for the first `count` sets, their references (unless only the baseline is timed: its
  // outputs are not checked), poisoned outputs, the inputs' digest.
  void prepare(uint64_t seed, int count, bool with_references = true);
  // The judge's GPU reference of set 0 against the double-precision CPU reference (two heads). Throws
  // std::runtime_error if they disagree (a fault of the grader, not of the stage).
  void validate_reference();

  struct StageBatch {
    RunOutcome outcome;
    double ms_per_launch = 0;
    std::vector<judge_gpu::LaunchCheck> checks;
    bool inputs_changed = false;
    bool busy_before = false;  // the probe found the GPU busy before the batch
    double probe_chunk_us = 0;
  };
  // One batch of the stage through its runner (frozen before and after).
  StageBatch stage_batch(RemoteStage& stage, uint32_t arena_id, int count);
  // One batch of the frozen full-attention baseline, in the judge; `busy` says whether the probe before
  // it found the GPU in use.
  double baseline_batch(const SwaStageApi& baseline, int count, bool* busy);

  // What went wrong in a batch's outputs, in words (empty if nothing): the names the report uses.
  std::vector<std::string> verdicts(const StageBatch& batch) const;

 private:
  bool gpu_busy(double* longest_chunk_us);
  JudgeContext& ctx_;
  Problem host_problem_;  // the pattern's arrays in host memory
  PatternSpec spec_;
  std::unique_ptr<ProblemArena> arena_;
  int min_sets_ = 2;
  int prepared_ = 0;
  DeviceArray<float> references_, baseline_out_;
  DeviceArray<unsigned char> checks_;
  uint64_t digest_ = 0;
};

// The median of a few values.
double median(std::vector<double> values);

}  // namespace swa
