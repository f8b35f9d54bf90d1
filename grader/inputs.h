// inputs.h: fp16 inputs on the host, for the reference, the GPU runs, the grader and the tests.
#pragma once

#include <cstdint>
#include <vector>

#include "problem.h"

namespace swa {

struct HostInputs {
  std::vector<__half> q, k, v;  // [B, H, N, D] each
};

// Values drawn uniformly from [-amplitude, amplitude] (rounded to fp16), reproducibly from seed.
std::vector<__half> random_halves(size_t count, uint64_t seed, float amplitude = 1.0f);
HostInputs random_inputs(const Problem& problem, uint64_t seed, float amplitude = 1.0f);

}  // namespace swa
