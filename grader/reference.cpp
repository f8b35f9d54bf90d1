// reference.cpp: the double-precision CPU reference (see reference.h).
#include "reference.h"

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "inputs.h"
#include "pattern_spec.h"

namespace swa::reference {
namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
constexpr long long kParallelWork = 1 << 20;  // multiply-adds below which one thread is faster
using StridedRows = Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>;

// fp16 -> double for all 65536 bit patterns: exact, and much faster than converting one by one.
const std::array<double, 65536>& half_to_double_table() {
  static const std::array<double, 65536> table = [] {
    std::array<double, 65536> t{};
    for (uint32_t bits = 0; bits < 65536; ++bits) {
      __half_raw raw;
      raw.x = static_cast<unsigned short>(bits);
      t[bits] = static_cast<double>(__half2float(__half(raw)));
    }
    return t;
  }();
  return table;
}

// Rows [bh*N, (bh+1)*N) of a [B*H*N, D] fp16 tensor as an N x D double matrix.
void load_head(const __half* x, const Problem& p, int bh, RowMatrix& out) {
  const auto& table = half_to_double_table();
  const size_t count = static_cast<size_t>(p.N) * p.D;
  const uint16_t* bits = reinterpret_cast<const uint16_t*>(x + p.row_offset(bh, 0));
  out.resize(p.N, p.D);
  double* dst = out.data();
#pragma omp parallel for schedule(static) if (count >= kParallelWork)
  for (long long e = 0; e < static_cast<long long>(count); ++e) dst[e] = table[bits[e]];
}

// The rows of `m` named by a run of keys.
StridedRows rows_of(const RowMatrix& m, const KeyRun& run) {
  return StridedRows(m.data() + static_cast<size_t>(run.first) * m.cols(), run.count, m.cols(),
                     Eigen::OuterStride<>(static_cast<Eigen::Index>(run.stride) * m.cols()));
}

// Softmax weights of one query over its visible keys, in run order, into `w`; returns the log-sum-exp.
// Subtracting the largest score first keeps exp() finite for scores up to the largest double.
double softmax_weights(const RowMatrix& K, const Eigen::Ref<const Eigen::RowVectorXd>& q, double scale,
                       const std::vector<KeyRun>& runs, Eigen::VectorXd& w) {
  Eigen::Index total = 0;
  for (const KeyRun& r : runs) total += r.count;
  w.resize(total);
  Eigen::Index at = 0;
  for (const KeyRun& r : runs) {
    w.segment(at, r.count).noalias() = rows_of(K, r) * q.transpose();  // S = K_run q
    at += r.count;
  }
  w *= scale;
  const double max_score = w.maxCoeff();
  w = (w.array() - max_score).exp().matrix();  // P = exp(S - max)
  const double sum = w.sum();  // >= 1: the largest score contributes exp(0)
  w /= sum;
  return max_score + std::log(sum);
}

void check_arguments(const Problem& p, const void* q, const void* k, const void* v) {
  std::string why = check_problem(p, HeadDims::kAny);
  if (why.empty()) why = check_pattern_arrays(p.pattern, p.N);
  if (why.empty() && (q == nullptr || k == nullptr || v == nullptr)) why = "Q, K and V must not be null";
  if (!why.empty()) throw std::invalid_argument("reference: " + why);
}

}  // namespace

void visible_keys(const Pattern& pat, int N, int i, std::vector<KeyRun>& runs) {
  runs.clear();
  // Keys [first, last] clamped to the sequence, as one run (none if empty after clamping).
  auto window = [&](long long first, long long last) {
    first = std::max(first, 0LL);
    last = std::min(last, static_cast<long long>(N) - 1);
    if (first <= last) runs.push_back({static_cast<int>(first), static_cast<int>(last - first + 1), 1});
  };
  switch (pat.kind) {
    case PatternKind::kSlidingWindow:
      window(static_cast<long long>(i) - pat.left, static_cast<long long>(i) + pat.right);
      break;
    case PatternKind::kCausalSlidingWindow: window(static_cast<long long>(i) - pat.left, i); break;
    case PatternKind::kDilated: {
      // j = i + k*d inside [0, N): k from max(-left, -floor(i/d)) to min(right, floor((N-1-i)/d)).
      const long long d = pat.dilation;
      const long long k_first = std::max<long long>(-pat.left, -(i / d));
      const long long k_last = std::min<long long>(pat.right, (N - 1 - i) / d);
      if (k_first <= k_last)
        runs.push_back(
            {static_cast<int>(i + k_first * d), static_cast<int>(k_last - k_first + 1), static_cast<int>(d)});
      break;
    }
    case PatternKind::kGlobalLocal: {
      const int32_t* g_begin = pat.global_positions;
      const int32_t* g_end = pat.global_positions + pat.num_global;
      if (std::binary_search(g_begin, g_end, i)) {  // a global query sees every key
        runs.push_back({0, N, 1});
        break;
      }
      const int first = static_cast<int>(std::max(0LL, static_cast<long long>(i) - pat.left));
      const int last = static_cast<int>(std::min<long long>(N - 1, static_cast<long long>(i) + pat.right));
      for (const int32_t* g = g_begin; g != g_end && *g < first; ++g) runs.push_back({*g, 1, 1});
      runs.push_back({first, last - first + 1, 1});
      for (const int32_t* g = std::upper_bound(g_begin, g_end, last); g != g_end; ++g) runs.push_back({*g, 1, 1});
      break;
    }
    case PatternKind::kAdaptive:
      window(static_cast<long long>(i) - pat.adaptive_left[i], static_cast<long long>(i) + pat.adaptive_right[i]);
      break;
    case PatternKind::kExponential: {
      // |j - i| <= L, and |j - i| = W, 2W, 4W, ... beyond L: the far keys on the left first.
      std::vector<long long> distances;
      for (long long d = pat.dilation; d < N; d *= 2)
        if (d > pat.left) distances.push_back(d);
      for (auto d = distances.rbegin(); d != distances.rend(); ++d)
        if (i - *d >= 0) runs.push_back({static_cast<int>(i - *d), 1, 1});
      window(static_cast<long long>(i) - pat.left, static_cast<long long>(i) + pat.left);
      for (long long d : distances)
        if (i + d < N) runs.push_back({static_cast<int>(i + d), 1, 1});
      break;
    }
    case PatternKind::kBlockDiagonal: {
      const long long first = static_cast<long long>(i) / pat.block_size * pat.block_size;
      window(first, first + pat.block_size - 1);
      break;
    }
    case PatternKind::kSinks: {
      // Keys 0 .. S-1 that are not in the window, before and after it, and the window.
      const long long first = std::max(0LL, static_cast<long long>(i) - pat.left);
      const long long last = std::min<long long>(N - 1, static_cast<long long>(i) + pat.right);
      const long long sinks = std::min<long long>(pat.num_sinks, N);
      if (std::min(sinks, first) > 0) runs.push_back({0, static_cast<int>(std::min(sinks, first)), 1});
      window(first, last);
      if (sinks - 1 > last) runs.push_back({static_cast<int>(last + 1), static_cast<int>(sinks - 1 - last), 1});
      break;
    }
  }
}

Result attention(const Problem& p, const __half* q, const __half* k, const __half* v) {
  check_arguments(p, q, k, v);
  Result result;
  result.o.assign(p.num_elements(), 0.0);
  result.lse.assign(static_cast<size_t>(p.batch_heads()) * p.N, 0.0);
  RowMatrix Q, K, V;
  for (int bh = 0; bh < p.batch_heads(); ++bh) {
    load_head(q, p, bh, Q);
    load_head(k, p, bh, K);
    load_head(v, p, bh, V);
    // Threads only where there is enough work for them: starting them costs more than a small head.
    const long long keys_per_query = p.pattern.kind == PatternKind::kSlidingWindow
                                         ? std::min<long long>(p.N, 1LL + p.pattern.left + p.pattern.right)
                                         : p.N;
#pragma omp parallel if (static_cast <long long>(p.N) * keys_per_query * p.D >= kParallelWork)
    {
      std::vector<KeyRun> runs;
      Eigen::VectorXd w;
#pragma omp for schedule(static)
      for (int i = 0; i < p.N; ++i) {
        visible_keys(p.pattern, p.N, i, runs);
        result.lse[static_cast<size_t>(bh) * p.N + i] = softmax_weights(K, Q.row(i), p.scale, runs, w);
        Eigen::Map<Eigen::RowVectorXd> o(result.o.data() + p.row_offset(bh, i), p.D);
        Eigen::Index at = 0;
        for (const KeyRun& r : runs) {
          o.noalias() += w.segment(at, r.count).transpose() * rows_of(V, r);  // O = P V
          at += r.count;
        }
      }
    }
  }
  return result;
}

std::vector<double> attention_weights(const Problem& p, const __half* q, const __half* k, int bh, int i) {
  check_arguments(p, q, k, k);
  if (bh < 0 || bh >= p.batch_heads())
    throw std::invalid_argument("reference: bh = " + std::to_string(bh) + " is out of range [0, " +
                                std::to_string(p.batch_heads() - 1) + "]");
  if (i < 0 || i >= p.N)
    throw std::invalid_argument("reference: query " + std::to_string(i) + " is out of range [0, " +
                                std::to_string(p.N - 1) + "]");
  RowMatrix Q, K;
  load_head(q, p, bh, Q);
  load_head(k, p, bh, K);
  std::vector<KeyRun> runs;
  visible_keys(p.pattern, p.N, i, runs);
  Eigen::VectorXd w;
  softmax_weights(K, Q.row(i), p.scale, runs, w);
  std::vector<double> weights(p.N, 0.0);
  Eigen::Index at = 0;
  for (const KeyRun& r : runs)
    for (int t = 0; t < r.count; ++t) weights[r.first + t * r.stride] = w[at++];
  return weights;
}

Result dense_attention(const Problem& p, const __half* q, const __half* k, const __half* v) {
  check_arguments(p, q, k, v);
  auto at = [](const __half* x, size_t e) { return static_cast<long double>(__half2float(x[e])); };
  Result out;
  out.o.assign(p.num_elements(), 0.0);
  out.lse.assign(static_cast<size_t>(p.batch_heads()) * p.N, 0.0);
  std::vector<long double> s(p.N), o(p.D);
  for (int bh = 0; bh < p.batch_heads(); ++bh)
    for (int i = 0; i < p.N; ++i) {
      long double max_score = -std::numeric_limits<long double>::infinity();
      for (int j = 0; j < p.N; ++j) {
        if (!p.pattern.allows(i, j)) continue;
        long double dot = 0;
        for (int d = 0; d < p.D; ++d) dot += at(q, p.row_offset(bh, i) + d) * at(k, p.row_offset(bh, j) + d);
        s[j] = p.scale * dot;
        max_score = std::max(max_score, s[j]);
      }
      long double sum = 0;
      std::fill(o.begin(), o.end(), 0.0L);
      for (int j = 0; j < p.N; ++j) {
        if (!p.pattern.allows(i, j)) continue;
        const long double w = std::exp(s[j] - max_score);
        sum += w;
        for (int d = 0; d < p.D; ++d) o[d] += w * at(v, p.row_offset(bh, j) + d);
      }
      for (int d = 0; d < p.D; ++d) out.o[p.row_offset(bh, i) + d] = static_cast<double>(o[d] / sum);
      out.lse[static_cast<size_t>(bh) * p.N + i] = static_cast<double>(max_score + std::log(sum));
    }
  return out;
}

SelfCheck self_check(uint64_t seed) {
  SelfCheck result;
  for (int N : {1, 2, 63, 65, 130})
    for (int W : {0, 1, 31, 64, N}) {
      // Every kind at the corners of its definition (pattern_spec.h), with fresh adaptive windows.
      for (const PatternSpec& spec : pattern_corner_cases(N, W, seed + N)) {
        Problem p;
        p.B = 1, p.H = 2, p.N = N, p.D = 16 + 8 * (result.cases % 15);
        p.scale = result.cases % 2 ? 1.0f : default_scale(p.D);
        p.pattern = spec.view();
        const HostInputs in = random_inputs(p, seed + result.cases);
        const Result fast = attention(p, in.q.data(), in.k.data(), in.v.data());
        const Result dense = dense_attention(p, in.q.data(), in.k.data(), in.v.data());
        double largest = 1e-30, error = 0;
        for (double x : dense.o) largest = std::max(largest, std::fabs(x));
        for (size_t e = 0; e < fast.o.size(); ++e) {
          const double d = std::fabs(fast.o[e] - dense.o[e]);
          error = std::isfinite(fast.o[e]) ? std::max(error, d) : std::numeric_limits<double>::infinity();
        }
        error /= largest;
        ++result.cases;
        result.worst_error = std::max(result.worst_error, error);
        if (!(error <= 1e-12)) {
          if (result.failed++ == 0)
            result.first_failure = spec.to_string() + " N=" + std::to_string(N) + " D=" + std::to_string(p.D) +
                                   ": relative error " + std::to_string(error);
        }
      }
    }
  return result;
}

}  // namespace swa::reference
