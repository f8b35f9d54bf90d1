// test_patterns.cpp: the mask predicate of problem.h and the tile masks of tile_mask.h.
//
// Three independent descriptions of each pattern must agree:
//   Pattern::allows(i, j)              problem.h, what kernels use element by element;
//   TileMask                           tile_mask.h, what kernels use to skip and to mask whole tiles;
//   reference::visible_keys(i)         reference.cpp, an enumeration written from the definitions.
// The pictures in docs/patterns.md are checked against Pattern::allows, so the docs cannot drift.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "pattern_spec.h"
#include "reference.h"
#include "tile_mask.h"

namespace swa {
namespace {

// The patterns every test below runs over, for a sequence of length N: every kind, at the corners of
// its definition (pattern_spec.h).
std::vector<PatternSpec> patterns_for(int N, int w) { return pattern_corner_cases(N, w, 0); }

const int kAwkwardN[] = {1, 2, 7, 63, 64, 65, 127, 128, 129, 257, 1013};
const int kWindows[] = {0, 1, 3, 32, 62, 63, 64, 65, 126, 127, 128, 129, 191, 192, 1500};

std::string describe(const PatternSpec& spec, int N, int tm, int tn) {
  return spec.to_string() + " N=" + std::to_string(N) + " tiles " + std::to_string(tm) + "x" + std::to_string(tn);
}

// ---------------------------------------------------------------------------------------------------
// The predicate
// ---------------------------------------------------------------------------------------------------

TEST(Pattern, ExercisePictureSlidingWindowN8W2) {
  // The exercise's picture: N = 8, W = 2; query i sees keys i-2 .. i+2 inside the sequence.
  const std::string expected =
      "j:   0 1 2 3 4 5 6 7\n"
      "i=0  x x x . . . . .\n"
      "i=1  x x x x . . . .\n"
      "i=2  x x x x x . . .\n"
      "i=3  . x x x x x . .\n"
      "i=4  . . x x x x x .\n"
      "i=5  . . . x x x x x\n"
      "i=6  . . . . x x x x\n"
      "i=7  . . . . . x x x\n";
  EXPECT_EQ(render_pattern(PatternSpec::sliding(2), 8), expected);
}

TEST(Pattern, ExercisePictureExponentialN8) {
  // The exercise's dilated window, "i +- W, i +- 2W, i +- 4W, etc." with W = 1 (and i itself), N = 8.
  const std::string expected =
      "j:   0 1 2 3 4 5 6 7\n"
      "i=0  x x x . x . . .\n"
      "i=1  x x x x . x . .\n"
      "i=2  x x x x x . x .\n"
      "i=3  . x x x x x . x\n"
      "i=4  x . x x x x x .\n"
      "i=5  . x . x x x x x\n"
      "i=6  . . x . x x x x\n"
      "i=7  . . . x . x x x\n";
  EXPECT_EQ(render_pattern(parse_pattern("exponential:1", 8), 8), expected);
}

TEST(Pattern, DefinitionsByEnumeration) {
  // Each kind against its definition in docs/patterns.md, written out with explicit loops.
  const int N = 50;
  for (int L : {0, 1, 4, 60})
    for (int R : {0, 2, 5, 60})
      for (int i = 0; i < N; ++i)
        for (int j = 0; j < N; ++j) {
          const bool in_window = i - L <= j && j <= i + R;
          EXPECT_EQ(PatternSpec::sliding(L, R).view().allows(i, j), in_window) << i << "," << j;
          EXPECT_EQ(PatternSpec::causal(L).view().allows(i, j), i - L <= j && j <= i) << i << "," << j;
          for (int d : {1, 2, 3, 7}) {
            bool dilated = false;
            for (int k = -L; k <= R; ++k) dilated = dilated || (j == i + k * d);
            EXPECT_EQ(PatternSpec::dilated(L, R, d).view().allows(i, j), dilated) << i << "," << j << " d=" << d;
          }
        }
  for (int W : {1, 2, 3, 5, 64})
    for (int L : {0, 1, 4, 7}) {
      const Pattern e = PatternSpec::exponential(W, L).view();
      std::set<int> distances;  // W, 2W, 4W, ... as far as the sequence reaches
      for (int d = W; d < 2 * N; d *= 2) distances.insert(d);
      for (int i = 0; i < N; ++i)
        for (int j = 0; j < N; ++j)
          EXPECT_EQ(e.allows(i, j), std::abs(j - i) <= L || distances.count(std::abs(j - i)) > 0)
              << "exponential W=" << W << " L=" << L << " " << i << "," << j;
    }
  for (int S : {1, 3, 7, 64, 100}) {
    const Pattern b = PatternSpec::block_diagonal(S).view();
    for (int i = 0; i < N; ++i)
      for (int j = 0; j < N; ++j) {
        int block_of_i = 0, block_of_j = 0;  // counted, not divided
        for (int start = S; start <= i; start += S) ++block_of_i;
        for (int start = S; start <= j; start += S) ++block_of_j;
        EXPECT_EQ(b.allows(i, j), block_of_i == block_of_j) << "block S=" << S << " " << i << "," << j;
      }
  }
  for (int S : {0, 1, 4, 60})
    for (int L : {0, 3})
      for (int R : {0, 2}) {
        const Pattern k = PatternSpec::sinks(L, R, S).view();
        for (int i = 0; i < N; ++i)
          for (int j = 0; j < N; ++j)
            EXPECT_EQ(k.allows(i, j), (i - L <= j && j <= i + R) || j < S) << "sinks S=" << S << " " << i << "," << j;
      }
  const PatternSpec g = PatternSpec::global_local(2, {0, 17, 49});
  const std::set<int> globals = {0, 17, 49};
  for (int i = 0; i < N; ++i)
    for (int j = 0; j < N; ++j)
      EXPECT_EQ(g.view().allows(i, j), (i - 2 <= j && j <= i + 2) || globals.count(i) || globals.count(j));
}

TEST(Pattern, IsTheUnionOfItsParts) {
  // allows(i, j) = sees_every_key(i) || local_window(i) holds j || every_query_sees(j) || is_offset(i, j),
  // and count_keys counts what allows lets through: the hints and the pair counts work from the parts.
  for (int N : {1, 7, 64, 65, 130})
    for (int w : {0, 1, 3, 64, 129})
      for (const PatternSpec& spec : patterns_for(N, w)) {
        const Pattern p = spec.view();
        long long pairs = 0;
        for (int i = 0; i < N; ++i) {
          const Pattern::LocalWindow window = p.local_window(i);
          ASSERT_TRUE(window.contains(i)) << spec.to_string() << " i=" << i;
          long long keys = 0;
          for (int j = 0; j < N; ++j) {
            const bool parts = p.sees_every_key(i) || window.contains(j) || p.every_query_sees(j) || p.is_offset(i, j);
            ASSERT_FALSE(window.contains(j) && p.is_offset(i, j)) << "the offsets lie beyond the local window";
            ASSERT_EQ(p.allows(i, j), parts) << spec.to_string() << " N=" << N << " i=" << i << " j=" << j;
            keys += parts;
          }
          ASSERT_EQ(p.count_keys(i, N), keys) << spec.to_string() << " N=" << N << " i=" << i;
          pairs += keys;
        }
        EXPECT_EQ(count_allowed_pairs(spec, N), pairs) << spec.to_string() << " N=" << N;
      }
}

TEST(Pattern, EveryQuerySeesItself) {
  // No row of any pattern is empty: this is why a correct kernel never has a row with no key.
  for (int N : {1, 65, 257})
    for (int w : {0, 3, 129})
      for (const PatternSpec& spec : patterns_for(N, w))
        for (int i = 0; i < N; ++i) ASSERT_TRUE(spec.view().allows(i, i)) << spec.to_string() << " i=" << i;
}

TEST(Pattern, AgreesWithReferenceEnumeration) {
  for (int N : kAwkwardN)
    for (int w : {0, 1, 32, 129})
      for (const PatternSpec& spec : patterns_for(N, w)) {
        const Pattern p = spec.view();
        std::vector<reference::KeyRun> runs;
        for (int i = 0; i < N; ++i) {
          reference::visible_keys(p, N, i, runs);
          std::vector<bool> seen(N, false);
          for (const auto& r : runs)
            for (int t = 0; t < r.count; ++t) {
              const int j = r.first + t * r.stride;
              ASSERT_TRUE(j >= 0 && j < N && !seen[j]) << spec.to_string() << " i=" << i << " j=" << j;
              seen[j] = true;
            }
          for (int j = 0; j < N; ++j)
            ASSERT_EQ(seen[j], p.allows(i, j)) << spec.to_string() << " N=" << N << " i=" << i << " j=" << j;
        }
      }
}

// ---------------------------------------------------------------------------------------------------
// Tile masks against brute-force enumeration of the pairs in each tile
// ---------------------------------------------------------------------------------------------------

TileClass brute_force_class(const Pattern& p, int N, int tm, int tn, int m, int n) {
  bool any = false, all = true;
  for (int i = m * tm; i < std::min(N, (m + 1) * tm); ++i)
    for (int j = n * tn; j < std::min(N, (n + 1) * tn); ++j) {
      const bool a = p.allows(i, j);
      any = any || a;
      all = all && a;
    }
  if (!any) return TileClass::kEmpty;
  const bool complete = (n + 1) * tn <= N;
  return all && complete ? TileClass::kFull : TileClass::kPartial;
}

void check_tiles(const PatternSpec& spec, int N, int tm, int tn) {
  const TileMask mask{spec.view(), N, tm, tn};
  ASSERT_EQ(mask.num_query_tiles(), (N + tm - 1) / tm);
  ASSERT_EQ(mask.num_key_tiles(), (N + tn - 1) / tn);
  for (int m = 0; m < mask.num_query_tiles(); ++m) {
    std::vector<int> expected_tiles, walked_tiles;
    for (int n = 0; n < mask.num_key_tiles(); ++n) {
      const TileClass expected = brute_force_class(spec.view(), N, tm, tn, m, n);
      ASSERT_EQ(mask.classify(m, n), expected) << describe(spec, N, tm, tn) << " m=" << m << " n=" << n;
      if (expected != TileClass::kEmpty) expected_tiles.push_back(n);
    }
    for (int n = mask.first_key_tile(m); n < mask.num_key_tiles(); n = mask.next_key_tile(m, n)) {
      ASSERT_TRUE(walked_tiles.empty() || n > walked_tiles.back()) << "not increasing";
      walked_tiles.push_back(n);
    }
    ASSERT_EQ(walked_tiles, expected_tiles) << describe(spec, N, tm, tn) << " m=" << m;
    ASSERT_EQ(mask.last_key_tile(m), expected_tiles.empty() ? -1 : expected_tiles.back())
        << describe(spec, N, tm, tn) << " m=" << m;
  }
}

// TileWalk: the same against brute force for in_tiles(i, j) = local window or a key every query sees,
// for the pairs that exist.
void check_walk(const PatternSpec& spec, int N, int tm, int tn) {
  const Pattern p = spec.view();
  auto in_tiles = [&](int i, int j) { return p.local_window(i).contains(j) || p.every_query_sees(j); };
  const TileMask mask{p, N, tm, tn};
  for (int m = 0; m < mask.num_query_tiles(); ++m) {
    const TileWalk<> walk = TileWalk<>::of(p, N, tm, tn, m);
    ASSERT_EQ(walk.num_key_tiles(), mask.num_key_tiles());
    std::vector<int> expected_tiles, walked_tiles;
    for (int n = 0; n < walk.num_key_tiles(); ++n) {
      bool any = false, all = true;
      for (int i = m * tm; i < std::min(N, (m + 1) * tm); ++i)
        for (int j = n * tn; j < std::min(N, (n + 1) * tn); ++j) {
          ASSERT_EQ(walk.visible(i, j), in_tiles(i, j)) << describe(spec, N, tm, tn) << " i=" << i << " j=" << j;
          any = any || in_tiles(i, j);
          all = all && in_tiles(i, j);
        }
      const TileClass expected = !any                       ? TileClass::kEmpty
                                 : all && (n + 1) * tn <= N ? TileClass::kFull
                                                            : TileClass::kPartial;
      ASSERT_EQ(walk.classify(n), expected) << "walk of " << describe(spec, N, tm, tn) << " m=" << m << " n=" << n;
      if (expected != TileClass::kEmpty) expected_tiles.push_back(n);
    }
    for (int n = walk.first(); n < walk.num_key_tiles(); n = walk.next(n)) walked_tiles.push_back(n);
    ASSERT_EQ(walked_tiles, expected_tiles) << "walk of " << describe(spec, N, tm, tn) << " m=" << m;
  }
}

TEST(TileWalk, MatchesBruteForce) {
  for (int N : {1, 2, 7, 63, 64, 65, 129, 257, 1013})
    for (int w : {0, 1, 3, 63, 64, 65, 128, 129, 1500})
      for (const PatternSpec& spec : patterns_for(N, w)) check_walk(spec, N, kTileM, kTileN);
  for (int N : {1, 7, 65, 200})
    for (int w : {0, 2, 17, 64, 300})
      for (const PatternSpec& spec : patterns_for(N, w))
        for (auto [tm, tn] : {std::pair{1, 1}, {16, 32}, {32, 16}, {128, 64}, {7, 5}}) check_walk(spec, N, tm, tn);
}

TEST(TileWalk, IsTheTileMaskWhereThePatternHasNoOtherParts) {
  // Without offsets or rows that see every key, the tile part is the whole pattern: the same walk.
  for (int N : {65, 300})
    for (const PatternSpec& spec : patterns_for(N, 40)) {
      const TileMask mask{spec.view(), N};
      bool other_parts = false;
      for (int i = 0; i < N; ++i)
        for (int j = 0; j < N; ++j)
          other_parts = other_parts || spec.view().is_offset(i, j) || spec.view().sees_every_key(i);
      if (other_parts) continue;
      for (int m = 0; m < mask.num_query_tiles(); ++m) {
        const TileWalk<> walk = TileWalk<>::of(spec.view(), N, kTileM, kTileN, m);
        for (int n = 0; n < mask.num_key_tiles(); ++n) {
          ASSERT_EQ(walk.classify(n), mask.classify(m, n)) << spec.to_string() << " m=" << m << " n=" << n;
          ASSERT_EQ(walk.next(n - 1), mask.next_key_tile(m, n - 1)) << spec.to_string() << " m=" << m << " n=" << n;
        }
      }
    }
}

// full_span(m): every tile in it is full; for the sliding and causal windows it is the widest such run,
// so the tiles just outside it are not full.
void check_full_span(const PatternSpec& spec, int N, int tm, int tn) {
  const TileMask mask{spec.view(), N, tm, tn};
  const bool exact = spec.kind == PatternKind::kSlidingWindow || spec.kind == PatternKind::kCausalSlidingWindow;
  for (int m = 0; m < mask.num_query_tiles(); ++m) {
    const TileSpan span = mask.full_span(m);
    for (int n = span.first; n <= span.last; ++n)
      ASSERT_EQ(mask.classify(m, n), TileClass::kFull) << describe(spec, N, tm, tn) << " m=" << m << " n=" << n;
    if (!exact) continue;
    int full = 0;
    for (int n = 0; n < mask.num_key_tiles(); ++n) full += mask.classify(m, n) == TileClass::kFull;
    ASSERT_EQ(span.empty() ? 0 : span.last - span.first + 1, full) << describe(spec, N, tm, tn) << " m=" << m;
  }
}

TEST(TileMask, FullSpanIsTheUnmaskedInterior) {
  for (int N : {1, 7, 63, 64, 65, 200, 1013})
    for (int w : {0, 1, 17, 63, 64, 65, 128, 300, 1 << 20})
      for (const PatternSpec& spec : patterns_for(N, w))
        for (auto [tm, tn] : {std::pair{64, 64}, {128, 64}, {64, 32}, {16, 16}, {7, 5}})
          check_full_span(spec, N, tm, tn);
  // The exercise: query tile 10 of 64 (queries 640..703), W = 128: key tiles 9..11 are full.
  const TileSpan span = TileMask{PatternSpec::sliding(128).view(), 2048}.full_span(10);
  EXPECT_EQ(span.first, 9);
  EXPECT_EQ(span.last, 11);
}

TEST(ApplyMask, HidesWhatTheLayoutSaysIsInvisible) {
  // A 2 x 3 fragment whose register e sits at query 10 + e / 3, key 20 + e % 3 (any layout would do).
  float s[2][3] = {{1, 2, 3}, {4, 5, 6}};
  apply_mask(
      s,
      [](int e) {
        return QueryKey{10 + e / 3, 20 + e % 3};
      },
      [](int i, int j) { return j - i <= 10; });
  EXPECT_EQ(s[0][0], 1.f);  // (10, 20): j - i = 10
  EXPECT_EQ(s[0][1], -INFINITY);  // (10, 21)
  EXPECT_EQ(s[1][1], 5.f);  // (11, 21)
  EXPECT_EQ(s[1][2], -INFINITY);  // (11, 22)
  float flat[4] = {1, 1, 1, 1};
  apply_mask(
      flat,
      [](int e) {
        return QueryKey{e, 3 - e};
      },
      [](int i, int j) { return i <= j; });
  EXPECT_EQ(flat[1], 1.f);
  EXPECT_EQ(flat[2], -INFINITY);
}

TEST(TileMask, MatchesBruteForceExerciseTiles) {
  for (int N : kAwkwardN)
    for (int w : kWindows)
      for (const PatternSpec& spec : patterns_for(N, w)) check_tiles(spec, N, kTileM, kTileN);
}

TEST(TileMask, MatchesBruteForceOtherTileShapes) {
  for (int N : {1, 7, 63, 65, 200})
    for (int w : {0, 2, 17, 64, 300})
      for (const PatternSpec& spec : patterns_for(N, w))
        for (auto [tm, tn] : {std::pair{1, 1}, {16, 16}, {16, 32}, {32, 16}, {128, 64}, {7, 5}})
          check_tiles(spec, N, tm, tn);
}

TEST(TileMask, WindowAtLeastNIsFullAttention) {
  // W >= N: every key tile is touched, and every complete key tile is full.
  for (int N : {1, 63, 64, 65, 257})
    for (int w : {N, N + 1, kMaxWindow}) {
      const TileMask mask{PatternSpec::sliding(w).view(), N};
      for (int m = 0; m < mask.num_query_tiles(); ++m)
        for (int n = 0; n < mask.num_key_tiles(); ++n)
          EXPECT_EQ(mask.classify(m, n), (n + 1) * kTileN <= N ? TileClass::kFull : TileClass::kPartial);
    }
}

TEST(TileMask, ExerciseSizesTouchFiveOfThirtyTwoTiles) {
  // N = 2048, W = 128, tiles of 64: an interior query tile touches 5 key tiles; the edges are partial.
  const TileMask mask{PatternSpec::sliding(128).view(), 2048};
  int touched = 0;
  for (int n = mask.first_key_tile(10); n < mask.num_key_tiles(); n = mask.next_key_tile(10, n)) ++touched;
  EXPECT_EQ(mask.num_key_tiles(), 32);
  EXPECT_EQ(touched, 5);
  EXPECT_EQ(mask.classify(10, 7), TileClass::kEmpty);
  EXPECT_EQ(mask.classify(10, 8), TileClass::kPartial);  // keys 512..575 against queries 640..703
  EXPECT_EQ(mask.classify(10, 9), TileClass::kFull);
  EXPECT_EQ(mask.classify(10, 10), TileClass::kFull);
  EXPECT_EQ(mask.classify(10, 11), TileClass::kFull);
  EXPECT_EQ(mask.classify(10, 12), TileClass::kPartial);
  EXPECT_EQ(mask.classify(10, 13), TileClass::kEmpty);
}

// ---------------------------------------------------------------------------------------------------
// docs/patterns.md: every picture there is what the predicate and the tile mask say
// ---------------------------------------------------------------------------------------------------

TEST(PatternDocs, PicturesMatchThePredicate) {
  std::ifstream in(SWA_SOURCE_DIR "/docs/patterns.md");
  ASSERT_TRUE(in) << "cannot read docs/patterns.md";
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  // <!-- picture: SPEC N=8 -->   or   <!-- tiles: SPEC N=16 tile=4 -->   followed by a ``` block
  const std::regex marker(R"(<!-- (picture|tiles): (\S+) N=(\d+)(?: tile=(\d+))? -->\s*```[a-z]*\n([^`]*)```)");
  int checked = 0;
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), marker); it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    const int N = std::stoi(m[3]);
    const PatternSpec spec = parse_pattern(m[2], N);
    const std::string expected =
        m[1] == "picture" ? render_pattern(spec, N) : render_tiles(spec, N, std::stoi(m[4]), std::stoi(m[4]));
    EXPECT_EQ(m[5].str(), expected) << "docs/patterns.md picture of " << m[2] << " N=" << N;
    ++checked;
  }
  EXPECT_GE(checked, 6) << "docs/patterns.md should hold a picture of every pattern and of tile classes";
}

}  // namespace
}  // namespace swa
