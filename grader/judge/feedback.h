// feedback.h: where a wrong value sits, and what mistake most likely put it there.
//
// Plain functions of the problem and the failing positions, with no GPU involved, so that the tests can
// pin down every message.
#pragma once

#include <string>
#include <vector>

#include "problem.h"

namespace swa {

// The tiles of the stage being graded, as it declares them (SwaStageInfo): the hints about partial tiles
// speak of these.
struct Tiles {
  int m = kTileM, n = kTileN;  // queries per query tile, keys per key tile
};

// Where query i sits: "sequence start (its window is cut at 0)", "sequence end (...)", "the partial last
// query tile (N = 65 is not a multiple of 64)", or "interior". Pattern arrays in host memory.
std::string describe_query(const Problem& p, int i, Tiles tiles);

// True when query i's window reaches past either end of the sequence (so clamping matters for it).
bool window_cut_by_sequence(const Problem& p, int i);

// Where key j sits relative to what query i may see, e.g. "one key right of the window (j = i + W + 1)",
// "at the window's left edge (j = i - W)", "inside the window", "between the dilated keys", "a global
// key", plus ", in the partial last key tile" where that applies. Pattern arrays in host memory.
std::string describe_pair(const Problem& p, int i, int j, Tiles tiles);

// What a failed correctness case was, for the diagnosis below.
struct CaseFacts {
  std::string name;
  bool passed = false;
  bool nothing_written = false;  // every element still held the poison
  size_t unwritten = 0, not_finite = 0;
  bool unwritten_only_in_partial_tile = false;  // every unwritten element is in the partial last query tile
  bool errors_only_at_sequence_ends = false;  // every failing query is within a window of either end
  bool multi_head = false, partial_tile = false, window_zero = false, full_window = false, large_inputs = false;
  bool scale_one = false, asymmetric = false;
  int D = 64;
  int base_D = 64;  // the head dimension of the cases that do not test one: the stage's own choice
  std::string refusal;  // why the stage did not run the case (unsupported, launch rejected, ...); "" if it ran
  Tiles tiles;
};

// Hints for the correctness check, from which cases fail and which pass: "fails only when B*H > 1" points
// at the strides, and so on. Empty when every case passed.
std::vector<std::string> correctness_hints(const std::vector<CaseFacts>& cases);

// One weight of the window check that is wrong.
struct WeightError {
  int i, j;
  double expected, got;
  bool outside;  // the pattern hides key j from query i: the weight must be (nearly) 0
};

// Hints for the window check, from where its wrong weights sit. Empty when there are none.
std::vector<std::string> window_hints(const Problem& p, const std::vector<WeightError>& errors);

}  // namespace swa
