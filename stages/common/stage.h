// stage.h: what every stage's kernel.cu includes.
//
// A stage writes two host functions and exports them with one line:
//
//   size_t workspace_bytes(const swa::Problem& p);   // device scratch it needs (0 if none)
//   void launch(const swa::Problem& p, const swa::Tensors& t, swa::Workspace ws, cudaStream_t stream);
//   SWA_EXPORT_STAGE("03_masked_windows", swa::pattern_bit(swa::PatternKind::kSlidingWindow),
//                    workspace_bytes, launch)
//
// SWA_EXPORT_STAGE defines the stage's C entry point (problem.h, section 6). Before calling launch() it
// checks the arguments, the pattern and the workspace, and it turns every failure, an exception from
// SWA_CUDA_CHECK or a launch error, into a status and a message for the caller: a stage never crashes
// the program that loaded it over bad arguments.
#pragma once

#include <cstdio>
#include <exception>
#include <string>
#include <type_traits>

#include "cuda_check.h"
#include "problem.h"

namespace swa {

// Calls f(std::integral_constant<int, D>{}) for the runtime head dimension D, so that kernels can take D
// as a template parameter (sized register arrays, unrolled loops):
//   with_head_dim(p.D, [&](auto d) { my_kernel<decltype(d)::value><<<grid, block>>>(...); });
template <class F>
void with_head_dim(int D, F&& f) {
  switch (D) {
    case 16: f(std::integral_constant<int, 16>{}); return;
    case 32: f(std::integral_constant<int, 32>{}); return;
    case 64: f(std::integral_constant<int, 64>{}); return;
    case 128: f(std::integral_constant<int, 128>{}); return;
  }
  throw std::invalid_argument("D = " + std::to_string(D) + " is not supported: D must be one of 16, 32, 64, 128");
}

namespace stage_detail {

inline int32_t fail(int32_t status, const std::string& message, char* error, size_t capacity) {
  if (error != nullptr && capacity > 0) std::snprintf(error, capacity, "%s", message.c_str());
  return status;
}

template <class WorkspaceFn, class LaunchFn>
int32_t forward(const char* name, uint32_t patterns, WorkspaceFn workspace_bytes, LaunchFn launch, const Problem* p,
                const Tensors* t, Workspace ws, cudaStream_t stream, char* error, size_t capacity) {
  if (p == nullptr || t == nullptr) return fail(kSwaInvalidArgument, "problem or tensors is null", error, capacity);
  std::string why = check_problem(*p);
  if (!why.empty()) return fail(kSwaInvalidArgument, why, error, capacity);
  if ((patterns & pattern_bit(p->pattern.kind)) == 0)
    return fail(kSwaUnsupported,
                std::string("stage ") + name + " does not implement the " + pattern_name(p->pattern.kind) + " pattern",
                error, capacity);
  why = check_tensors(*p, *t);
  if (!why.empty()) return fail(kSwaInvalidArgument, why, error, capacity);
  try {
    const size_t needed = workspace_bytes(*p);
    if (needed > 0 && (ws.ptr == nullptr || ws.bytes < needed))
      return fail(kSwaInvalidArgument,
                  "workspace is " + std::to_string(ws.bytes) + " bytes at " + (ws.ptr ? "a valid pointer" : "null") +
                      ": this problem needs " + std::to_string(needed) + " bytes",
                  error, capacity);
    launch(*p, *t, ws, stream);
  } catch (const CudaError& e) {
    return fail(kSwaCudaError, e.what(), error, capacity);
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

#define SWA_EXPORT_STAGE(NAME, PATTERNS, WORKSPACE_FN, LAUNCH_FN)                                                      \
  static size_t swa_stage_workspace_bytes_(const swa::Problem* p) {                                                    \
    return swa::stage_detail::workspace(WORKSPACE_FN, p);                                                              \
  }                                                                                                                    \
  static int32_t swa_stage_forward_(const swa::Problem* p, const swa::Tensors* t, swa::Workspace ws,                   \
                                    cudaStream_t stream, char* error, size_t capacity) {                               \
    return swa::stage_detail::forward(NAME, PATTERNS, WORKSPACE_FN, LAUNCH_FN, p, t, ws, stream, error, capacity);     \
  }                                                                                                                    \
  extern "C" __attribute__((visibility("default"))) const SwaStageApi* swa_stage_api(void) {                           \
    static const SwaStageApi api = {kSwaAbiVersion, NAME, PATTERNS, &swa_stage_workspace_bytes_, &swa_stage_forward_}; \
    return &api;                                                                                                       \
  }
