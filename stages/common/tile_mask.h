// tile_mask.h: section 4 of problem.h, the tile masks, in a file of their own.
//
// A kernel that works on tiles asks two questions of the pattern (problem.h, section 2): which key tiles
// does this query tile touch, and which of those need a mask element by element? TileMask answers them
// exactly for every pattern, and splits a query tile's key tiles into masked edges and an unmasked
// middle; TileWalk is the walk of a pattern computed by its parts (stage 05); apply_mask masks one score
// fragment, whatever its register layout, given the (query, key) of each register. Stage kernels get it
// through stage.h; the grader uses it for tile-count bounds and pattern pictures.
#pragma once

#include "problem.h"

namespace swa {

// Query tile m holds queries [m*tile_m, min(N, (m+1)*tile_m)); key tile n holds keys
// [n*tile_n, min(N, (n+1)*tile_n)). A (query tile, key tile) pair is
//   kEmpty    no query of the tile may see any key of the tile: skip it;
//   kFull     the key tile is complete (tile_n keys, none past N) and every query of the tile may see every
//             key of the tile: compute it without a per-element mask;
//   kPartial  anything else: mask element by element (Pattern::allows, and j < N).
// Queries past N in a ragged last query tile are never looked at: kernels do not store them.
enum class TileClass : int32_t { kEmpty = 0, kPartial = 1, kFull = 2 };

// A run of key tiles [first, last], inclusive; empty when first > last.
struct TileSpan {
  int first = 0, last = -1;
  SWA_HD bool empty() const { return first > last; }
  SWA_HD bool contains(int n) const { return first <= n && n <= last; }
};

// The (query, key) position of one register of a score fragment.
struct QueryKey {
  int i, j;
};

struct TileMask {
  Pattern pattern;
  int N = 1;
  int tile_m = kTileM;
  int tile_n = kTileN;

  SWA_HD int num_query_tiles() const { return ceil_div(N, tile_m); }
  SWA_HD int num_key_tiles() const { return ceil_div(N, tile_n); }

  // Classify the pair (query tile m, key tile n), exactly (grader/tests/test_patterns.cpp checks every
  // answer against enumerating the pairs).
  SWA_HD TileClass classify(int m, int n) const {
    const int i0 = m * tile_m, i1 = min_int(N, i0 + tile_m) - 1;  // queries [i0, i1]
    const int j0 = n * tile_n, j1 = min_int(N, j0 + tile_n) - 1;  // keys [j0, j1]
    const bool complete = j0 + tile_n <= N;
    // Every difference j - i in [j1 - i0 ... j0 - i1] occurs in the tile (and no other).
    const int lo = j0 - i1, hi = j1 - i0;
    TileClass c = TileClass::kEmpty;
    switch (pattern.kind) {
      case PatternKind::kSlidingWindow: c = classify_deltas(lo, hi, -pattern.left, pattern.right); break;
      case PatternKind::kCausalSlidingWindow: c = classify_deltas(lo, hi, -pattern.left, 0); break;
      case PatternKind::kDilated: c = classify_dilated(lo, hi); break;
      case PatternKind::kGlobalLocal: c = classify_global_local(i0, i1, j0, j1); break;
      case PatternKind::kAdaptive: c = classify_adaptive(i0, i1, j0, j1); break;
      case PatternKind::kExponential: c = classify_exponential(lo, hi); break;
      case PatternKind::kBlockDiagonal: c = classify_block(i0, i1, j0, j1); break;
      case PatternKind::kSinks: c = classify_sinks(i0, i1, j0, j1); break;
    }
    return (c == TileClass::kFull && !complete) ? TileClass::kPartial : c;
  }

  // May query i see key j? Pattern::allows for positions that exist (i, j < N); what a partial tile's
  // element mask asks. Only call it for i < N: the adaptive pattern has no window past N.
  SWA_HD bool visible(int i, int j) const { return j < N && pattern.allows(i, j); }

  // The unmasked interior of query tile m: a run of consecutive key tiles that are all kFull. A kernel
  // splits its walk into the masked edges before and after it and this middle, which needs no
  // per-element mask (stage 06 does). Exact and widest for the sliding and causal windows (computed in
  // O(1)); for the other patterns the first run of full tiles the walk meets (or none).
  SWA_HD TileSpan full_span(int m) const {
    const int i0 = m * tile_m, i1 = min_int(N, i0 + tile_m) - 1;
    if (pattern.kind == PatternKind::kSlidingWindow || pattern.kind == PatternKind::kCausalSlidingWindow) {
      // Tile n is full when it is complete and j0 >= i1 - left and j0 + tile_n - 1 <= i0 + right.
      const int lo = i1 - window_left();
      TileSpan span;
      span.first = lo <= 0 ? 0 : tile_of(lo + tile_n - 1);
      span.last = min_int(tile_of(i0 + window_right() + 1) - 1, N / tile_n - 1);
      return span;
    }
    TileSpan span;
    for (int n = first_key_tile(m); n < num_key_tiles(); n = next_key_tile(m, n)) {
      const bool full = classify(m, n) == TileClass::kFull;
      if (full && span.empty())
        span.first = span.last = n;
      else if (full && n == span.last + 1)
        span.last = n;
      else if (!span.empty())
        break;
    }
    return span;
  }

  // The key tiles query tile m visits lie in [first_key_tile(m), last_key_tile(m)] (some may be empty
  // for the dilated, global, exponential and sinks patterns; next_key_tile skips those).
  SWA_HD int last_key_tile(int m) const {
    // The sliding and causal windows touch one run of tiles, never empty: its end, in O(1) (kernels ask
    // this per query tile).
    const int i1 = min_int(N, m * tile_m + tile_m) - 1;
    if (pattern.kind == PatternKind::kSlidingWindow || pattern.kind == PatternKind::kCausalSlidingWindow)
      return key_tile_of(i1 + window_right());
    int last = -1;
    for (int n = first_key_tile(m); n < num_key_tiles(); n = next_key_tile(m, n)) last = n;
    return last;
  }

  // The first key tile after n that query tile m touches (not kEmpty), or num_key_tiles() if none.
  // Walk the tiles of query tile m with
  //     for (int n = mask.first_key_tile(m); n < mask.num_key_tiles(); n = mask.next_key_tile(m, n))
  SWA_HD int first_key_tile(int m) const { return next_key_tile(m, -1); }
  SWA_HD int next_key_tile(int m, int n) const {
    const int end = num_key_tiles();
    const int i0 = m * tile_m, i1 = min_int(N, i0 + tile_m) - 1;
    switch (pattern.kind) {
      case PatternKind::kSlidingWindow:
      case PatternKind::kCausalSlidingWindow:
        return next_in_span(n, key_tile_of(i0 - window_left()), key_tile_of(i1 + window_right()));
      case PatternKind::kAdaptive: {
        // Each query's window contains the query itself and the queries are consecutive, so the union
        // of the windows is one interval: its tiles are exactly the non-empty ones.
        int first = i0, last = i1;
        for (int i = i0; i <= i1; ++i) {
          first = min_int(first, i - pattern.adaptive_left[i]);
          last = max_int(last, i + pattern.adaptive_right[i]);
        }
        return next_in_span(n, key_tile_of(first), key_tile_of(last));
      }
      case PatternKind::kDilated: {
        // The non-empty tiles lie between these two, with gaps when dilation > tile_m.
        const long long reach_l = static_cast<long long>(pattern.left) * pattern.dilation;
        const long long reach_r = static_cast<long long>(pattern.right) * pattern.dilation;
        const int last = key_tile_of(i1 + reach_r);
        for (int t = max_int(n + 1, key_tile_of(i0 - reach_l)); t <= last; ++t)
          if (classify(m, t) != TileClass::kEmpty) return t;
        return end;
      }
      case PatternKind::kGlobalLocal: {
        if (pattern.globals_in(i0, i1) > 0) return n + 1 < end ? n + 1 : end;  // a global query sees all
        // Otherwise: the tiles of the local windows, and the tiles holding a global key.
        int next = next_in_span(n, key_tile_of(i0 - pattern.left), key_tile_of(i1 + pattern.right));
        const int k = pattern.globals_before((n + 1) * tile_n);
        if (k < pattern.num_global) next = min_int(next, pattern.global_positions[k] / tile_n);
        return next;
      }
      case PatternKind::kExponential: {
        // The local window's tiles, and for each offset d the tiles of keys [i0 - d, i1 - d] and
        // [i0 + d, i1 + d] inside the sequence: every tile of such a run holds a key of the pattern.
        int next = next_in_span(n, key_tile_of(i0 - pattern.left), key_tile_of(i1 + pattern.left));
        for (long long d = static_cast<long long>(pattern.dilation) << pattern.first_offset_level(); d < N; d *= 2) {
          if (i1 - d >= 0) next = min_int(next, next_in_span(n, key_tile_of(i0 - d), key_tile_of(i1 - d)));
          if (i0 + d < N) next = min_int(next, next_in_span(n, key_tile_of(i0 + d), key_tile_of(i1 + d)));
        }
        return next;
      }
      case PatternKind::kBlockDiagonal: {
        // The blocks of the tile's queries, from the first one's start to the last one's end.
        const long long size = pattern.block_size;
        return next_in_span(n, key_tile_of(i0 / size * size), key_tile_of(i1 / size * size + size - 1));
      }
      case PatternKind::kSinks: {
        int next = next_in_span(n, key_tile_of(i0 - pattern.left), key_tile_of(i1 + pattern.right));
        if (pattern.num_sinks > 0) next = min_int(next, next_in_span(n, 0, key_tile_of(pattern.num_sinks - 1)));
        return next;
      }
    }
    return end;
  }

  // The rules behind the answers above (TileWalk uses some of them too).
  // The key tile holding position x, with x clamped into [0, N).
  SWA_HD int key_tile_of(long long x) const {
    const long long c = x < 0 ? 0 : (x >= N ? N - 1 : x);
    return static_cast<int>(c / tile_n);
  }
  SWA_HD int key_tile_of(int x) const { return tile_of(x < 0 ? 0 : (x >= N ? N - 1 : x)); }
  SWA_HD int tile_of(int x) const { return static_cast<unsigned>(x) / tile_n; }  // x >= 0: a shift for 2^k
  // The sliding and causal windows' reach, clamped to N (a wider one sees no further): every position
  // and sum of them above stays an int, so the answers kernels ask per query tile take 32-bit arithmetic.
  SWA_HD int window_left() const { return min_int(pattern.left, N); }
  SWA_HD int window_right() const {
    return pattern.kind == PatternKind::kCausalSlidingWindow ? 0 : min_int(pattern.right, N);
  }
  // The first tile after n inside [first, last], or num_key_tiles().
  SWA_HD int next_in_span(int n, int first, int last) const {
    const int t = max_int(n + 1, first);
    return t <= last ? t : num_key_tiles();
  }
  // Differences j - i fill [lo, hi]; the pattern allows exactly the differences in [a, b].
  SWA_HD static TileClass classify_deltas(int lo, int hi, int a, int b) {
    if (hi < a || lo > b) return TileClass::kEmpty;
    if (lo >= a && hi <= b) return TileClass::kFull;
    return TileClass::kPartial;
  }
  SWA_HD TileClass classify_dilated(int lo, int hi) const {
    const long long d = pattern.dilation;
    const long long a = lo > -pattern.left * d ? lo : -pattern.left * d;
    const long long b = hi < pattern.right * d ? hi : pattern.right * d;
    // Allowed differences are the multiples of d inside [a, b].
    if (a > b || -floor_div(-a, d) * d > b) return TileClass::kEmpty;
    if (lo == hi) return TileClass::kFull;  // one difference, and it is allowed
    // Two consecutive differences are never both multiples of d >= 2.
    return d == 1 ? classify_deltas(lo, hi, -pattern.left, pattern.right) : TileClass::kPartial;
  }
  SWA_HD TileClass classify_global_local(int i0, int i1, int j0, int j1) const {
    const int q_globals = pattern.globals_in(i0, i1);
    const int k_globals = pattern.globals_in(j0, j1);
    const TileClass local = classify_deltas(j0 - i1, j1 - i0, -pattern.left, pattern.right);
    if (local == TileClass::kEmpty && q_globals == 0 && k_globals == 0) return TileClass::kEmpty;
    // Global rows and global columns are allowed whole; the rest must lie inside the local window.
    if (q_globals == i1 - i0 + 1 || k_globals == j1 - j0 + 1) return TileClass::kFull;
    const int qa = pattern.first_non_global(i0), qb = pattern.last_non_global(i1);
    const int ka = pattern.first_non_global(j0), kb = pattern.last_non_global(j1);
    return classify_deltas(ka - qb, kb - qa, -pattern.left, pattern.right) == TileClass::kFull ? TileClass::kFull
                                                                                               : TileClass::kPartial;
  }
  // Differences j - i fill [lo, hi]: the tile is empty when none of them is allowed, full when all are.
  SWA_HD TileClass classify_exponential(int lo, int hi) const {
    const long long left = pattern.left;
    const long long local_lo = lo > -left ? lo : -left, local_hi = hi < left ? hi : left;
    long long allowed = local_hi >= local_lo ? local_hi - local_lo + 1 : 0;
    for (long long d = static_cast<long long>(pattern.dilation) << pattern.first_offset_level();
         d <= static_cast<long long>(hi) || -d >= static_cast<long long>(lo); d *= 2)
      allowed += (lo <= d && d <= hi) + (lo <= -d && -d <= hi);
    if (allowed == 0) return TileClass::kEmpty;
    return allowed == static_cast<long long>(hi) - lo + 1 ? TileClass::kFull : TileClass::kPartial;
  }
  SWA_HD TileClass classify_block(int i0, int i1, int j0, int j1) const {
    const int size = pattern.block_size;
    // Rows fill the blocks i0/size .. i1/size, keys j0/size .. j1/size: a pair sees each other in a common one.
    if (j1 / size < i0 / size || j0 / size > i1 / size) return TileClass::kEmpty;
    return i0 / size == i1 / size && j0 / size == j1 / size && i0 / size == j0 / size ? TileClass::kFull
                                                                                      : TileClass::kPartial;
  }
  SWA_HD TileClass classify_sinks(int i0, int i1, int j0, int j1) const {
    const TileClass local = classify_deltas(j0 - i1, j1 - i0, -pattern.left, pattern.right);
    if (local == TileClass::kEmpty && j0 >= pattern.num_sinks) return TileClass::kEmpty;
    // The keys past the sinks, [first, j1], must lie in every query's window.
    const int first = max_int(j0, pattern.num_sinks);
    if (first > j1) return TileClass::kFull;
    return classify_deltas(first - i1, j1 - i0, -pattern.left, pattern.right) == TileClass::kFull ? TileClass::kFull
                                                                                                  : TileClass::kPartial;
  }
  SWA_HD TileClass classify_adaptive(int i0, int i1, int j0, int j1) const {
    bool any = false, all = true;
    for (int i = i0; i <= i1; ++i) {
      const int first = i - pattern.adaptive_left[i], last = i + pattern.adaptive_right[i];
      any = any || (first <= j1 && last >= j0);
      all = all && (first <= j0 && last >= j1);
    }
    return !any ? TileClass::kEmpty : (all ? TileClass::kFull : TileClass::kPartial);
  }
};

// The tile walk of one query tile when a kernel computes a pattern by its parts (problem.h, section 2), as the bonus
// stage does: the key tiles that hold its rows' local windows or keys every query sees, which it visits
// tile by tile. The exponential pattern's offsets are not in it (they are gathered one key at a time),
// nor is the rest of a row that sees every key (those rows are computed apart, as full attention). So
// it answers for
//     in_tiles(i, j) = local_window(i) holds j || every_query_sees(j)       (i, j < N)
// exactly, as TileMask does for allows(i, j) (grader/tests/test_patterns.cpp checks both), and where
// in_tiles is allows it is TileMask's walk. Built once per query tile: for the adaptive windows that
// reads the tile's windows once, not on every call.
//     const TileWalk<> walk = TileWalk<>::of(pattern, N, tile_m, tile_n, m);   // any kind of pattern
//     for (int n = walk.first(); n < walk.num_key_tiles(); n = walk.next(n)) ... walk.classify(n) ...
template <uint32_t kKinds = kAllPatterns>
struct TileWalk {
  Pattern pattern;
  int N = 1, tile_m = kTileM, tile_n = kTileN, m = 0;
  // Over the tile's queries (those < N), the smallest and largest first key and last key of their local
  // windows cut to [0, N). Each window holds its query and the queries are consecutive, so the windows
  // cover [first_min, last_max] without a gap; every key in [first_max, last_min] is in all of them.
  // (The dilated windows have gaps: their tiles are tested by their differences j - i, as TileMask does.)
  int first_min = 0, first_max = 0, last_min = 0, last_max = 0;

  // kKinds: the pattern kinds this walk may be given (pattern_bit), known when it is compiled. A kernel
  // compiled for a few kinds names them, and the code of the others is left out.
  SWA_HD bool is(PatternKind kind) const { return (kKinds & pattern_bit(kind)) != 0 && pattern.kind == kind; }

  SWA_HD static TileWalk of(const Pattern& pattern, int N, int tile_m, int tile_n, int m) {
    TileWalk w;
    w.pattern = pattern, w.N = N, w.tile_m = tile_m, w.tile_n = tile_n, w.m = m;
    const int i0 = m * tile_m, i1 = min_int(N, i0 + tile_m) - 1;
    if (w.is(PatternKind::kAdaptive)) {  // windows of any size: look at each one
      w.first_min = w.last_min = N, w.first_max = w.last_max = -1;
      for (int i = i0; i <= i1; ++i) {
        const int first = w.clamp(pattern.local_window(i).first), last = w.clamp(pattern.local_window(i).last);
        w.first_min = min_int(w.first_min, first), w.first_max = max_int(w.first_max, first);
        w.last_min = min_int(w.last_min, last), w.last_max = max_int(w.last_max, last);
      }
    } else {  // every other window starts and ends no earlier than the window of the query before
      w.first_min = w.clamp(pattern.local_window(i0).first), w.first_max = w.clamp(pattern.local_window(i1).first);
      w.last_min = w.clamp(pattern.local_window(i0).last), w.last_max = w.clamp(pattern.local_window(i1).last);
    }
    return w;
  }

  SWA_HD int num_key_tiles() const { return ceil_div(N, tile_n); }
  SWA_HD int first() const { return next(-1); }
  // The first key tile after n that holds a key of in_tiles for some query of the tile, or num_key_tiles().
  SWA_HD int next(int n) const {
    const int end = num_key_tiles();
    if (is(PatternKind::kDilated)) {  // the tiles within the reach that are not empty
      for (int t = max_int(n + 1, first_min / tile_n); t <= last_max / tile_n; ++t)
        if (classify(t) != TileClass::kEmpty) return t;
      return end;
    }
    int t = max_int(n + 1, first_min / tile_n);
    if (t > last_max / tile_n) t = end;  // the windows' tiles
    if (is(PatternKind::kSinks) && pattern.num_sinks > 0 && n + 1 <= (min_int(pattern.num_sinks, N) - 1) / tile_n)
      t = min_int(t, n + 1);  // the sinks' tiles
    if (is(PatternKind::kGlobalLocal)) {  // the next tile holding a global key
      const int k = pattern.globals_before((n + 1) * tile_n);
      if (k < pattern.num_global) t = min_int(t, pattern.global_positions[k] / tile_n);
    }
    return t;
  }
  // kEmpty, kFull or kPartial for in_tiles over the pairs of (query tile m, key tile n).
  SWA_HD TileClass classify(int n) const {
    const int j0 = n * tile_n, j1 = min_int(N, j0 + tile_n) - 1;
    const bool complete = j0 + tile_n <= N;
    if (is(PatternKind::kDilated)) {
      const int i0 = m * tile_m, i1 = min_int(N, i0 + tile_m) - 1;
      const TileClass c = TileMask{pattern, N, tile_m, tile_n}.classify_dilated(j0 - i1, j1 - i0);
      return c == TileClass::kFull && !complete ? TileClass::kPartial : c;
    }
    // Does the tile hold keys every query sees? The others lie in [a, b] (with global ones between them).
    bool shared = false;
    int a = j0, b = j1;
    if (is(PatternKind::kSinks)) shared = j0 < pattern.num_sinks, a = max_int(j0, pattern.num_sinks);
    if (is(PatternKind::kGlobalLocal)) {
      shared = pattern.globals_in(j0, j1) > 0;
      a = pattern.first_non_global(j0), b = pattern.last_non_global(j1);
    }
    if (!shared && (j1 < first_min || j0 > last_max)) return TileClass::kEmpty;
    const bool full = a > b || (first_max <= a && b <= last_min);
    return full && complete ? TileClass::kFull : TileClass::kPartial;
  }
  // in_tiles(i, j), for i < N: what a partial tile's element mask asks.
  SWA_HD bool visible(int i, int j) const {
    return j < N && (pattern.local_window(i).contains(j) || pattern.every_query_sees(j));
  }

 private:
  SWA_HD int clamp(long long x) const { return static_cast<int>(x < 0 ? 0 : (x >= N ? N - 1 : x)); }
};

// Hide (set to -infinity) every score of a fragment that visible(i, j) rejects. coord(e) gives the
// (query, key) position of the fragment's e-th register, so one helper serves every register layout: the
// CUDA-core stages' 4 x 4 pieces (tiles.cuh) and the tensor cores' accumulators (mma.cuh) alike. With
// the loops unrolled every index is a constant: the fragment stays in registers.
//     swa::apply_mask(s, tiles::score_coord(i0, j0, ty, tx), [&](int i, int j) { return mask.visible(i, j); });
template <int kCount, class Coord, class Visible>
SWA_HD void apply_mask(float (&fragment)[kCount], Coord coord, Visible visible) {
  SWA_UNROLL
  for (int e = 0; e < kCount; ++e) {
    const QueryKey at = coord(e);
    if (!visible(at.i, at.j)) fragment[e] = -INFINITY;
  }
}
template <int kRows, int kCols, class Coord, class Visible>
SWA_HD void apply_mask(float (&fragment)[kRows][kCols], Coord coord, Visible visible) {
  SWA_UNROLL
  for (int r = 0; r < kRows; ++r) SWA_UNROLL
  for (int c = 0; c < kCols; ++c) {
    const QueryKey at = coord(r * kCols + c);
    if (!visible(at.i, at.j)) fragment[r][c] = -INFINITY;
  }
}

}  // namespace swa
