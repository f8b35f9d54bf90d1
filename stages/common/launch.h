// launch.h: what this GPU allows a launch, asked once per device, for every stage's launcher.
//
//   const int limit = swa::shared_memory_limit();      // bytes of shared memory one block may have
//   if (bytes > limit) throw swa::LaunchRejected(...);  // the stage's forward() returns kSwaLaunchRejected
//
// The limit is the device's opt-in maximum (cudaDevAttrMaxSharedMemoryPerBlockOptin: 227 KB on an H100 or
// H200, 163 KB on an A100, 99 KB on an RTX 3090), so a stage sizes its buffers for the GPU it runs on. The
// environment variable SWA_SHARED_MEMORY_LIMIT (bytes) lowers it, never raises it: the tests use it to run
// the small configuration of a 99 KB GPU on a larger one.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "cuda_check.h"

namespace swa {

// A launch configuration this GPU cannot run (too much shared memory, say): not a bug in the kernel's
// arithmetic, and reported as such (kSwaLaunchRejected), never as a crash.
class LaunchRejected : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The current device's compute capability, 10 * major + minor (90 for an H200).
inline int compute_capability() {
  int device = 0, major = 0, minor = 0;
  SWA_CUDA_CHECK(cudaGetDevice(&device));
  SWA_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  SWA_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  return 10 * major + minor;
}

// Shared memory one block of the current device may use, in bytes, after SWA_SHARED_MEMORY_LIMIT.
inline int shared_memory_limit() {
  int device = 0, optin = 0;
  SWA_CUDA_CHECK(cudaGetDevice(&device));
  SWA_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  if (const char* cap = std::getenv("SWA_SHARED_MEMORY_LIMIT"); cap != nullptr && *cap != '\0') {
    const long value = std::strtol(cap, nullptr, 10);
    if (value > 0 && value < optin) return static_cast<int>(value);
  }
  return optin;
}

// Let `kernel` have `bytes` of dynamic shared memory, or throw LaunchRejected saying what it needs.
template <class Kernel>
void allow_shared_memory(Kernel kernel, size_t bytes, const char* what) {
  const int limit = shared_memory_limit();
  if (bytes > static_cast<size_t>(limit))
    throw LaunchRejected(std::string("launch configuration rejected: ") + what + " needs " + std::to_string(bytes) +
                         " bytes of shared memory per block; this GPU allows " + std::to_string(limit));
  SWA_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

}  // namespace swa
