// cuda_check.h: one family of checks for CUDA calls, used by stages, grader, benchmarks and tests.
//
//   SWA_CUDA_CHECK(cudaMalloc(&ptr, bytes));     // throws swa::CudaError naming the call and file:line
//   my_kernel<<<grid, block, smem, stream>>>(...);
//   SWA_CUDA_CHECK_LAUNCH();                     // a bad launch configuration shows up here
#pragma once

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace swa {

class CudaError : public std::runtime_error {
 public:
  CudaError(cudaError_t code, const char* call, const char* file, int line)
      : std::runtime_error(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                           cudaGetErrorName(code) + " (" + cudaGetErrorString(code) + ")"),
        code_(code) {}
  cudaError_t code() const { return code_; }

 private:
  cudaError_t code_;
};

}  // namespace swa

#define SWA_CUDA_CHECK(call)                                                                  \
  do {                                                                                        \
    const cudaError_t swa_err_ = (call);                                                      \
    if (swa_err_ != cudaSuccess) throw ::swa::CudaError(swa_err_, #call, __FILE__, __LINE__); \
  } while (0)

#define SWA_CUDA_CHECK_LAUNCH() SWA_CUDA_CHECK(cudaGetLastError())
