// swa_torch.cu: the C functions that python/swa_torch calls through ctypes.
//
// The Python package (swa_torch/_native.py) loads this library, the stage libraries through it, and never
// mirrors a struct of problem.h: every function here takes plain integers and pointers and builds the
// swa::Problem itself, so the problem, the patterns and the stage interface keep one definition
// (stages/common/problem.h, grader/pattern_spec.h, grader/stage_library.h).
//
//   stage = swa_torch_stage_open(".../04_online_softmax.so", err, cap)   load a stage and check its ABI
//   pat   = swa_torch_pattern_parse("sliding:128", N, seed, err, cap)   read a pattern for sequences of N
//   swa_torch_check(stage, pat, B, H, N, D, scale, cc, err, cap)         what the stage would refuse; no GPU needed
//   swa_torch_forward(stage, pat, ..., q, k, v, o, workspace, stream)   enqueue the stage on PyTorch's stream
//   swa_torch_fill_mask(pat, ...)                                        Pattern::allows as a bool matrix, on the GPU
//
// Every function that can fail returns a SwaStatus (problem.h, section 6) and writes why into err; nothing
// throws across the C boundary, so a bad argument from Python becomes an exception there, never a crash.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_check.h"
#include "pattern_spec.h"
#include "problem.h"
#include "stage_library.h"

#define SWA_TORCH_API extern "C" __attribute__((visibility("default")))

namespace {

// A pattern read from text for sequences of exactly N (adaptive windows and global positions depend on N).
struct ParsedPattern {
  swa::PatternSpec spec;
  int N;
};

int32_t fail(int32_t status, const std::string& message, char* err, size_t cap) {
  if (err != nullptr && cap > 0) std::snprintf(err, cap, "%s", message.c_str());
  return status;
}

// The problem as a stage sees it. The pattern's arrays are the caller's: device pointers for a launch,
// host pointers (or none) for the checks, which only ask whether they are there.
swa::Problem make_problem(const ParsedPattern& pat, int B, int H, int N, int D, float scale, const int32_t* globals,
                          const int32_t* adaptive_left, const int32_t* adaptive_right) {
  swa::Problem p;
  p.B = B;
  p.H = H;
  p.N = N;
  p.D = D;
  p.scale = scale;
  p.pattern = pat.spec.view();
  if (globals != nullptr) p.pattern.global_positions = globals;
  if (adaptive_left != nullptr) p.pattern.adaptive_left = adaptive_left;
  if (adaptive_right != nullptr) p.pattern.adaptive_right = adaptive_right;
  return p;
}

std::string pattern_length_mismatch(const ParsedPattern& pat, int N) {
  if (pat.N == N) return "";
  return "the pattern was read for N = " + std::to_string(pat.N) + " but the problem has N = " + std::to_string(N);
}

// Makes `device` current for the lifetime of the scope and restores the caller's device after: the CUDA
// runtime may be the one PyTorch uses, whose current device must not change under it.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    SWA_CUDA_CHECK(cudaGetDevice(&previous_));
    if (device != previous_) SWA_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceScope() { cudaSetDevice(previous_); }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
};

// mask[r, j] = pattern.allows(row0 + r, j) for r in [0, rows), j in [0, N): a thread per element.
__global__ void fill_mask_kernel(swa::Pattern pattern, int N, int row0, long long elements, bool* mask) {
  const long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= elements) return;
  const int i = row0 + static_cast<int>(e / N), j = static_cast<int>(e % N);
  mask[e] = pattern.allows(i, j);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Facts from problem.h, so that Python names statuses and patterns as the kit does
// ---------------------------------------------------------------------------------------------------

SWA_TORCH_API int32_t swa_torch_interface_version(void) { return 1; }

SWA_TORCH_API const char* swa_torch_status_name(int32_t status) {
  switch (status) {
    case kSwaOk: return "ok";
    case kSwaInvalidArgument: return "invalid_argument";
    case kSwaUnsupported: return "unsupported";
    case kSwaCudaError: return "cuda_error";
    case kSwaInternalError: return "internal_error";
    case kSwaUnsupportedDevice: return "unsupported_device";
    case kSwaLaunchRejected: return "launch_rejected";
  }
  return "unknown_status";
}

SWA_TORCH_API int32_t swa_torch_num_pattern_kinds(void) { return swa::kNumPatternKinds; }
SWA_TORCH_API const char* swa_torch_pattern_kind_name(int32_t kind) {
  return swa::pattern_name(static_cast<swa::PatternKind>(kind));
}
SWA_TORCH_API int32_t swa_torch_head_dims(int32_t* out, int32_t capacity) {
  int32_t count = 0;
  for (int D : swa::kHeadDims)
    if (count < capacity) out[count++] = D;
  return count;
}
SWA_TORCH_API uint32_t swa_torch_head_dim_bit(int32_t D) { return swa::head_dim_bit(D); }
SWA_TORCH_API int32_t swa_torch_tensor_alignment(void) { return static_cast<int32_t>(swa::kTensorAlignment); }

// ---------------------------------------------------------------------------------------------------
// Stages
// ---------------------------------------------------------------------------------------------------

// Loads a stage library; null (and err says why) when it is missing or of another ABI. Never unloaded
// by Python while kernels it enqueued may still run: close only at exit, if at all.
SWA_TORCH_API void* swa_torch_stage_open(const char* path, char* err, size_t cap) {
  try {
    return new swa::StageLibrary(path);
  } catch (const std::exception& e) {
    fail(kSwaInvalidArgument, e.what(), err, cap);
    return nullptr;
  }
}

SWA_TORCH_API void swa_torch_stage_close(void* stage) { delete static_cast<swa::StageLibrary*>(stage); }

// What the stage declares (SwaStageInfo): out = {patterns, head_dims, tile_m, tile_n,
// min_compute_capability, arch_specific}; returns its name.
SWA_TORCH_API const char* swa_torch_stage_info(const void* stage, int32_t* out) {
  const SwaStageInfo& info = static_cast<const swa::StageLibrary*>(stage)->info();
  out[0] = static_cast<int32_t>(info.patterns);
  out[1] = static_cast<int32_t>(info.head_dims);
  out[2] = info.tile_m;
  out[3] = info.tile_n;
  out[4] = info.min_compute_capability;
  out[5] = info.arch_specific;
  return info.name;
}

// ---------------------------------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------------------------------

// Reads the text form of grader/pattern_spec.h for sequences of N; null (and err says why) when it is
// not a valid pattern for N.
SWA_TORCH_API void* swa_torch_pattern_parse(const char* text, int32_t N, uint64_t seed, char* err, size_t cap) {
  try {
    if (N < 1 || N > swa::kMaxSeqLen)
      throw std::invalid_argument(swa::detail::out_of_range("N", N, 1, swa::kMaxSeqLen));
    return new ParsedPattern{swa::parse_pattern(text, N, seed), N};
  } catch (const std::exception& e) {
    fail(kSwaInvalidArgument, e.what(), err, cap);
    return nullptr;
  }
}

SWA_TORCH_API void swa_torch_pattern_free(void* pattern) { delete static_cast<ParsedPattern*>(pattern); }

// out = {kind, left, right, dilation, num_global}; *pairs = the (i, j) pairs it allows over its N (the
// useful work is 4*D flops a pair); text gets its canonical text form.
SWA_TORCH_API void swa_torch_pattern_describe(const void* pattern, int32_t* out, int64_t* pairs, char* text,
                                              size_t cap) {
  const ParsedPattern& pat = *static_cast<const ParsedPattern*>(pattern);
  out[0] = static_cast<int32_t>(pat.spec.kind);
  out[1] = pat.spec.left;
  out[2] = pat.spec.right;
  out[3] = pat.spec.dilation;
  out[4] = static_cast<int32_t>(pat.spec.global_positions.size());
  *pairs = swa::count_allowed_pairs(pat.spec, pat.N);
  fail(kSwaOk, pat.spec.to_string(), text, cap);
}

// Copies the pattern's arrays to host buffers: num_global global positions, and N adaptive windows each
// side (only for the adaptive pattern). A null buffer is skipped.
SWA_TORCH_API void swa_torch_pattern_arrays(const void* pattern, int32_t* globals, int32_t* adaptive_left,
                                            int32_t* adaptive_right) {
  const swa::PatternSpec& spec = static_cast<const ParsedPattern*>(pattern)->spec;
  auto copy = [](const std::vector<int32_t>& from, int32_t* to) {
    if (to != nullptr) std::copy(from.begin(), from.end(), to);
  };
  copy(spec.global_positions, globals);
  copy(spec.adaptive_left, adaptive_left);
  copy(spec.adaptive_right, adaptive_right);
}

// ---------------------------------------------------------------------------------------------------
// Running a stage
// ---------------------------------------------------------------------------------------------------

// What the stage's forward() would refuse before launching, asked on the host: the problem's ranges
// (check_problem), the head dimension and pattern against its declaration (check_supported) and, when
// cc > 0, the GPU of compute capability cc (check_device). Needs no GPU.
SWA_TORCH_API int32_t swa_torch_check(const void* stage, const void* pattern, int32_t B, int32_t H, int32_t N,
                                      int32_t D, float scale, int32_t cc, char* err, size_t cap) {
  const auto& lib = *static_cast<const swa::StageLibrary*>(stage);
  const ParsedPattern& pat = *static_cast<const ParsedPattern*>(pattern);
  std::string why = pattern_length_mismatch(pat, N);
  if (!why.empty()) return fail(kSwaInvalidArgument, why, err, cap);
  const swa::Problem p = make_problem(pat, B, H, N, D, scale, nullptr, nullptr, nullptr);
  why = swa::check_problem(p);
  if (!why.empty()) return fail(kSwaInvalidArgument, why, err, cap);
  why = swa::check_supported(lib.info(), p);
  if (!why.empty()) return fail(kSwaUnsupported, why, err, cap);
  if (cc > 0) {
    why = swa::check_device(lib.info(), cc);
    if (!why.empty()) return fail(kSwaUnsupportedDevice, "stage " + lib.name() + " " + why, err, cap);
  }
  return kSwaOk;
}

SWA_TORCH_API size_t swa_torch_workspace_bytes(const void* stage, const void* pattern, int32_t B, int32_t H, int32_t N,
                                               int32_t D, float scale) {
  const auto& lib = *static_cast<const swa::StageLibrary*>(stage);
  const swa::Problem p =
      make_problem(*static_cast<const ParsedPattern*>(pattern), B, H, N, D, scale, nullptr, nullptr, nullptr);
  return lib.api().workspace_bytes(&p);
}

// Enqueues the stage on `stream` of `device` (PyTorch's current stream); does not wait for it. The
// pattern's arrays (globals, adaptive_left, adaptive_right) must be device copies of
// swa_torch_pattern_arrays(), or null when the pattern has none.
SWA_TORCH_API int32_t swa_torch_forward(const void* stage, const void* pattern, int32_t B, int32_t H, int32_t N,
                                        int32_t D, float scale, const int32_t* globals, const int32_t* adaptive_left,
                                        const int32_t* adaptive_right, const void* q, const void* k, const void* v,
                                        void* o, void* workspace, size_t workspace_bytes, int32_t device, void* stream,
                                        char* err, size_t cap) {
  const auto& lib = *static_cast<const swa::StageLibrary*>(stage);
  const ParsedPattern& pat = *static_cast<const ParsedPattern*>(pattern);
  const std::string why = pattern_length_mismatch(pat, N);
  if (!why.empty()) return fail(kSwaInvalidArgument, why, err, cap);
  const swa::Problem p = make_problem(pat, B, H, N, D, scale, globals, adaptive_left, adaptive_right);
  const swa::Tensors t{static_cast<const __half*>(q), static_cast<const __half*>(k), static_cast<const __half*>(v),
                       static_cast<float*>(o)};
  try {
    DeviceScope scope(device);
    return lib.api().forward(&p, &t, swa::Workspace{workspace, workspace_bytes}, static_cast<cudaStream_t>(stream), err,
                             cap);
  } catch (const std::exception& e) {
    return fail(kSwaCudaError, e.what(), err, cap);
  }
}

// mask[r * N + j] = pattern.allows(row0 + r, j) for the rows [row0, row0 + rows) of the N x N matrix:
// the pattern as PyTorch wants a boolean attention mask, from problem.h's own definition. `mask` is
// device memory of rows * N bytes (a torch.bool tensor); the pattern's arrays as for swa_torch_forward.
SWA_TORCH_API int32_t swa_torch_fill_mask(const void* pattern, int32_t row0, int32_t rows, const int32_t* globals,
                                          const int32_t* adaptive_left, const int32_t* adaptive_right, void* mask,
                                          int32_t device, void* stream, char* err, size_t cap) {
  const ParsedPattern& pat = *static_cast<const ParsedPattern*>(pattern);
  if (row0 < 0 || rows < 0 || row0 + static_cast<long long>(rows) > pat.N)
    return fail(kSwaInvalidArgument,
                "rows [" + std::to_string(row0) + ", " + std::to_string(row0 + static_cast<long long>(rows)) +
                    ") are not inside [0, N = " + std::to_string(pat.N) + ")",
                err, cap);
  if (rows == 0) return kSwaOk;
  const swa::Problem p = make_problem(pat, 1, 1, pat.N, 64, 1.0f, globals, adaptive_left, adaptive_right);
  const std::string why = swa::check_problem(p);  // the arrays it needs are there
  if (!why.empty()) return fail(kSwaInvalidArgument, why, err, cap);
  try {
    DeviceScope scope(device);
    constexpr int kThreads = 256;
    const long long elements = static_cast<long long>(rows) * pat.N;
    const long long blocks = (elements + kThreads - 1) / kThreads;
    fill_mask_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        p.pattern, pat.N, row0, elements, static_cast<bool*>(mask));
    SWA_CUDA_CHECK_LAUNCH();
  } catch (const std::exception& e) {
    return fail(kSwaCudaError, e.what(), err, cap);
  }
  return kSwaOk;
}
