// remote_stage.h: the stage being graded, as the judge reaches it: through its runner.
//
//   RemoteStage stage(launch);                  // starts the runner (sandboxed)
//   const Declared& d = stage.load("03_x");     // what the library declares, checked
//   ProblemArena arena(problem, spec, stage.workspace_bytes(problem), sets, sharing);
//   const uint32_t id = stage.attach(arena);
//   arena.upload(0, inputs); arena.poison();
//   const RunOutcome r = stage.run(arena, id, /*count=*/1, timeout);
//   std::vector<float> o = arena.output(0);     // the judge reads the output itself
//
// Each call checks the runner from outside afterwards (foreign code in its maps). What goes wrong is an
// exception that says what the stage's status becomes:
//   StageRejected  the stage broke the rules: a protocol violation, another library loaded, ...
//   StageFault     the GPU reported an error the stage caused (its context is lost)
//   RunnerFault    the runner crashed or timed out (runner_process.h)
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "pattern_spec.h"
#include "problem.h"
#include "runner_process.h"
#include "shared_arena.h"

namespace swa {

struct StageRejected : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct StageFault : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// The library cannot be graded: status "missing" (not built, cannot be opened) or "invalid library".
struct StageUnusable : std::runtime_error {
  std::string status;
  StageUnusable(const std::string& s, const std::string& what) : std::runtime_error(what), status(s) {}
};

// What the stage declares about itself (SwaStageInfo), as its runner reported it.
struct Declared {
  std::string name;
  uint32_t patterns = 0, head_dims = 0;
  int tile_m = kTileM, tile_n = kTileN, min_compute_capability = 0, arch_specific = 0;
  SwaStageInfo info() const {
    return {name.c_str(), patterns, head_dims, tile_m, tile_n, min_compute_capability, arch_specific};
  }
};

// A problem's buffers in one shared arena: the pattern's arrays, a workspace, and `sets` input sets, each
// Q, K, V (fp16) and O (fp32), at a fixed stride.
class ProblemArena {
 public:
  ProblemArena(const Problem& p, const PatternSpec& spec, size_t workspace_bytes, int sets, protocol::Sharing sharing);

  const Problem& problem() const { return device_problem_; }  // the pattern's arrays at the judge's addresses
  protocol::ProblemSpec spec() const { return spec_; }  // the same with offsets, for the runner
  protocol::LaunchPlan plan(uint32_t arena_id, int first_set, int count) const;
  int sets() const { return sets_; }
  size_t elements() const { return problem_.num_elements(); }
  __half* q(int set) const { return reinterpret_cast<__half*>(at(q_ + set * stride_)); }
  __half* k(int set) const { return reinterpret_cast<__half*>(at(k_ + set * stride_)); }
  __half* v(int set) const { return reinterpret_cast<__half*>(at(v_ + set * stride_)); }
  float* o(int set) const { return reinterpret_cast<float*>(at(o_ + set * stride_)); }
  size_t stride_floats() const { return stride_ / sizeof(float); }
  size_t workspace_bytes() const { return workspace_bytes_; }
  // Q, K and V of a set lie together: 3 * input_bytes() from q(set), sets stride_bytes() apart.
  size_t input_bytes() const { return in_bytes_; }
  size_t stride_bytes() const { return stride_; }
  DeviceArena& arena() { return *arena_; }

  void upload(int set, const std::vector<__half>& q, const std::vector<__half>& k, const std::vector<__half>& v);
  void poison();  // every O and the workspace: 0xff bytes (kPoisonBits, compare.h)
  std::vector<float> output(int set) const;

 private:
  char* at(uint64_t offset) const { return arena_->data() + offset; }
  Problem problem_, device_problem_;
  protocol::ProblemSpec spec_;
  std::unique_ptr<DeviceArena> arena_;
  int sets_;
  size_t in_bytes_, out_bytes_, workspace_bytes_;
  uint64_t q_ = 0, k_ = 0, v_ = 0, o_ = 0, stride_ = 0, workspace_ = 0;
};

struct RunOutcome {
  int32_t status = kSwaOk;  // the stage's SwaStatus
  uint32_t launches = 0;
  std::string message;  // the stage's message when it refused
};

class RemoteStage {
 public:
  explicit RemoteStage(const RunnerLaunch& launch) : process_(launch) {}

  // Loads the library and returns its declaration. Throws StageUnusable, StageRejected, RunnerFault.
  const Declared& load(const std::string& expected_name);
  size_t workspace_bytes(const Problem& p, double timeout_s = 30);
  uint32_t attach(ProblemArena& arena, double timeout_s = 30);  // throws std::runtime_error if sharing fails
  void detach(uint32_t id);
  // Runs the stage `count` times on sets first_set .. first_set + count - 1 and waits for the device;
  // then checks the runner's code (check_code) unless told not to (a timed batch does it after its clock).
  RunOutcome run(const ProblemArena& arena, uint32_t id, int first_set, int count, double timeout_s,
                 bool check_code_after = true);
  // Throws StageRejected if the runner maps code from a file it should not (another stage's library).
  void check_code() const;
  RunnerProcess& process() { return process_; }
  const Declared& declared() const { return declared_; }

 private:
  RunnerProcess process_;
  Declared declared_;
  uint32_t next_id_ = 1;
};

}  // namespace swa
