// compare.h: is a stage's output right? Elementwise against the double-precision reference.
//
// An element passes when it is finite and |got - ref| <= atol * value_scale + rtol * |ref|, where
// value_scale = max(1, max |V|): each output is a weighted average of V rows, so an error in the weights
// moves it by at most that much times max |V|. Defaults: atol = 1e-3, rtol = 1e-2 (the exercise's).
// NaN and infinity always fail; an element still holding the poison (device.h) was never written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "inputs.h"
#include "problem.h"

namespace swa {

// The bits every output element holds before a stage runs (DeviceProblem::poison_output): a NaN no
// arithmetic produces (the GPU's own NaN is 0x7fffffff), so "never written" can be told from "computed NaN".
constexpr uint32_t kPoisonBits = 0xffffffffu;
inline bool never_written(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  return bits == kPoisonBits;
}

struct Tolerance {
  double atol = 1e-3;
  double rtol = 1e-2;
};

enum class ErrorKind { kUnwritten, kNotFinite, kTooFar };
const char* error_kind_name(ErrorKind kind);

struct Mismatch {
  int bh, i, d;  // element O[bh, i, d], bh = b*H + h
  double expected;
  float got;
  ErrorKind kind;
};

struct Comparison {
  size_t elements = 0;
  size_t unwritten = 0, not_finite = 0, too_far = 0;
  double max_error = 0;  // largest |got - ref| among finite elements
  double worst_ratio = 0;  // largest |got - ref| / allowed error: <= 1 passes
  std::vector<Mismatch> first;  // the first few failing elements, in memory order
  std::vector<uint32_t> bad_per_query;  // [N]: failing elements of query i, over every head and d

  size_t failed() const { return unwritten + not_finite + too_far; }
  bool passed() const { return elements > 0 && failed() == 0; }
  bool nothing_written() const { return elements > 0 && unwritten == elements; }
  std::string summary() const;  // one line
};

// `got` is the stage's fp32 output, `expected` the reference's, both [B, H, N, D].
Comparison compare_output(const Problem& p, const std::vector<float>& got, const std::vector<double>& expected,
                          double value_scale, Tolerance tol = {}, size_t keep = 8);

// max(1, max |x|): the value_scale of compare_output for inputs V.
double value_scale(const std::vector<__half>& v);

// Compares only the heads `bhs` (bh = b*H + h) of a stage's output with the reference computed for those
// heads alone: a check that stays cheap at sizes where the reference of every head would not be.
Comparison compare_heads(const Problem& p, const HostInputs& in, const std::vector<float>& out,
                         const std::vector<int>& bhs, Tolerance tol = {});

}  // namespace swa
