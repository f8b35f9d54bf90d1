// pattern_spec.h: attention patterns on the host: build them, read them from text, check them.
//
// A PatternSpec owns the arrays a pattern needs (global positions, per-query windows); view() lends them
// out as the plain swa::Pattern that the reference reads, and the GPU harness uploads (device.h).
//
// Text form, used on every command line of the kit (inclusive windows, as in problem.h):
//   sliding:W            i-W <= j <= i+W              sliding:L:R   i-L <= j <= i+R
//   causal:W             i-W <= j <= i
//   dilated:W:d          j = i + k*d, -W <= k <= W    dilated:L:R:d
//   global:W:g1,g2,...   window W, plus global positions g1 < g2 < ... (each sees and is seen by all)
//   adaptive:MIN:MAX     a window (left, right) per query, each drawn uniformly from [MIN, MAX]
//   adaptive:[l0,l1,...]:[r0,r1,...]   the N windows given explicitly
//   exponential:W        |j-i| = W*2^k (k >= 0), and j = i    exponential:W:L   also every |j-i| <= L
//   block:S              i/S == j/S: blocks of S positions
//   sinks:W:S            i-W <= j <= i+W, or j < S            sinks:L:R:S   i-L <= j <= i+R, or j < S
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "problem.h"

namespace swa {

struct PatternSpec {
  PatternKind kind = PatternKind::kSlidingWindow;
  int left = 0;
  int right = 0;
  int dilation = 1;  // the dilation; the exponential pattern's first offset W
  int block_size = 1;
  int num_sinks = 0;
  std::vector<int32_t> global_positions;
  std::vector<int32_t> adaptive_left, adaptive_right;

  static PatternSpec sliding(int left, int right);
  static PatternSpec sliding(int window) { return sliding(window, window); }
  static PatternSpec causal(int window);
  static PatternSpec dilated(int left, int right, int dilation);
  static PatternSpec global_local(int window, std::vector<int32_t> global_positions);
  static PatternSpec adaptive(std::vector<int32_t> left, std::vector<int32_t> right);
  // Per-query windows drawn uniformly from [min_window, max_window], reproducibly from seed.
  static PatternSpec adaptive_random(int N, int min_window, int max_window, uint64_t seed);
  static PatternSpec exponential(int first_offset, int local_window);
  static PatternSpec block_diagonal(int block_size);
  static PatternSpec sinks(int left, int right, int num_sinks);

  // A non-owning view over this object's arrays (host memory); valid while this object lives unchanged.
  Pattern view() const;
  // "" when the pattern is valid for sequences of length N, else why not (names the argument and range).
  std::string check(int N) const;
  // The text form above (adaptive windows shown as their range, since they are too many to list).
  std::string to_string() const;
};

// Reads the text form above, for sequences of length N; `seed` draws adaptive windows.
// Throws std::invalid_argument with a message naming the bad part and what is allowed.
PatternSpec parse_pattern(const std::string& text, int N, uint64_t seed = 1);

// The pattern as text, a row per query: 'x' where query i may see key j, '.' where not.
//   j:   0 1 2 3 4 5 6 7
//   i=0  x x x . . . . .
std::string render_pattern(const PatternSpec& spec, int N);
// The tile classes of TileMask, a row per query tile: 'F' full, 'P' partial, '.' empty.
std::string render_tiles(const PatternSpec& spec, int N, int tile_m, int tile_n);

// The number of (i, j) pairs the pattern allows over a sequence of N: the useful work is 4*D flops a pair.
// (The sum of Pattern::count_keys over the queries.)
long long count_allowed_pairs(const PatternSpec& spec, int N);

// The kind whose text form starts with `name` ("sliding", ...; pattern_name() in problem.h).
// Throws std::invalid_argument naming the kinds there are.
PatternKind pattern_kind_named(const std::string& name);

// The examples of one kind that the grader's cases and the GPU tests run, for a window of W (or the
// kind's own size parameter) in a sequence of N, as text (parse them with the case's seed: adaptive
// windows are drawn from it). The first is the kind's example for every case; the rest are other forms
// of it worth a case of their own (a sliding window with different sides).
//   sliding:W, sliding:W/2:W+8   causal:W   dilated:W:3   global:W:0,N/2,N-1   adaptive:W/2:W
//   exponential:max(W,1):W/2   block:max(W,1)   sinks:W:0:4, sinks:W/2:W:3
std::vector<std::string> example_pattern_texts(PatternKind kind, int W, int N);
// The first of them, parsed.
PatternSpec example_pattern(PatternKind kind, int W, int N, uint64_t seed);

// Patterns of every kind with the parameters that probe the corners of its definition and of its tiles
// (windows of different sides, a dilation wider than a tile, global positions on tile edges, ...), for
// the tests that compare the descriptions of a pattern with each other and with brute force.
std::vector<PatternSpec> pattern_corner_cases(int N, int W, uint64_t seed);

}  // namespace swa
