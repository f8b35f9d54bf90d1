// stage.h: what every stage's kernel.cu includes.
//
// A stage writes two host functions, declares what it is, and exports all three with one line:
//
//   size_t workspace_bytes(const swa::Problem& p);   // device scratch it needs (0 if none)
//   void launch(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t stream);
//   constexpr SwaStageInfo kStage = {
//       "03_masked_windows",                                  // its folder's name
//       swa::pattern_bit(swa::PatternKind::kSlidingWindow),   // the patterns it implements
//       swa::kAllHeadDims,                                    // the head dimensions it implements
//       swa::kTileM, swa::kTileN,                             // its query and key tiles
//       80, false};                                           // the GPU it needs: sm_80 or newer
//   SWA_EXPORT_STAGE(kStage, workspace_bytes, launch)
//
// SWA_EXPORT_STAGE defines the stage's C entry point (problem.h, section 6). Before calling launch() it
// checks the arguments, the head dimension and pattern against the declaration, the GPU, and the
// workspace, and it turns every failure, an exception from SWA_CUDA_CHECK, a LaunchRejected (launch.h)
// or a launch error, into a status and a message for the caller: a stage never crashes the program that
// loaded it over bad arguments.
#pragma once

#include <cstdio>
#include <exception>
#include <string>
#include <type_traits>

#include "cuda_check.h"
#include "launch.h"
#include "problem.h"
#include "tile_mask.h"

namespace swa {

// Calls f(std::integral_constant<int, D>{}) for the runtime head dimension D, so that kernels can take D
// as a template parameter (sized register arrays, unrolled loops):
//   with_head_dim(p.D, [&](auto d) { my_kernel<decltype(d)::value><<<grid, block>>>(...); });
// kHeadDims: the head dimensions to instantiate (the stage's declared head_dims); forward() has already
// refused any other D, so the throw at the end is never reached through the stage interface.
template <uint32_t kDims = kAllHeadDims, class F>
void with_head_dim(int D, F&& f) {
  if constexpr ((kDims & head_dim_bit(16)) != 0)
    if (D == 16) return f(std::integral_constant<int, 16>{});
  if constexpr ((kDims & head_dim_bit(32)) != 0)
    if (D == 32) return f(std::integral_constant<int, 32>{});
  if constexpr ((kDims & head_dim_bit(64)) != 0)
    if (D == 64) return f(std::integral_constant<int, 64>{});
  if constexpr ((kDims & head_dim_bit(128)) != 0)
    if (D == 128) return f(std::integral_constant<int, 128>{});
  throw std::invalid_argument("D = " + std::to_string(D) + " is not supported: D must be one of " +
                              head_dims_text(kDims));
}

namespace stage_detail {

inline int32_t fail(int32_t status, const std::string& message, char* error, size_t capacity) {
  if (error != nullptr && capacity > 0) std::snprintf(error, capacity, "%s", message.c_str());
  return status;
}

template <class WorkspaceFn, class LaunchFn>
int32_t forward(const SwaStageInfo& info, WorkspaceFn workspace_bytes, LaunchFn launch, const Problem* p,
                const Tensors* t, Workspace ws, cudaStream_t stream, char* error, size_t capacity) {
  if (p == nullptr || t == nullptr) return fail(kSwaInvalidArgument, "problem or tensors is null", error, capacity);
  std::string why = check_problem(*p);
  if (!why.empty()) return fail(kSwaInvalidArgument, why, error, capacity);
  why = check_supported(info, *p);
  if (!why.empty()) return fail(kSwaUnsupported, why, error, capacity);
  why = check_tensors(*p, *t);
  if (!why.empty()) return fail(kSwaInvalidArgument, why, error, capacity);
  try {
    const size_t needed = workspace_bytes(*p);
    if (needed > 0 && (ws.ptr == nullptr || ws.bytes < needed))
      return fail(kSwaInvalidArgument,
                  "workspace is " + std::to_string(ws.bytes) + " bytes at " + (ws.ptr ? "a valid pointer" : "null") +
                      ": this problem needs " + std::to_string(needed) + " bytes",
                  error, capacity);
    why = check_device(info, compute_capability());
    if (!why.empty())
      return fail(kSwaUnsupportedDevice, std::string("stage ") + info.name + " " + why, error, capacity);
    launch(*p, *t, ws, stream);
  } catch (const CudaError& e) {
    return fail(kSwaCudaError, e.what(), error, capacity);
  } catch (const LaunchRejected& e) {
    return fail(kSwaLaunchRejected, e.what(), error, capacity);
  } catch (const std::exception& e) {
    return fail(kSwaInternalError, e.what(), error, capacity);
  }
  const cudaError_t launch_error = cudaGetLastError();
  if (launch_error != cudaSuccess)
    return fail(kSwaCudaError,
                std::string("kernel launch failed: ") + cudaGetErrorName(launch_error) + " (" +
                    cudaGetErrorString(launch_error) + ")",
                error, capacity);
  return kSwaOk;
}

template <class WorkspaceFn>
size_t workspace(WorkspaceFn workspace_bytes, const Problem* p) {
  if (p == nullptr || !check_problem(*p).empty()) return 0;
  try {
    return workspace_bytes(*p);
  } catch (...) {
    return 0;
  }
}

}  // namespace stage_detail
}  // namespace swa

#define SWA_EXPORT_STAGE(INFO, WORKSPACE_FN, LAUNCH_FN)                                                      \
  static size_t swa_stage_workspace_bytes_(const swa::Problem* p) {                                          \
    return swa::stage_detail::workspace(WORKSPACE_FN, p);                                                    \
  }                                                                                                          \
  static int32_t swa_stage_forward_(const swa::Problem* p, const swa::Tensors* t, swa::Workspace ws,         \
                                    cudaStream_t stream, char* error, size_t capacity) {                     \
    return swa::stage_detail::forward(INFO, WORKSPACE_FN, LAUNCH_FN, p, t, ws, stream, error, capacity);     \
  }                                                                                                          \
  extern "C" __attribute__((visibility("default"))) const SwaStageApi* swa_stage_api(void) {                 \
    static const SwaStageApi api = {kSwaAbiVersion, INFO, &swa_stage_workspace_bytes_, &swa_stage_forward_}; \
    return &api;                                                                                             \
  }
