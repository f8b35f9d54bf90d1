// baselines.cpp: the speed check's baselines by name (baselines.h).
#include "baselines.h"

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

}  // namespace swa
