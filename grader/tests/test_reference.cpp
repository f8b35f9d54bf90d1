// test_reference.cpp: the Eigen reference against a brute-force dense softmax.
//
// reference::dense_attention visits every (i, j), asks Pattern::allows, and computes in long double with
// plain loops: slow, obvious, and independent of attention()'s own key enumeration and Eigen code.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "inputs.h"
#include "pattern_spec.h"
#include "reference.h"

namespace swa {
namespace {

Problem make_problem(int B, int H, int N, int D, float scale, const PatternSpec& spec) {
  Problem p;
  p.B = B;
  p.H = H;
  p.N = N;
  p.D = D;
  p.scale = scale;
  p.pattern = spec.view();
  return p;
}

// Relative error of a against b, relative to the largest |b|: the reference is double, so 1e-12 is loose.
void expect_close(const std::vector<double>& a, const std::vector<double>& b, const std::string& what,
                  double tolerance = 1e-12) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double scale = 1e-30;
  for (double x : b) scale = std::max(scale, std::fabs(x));
  for (size_t e = 0; e < a.size(); ++e) {
    ASSERT_TRUE(std::isfinite(a[e])) << what << " element " << e << " is " << a[e];
    ASSERT_LE(std::fabs(a[e] - b[e]) / scale, tolerance)
        << what << " element " << e << ": " << a[e] << " vs " << static_cast<double>(b[e]);
  }
}

// The examples of every kind (pattern_spec.h), the grader's and the GPU tests' own.
std::vector<PatternSpec> every_pattern(int N, int w) {
  std::vector<PatternSpec> out;
  for (int k = 0; k < kNumPatternKinds; ++k)
    for (const std::string& text : example_pattern_texts(static_cast<PatternKind>(k), w, N))
      out.push_back(parse_pattern(text, N, 7 * N + w));
  return out;
}

// ---------------------------------------------------------------------------------------------------

struct Shape {
  int N, W;
};
void PrintTo(const Shape& s, std::ostream* os) {
  *os << "N=" << s.N << " W=" << (s.W < 0 ? std::string("N") : std::to_string(s.W));
}

class ReferenceMatchesBruteForce : public ::testing::TestWithParam<Shape> {};

TEST_P(ReferenceMatchesBruteForce, EveryPatternEveryHeadDimBothScales) {
  const auto [N, W_param] = GetParam();
  const int W = W_param < 0 ? N : W_param;  // -1 stands for W = N
  const int dims[] = {16, 32, 64, 128};
  int variant = 0;
  for (const PatternSpec& spec : every_pattern(N, W)) {
    // Cycle through the head dimensions so that each N, W sees all of them across the patterns.
    const int D = dims[(variant++ + N + W) % 4];
    for (float scale : {1.0f, default_scale(D)}) {
      const Problem p = make_problem(1, N > 500 ? 1 : 2, N, D, scale, spec);  // B*H > 1 where it is cheap
      const HostInputs in = random_inputs(p, 100 * N + W + variant);
      const reference::Result ref = reference::attention(p, in.q.data(), in.k.data(), in.v.data());
      const reference::Result dense = reference::dense_attention(p, in.q.data(), in.k.data(), in.v.data());
      const std::string what =
          spec.to_string() + " N=" + std::to_string(N) + " D=" + std::to_string(D) + " scale=" + std::to_string(scale);
      expect_close(ref.o, dense.o, what + " O");
      expect_close(ref.lse, dense.lse, what + " log-sum-exp");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AwkwardSizes, ReferenceMatchesBruteForce, ::testing::ValuesIn([] {
                           std::vector<Shape> shapes;
                           for (int N : {1, 2, 63, 64, 65, 257, 1013})
                             for (int W : {0, 1, 32, 127, 128, 129, -1}) shapes.push_back({N, W});
                           return shapes;
                         }()),
                         [](const auto& info) {
                           return "N" + std::to_string(info.param.N) + "_W" +
                                  (info.param.W < 0 ? std::string("N") : std::to_string(info.param.W));
                         });

TEST(Reference, OddHeadDimensions) {
  for (int D : {1, 3, 17, 33, 65, 127})
    for (const PatternSpec& spec : every_pattern(70, 9)) {
      const Problem p = make_problem(1, 1, 70, D, default_scale(D), spec);
      const HostInputs in = random_inputs(p, D);
      const reference::Result ref = reference::attention(p, in.q.data(), in.k.data(), in.v.data());
      expect_close(ref.o, reference::dense_attention(p, in.q.data(), in.k.data(), in.v.data()).o,
                   spec.to_string() + " D=" + std::to_string(D));
    }
}

TEST(Reference, BatchAndHeadsAreIndependentProblems) {
  // B*H problems at their own offsets: each head must equal the same head computed alone.
  const PatternSpec spec = PatternSpec::sliding(5);
  const Problem p = make_problem(2, 3, 40, 16, 0.25f, spec);
  const HostInputs in = random_inputs(p, 99);
  const reference::Result all = reference::attention(p, in.q.data(), in.k.data(), in.v.data());
  expect_close(all.o, reference::dense_attention(p, in.q.data(), in.k.data(), in.v.data()).o, "B=2 H=3");
  const Problem one = make_problem(1, 1, 40, 16, 0.25f, spec);
  for (int bh = 0; bh < 6; ++bh) {
    const size_t at = p.row_offset(bh, 0), count = one.num_elements();
    const reference::Result alone = reference::attention(one, in.q.data() + at, in.k.data() + at, in.v.data() + at);
    for (size_t e = 0; e < count; ++e) ASSERT_EQ(alone.o[e], all.o[at + e]) << "head " << bh;
  }
}

TEST(Reference, StableForLargeInputs) {
  // |inputs| up to 100 and scale 1: scores up to ~1e5, far past where exp() overflows.
  for (const PatternSpec& spec : every_pattern(150, 20)) {
    const Problem p = make_problem(1, 1, 150, 64, 1.0f, spec);
    const HostInputs in = random_inputs(p, 5, 100.0f);
    const reference::Result ref = reference::attention(p, in.q.data(), in.k.data(), in.v.data());
    const reference::Result dense = reference::dense_attention(p, in.q.data(), in.k.data(), in.v.data());
    expect_close(ref.o, dense.o, spec.to_string() + " large inputs", 1e-10);
    for (double x : ref.lse) ASSERT_TRUE(std::isfinite(x));
  }
}

TEST(Reference, WeightsOfChosenRows) {
  // w_j = exp(scale * Q[i].K[j] - lse_i) inside the pattern, 0 outside; and O[i] = sum_j w_j V[j].
  for (const PatternSpec& spec : every_pattern(130, 12)) {
    const Problem p = make_problem(1, 2, 130, 32, default_scale(32), spec);
    const HostInputs in = random_inputs(p, 17);
    const reference::Result dense = reference::dense_attention(p, in.q.data(), in.k.data(), in.v.data());
    auto x = [](const std::vector<__half>& t, size_t e) { return static_cast<double>(__half2float(t[e])); };
    for (int i : {0, 1, 64, 129}) {
      const std::vector<double> w = reference::attention_weights(p, in.q.data(), in.k.data(), 1, i);
      ASSERT_EQ(w.size(), 130u);
      double sum = 0;
      std::vector<double> o(32, 0.0);
      for (int j = 0; j < 130; ++j) {
        sum += w[j];
        if (!p.pattern.allows(i, j)) {
          ASSERT_EQ(w[j], 0.0) << spec.to_string() << " weight outside the pattern, j=" << j;
          continue;
        }
        double dot = 0;
        for (int d = 0; d < 32; ++d) dot += x(in.q, p.row_offset(1, i) + d) * x(in.k, p.row_offset(1, j) + d);
        EXPECT_NEAR(w[j], std::exp(p.scale * dot - dense.lse[130 + i]), 1e-12) << spec.to_string() << " j=" << j;
        for (int d = 0; d < 32; ++d) o[d] += w[j] * x(in.v, p.row_offset(1, j) + d);
      }
      EXPECT_NEAR(sum, 1.0, 1e-12);
      for (int d = 0; d < 32; ++d) EXPECT_NEAR(o[d], dense.o[p.row_offset(1, i) + d], 1e-12);
    }
  }
}

TEST(Reference, SelfCheckPasses) {
  const reference::SelfCheck check = reference::self_check(42);
  EXPECT_GT(check.cases, 100);
  EXPECT_EQ(check.failed, 0) << check.first_failure;
  EXPECT_LE(check.worst_error, 1e-12);
}

TEST(Reference, RejectsBadArguments) {
  const PatternSpec spec = PatternSpec::sliding(4);
  const Problem p = make_problem(1, 1, 16, 16, 0.25f, spec);
  const HostInputs in = random_inputs(p, 1);
  Problem bad = p;
  bad.N = 0;
  EXPECT_THROW(reference::attention(bad, in.q.data(), in.k.data(), in.v.data()), std::invalid_argument);
  EXPECT_THROW(reference::attention(p, nullptr, in.k.data(), in.v.data()), std::invalid_argument);
  EXPECT_THROW(reference::attention_weights(p, in.q.data(), in.k.data(), 1, 0), std::invalid_argument);
  EXPECT_THROW(reference::attention_weights(p, in.q.data(), in.k.data(), 0, 16), std::invalid_argument);
  const PatternSpec unsorted = PatternSpec::global_local(2, {5, 3});
  Problem g = p;
  g.pattern = unsorted.view();
  EXPECT_THROW(reference::attention(g, in.q.data(), in.k.data(), in.v.data()), std::invalid_argument);
}

}  // namespace
}  // namespace swa
