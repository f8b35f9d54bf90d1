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
//   4. tile masks               in tile_mask.h: which key tiles a query tile touches, which need masking
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
// 4. Tile masks: in tile_mask.h, which builds on this header (TileMask, TileWalk, apply_mask)
// ---------------------------------------------------------------------------------------------------

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
