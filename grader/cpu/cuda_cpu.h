// cuda_cpu.h: just enough CUDA to run the CUDA-core stages (01-05) on the CPU, for the CPU check.
//
// A stage's own kernel.cu is compiled as C++ with this header forced in front of it (grader/cpu/
// CMakeLists.txt), after host_source.py has rewritten the two pieces of CUDA syntax a C++ compiler cannot
// read: a launch `kernel<<<grid, block, smem, stream>>>(args)` becomes `kernel | swa_cpu::Config{grid,
// block, smem, stream}(args)`, and `extern __shared__ T name[];` becomes a pointer to the block's dynamic
// shared memory. The rest is here:
//
//   blocks, threads    every block runs alone, its threads as fibers (cooperative, one OS thread): a
//                      thread runs until it reaches a barrier, then the next one runs
//   __syncthreads      a barrier of the block's live threads
//   __shfl_xor_sync    an exchange among the 32 lanes of a warp (all must reach it, as on the GPU)
//   __shared__         storage shared by the block's threads, filled with NaN before each block
//   threadIdx, ...     the running fiber's indices
//
// Because the threads take turns in a fixed order (and the check runs every case twice, in forward and in
// reverse order), a missing __syncthreads shows up as a wrong result every time, not by chance. What it
// cannot show: speed, races that depend on real timing, memory errors a GPU would report, and the
// tensor-core stages (their inline PTX has no CPU meaning). The GPU grade is the one that counts.
#pragma once

#include <cuda_fp16.h>  // __half and its conversions work on the host
#include <cuda_runtime_api.h>  // the runtime's types and declarations; grader/cpu/runtime.cpp defines them

#include <cmath>
#include <cstddef>
#include <tuple>
#include <utility>

// The CUDA headers define these for a host compiler already (as attributes): the CPU check's meanings.
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __shared__
#undef __align__
#undef __launch_bounds__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __align__(n) alignas(n)
#define __launch_bounds__(...)

namespace swa_cpu {

struct Indices {
  dim3 thread, block, block_dim, grid_dim;
};
const Indices& indices();  // of the fiber that is running
void syncthreads();
float shfl_xor(float value, int lane_mask, int width);
unsigned char* dynamic_shared();  // the running block's dynamic shared memory

// Runs kernel(args...) on every thread of every block of `grid` (blocks in order, one at a time).
void run_grid(dim3 grid, dim3 block, size_t shared_bytes, void (*body)(void*), void* closure);

struct Config {
  dim3 grid, block;
  size_t shared_bytes = 0;
  cudaStream_t stream = nullptr;

  template <class... Args>
  auto operator()(Args... args) const {
    return std::make_pair(*this, std::make_tuple(args...));
  }
};

}  // namespace swa_cpu

// kernel | Config{...}(args...): the launch, once host_source.py has rewritten `<<<...>>>`.
template <class... Params, class... Args>
void operator|(void (*kernel)(Params...), const std::pair<swa_cpu::Config, std::tuple<Args...>>& launch) {
  struct Closure {
    void (*kernel)(Params...);
    std::tuple<Params...> args;
  } closure{kernel, std::tuple<Params...>(launch.second)};
  swa_cpu::run_grid(
      launch.first.grid, launch.first.block, launch.first.shared_bytes,
      [](void* c) {
        auto* self = static_cast<Closure*>(c);
        std::apply(self->kernel, self->args);
      },
      &closure);
}

#define threadIdx (swa_cpu::indices().thread)
#define blockIdx (swa_cpu::indices().block)
#define blockDim (swa_cpu::indices().block_dim)
#define gridDim (swa_cpu::indices().grid_dim)

// The launchers raise a kernel's shared-memory limit with the runtime's template overload.
template <class T>
cudaError_t cudaFuncSetAttribute(T*, cudaFuncAttribute, int) {
  return cudaSuccess;
}

inline void __syncthreads() { swa_cpu::syncthreads(); }
inline float __shfl_xor_sync(unsigned, float value, int lane_mask, int width = 32) {
  return swa_cpu::shfl_xor(value, lane_mask, width);
}
inline float __expf(float x) { return std::exp(x); }
inline float exp2f(float x) { return std::exp2(x); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
