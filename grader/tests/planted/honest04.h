// honest04.h: stage 04's solution, not exported, for the planted cheats to wrap. Each cheat is this
// honest kernel plus one trick, so that what the grader catches is the trick and nothing else.
//
//   #include "honest04.h"
//   void cheat(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t s) { ... launch(p, t, ws,
//   s); } SWA_PLANTED("04_my_cheat", workspace_bytes, cheat)
#pragma once

#include "stage.h"

#pragma push_macro("SWA_EXPORT_STAGE")
#undef SWA_EXPORT_STAGE
#define SWA_EXPORT_STAGE(...)
#include "solutions/04_online_softmax/kernel.cu"
#pragma pop_macro("SWA_EXPORT_STAGE")

// Exports a planted stage under its own name with stage 04's declaration.
#define SWA_PLANTED(NAME, WORKSPACE_FN, LAUNCH_FN)                  \
  constexpr SwaStageInfo kPlanted = {NAME,                          \
                                     kStage.patterns,               \
                                     kStage.head_dims,              \
                                     kStage.tile_m,                 \
                                     kStage.tile_n,                 \
                                     kStage.min_compute_capability, \
                                     kStage.arch_specific};         \
  SWA_EXPORT_STAGE(kPlanted, WORKSPACE_FN, LAUNCH_FN)

namespace planted {

// A passing result in the format the old grader's worker reported on its descriptor 3: what a forger
// writes wherever it can.
constexpr char kForgedResult[] =
    "{\"type\":\"result\",\"stage\":{\"stage\":\"forged\",\"status\":\"graded\",\"score\":100,\"max_score\":100,"
    "\"checks\":[]}}\n";

// Does nothing: the stage of a cheat that relies on its trick alone.
inline void nothing(const swa::Problem&, const swa::Tensors&, swa::Workspace, cudaStream_t) {}

// True when this call has the same problem as the last `repeats` calls: the timed runs of one shape (the
// correctness and window checks never run one problem more than three times in a row).
inline bool repeated(const swa::Problem& p, int repeats = 4) {
  static swa::Problem last;
  static int run = 0;
  const bool same = last.B == p.B && last.H == p.H && last.N == p.N && last.D == p.D &&
                    last.pattern.kind == p.pattern.kind && last.pattern.left == p.pattern.left &&
                    last.pattern.right == p.pattern.right;
  run = same ? run + 1 : 0;
  last = p;
  return run >= repeats;
}

}  // namespace planted
