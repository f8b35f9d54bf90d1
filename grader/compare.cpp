// compare.cpp: elementwise comparison with the reference.
#include "compare.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "reference.h"

namespace swa {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUnwritten: return "never written";
    case ErrorKind::kNotFinite: return "not finite";
    case ErrorKind::kTooFar: return "outside tolerance";
  }
  return "?";
}

std::string Comparison::summary() const {
  std::ostringstream s;
  if (passed()) {
    s << "all " << elements << " elements within tolerance (worst " << worst_ratio
      << " of the allowed error, max |error| " << max_error << ")";
    return s.str();
  }
  s << failed() << " of " << elements << " elements wrong";
  if (unwritten) s << ", " << unwritten << " never written";
  if (not_finite) s << ", " << not_finite << " NaN or infinite";
  if (too_far) s << ", " << too_far << " outside tolerance (max |error| " << max_error << ")";
  return s.str();
}

Comparison compare_output(const Problem& p, const std::vector<float>& got, const std::vector<double>& expected,
                          double scale, Tolerance tol, size_t keep) {
  Comparison c;
  c.elements = p.num_elements();
  c.bad_per_query.assign(p.N, 0);
  if (got.size() != c.elements || expected.size() != c.elements) {
    c.unwritten = c.elements;  // nothing to compare: count it all as wrong
    return c;
  }
  for (size_t e = 0; e < c.elements; ++e) {
    const float g = got[e];
    const double ref = expected[e];
    ErrorKind kind;
    if (never_written(g)) {
      kind = ErrorKind::kUnwritten;
      ++c.unwritten;
    } else if (!std::isfinite(g)) {
      kind = ErrorKind::kNotFinite;
      ++c.not_finite;
    } else {
      const double error = std::fabs(static_cast<double>(g) - ref);
      const double allowed = tol.atol * scale + tol.rtol * std::fabs(ref);
      c.max_error = std::max(c.max_error, error);
      c.worst_ratio = std::max(c.worst_ratio, error / allowed);
      if (error <= allowed) continue;
      kind = ErrorKind::kTooFar;
      ++c.too_far;
    }
    const size_t row = e / p.D;
    const int i = static_cast<int>(row % p.N);
    ++c.bad_per_query[i];
    if (c.first.size() < keep)
      c.first.push_back({static_cast<int>(row / p.N), i, static_cast<int>(e % p.D), ref, g, kind});
  }
  return c;
}

double value_scale(const std::vector<__half>& v) {
  double m = 1.0;
  for (__half x : v) m = std::max(m, std::fabs(static_cast<double>(__half2float(x))));
  return m;
}

Comparison compare_heads(const Problem& p, const HostInputs& in, const std::vector<float>& out,
                         const std::vector<int>& bhs, Tolerance tol) {
  Problem one = p;
  one.B = one.H = 1;
  const size_t count = one.num_elements();
  Comparison all;
  all.bad_per_query.assign(p.N, 0);
  std::vector<int> heads = bhs;
  std::sort(heads.begin(), heads.end());
  heads.erase(std::unique(heads.begin(), heads.end()), heads.end());
  for (int bh : heads) {
    const size_t at = p.row_offset(bh, 0);
    const reference::Result ref = reference::attention(one, in.q.data() + at, in.k.data() + at, in.v.data() + at);
    const std::vector<float> got(out.begin() + at, out.begin() + at + count);
    const std::vector<__half> v(in.v.begin() + at, in.v.begin() + at + count);
    Comparison c = compare_output(one, got, ref.o, value_scale(v), tol);
    all.elements += c.elements;
    all.unwritten += c.unwritten;
    all.not_finite += c.not_finite;
    all.too_far += c.too_far;
    all.max_error = std::max(all.max_error, c.max_error);
    all.worst_ratio = std::max(all.worst_ratio, c.worst_ratio);
    for (int i = 0; i < p.N; ++i) all.bad_per_query[i] += c.bad_per_query[i];
    for (Mismatch& m : c.first)
      if (all.first.size() < 8) all.first.push_back({bh, m.i, m.d, m.expected, m.got, m.kind});
  }
  return all;
}

}  // namespace swa
