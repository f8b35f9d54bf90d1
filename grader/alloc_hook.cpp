// alloc_hook.cpp: counting definitions of the CUDA runtime's device allocation functions.
//
// Linked into `swa` with these names exported (grader/CMakeLists.txt), they take the place of the CUDA
// runtime's for every library the program loads. Each forwards to the runtime's own definition, found
// with dlsym(RTLD_NEXT, ...), and counts the bytes while an AllocationCounter is alive.
#include "alloc_hook.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <atomic>

namespace swa {
namespace {

std::atomic<bool> g_counting{false};
std::atomic<size_t> g_bytes{0};
std::atomic<int> g_calls{0};

void count(cudaError_t result, size_t bytes) {
  if (result == cudaSuccess && g_counting.load()) {
    g_bytes += bytes;
    ++g_calls;
  }
}

template <class Fn>
Fn real(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

}  // namespace

AllocationCounter::AllocationCounter() {
  g_bytes = 0;
  g_calls = 0;
  g_counting = true;
}
AllocationCounter::~AllocationCounter() { g_counting = false; }
size_t AllocationCounter::bytes() const { return g_bytes.load(); }
int AllocationCounter::calls() const { return g_calls.load(); }

}  // namespace swa

#define SWA_EXPORT extern "C" __attribute__((visibility("default")))

SWA_EXPORT cudaError_t cudaMalloc(void** ptr, size_t size) {
  static const auto fn = swa::real<cudaError_t (*)(void**, size_t)>("cudaMalloc");
  const cudaError_t e = fn(ptr, size);
  swa::count(e, size);
  return e;
}

SWA_EXPORT cudaError_t cudaMallocManaged(void** ptr, size_t size, unsigned int flags) {
  static const auto fn = swa::real<cudaError_t (*)(void**, size_t, unsigned int)>("cudaMallocManaged");
  const cudaError_t e = fn(ptr, size, flags);
  swa::count(e, size);
  return e;
}

SWA_EXPORT cudaError_t cudaMallocPitch(void** ptr, size_t* pitch, size_t width, size_t height) {
  static const auto fn = swa::real<cudaError_t (*)(void**, size_t*, size_t, size_t)>("cudaMallocPitch");
  const cudaError_t e = fn(ptr, pitch, width, height);
  swa::count(e, (e == cudaSuccess && pitch ? *pitch : width) * height);
  return e;
}

SWA_EXPORT cudaError_t cudaMallocAsync(void** ptr, size_t size, cudaStream_t stream) {
  static const auto fn = swa::real<cudaError_t (*)(void**, size_t, cudaStream_t)>("cudaMallocAsync");
  const cudaError_t e = fn(ptr, size, stream);
  swa::count(e, size);
  return e;
}

SWA_EXPORT cudaError_t cudaMallocAsync_ptsz(void** ptr, size_t size, cudaStream_t stream) {
  static const auto fn = swa::real<cudaError_t (*)(void**, size_t, cudaStream_t)>("cudaMallocAsync_ptsz");
  const cudaError_t e = fn(ptr, size, stream);
  swa::count(e, size);
  return e;
}

SWA_EXPORT cudaError_t cudaMallocFromPoolAsync(void** ptr, size_t size, cudaMemPool_t pool, cudaStream_t stream) {
  static const auto fn =
      swa::real<cudaError_t (*)(void**, size_t, cudaMemPool_t, cudaStream_t)>("cudaMallocFromPoolAsync");
  const cudaError_t e = fn(ptr, size, pool, stream);
  swa::count(e, size);
  return e;
}

SWA_EXPORT cudaError_t cudaMallocFromPoolAsync_ptsz(void** ptr, size_t size, cudaMemPool_t pool, cudaStream_t stream) {
  static const auto fn =
      swa::real<cudaError_t (*)(void**, size_t, cudaMemPool_t, cudaStream_t)>("cudaMallocFromPoolAsync_ptsz");
  const cudaError_t e = fn(ptr, size, pool, stream);
  swa::count(e, size);
  return e;
}

// Kernels can call malloc() on the device from a heap whose size a launcher may raise: count the raise.
SWA_EXPORT cudaError_t cudaDeviceSetLimit(cudaLimit limit, size_t value) {
  static const auto fn = swa::real<cudaError_t (*)(cudaLimit, size_t)>("cudaDeviceSetLimit");
  size_t before = 0;
  if (limit == cudaLimitMallocHeapSize) cudaDeviceGetLimit(&before, limit);
  const cudaError_t e = fn(limit, value);
  if (limit == cudaLimitMallocHeapSize && value > before) swa::count(e, value - before);
  return e;
}

namespace swa {

bool allocation_hooks_exported() {
  // The program's own definition is exported if the dynamic linker finds it by name in the global scope.
  void* self = dlopen(nullptr, RTLD_NOW);
  const bool exported = self != nullptr && dlsym(self, "cudaMalloc") == reinterpret_cast<void*>(&::cudaMalloc);
  if (self) dlclose(self);
  return exported;
}

}  // namespace swa
