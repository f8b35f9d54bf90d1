// device.cpp: GPU buffers and stage runs for the grader, benchmarks and tests.
#include "device.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <utility>

#include "cuda_check.h"

namespace swa {

bool gpu_available(std::string* why) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    // Without any NVIDIA driver the runtime reports an "insufficient driver": say what is really missing.
    void* driver = dlopen("libcuda.so.1", RTLD_LAZY);
    if (why)
      *why = driver == nullptr ? "no NVIDIA driver on this machine (libcuda.so.1 is missing)"
                               : std::string("no usable CUDA device: ") + cudaGetErrorString(err);
    if (driver != nullptr) dlclose(driver);
    cudaGetLastError();  // clear it
    return false;
  }
  if (count == 0) {
    if (why) *why = "no CUDA device on this machine";
    return false;
  }
  return true;
}

template <class T>
DeviceArray<T>::DeviceArray(size_t count) : count_(count) {
  if (count > 0) SWA_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr_), count * sizeof(T)));
}

template <class T>
DeviceArray<T>::~DeviceArray() {
  if (ptr_ != nullptr) cudaFree(ptr_);
}

template <class T>
DeviceArray<T>::DeviceArray(DeviceArray&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), count_(std::exchange(other.count_, 0)) {}

template <class T>
DeviceArray<T>& DeviceArray<T>::operator=(DeviceArray&& other) noexcept {
  if (this != &other) {
    if (ptr_ != nullptr) cudaFree(ptr_);
    ptr_ = std::exchange(other.ptr_, nullptr);
    count_ = std::exchange(other.count_, 0);
  }
  return *this;
}

template <class T>
void DeviceArray<T>::upload(const std::vector<T>& host) {
  if (host.size() != count_)
    throw std::invalid_argument("upload of " + std::to_string(host.size()) + " values into a device array of " +
                                std::to_string(count_));
  if (count_ > 0) SWA_CUDA_CHECK(cudaMemcpy(ptr_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice));
}

template <class T>
std::vector<T> DeviceArray<T>::download() const {
  std::vector<T> host(count_);
  if (count_ > 0) SWA_CUDA_CHECK(cudaMemcpy(host.data(), ptr_, count_ * sizeof(T), cudaMemcpyDeviceToHost));
  return host;
}

template class DeviceArray<__half>;
template class DeviceArray<float>;
template class DeviceArray<unsigned char>;
template class DeviceArray<int32_t>;

DeviceProblem::DeviceProblem(const Problem& problem, const PatternSpec& spec, size_t workspace_bytes)
    : problem_(problem),
      q_(problem.num_elements()),
      k_(problem.num_elements()),
      v_(problem.num_elements()),
      o_(problem.num_elements()),
      workspace_(workspace_bytes),
      globals_(spec.global_positions.size()),
      left_(spec.adaptive_left.size()),
      right_(spec.adaptive_right.size()) {
  globals_.upload(spec.global_positions);
  left_.upload(spec.adaptive_left);
  right_.upload(spec.adaptive_right);
  problem_.pattern = spec.view();
  problem_.pattern.global_positions = globals_.get();
  problem_.pattern.adaptive_left = left_.get();
  problem_.pattern.adaptive_right = right_.get();
}

Tensors DeviceProblem::tensors() { return {q_.get(), k_.get(), v_.get(), o_.get()}; }

void DeviceProblem::upload(const HostInputs& inputs) {
  q_.upload(inputs.q);
  k_.upload(inputs.k);
  v_.upload(inputs.v);
}

void DeviceProblem::poison_output() {
  SWA_CUDA_CHECK(cudaMemset(o_.get(), 0xff, o_.size() * sizeof(float)));
  if (workspace_.size() > 0) SWA_CUDA_CHECK(cudaMemset(workspace_.get(), 0xff, workspace_.size()));
}

int32_t DeviceProblem::run(const SwaStageApi& stage, cudaStream_t stream, std::string* error) {
  char message[1024] = {};
  const Tensors t = tensors();
  const int32_t status = stage.forward(&problem_, &t, workspace(), stream, message, sizeof(message));
  if (status != kSwaOk) {
    if (error) *error = message;
    return status;
  }
  const cudaError_t err = cudaStreamSynchronize(stream);
  if (err != cudaSuccess) {
    if (error)
      *error = std::string("the kernel failed while running: ") + cudaGetErrorName(err) + " (" +
               cudaGetErrorString(err) + ")";
    return kSwaCudaError;
  }
  return kSwaOk;
}

}  // namespace swa
