// gpu_memory.h: how much GPU memory a process uses, read from outside it.
//
//   NVML (libnvidia-ml.so.1, loaded at run time from the driver): the device memory each process with a
//   CUDA context holds, by PID (nvmlDeviceGetComputeRunningProcesses). The driver reports PIDs as the
//   judge sees them when the judge is in the root PID namespace; a runner inside the sandbox's own PID
//   namespace is found by the PID the judge knows for it.
//   The device's free memory (cudaMemGetInfo in the judge's context): what every process together leaves;
//   the fallback where NVML is missing or does not list the runner.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

namespace swa {

class GpuMemory {
 public:
  GpuMemory();  // opens NVML for the judge's current CUDA device, if it can
  ~GpuMemory();
  GpuMemory(const GpuMemory&) = delete;
  GpuMemory& operator=(const GpuMemory&) = delete;

  bool nvml() const { return device_ != nullptr; }
  const std::string& nvml_status() const { return status_; }  // why NVML is not used, or "NVML"
  // Used device memory by PID, for every process with a context on the device; empty without NVML.
  std::map<pid_t, long long> by_process() const;
  // Free device memory now (every process together).
  static long long device_free();

 private:
  void* library_ = nullptr;
  void* device_ = nullptr;
  void* processes_fn_ = nullptr;
  std::string status_;
};

}  // namespace swa
