// device.h: a problem on the GPU, ready to run any stage on.
//
//   DeviceProblem gpu(problem, spec, stage.api().workspace_bytes(&problem));
//   gpu.upload(inputs);
//   gpu.poison_output();                      // every element of O (and the workspace) becomes NaN
//   std::string error;
//   if (gpu.run(stage.api(), stream, &error) != kSwaOk) ...
//   std::vector<float> o = gpu.output();
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "inputs.h"
#include "pattern_spec.h"
#include "problem.h"

namespace swa {

// True when a CUDA device can be used; otherwise false and `why` says what is missing.
bool gpu_available(std::string* why);

template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(size_t count);
  ~DeviceArray();
  DeviceArray(DeviceArray&& other) noexcept;
  DeviceArray& operator=(DeviceArray&& other) noexcept;
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() const { return ptr_; }
  size_t size() const { return count_; }
  void upload(const std::vector<T>& host);
  std::vector<T> download() const;

 private:
  T* ptr_ = nullptr;
  size_t count_ = 0;
};

class DeviceProblem {
 public:
  // Allocates Q, K, V, O, the pattern's arrays and `workspace_bytes` of scratch. The problem's own
  // pattern is replaced by `spec`, whose arrays are uploaded.
  DeviceProblem(const Problem& problem, const PatternSpec& spec, size_t workspace_bytes);

  // The problem as a stage sees it: the pattern's pointers are device pointers.
  const Problem& problem() const { return problem_; }
  Tensors tensors();
  Workspace workspace() { return {workspace_.get(), workspace_.size()}; }

  void upload(const HostInputs& inputs);
  void poison_output();  // O and the workspace: every byte 0xff (kPoisonBits, compare.h)
  // Runs the stage and waits for it. Returns its status (kSwaOk or why not), or kSwaCudaError for an
  // error the GPU reported while it ran; `error` gets the message.
  int32_t run(const SwaStageApi& stage, cudaStream_t stream, std::string* error);
  std::vector<float> output() const { return o_.download(); }

 private:
  Problem problem_;
  DeviceArray<__half> q_, k_, v_;
  DeviceArray<float> o_;
  DeviceArray<unsigned char> workspace_;
  DeviceArray<int32_t> globals_, left_, right_;
};

}  // namespace swa
