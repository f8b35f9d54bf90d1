// inputs.cpp: random fp16 inputs.
#include "inputs.h"

#include <random>

namespace swa {

std::vector<__half> random_halves(size_t count, uint64_t seed, float amplitude) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> value(-amplitude, amplitude);
  std::vector<__half> out(count);
  for (__half& x : out) x = __float2half_rn(value(rng));
  return out;
}

HostInputs random_inputs(const Problem& problem, uint64_t seed, float amplitude) {
  const size_t count = problem.num_elements();
  // Three different streams from one seed, so that Q, K and V are independent.
  return {random_halves(count, seed * 3 + 0, amplitude), random_halves(count, seed * 3 + 1, amplitude),
          random_halves(count, seed * 3 + 2, amplitude)};
}

}  // namespace swa
