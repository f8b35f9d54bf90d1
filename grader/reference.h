// reference.h: the CPU reference, in double precision, with Eigen.
//
// It reads the same fp16 inputs as the GPU (so both compute the same function of the same numbers) and
// computes every score, softmax and output in double. It enumerates the keys a query sees on its own,
// from the definitions in docs/patterns.md, not through problem.h's Pattern::allows or tile_mask.h's
// TileMask: the tests check each against the other.
//
// Work is O(B*H*N*K*D) for K visible keys per query, never O(N^2) for window patterns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "problem.h"

namespace swa::reference {

// The keys first, first + stride, ..., first + (count-1)*stride.
struct KeyRun {
  int first;
  int count;
  int stride;
};

// The keys query i sees, as a few runs in increasing order (pattern arrays in host memory).
void visible_keys(const Pattern& pattern, int N, int i, std::vector<KeyRun>& runs);

struct Result {
  std::vector<double> o;  // [B, H, N, D]
  std::vector<double> lse;  // [B, H, N]: log of sum_j exp(scale * Q[i].K[j]) over the visible keys
};

// O and the log-sum-exp for every query. Pattern arrays in host memory; D may be any value in
// [1, kMaxHeadDim]. Throws std::invalid_argument (naming the argument) on a bad problem.
Result attention(const Problem& problem, const __half* q, const __half* k, const __half* v);

// The same result from the definition alone: every (i, j) pair, Pattern::allows, plain loops in long
// double. O(B*H*N^2*D): for checking attention() on small problems (tests, self_check).
Result dense_attention(const Problem& problem, const __half* q, const __half* k, const __half* v);

// attention() against dense_attention() on fresh random inputs, for every pattern and awkward sizes.
struct SelfCheck {
  int cases = 0;
  int failed = 0;
  double worst_error = 0;  // largest |attention - dense| relative to the largest |dense| of its case
  std::string first_failure;
};
SelfCheck self_check(uint64_t seed);

// The softmax weights of query i of problem bh = b*H + h: N values, 0 for keys the pattern hides.
std::vector<double> attention_weights(const Problem& problem, const __half* q, const __half* k, int bh, int i);

}  // namespace swa::reference
