// problem.h: the sliding-window attention problem, defined once.
//
// Every kernel (student stage or reference solution), the CPU reference, the grader, the benchmarks and
// the tests include this header, so none of them can disagree about a shape, a layout, a tile size, or
// which key a query may see.
//
//     O[b,h,i,:] = sum_j softmax_j( scale * Q[b,h,i,:] . K[b,h,j,:] ) * V[b,h,j,:]
//
// where j runs over the keys that the attention pattern lets query i see (section 2).
//
// Contents
//   1. sizes and limits         tile sizes, supported head dimensions, the largest accepted arguments
//   2. attention patterns       Pattern::allows(i, j): "may query i see key j"
//   3. the problem              shapes, layout [B, H, N, D], tensors, workspace
//   4. tile masks               TileMask: which key tiles a query tile touches, which need masking
//   5. argument checks          check_problem(): a message naming the bad argument and its range
//   6. the stage interface      what a stage declares (tiles, head dims, GPU) and its C entry point (stage.h)
#pragma once

#include <cuda_fp16.h>  // __half, on host and device
#include <cuda_runtime_api.h>  // cudaStream_t

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#if defined(__CUDACC__)
#define SWA_HD __host__ __device__ __forceinline__
#define SWA_UNROLL _Pragma("unroll")
#else
#define SWA_HD inline
#define SWA_UNROLL
#endif

namespace swa {

// ---------------------------------------------------------------------------------------------------
// 1. Sizes and limits
// ---------------------------------------------------------------------------------------------------

// Tiles of the exercise's CUDA-core stages (01-05): a block owns kTileM queries and walks the keys kTileN
// at a time. Each stage declares its own tiles (section 6); these are the defaults, not a kit-wide rule.
constexpr int kTileM = 64;
constexpr int kTileN = 64;

// Head dimensions a kernel may support; each stage declares which of them it does (section 6). The CPU
// reference accepts any D in [1, kMaxHeadDim].
constexpr int kHeadDims[] = {16, 32, 64, 128};
constexpr int kMaxHeadDim = 128;

// A bit per head dimension of kHeadDims, for the set a stage supports: 16 -> bit 0, ..., 128 -> bit 3.
constexpr uint32_t head_dim_bit(int D) { return D == 16 ? 1u : D == 32 ? 2u : D == 64 ? 4u : D == 128 ? 8u : 0u; }
constexpr uint32_t kAllHeadDims = 0xfu;

// Limits that keep every index of a valid problem inside 32-bit integers on the GPU:
// i + window <= 2^20 + 2^30 < 2^31, and B*H*N*D < 2^31 elements.
constexpr int kMaxSeqLen = 1 << 20;
constexpr int kMaxWindow = 1 << 30;  // a window >= N - 1 already means "every key"; larger adds nothing
constexpr int kMaxBatchHeads = 65535;  // B*H: the CUDA limit on a grid's y and z sizes, which stages may use for it
constexpr long long kMaxElements = (1LL << 31) - 1;  // B*H*N*D

SWA_HD int ceil_div(int a, int b) { return (a + b - 1) / b; }
SWA_HD long long floor_div(long long a, long long b) {  // b > 0; rounds toward -infinity
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}
SWA_HD int min_int(int a, int b) { return a < b ? a : b; }
SWA_HD int max_int(int a, int b) { return a > b ? a : b; }

// ---------------------------------------------------------------------------------------------------
// 2. Attention patterns (docs/patterns.md draws each one)
// ---------------------------------------------------------------------------------------------------
//
// All bounds are inclusive; i and j are positions in [0, N).
//   kSlidingWindow        i - left <= j <= i + right   (the exercise: left = right = W; W >= N is full attention)
//   kCausalSlidingWindow  the same and j <= i           (so right has no effect)
//   kDilated              j = i + k*dilation for some integer k with -left <= k <= right
//   kGlobalLocal          j in the sliding window of i, or j is global, or i is global
//   kAdaptive             i - adaptive_left[i] <= j <= i + adaptive_right[i]   (a window per query)
//   kExponential          |j - i| <= left, or |j - i| = dilation * 2^k for some integer k >= 0
//                         (the exercise's "i +- W, i +- 2W, i +- 4W, ...", W = dilation, around a dense
//                         local window of left keys on each side, which may be 0)
//   kBlockDiagonal        i / block_size == j / block_size   (the same block of block_size positions)
//   kSinks                i - left <= j <= i + right, or j < num_sinks   (the first keys, seen by every query)
enum class PatternKind : int32_t {
  kSlidingWindow = 0,
  kCausalSlidingWindow = 1,
  kDilated = 2,
  kGlobalLocal = 3,
  kAdaptive = 4,
  kExponential = 5,
  kBlockDiagonal = 6,
  kSinks = 7,
};
constexpr int kNumPatternKinds = 8;

// A bit per pattern kind, for the set of patterns a stage supports.
SWA_HD constexpr uint32_t pattern_bit(PatternKind kind) { return 1u << static_cast<int>(kind); }
constexpr uint32_t kAllPatterns = (1u << kNumPatternKinds) - 1;

inline const char* pattern_name(PatternKind kind) {
  switch (kind) {
    case PatternKind::kSlidingWindow: return "sliding";
    case PatternKind::kCausalSlidingWindow: return "causal";
    case PatternKind::kDilated: return "dilated";
    case PatternKind::kGlobalLocal: return "global";
    case PatternKind::kAdaptive: return "adaptive";
    case PatternKind::kExponential: return "exponential";
    case PatternKind::kBlockDiagonal: return "block";
    case PatternKind::kSinks: return "sinks";
  }
  return "unknown";
}

// A pattern as kernels see it: plain values and pointers, no ownership. The arrays live where the code
// that reads them runs (device memory for kernels, host memory for the CPU side); grader/pattern_spec.h
// builds, owns, checks and uploads them.
struct Pattern {
  PatternKind kind = PatternKind::kSlidingWindow;
  int32_t left = 0;  // keys before the query (sliding, causal, dilated, global, sinks); on each side (exponential)
  int32_t right = 0;  // keys after the query (sliding, dilated, global, sinks)
  int32_t dilation = 1;  // kDilated: distance between visible keys; kExponential: the first offset W; >= 1
  int32_t num_global = 0;  // kGlobalLocal: number of global positions
  int32_t block_size = 1;  // kBlockDiagonal: positions per block, >= 1
  int32_t num_sinks = 0;  // kSinks: keys 0 .. num_sinks - 1 are seen by every query
  const int32_t* global_positions = nullptr;  // kGlobalLocal: sorted, strictly increasing, in [0, N)
  const int32_t* adaptive_left = nullptr;  // kAdaptive: N windows, each >= 0
  const int32_t* adaptive_right = nullptr;  // kAdaptive: N windows, each >= 0

  // Number of global positions < x (a lower bound by binary search in the sorted list).
  SWA_HD int globals_before(int x) const {
    int lo = 0, hi = num_global;
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (global_positions[mid] < x)
        lo = mid + 1;
      else
        hi = mid;
    }
    return lo;
  }
  SWA_HD bool is_global(int x) const {
    const int k = globals_before(x);
    return k < num_global && global_positions[k] == x;
  }
  SWA_HD int globals_in(int first, int last) const {  // global positions in [first, last]
    return globals_before(last + 1) - globals_before(first);
  }
  SWA_HD int first_non_global(int x) const {  // smallest position >= x that is not global
    for (int k = globals_before(x); k < num_global && global_positions[k] == x; ++k) ++x;
    return x;
  }
  SWA_HD int last_non_global(int x) const {  // largest position <= x that is not global
    for (int k = globals_before(x + 1) - 1; k >= 0 && global_positions[k] == x; --k) --x;
    return x;
  }

  // May query i see key j?  (0 <= i, j < N)
  SWA_HD bool allows(int i, int j) const {
    switch (kind) {
      case PatternKind::kSlidingWindow: return i - left <= j && j <= i + right;
      case PatternKind::kCausalSlidingWindow: return i - left <= j && j <= i;
      case PatternKind::kDilated: {
        const int delta = j - i;
        if (delta % dilation != 0) return false;
        const int k = delta / dilation;  // exact, so no rounding question
        return -left <= k && k <= right;
      }
      case PatternKind::kGlobalLocal: return (i - left <= j && j <= i + right) || is_global(j) || is_global(i);
      case PatternKind::kAdaptive: return i - adaptive_left[i] <= j && j <= i + adaptive_right[i];
      case PatternKind::kExponential: {
        const int distance = j >= i ? j - i : i - j;
        return distance <= left || is_power_offset(distance);
      }
      case PatternKind::kBlockDiagonal: return i / block_size == j / block_size;
      case PatternKind::kSinks: return (i - left <= j && j <= i + right) || j < num_sinks;
    }
    return false;
  }
  // kExponential: is `distance` (>= 0) one of W, 2W, 4W, ... (W = dilation)?
  SWA_HD bool is_power_offset(long long distance) const {
    if (distance < dilation || distance % dilation != 0) return false;
    const long long multiple = distance / dilation;
    return (multiple & (multiple - 1)) == 0;
  }

  // The parts of a pattern (docs/patterns.md, "The parts of a pattern"). The keys query i sees are
  //   its local window    keys first, first + step, ..., last (before clamping to the sequence); it holds i;
  //   keys every query sees (every_query_sees(j)): the global positions, the sinks;
  //   its offsets         keys i +- W*2^k beyond its local window (is_offset(i, j)): the exponential pattern;
  //   and every key, when i is a query that sees every key (sees_every_key(i)): a global position.
  // allows(i, j) is exactly their union (grader/tests/test_patterns.cpp checks it). The grader's hints
  // describe a query's local window, the pair counts add up the parts, and a kernel may compute each part
  // its own way (the bonus stage gathers the offsets and computes the global rows apart).
  struct LocalWindow {
    long long first, last;  // may reach outside [0, N)
    int step;  // 1, or the dilation
    SWA_HD bool contains(long long j) const { return first <= j && j <= last && (j - first) % step == 0; }
  };
  SWA_HD LocalWindow local_window(int i) const {
    switch (kind) {
      case PatternKind::kSlidingWindow:
      case PatternKind::kGlobalLocal:
      case PatternKind::kSinks: return {static_cast<long long>(i) - left, static_cast<long long>(i) + right, 1};
      case PatternKind::kCausalSlidingWindow: return {static_cast<long long>(i) - left, i, 1};
      case PatternKind::kDilated:
        return {i - static_cast<long long>(left) * dilation, i + static_cast<long long>(right) * dilation, dilation};
      case PatternKind::kAdaptive:
        return {static_cast<long long>(i) - adaptive_left[i], static_cast<long long>(i) + adaptive_right[i], 1};
      case PatternKind::kExponential: return {static_cast<long long>(i) - left, static_cast<long long>(i) + left, 1};
      case PatternKind::kBlockDiagonal: {
        const long long first = static_cast<long long>(i / block_size) * block_size;
        return {first, first + block_size - 1, 1};
      }
    }
    return {i, i, 1};
  }
  SWA_HD bool every_query_sees(int j) const {
    return (kind == PatternKind::kGlobalLocal && is_global(j)) || (kind == PatternKind::kSinks && j < num_sinks);
  }
  SWA_HD bool sees_every_key(int i) const { return kind == PatternKind::kGlobalLocal && is_global(i); }
  SWA_HD bool is_offset(int i, int j) const {
    const long long distance = j >= i ? static_cast<long long>(j) - i : static_cast<long long>(i) - j;
    return kind == PatternKind::kExponential && distance > left && is_power_offset(distance);
  }
  // kExponential: the offsets are W * 2^level for level = 0, 1, ...; those up to `left` lie inside the
  // local window and are not offsets. The first level beyond it:
  SWA_HD int first_offset_level() const {
    int level = 0;
    while (level < 62 && (static_cast<long long>(dilation) << level) <= left) ++level;
    return level;
  }

  // The number of keys query i sees in a sequence of N (the useful work of its row).
  SWA_HD long long count_keys(int i, int N) const {
    if (sees_every_key(i)) return N;
    const LocalWindow w = local_window(i);
    // The window's first and last keys inside [0, N), moved along its steps.
    const long long lo = w.first >= 0 ? w.first : w.first + (-w.first + w.step - 1) / w.step * w.step;
    const long long hi = w.last < N ? w.last : w.last - (w.last - N + 1 + w.step - 1) / w.step * w.step;
    long long keys = lo <= hi ? (hi - lo) / w.step + 1 : 0;  // never 0: the window holds i
    if (kind == PatternKind::kGlobalLocal)  // the global keys outside the (dense) window
      keys += num_global - globals_in(static_cast<int>(lo), static_cast<int>(hi));
    if (kind == PatternKind::kSinks) {  // the sinks outside it
      const long long sinks = num_sinks < N ? num_sinks : N;
      const long long inside = (sinks - 1 < hi ? sinks - 1 : hi) - lo + 1;
      keys += sinks - (inside > 0 ? inside : 0);
    }
    if (kind == PatternKind::kExponential)  // the offsets on either side that stay in the sequence
      for (long long d = static_cast<long long>(dilation) << first_offset_level(); d < N; d *= 2)
        keys += (i - d >= 0) + (i + d < N);
    return keys;
  }
};

// ---------------------------------------------------------------------------------------------------
// 3. The problem
// ---------------------------------------------------------------------------------------------------

// Shapes and parameters. Q, K, V: fp16 [B, H, N, D]; O: fp32 [B, H, N, D]; all contiguous.
struct Problem {
  int32_t B = 1;  // batch
  int32_t H = 1;  // heads
  int32_t N = 1;  // sequence length (queries = keys)
  int32_t D = 64;  // head dimension
  float scale = 0.0f;  // required: softmax(scale * Q.K); default_scale(D) = 1/sqrt(D), or 1 (the exercise's formula)
  Pattern pattern;

  SWA_HD int batch_heads() const { return B * H; }
  // Offset of element (bh, i, 0), where bh = b*H + h indexes the B*H independent attention problems.
  SWA_HD size_t row_offset(int bh, int i) const { return (static_cast<size_t>(bh) * N + i) * D; }
  SWA_HD size_t num_elements() const { return static_cast<size_t>(B) * H * N * D; }
};

inline float default_scale(int D) { return 1.0f / std::sqrt(static_cast<float>(D)); }

struct Tensors {
  const __half* q = nullptr;  // [B, H, N, D]
  const __half* k = nullptr;  // [B, H, N, D]
  const __half* v = nullptr;  // [B, H, N, D]
  float* o = nullptr;  // [B, H, N, D], written by the stage
};

// Scratch device memory a stage asked for through its workspace_bytes(); kernels never allocate.
struct Workspace {
  void* ptr = nullptr;
  size_t bytes = 0;
};

// ---------------------------------------------------------------------------------------------------
// 4. Tile masks
// ---------------------------------------------------------------------------------------------------
//
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
      const long long right = pattern.kind == PatternKind::kSlidingWindow ? pattern.right : 0;
      const long long lo = static_cast<long long>(i1) - pattern.left;
      TileSpan span;
      span.first = lo <= 0 ? 0 : static_cast<int>((lo + tile_n - 1) / tile_n);
      const long long last_by_window = floor_div(i0 + right + 1, tile_n) - 1;
      span.last = static_cast<int>(last_by_window < N / tile_n - 1 ? last_by_window : N / tile_n - 1);
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
        return next_in_span(n, key_tile_of(i0 - pattern.left), key_tile_of(i1 + pattern.right));
      case PatternKind::kCausalSlidingWindow: return next_in_span(n, key_tile_of(i0 - pattern.left), key_tile_of(i1));
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

// The tile walk of one query tile when a kernel computes a pattern by its parts (section 2), as the bonus
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

// ---------------------------------------------------------------------------------------------------
// 5. Argument checks (host only)
// ---------------------------------------------------------------------------------------------------
//
// Each returns "" when the arguments are valid, else one sentence naming the argument, its value and the
// allowed range. Stages call check_problem() and check_tensors() before every launch (stage.h does it);
// the arrays behind a pattern are checked on the host by check_pattern_arrays() (grader/pattern_spec.h
// calls it before they are uploaded), since a stage cannot read them without a copy.

inline bool is_supported_head_dim(int D) {
  for (int d : kHeadDims)
    if (d == D) return true;
  return false;
}

namespace detail {
inline std::string out_of_range(const char* name, long long value, long long lo, long long hi) {
  return std::string(name) + " = " + std::to_string(value) + " is out of range: " + name + " must be in [" +
         std::to_string(lo) + ", " + std::to_string(hi) + "]";
}
}  // namespace detail

enum class HeadDims { kKernel, kAny };  // kKernel: kHeadDims only; kAny: the CPU reference's [1, kMaxHeadDim]

// Which head dimensions a stage supports is the stage's own declaration (section 6): a D outside it is
// "unsupported" (kSwaUnsupported), not a bad argument. check_problem() with HeadDims::kKernel rejects only
// what no kernel of the kit can run.
inline std::string check_problem(const Problem& p, HeadDims head_dims = HeadDims::kKernel) {
  using detail::out_of_range;
  if (p.B < 1 || p.B > kMaxBatchHeads) return out_of_range("B", p.B, 1, kMaxBatchHeads);
  if (p.H < 1 || p.H > kMaxBatchHeads) return out_of_range("H", p.H, 1, kMaxBatchHeads);
  if (static_cast<long long>(p.B) * p.H > kMaxBatchHeads)
    return out_of_range("B*H", static_cast<long long>(p.B) * p.H, 1, kMaxBatchHeads);
  if (p.N < 1 || p.N > kMaxSeqLen) return out_of_range("N", p.N, 1, kMaxSeqLen);
  if (head_dims == HeadDims::kKernel && !is_supported_head_dim(p.D))
    return "D = " + std::to_string(p.D) + " is not supported: D must be one of 16, 32, 64, 128";
  if (p.D < 1 || p.D > kMaxHeadDim) return out_of_range("D", p.D, 1, kMaxHeadDim);
  if (static_cast<long long>(p.B) * p.H * p.N * p.D > kMaxElements)
    return out_of_range("B*H*N*D", static_cast<long long>(p.B) * p.H * p.N * p.D, 1, kMaxElements);
  if (!std::isfinite(p.scale) || !(p.scale > 0.0f))
    return "scale = " + std::to_string(p.scale) +
           " is out of range: scale must be finite and > 0 (it has no default: default_scale(D) = 1/sqrt(D) is usual)";

  const Pattern& pat = p.pattern;
  switch (pat.kind) {
    case PatternKind::kSlidingWindow:
    case PatternKind::kCausalSlidingWindow:
    case PatternKind::kDilated:
    case PatternKind::kGlobalLocal:
    case PatternKind::kSinks:
      if (pat.left < 0 || pat.left > kMaxWindow) return out_of_range("window left", pat.left, 0, kMaxWindow);
      if (pat.right < 0 || pat.right > kMaxWindow) return out_of_range("window right", pat.right, 0, kMaxWindow);
      break;
    case PatternKind::kExponential:  // its local window is `left` on each side; `right` is not read
      if (pat.left < 0 || pat.left > kMaxWindow) return out_of_range("local window", pat.left, 0, kMaxWindow);
      if (pat.dilation < 1 || pat.dilation > kMaxSeqLen)
        return out_of_range("first offset W", pat.dilation, 1, kMaxSeqLen);
      break;
    case PatternKind::kBlockDiagonal:
      if (pat.block_size < 1 || pat.block_size > kMaxWindow)
        return out_of_range("block size", pat.block_size, 1, kMaxWindow);
      break;
    case PatternKind::kAdaptive:
      if (pat.adaptive_left == nullptr || pat.adaptive_right == nullptr)
        return "adaptive windows are null: the adaptive pattern needs adaptive_left and adaptive_right, N values each";
      break;
    default: return out_of_range("pattern kind", static_cast<int>(pat.kind), 0, kNumPatternKinds - 1);
  }
  if (pat.kind == PatternKind::kDilated && (pat.dilation < 1 || pat.dilation > kMaxSeqLen))
    return out_of_range("dilation", pat.dilation, 1, kMaxSeqLen);
  if (pat.kind == PatternKind::kSinks && (pat.num_sinks < 0 || pat.num_sinks > kMaxWindow))
    return out_of_range("number of sinks", pat.num_sinks, 0, kMaxWindow);
  if (pat.kind == PatternKind::kGlobalLocal) {
    if (pat.num_global < 0 || pat.num_global > p.N)
      return out_of_range("number of global positions", pat.num_global, 0, p.N);
    if (pat.num_global > 0 && pat.global_positions == nullptr)
      return "global positions are null but their number is " + std::to_string(pat.num_global);
  }
  return "";
}

// Reads the pattern's arrays, so pass a pattern whose pointers are host memory.
inline std::string check_pattern_arrays(const Pattern& pat, int N) {
  using detail::out_of_range;
  if (pat.kind == PatternKind::kGlobalLocal) {
    for (int k = 0; k < pat.num_global; ++k) {
      const int g = pat.global_positions[k];
      if (g < 0 || g >= N) return out_of_range(("global position #" + std::to_string(k)).c_str(), g, 0, N - 1);
      if (k > 0 && g <= pat.global_positions[k - 1])
        return "global positions must be strictly increasing: #" + std::to_string(k) + " = " + std::to_string(g) +
               " follows " + std::to_string(pat.global_positions[k - 1]);
    }
  }
  if (pat.kind == PatternKind::kAdaptive) {
    for (int i = 0; i < N; ++i) {
      const std::string at = "[" + std::to_string(i) + "]";
      if (pat.adaptive_left[i] < 0 || pat.adaptive_left[i] > kMaxWindow)
        return out_of_range(("adaptive_left" + at).c_str(), pat.adaptive_left[i], 0, kMaxWindow);
      if (pat.adaptive_right[i] < 0 || pat.adaptive_right[i] > kMaxWindow)
        return out_of_range(("adaptive_right" + at).c_str(), pat.adaptive_right[i], 0, kMaxWindow);
    }
  }
  return "";
}

// Kernels move 16 bytes at a time, so every tensor must start on a 16-byte boundary (cudaMalloc's do).
constexpr size_t kTensorAlignment = 16;

inline std::string check_tensors(const Problem& p, const Tensors& t) {
  const std::string count = std::to_string(p.num_elements());
  const struct {
    const char* name;
    const void* ptr;
    const char* type;
  } tensors[] = {{"Q", t.q, "fp16"}, {"K", t.k, "fp16"}, {"V", t.v, "fp16"}, {"O", t.o, "fp32"}};
  for (const auto& x : tensors) {
    if (x.ptr == nullptr)
      return std::string(x.name) + " is null: it must point to B*H*N*D = " + count + " " + x.type +
             " values on the GPU";
    if (reinterpret_cast<uintptr_t>(x.ptr) % kTensorAlignment != 0)
      return std::string(x.name) + " is not 16-byte aligned: every tensor must start on a 16-byte boundary";
  }
  return "";
}

}  // namespace swa

// ---------------------------------------------------------------------------------------------------
// 6. The stage interface
// ---------------------------------------------------------------------------------------------------
//
// Every stage, student or solution, is built as a shared library that exports one C function,
// swa_stage_api(). The grader, tests and benchmarks load it at run time (grader/stage_library.h), so a
// stage can be swapped, shipped compiled without its source, and run in a process of its own. A stage
// writes its launcher and exports it with SWA_EXPORT_STAGE (stage.h); it never writes this by hand.
extern "C" {

enum SwaStatus : int32_t {
  kSwaOk = 0,
  kSwaInvalidArgument = 1,  // check_problem() or check_tensors() failed, or the workspace is too small
  kSwaUnsupported = 2,  // the stage does not implement this pattern or this head dimension
  kSwaCudaError = 3,  // a CUDA call or launch failed
  kSwaInternalError = 4,  // anything else the launcher threw
  kSwaUnsupportedDevice =
      5,  // this GPU is older than the stage needs, or not the arch-specific target it was built for
  kSwaLaunchRejected = 6,  // the launch configuration does not fit this GPU (shared memory, threads, registers)
};

// Version 2 added SwaStageInfo's tiles, head dimensions and GPU requirements.
constexpr int32_t kSwaAbiVersion = 2;

// What a stage declares about itself. The grader sizes its partial-tile cases (tile - 1, tile, tile + 1),
// its hints and, unless the rubric pins them, its speed bounds from the tiles; it grades only the
// declared patterns and head dimensions the rubric asks for; it skips, saying why, a stage whose GPU
// requirement this GPU does not meet.
struct SwaStageInfo {
  const char* name;  // the stage folder's name, e.g. "03_masked_windows"
  uint32_t patterns;  // the pattern kinds it implements: pattern_bit(kind) set for each
  uint32_t head_dims;  // the head dimensions it implements: head_dim_bit(D) set for each
  int32_t tile_m;  // queries per query tile (a block's, or a warp group's, share of the queries)
  int32_t tile_n;  // keys per key tile
  int32_t min_compute_capability;  // 10 * major + minor: 80 for sm_80 (A100), 90 for sm_90 (H100, H200)
  int32_t arch_specific;  // 1: built for the arch-specific target sm_XXa (wgmma, setmaxnreg), which runs on
                          // exactly that compute capability and no other; 0: runs on any GPU >= the minimum
};

struct SwaStageApi {
  int32_t abi_version;  // kSwaAbiVersion when the stage was built; read before anything else
  SwaStageInfo info;
  // Device scratch memory the stage needs for this problem, in bytes: from its sizes alone. It must not read
  // the pattern's arrays (GPU memory when the stage runs; the grader may pass placeholders).
  size_t (*workspace_bytes)(const swa::Problem* problem);
  // Enqueue the computation of O on `stream`; does not synchronize. On failure, returns a SwaStatus
  // other than kSwaOk and writes a message into error[0 .. error_capacity).
  int32_t (*forward)(const swa::Problem* problem, const swa::Tensors* tensors, swa::Workspace workspace,
                     cudaStream_t stream, char* error, size_t error_capacity);
};

// The one symbol a stage library exports.
typedef const SwaStageApi* (*SwaStageApiFn)(void);
#define SWA_STAGE_API_SYMBOL "swa_stage_api"

}  // extern "C"

namespace swa {

// The head dimensions of a head_dims bit set, as text: "16, 32, 64, 128".
inline std::string head_dims_text(uint32_t head_dims) {
  std::string text;
  for (int D : kHeadDims)
    if (head_dims & head_dim_bit(D)) text += (text.empty() ? "" : ", ") + std::to_string(D);
  return text.empty() ? "none" : text;
}

// The GPU a stage needs, as its build target: "sm_80 or newer", "sm_90a".
inline std::string device_requirement(const SwaStageInfo& info) {
  const std::string target = "sm_" + std::to_string(info.min_compute_capability);
  return info.arch_specific ? target + "a" : target + " or newer";
}

// "" when a GPU of compute capability `cc` (10 * major + minor) can run the stage, else why not.
inline std::string check_device(const SwaStageInfo& info, int cc) {
  const bool ok = info.arch_specific ? cc == info.min_compute_capability : cc >= info.min_compute_capability;
  if (ok) return "";
  return std::string("needs ") + device_requirement(info) + "; this GPU is sm_" + std::to_string(cc);
}

// "" when the stage declares this head dimension and pattern, else what it does not implement.
inline std::string check_supported(const SwaStageInfo& info, const Problem& p) {
  if ((info.head_dims & head_dim_bit(p.D)) == 0)
    return std::string("stage ") + info.name + " does not support D = " + std::to_string(p.D) +
           ": it supports D = " + head_dims_text(info.head_dims);
  if ((info.patterns & pattern_bit(p.pattern.kind)) == 0)
    return std::string("stage ") + info.name + " does not implement the " + pattern_name(p.pattern.kind) + " pattern";
  return "";
}

}  // namespace swa
