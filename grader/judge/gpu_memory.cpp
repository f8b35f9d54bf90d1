// gpu_memory.cpp: NVML by PID, and the device's free memory (gpu_memory.h).
#include "gpu_memory.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <vector>

namespace swa {
namespace {

// The part of NVML's interface used here (nvml.h of the CUDA Toolkit; NVML 11 and later). A process's
// entry: nvmlProcessInfo_v2_t.
using nvmlReturn = int;
struct ProcessInfo {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};
constexpr nvmlReturn kNvmlSuccess = 0, kNvmlInsufficientSize = 7;
using InitFn = nvmlReturn (*)();
using ByPciFn = nvmlReturn (*)(const char*, void**);
using ProcessesFn = nvmlReturn (*)(void*, unsigned int*, ProcessInfo*);
using ErrorStringFn = const char* (*)(nvmlReturn);

}  // namespace

GpuMemory::GpuMemory() {
  library_ = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library_ == nullptr) {
    status_ = "NVML not found (libnvidia-ml.so.1)";
    return;
  }
  const auto init = reinterpret_cast<InitFn>(dlsym(library_, "nvmlInit_v2"));
  const auto by_pci = reinterpret_cast<ByPciFn>(dlsym(library_, "nvmlDeviceGetHandleByPciBusId_v2"));
  processes_fn_ = dlsym(library_, "nvmlDeviceGetComputeRunningProcesses_v3");
  const auto error_string = reinterpret_cast<ErrorStringFn>(dlsym(library_, "nvmlErrorString"));
  if (!init || !by_pci || !processes_fn_) {
    status_ = "this NVML lacks nvmlDeviceGetComputeRunningProcesses_v3";
    return;
  }
  auto text = [&](nvmlReturn r) { return error_string ? std::string(error_string(r)) : "error " + std::to_string(r); };
  if (const nvmlReturn r = init(); r != kNvmlSuccess) {
    status_ = "nvmlInit failed: " + text(r);
    return;
  }
  int device = 0;
  char bus[64] = {};
  if (cudaGetDevice(&device) != cudaSuccess || cudaDeviceGetPCIBusId(bus, sizeof(bus), device) != cudaSuccess) {
    cudaGetLastError();
    status_ = "cannot tell NVML which GPU: cudaDeviceGetPCIBusId failed";
    return;
  }
  void* handle = nullptr;
  if (const nvmlReturn r = by_pci(bus, &handle); r != kNvmlSuccess) {
    status_ = std::string("nvmlDeviceGetHandleByPciBusId(") + bus + ") failed: " + text(r);
    return;
  }
  device_ = handle;
  status_ = "NVML";
}

GpuMemory::~GpuMemory() {
  if (library_ == nullptr) return;
  if (device_ != nullptr)
    if (const auto shutdown = reinterpret_cast<InitFn>(dlsym(library_, "nvmlShutdown"))) shutdown();
  dlclose(library_);
}

std::map<pid_t, long long> GpuMemory::by_process() const {
  std::map<pid_t, long long> used;
  if (device_ == nullptr) return used;
  const auto list = reinterpret_cast<ProcessesFn>(processes_fn_);
  std::vector<ProcessInfo> infos(64);
  unsigned int count = static_cast<unsigned int>(infos.size());
  nvmlReturn r = list(device_, &count, infos.data());
  if (r == kNvmlInsufficientSize) {
    infos.resize(count + 16);
    count = static_cast<unsigned int>(infos.size());
    r = list(device_, &count, infos.data());
  }
  if (r != kNvmlSuccess) return used;
  for (unsigned int k = 0; k < count; ++k)
    used[static_cast<pid_t>(infos[k].pid)] += static_cast<long long>(infos[k].usedGpuMemory);
  return used;
}

long long GpuMemory::device_free() {
  size_t free_bytes = 0, total = 0;
  if (cudaMemGetInfo(&free_bytes, &total) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return static_cast<long long>(free_bytes);
}

}  // namespace swa
