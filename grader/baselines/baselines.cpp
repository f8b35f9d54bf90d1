// baselines.cpp: the speed check's baselines by name (baselines.h).
#include "baselines.h"

#include <cstdio>
#include <stdexcept>

namespace swa {

const SwaStageApi& cuda_core_baseline();  // cuda_core.cu
const SwaStageApi& mma_baseline();  // mma.cu

const SwaStageApi& full_attention_baseline(const std::string& engine) {
  if (engine == "cuda_core") return cuda_core_baseline();
  if (engine == "mma") return mma_baseline();
  std::string known;
  for (const char* name : kBaselineNames) known += (known.empty() ? "" : ", ") + std::string(name);
  throw std::invalid_argument("unknown speed baseline '" + engine + "' (known: " + known + ")");
}

namespace {

int32_t fail(int32_t status, const std::string& message, char* error, size_t capacity) {
  if (error != nullptr && capacity > 0) std::snprintf(error, capacity, "%s", message.c_str());
  return status;
}

}  // namespace

int32_t launch_baseline(const void* kernel, cudaError_t raised, const BaselineLaunch& launch, const Problem* p,
                        const Tensors* t, cudaStream_t stream, char* error, size_t capacity) {
  if (p == nullptr || t == nullptr) return fail(kSwaInvalidArgument, "problem or tensors is null", error, capacity);
  std::string why = check_problem(*p);
  if (why.empty()) why = check_tensors(*p, *t);
  if (!why.empty()) return fail(kSwaInvalidArgument, why, error, capacity);
  if (p->D != kBaselineHeadDim) return fail(kSwaUnsupported, "the baseline runs at D = 64 only", error, capacity);
  if (raised != cudaSuccess) return fail(kSwaLaunchRejected, cudaGetErrorString(raised), error, capacity);
  const dim3 grid(p->batch_heads(), (p->N + launch.tile - 1) / launch.tile);
  Problem problem = *p;
  Tensors tensors = *t;
  void* args[] = {&problem, &tensors};  // the kernel's (Problem, Tensors), by value
  const cudaError_t launched = cudaLaunchKernel(kernel, grid, dim3(launch.threads), args, launch.shared_bytes, stream);
  if (launched != cudaSuccess) return fail(kSwaCudaError, cudaGetErrorString(launched), error, capacity);
  return kSwaOk;
}

size_t no_workspace(const Problem*) { return 0; }

}  // namespace swa
