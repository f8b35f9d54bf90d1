// checks.cpp: the correctness and window checks, and the cases of both (checks.h).
#include "checks.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <sstream>

#include "compare.h"
#include "cuda_check.h"
#include "feedback.h"
#include "inputs.h"
#include "pattern_spec.h"
#include "reference.h"

namespace swa {
namespace {

using nlohmann::json;

uint64_t mix(uint64_t a, uint64_t b) { return mix_seed(a, b); }

std::string pattern_text(PatternKind kind, int W, int N) { return example_pattern_texts(kind, W, N).front(); }

Problem problem_of(const CaseSpec& c, const PatternSpec& spec) {
  Problem p;
  p.B = c.B, p.H = c.H, p.N = c.N, p.D = c.D, p.scale = c.scale;
  p.pattern = spec.view();
  return p;
}

json case_header(const CaseSpec& c) {
  return {{"name", c.name}, {"pattern", c.pattern}, {"B", c.B},      {"H", c.H}, {"N", c.N},
          {"D", c.D},       {"scale", c.scale},     {"seed", c.seed}};
}

// A float for JSON, which has no NaN or infinity: those, and the poison, become words.
json value_json(float x) {
  if (never_written(x)) return "never written";
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "+inf" : "-inf";
  return x;
}

// How a stage's refusal reads in a report, by its status.
std::string refusal_text(int32_t status) {
  switch (status) {
    case kSwaInvalidArgument: return "the stage refused the problem as invalid: ";
    case kSwaUnsupported: return "unsupported by the stage: ";
    case kSwaUnsupportedDevice: return "the stage does not run on this GPU: ";
    case kSwaLaunchRejected: return "the stage's launch configuration does not fit this GPU: ";
    default: return "the stage failed (status " + std::to_string(status) + "): ";
  }
}

// A problem in an arena the judge owns, mapped into the stage's runner for as long as this lives.
class AttachedProblem {
 public:
  AttachedProblem(JudgeContext& ctx, RemoteStage& stage, const Problem& p, const PatternSpec& spec, size_t workspace)
      : stage_(stage), arena_(p, spec, workspace, 1, ctx.sharing), id_(stage.attach(arena_)) {}
  ~AttachedProblem() {
    try {
      stage_.detach(id_);
    } catch (...) {  // the runner is gone; its fault is reported by whoever saw it
    }
  }
  ProblemArena& arena() { return arena_; }
  uint32_t id() const { return id_; }

 private:
  RemoteStage& stage_;
  ProblemArena arena_;
  uint32_t id_;
};

// Largest workspace the judge allocates for a stage; more is refused as a failure of the case.
constexpr size_t kMaxWorkspace = size_t{16} << 30;

// Runs the stage once on inputs `in`, output poisoned first. Returns the output, or nullopt with `why`
// (the stage refused the problem, or asked for more workspace than can be given).
std::optional<std::vector<float>> run_case(JudgeContext& ctx, RemoteStage& stage, AttachedProblem& gpu,
                                           const HostInputs& in, std::string* why) {
  gpu.arena().upload(0, in.q, in.k, in.v);
  gpu.arena().poison();
  const RunOutcome r = stage.run(gpu.arena(), gpu.id(), 0, 1, ctx.rubric.silence_timeout_s);
  if (r.status != kSwaOk) {
    *why = refusal_text(r.status) + r.message;
    return std::nullopt;
  }
  return gpu.arena().output(0);
}

std::unique_ptr<AttachedProblem> attach_case(JudgeContext& ctx, RemoteStage& stage, const Problem& p,
                                             const PatternSpec& spec, std::string* why) {
  const size_t workspace = stage.workspace_bytes(p);
  if (workspace > kMaxWorkspace) {
    *why = "the stage asks for " + megabytes(static_cast<double>(workspace)) + " of workspace";
    return nullptr;
  }
  try {
    return std::make_unique<AttachedProblem>(ctx, stage, p, spec, workspace);
  } catch (const CudaError& e) {
    if (e.code() != cudaErrorMemoryAllocation) throw;
    cudaGetLastError();
    *why =
        "could not allocate the inputs and the " + std::to_string(workspace) + " bytes of workspace the stage asks for";
    return nullptr;
  }
}

}  // namespace

json check_result(const char* name, double score, double max_score, const std::string& summary,
                  std::vector<std::string> feedback) {
  const char* status = max_score <= 0 ? "skipped" : score >= max_score - 1e-9 ? "passed" : "failed";
  return {{"name", name},       {"score", score},       {"max_score", max_score}, {"status", status},
          {"summary", summary}, {"feedback", feedback}, {"cases", json::array()}, {"measurements", json::array()}};
}

namespace {

// ---------------------------------------------------------------------------------------------------
// Check 1: correctness
// ---------------------------------------------------------------------------------------------------

struct CaseOutcome {
  json result;
  CaseFacts facts;
};

CaseOutcome correctness_case(JudgeContext& ctx, RemoteStage& stage, const CaseSpec& c, const CaseScope& scope) {
  const Rubric& rubric = ctx.rubric;
  const Tiles tiles{scope.tile_m, scope.tile_n};
  const PatternSpec spec = parse_pattern(c.pattern, c.N, c.seed);
  const Problem p = problem_of(c, spec);
  CaseOutcome out{case_header(c), case_facts(c, spec, scope)};
  CaseFacts& f = out.facts;

  const HostInputs in = random_inputs(p, c.seed, c.amplitude);
  const reference::Result ref = reference::attention(p, in.q.data(), in.k.data(), in.v.data());
  std::string why;
  auto gpu = attach_case(ctx, stage, p, spec, &why);
  if (gpu) {
    if (const auto output = run_case(ctx, stage, *gpu, in, &why)) {
      const std::vector<float>& got = *output;
      const Comparison cmp = compare_output(p, got, ref.o, value_scale(in.v), rubric.tolerance);
      f.passed = cmp.passed();
      f.nothing_written = cmp.nothing_written();
      f.unwritten = cmp.unwritten;
      f.not_finite = cmp.not_finite;
      // Where the unwritten rows and the wrong rows are, for the hints.
      bool unwritten_elsewhere = false, error_in_middle = false;
      for (size_t e = 0; e < got.size(); ++e) {
        const int i = static_cast<int>(e / p.D % p.N);
        if (never_written(got[e]) && !(p.N % tiles.m != 0 && i >= p.N / tiles.m * tiles.m)) unwritten_elsewhere = true;
      }
      for (int i = 0; i < p.N; ++i)
        if (cmp.bad_per_query[i] > 0 && !window_cut_by_sequence(p, i)) error_in_middle = true;
      f.unwritten_only_in_partial_tile = cmp.unwritten > 0 && !unwritten_elsewhere;
      f.errors_only_at_sequence_ends = !cmp.passed() && !error_in_middle;

      out.result["summary"] = cmp.summary();
      json mismatches = json::array();
      for (const Mismatch& m : cmp.first)
        mismatches.push_back({{"b", m.bh / c.H},
                              {"h", m.bh % c.H},
                              {"i", m.i},
                              {"d", m.d},
                              {"expected", m.expected},
                              {"got", value_json(m.got)},
                              {"kind", error_kind_name(m.kind)},
                              {"where", describe_query(p, m.i, tiles)}});
      out.result["mismatches"] = mismatches;
      if (!f.passed) out.result["bad_per_query"] = cmp.bad_per_query;
    }
  }
  if (!why.empty()) out.result["summary"] = why;
  f.refusal = why;
  out.result["passed"] = f.passed;
  return out;
}

}  // namespace

json correctness_check(JudgeContext& ctx, RemoteStage& stage, const StageRubric& points, bool* not_implemented) {
  const CaseScope scope = case_scope(points, stage.declared().info());
  const std::vector<CaseSpec> cases = correctness_cases(scope, ctx.seed);
  const Emit& emit = ctx.emit;
  std::vector<CaseFacts> facts;
  json results = json::array();
  int passed = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    emit({{"type", "progress"},
          {"check", "correctness"},
          {"case", cases[k].name},
          {"index", k},
          {"total", cases.size()}});
    CaseOutcome o = correctness_case(ctx, stage, cases[k], scope);
    passed += o.facts.passed;
    facts.push_back(o.facts);
    results.push_back(std::move(o.result));
  }
  *not_implemented = std::all_of(facts.begin(), facts.end(), [](const CaseFacts& f) { return f.nothing_written; });
  const double score = points.correctness * passed / static_cast<double>(cases.size());
  json check = check_result("correctness", score, points.correctness,
                            std::to_string(passed) + " of " + std::to_string(cases.size()) + " cases passed",
                            correctness_hints(facts));
  check["cases"] = results;
  return check;
}

// ---------------------------------------------------------------------------------------------------
// Check 2: the window constraint
// ---------------------------------------------------------------------------------------------------

// keep_weights: record the recovered and expected weight matrices even if the case passes (they are
// always recorded for a failing case).
namespace {

json window_case(JudgeContext& ctx, RemoteStage& stage, const CaseSpec& c, bool keep_weights, bool* passed) {
  const Rubric& rubric = ctx.rubric;
  const Tiles tiles{stage.declared().tile_m, stage.declared().tile_n};
  const PatternSpec spec = parse_pattern(c.pattern, c.N, c.seed);
  const Problem p = problem_of(c, spec);  // one head
  HostInputs in = random_inputs(p, c.seed);
  json result = case_header(c);
  *passed = false;

  // The weights the reference gives, row by row.
  std::vector<std::vector<double>> expected(p.N);
  for (int i = 0; i < p.N; ++i) expected[i] = reference::attention_weights(p, in.q.data(), in.k.data(), 0, i);

  // With V[j][d] = 1 for j = j0 + d and 0 elsewhere, O[i][d] is the weight query i gives key j0 + d:
  // D keys per run, ceil(N / D) runs for every key.
  std::vector<std::vector<float>> recovered(p.N, std::vector<float>(p.N, 0.f));
  std::string why;
  auto gpu = attach_case(ctx, stage, p, spec, &why);
  for (int j0 = 0; gpu && j0 < p.N; j0 += p.D) {
    std::fill(in.v.begin(), in.v.end(), __float2half(0.f));
    for (int d = 0; d < p.D && j0 + d < p.N; ++d) in.v[p.row_offset(0, j0 + d) + d] = __float2half(1.f);
    const auto output = run_case(ctx, stage, *gpu, in, &why);
    if (!output) break;
    const std::vector<float>& out = *output;
    for (int i = 0; i < p.N; ++i)
      for (int d = 0; d < p.D && j0 + d < p.N; ++d) recovered[i][j0 + d] = out[p.row_offset(0, i) + d];
  }
  if (!why.empty()) {
    result["passed"] = false;
    result["summary"] = why;
    return result;
  }

  std::vector<WeightError> errors;
  size_t outside_bad = 0, inside_bad = 0;
  for (int i = 0; i < p.N; ++i)
    for (int j = 0; j < p.N; ++j) {
      const float got = recovered[i][j];
      const double want = expected[i][j];
      const bool visible = p.pattern.allows(i, j);
      const bool ok = visible ? std::fabs(got - want) <= rubric.window_inside.atol + rubric.window_inside.rtol * want
                              : std::fabs(got) <= rubric.window_outside_max;  // false for NaN and the poison
      if (ok) continue;
      ++(visible ? inside_bad : outside_bad);
      errors.push_back({i, j, want, got, !visible});
    }
  // The weights outside the pattern say most about the mistake (which edge, which side): list them first.
  std::stable_partition(errors.begin(), errors.end(), [](const WeightError& e) { return e.outside; });
  *passed = errors.empty();
  std::ostringstream summary;
  if (*passed)
    summary << "all " << p.N * p.N << " weights right: none outside the pattern above " << rubric.window_outside_max;
  else
    summary << outside_bad << " weights outside the pattern are not 0, " << inside_bad
            << " inside differ from the reference";
  result["passed"] = *passed;
  result["summary"] = summary.str();
  json mismatches = json::array();
  for (size_t k = 0; k < errors.size() && k < 8; ++k) {
    const WeightError& e = errors[k];
    mismatches.push_back({{"b", 0},
                          {"h", 0},
                          {"i", e.i},
                          {"j", e.j},
                          {"expected", e.expected},
                          {"got", value_json(static_cast<float>(e.got))},
                          {"kind", e.outside ? "outside the pattern" : "inside the pattern"},
                          {"where", describe_pair(p, e.i, e.j, tiles)}});
  }
  result["mismatches"] = mismatches;
  result["hints"] = window_hints(p, errors);
  if (keep_weights || !*passed) {  // the matrices, for plots/ (figure 5); 6 decimals are plenty for a weight
    auto rounded = [](double w) { return std::round(w * 1e6) / 1e6; };
    json rec = json::array(), exp = json::array();
    for (int i = 0; i < p.N; ++i) {
      json r = json::array(), x = json::array();
      for (int j = 0; j < p.N; ++j) {
        const json v = value_json(recovered[i][j]);
        r.push_back(v.is_number() ? json(rounded(v.get<double>())) : v);
        x.push_back(rounded(expected[i][j]));
      }
      rec.push_back(std::move(r));
      exp.push_back(std::move(x));
    }
    result["weights"] = {{"recovered", std::move(rec)}, {"expected", std::move(exp)}};
  }
  return result;
}

}  // namespace

json window_check(JudgeContext& ctx, RemoteStage& stage, const StageRubric& points) {
  const std::vector<CaseSpec> cases = window_cases(case_scope(points, stage.declared().info()), ctx.seed);
  const Emit& emit = ctx.emit;
  json results = json::array();
  std::vector<std::string> hints;
  int passed = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    emit({{"type", "progress"}, {"check", "window"}, {"case", cases[k].name}, {"index", k}, {"total", cases.size()}});
    bool ok = false;
    json r = window_case(ctx, stage, cases[k], /*keep_weights=*/k == 0, &ok);
    passed += ok;
    if (r.contains("hints"))
      for (const auto& h : r["hints"])
        if (std::find(hints.begin(), hints.end(), h.get<std::string>()) == hints.end()) hints.push_back(h);
    results.push_back(std::move(r));
  }
  json check = check_result(
      "window", points.window * passed / static_cast<double>(cases.size()), points.window,
      std::to_string(passed) + " of " + std::to_string(cases.size()) + " patterns use exactly the weights they should",
      hints);
  check["cases"] = results;
  return check;
}

// ---------------------------------------------------------------------------------------------------
// ---------------------------------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------------

int CaseScope::base_head_dim() const {
  if (head_dims & head_dim_bit(64)) return 64;
  for (int k = static_cast<int>(std::size(kHeadDims)) - 1; k >= 0; --k)
    if (head_dims & head_dim_bit(kHeadDims[k])) return kHeadDims[k];
  return 64;
}

CaseScope case_scope(const StageRubric& rubric, const SwaStageInfo& declared) {
  const bool tiles_ok =
      declared.tile_m >= 1 && declared.tile_m <= 1024 && declared.tile_n >= 1 && declared.tile_n <= 1024;
  const uint32_t patterns = rubric.patterns != 0 ? rubric.patterns : declared.patterns & kAllPatterns;
  const uint32_t head_dims = rubric.head_dims != 0 ? rubric.head_dims : declared.head_dims;
  return {patterns != 0 ? patterns : pattern_bit(PatternKind::kSlidingWindow), head_dims & kAllHeadDims,
          tiles_ok ? declared.tile_m : kTileM, tiles_ok ? declared.tile_n : kTileN};
}

CaseScope case_scope(const SwaStageInfo& declared) {
  StageRubric as_declared;
  as_declared.patterns = as_declared.head_dims = 0;
  return case_scope(as_declared, declared);
}

uint64_t mix_seed(uint64_t a, uint64_t b) {  // splitmix64 of a combination: independent seeds per case
  uint64_t z = a + 0x9e3779b97f4a7c15ULL * (b + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string megabytes(double bytes) {
  std::ostringstream s;
  s.precision(bytes < 1e7 ? 2 : 0);
  s << std::fixed << bytes / 1e6 << " MB";
  return s.str();
}

CaseFacts case_facts(const CaseSpec& c, const PatternSpec& spec, const CaseScope& scope) {
  CaseFacts f;
  f.name = c.name;
  f.multi_head = c.B * c.H > 1;
  f.partial_tile = c.N % scope.tile_m != 0 || c.N % scope.tile_n != 0;
  f.window_zero = spec.kind != PatternKind::kAdaptive && spec.left == 0 && spec.right == 0;
  f.full_window = spec.kind == PatternKind::kSlidingWindow && spec.left >= c.N - 1 && spec.right >= c.N - 1;
  f.large_inputs = c.amplitude > 1;
  f.scale_one = c.scale == 1.0f;
  f.asymmetric = spec.kind == PatternKind::kSlidingWindow && spec.left != spec.right;
  f.D = c.D;
  f.base_D = scope.base_head_dim();
  f.tiles = Tiles{scope.tile_m, scope.tile_n};
  return f;
}

std::vector<CaseSpec> correctness_cases(const CaseScope& scope, uint64_t seed) {
  const int base = scope.base_head_dim();
  struct Fixed {
    std::string name;
    int B, H, N, D, W;
    bool scale_one;
    float amplitude;
    bool tests_head_dim;  // the case is about its D: dropped where the stage does not take that D
  };
  // Each exercises one difficulty; the name says which. D = 0: the stage's base head dimension.
  std::vector<Fixed> fixed = {
      {"the exercise's sizes: N=2048, W=128, scale 1", 1, 1, 2048, 0, 128, true, 1, false},
      {"N=1: a single query", 1, 1, 1, 0, 128, false, 1, false},
  };
  // Partial tiles: one short of a tile, exactly one, one more, for the query tiles and the key tiles.
  std::vector<int> partial_sizes;
  // The stage's own tiles, and the kit's 64 (a stage's declaration cannot take those cases away).
  for (const auto& [tile, what] :
       {std::pair<int, const char*>{scope.tile_m, "query"}, {scope.tile_n, "key"}, {kTileM, "query"}}) {
    if (tile < 2) continue;  // a "tile" of one position is never partial
    const std::string of = scope.tile_m == scope.tile_n ? "tile" : std::string(what) + " tile";
    const std::pair<int, std::string> sizes[] = {
        {tile - 1, "one partial " + of}, {tile, "exactly one " + of}, {tile + 1, "a partial last " + of}};
    for (const auto& [N, name] : sizes) {
      if (N < 2 || std::find(partial_sizes.begin(), partial_sizes.end(), N) != partial_sizes.end()) continue;
      partial_sizes.push_back(N);
      fixed.push_back({"N=" + std::to_string(N) + ": " + name, 1, 2, N, 0, N == tile + 1 ? 20 : 32, false, 1, false});
    }
  }
  const std::vector<Fixed> more = {
      {"W=0: each query sees only itself", 1, 1, 257, 0, 0, false, 1, false},
      {"W=1", 1, 1, 257, 32, 1, false, 1, false},
      {"N=1013, W=127", 1, 1, 1013, 0, 127, false, 1, false},
      {"N=1013, W=129", 1, 1, 1013, 0, 129, false, 1, false},
      {"W >= N: full attention", 1, 1, 300, 0, 300, false, 1, false},
      {"W far beyond N", 1, 1, 200, 0, 1000000, false, 1, false},
      {"B=2, H=3: batch and head strides", 2, 3, 130, 0, 40, false, 1, false},
      {"D=16", 1, 2, 200, 16, 50, false, 1, true},
      {"D=32", 1, 2, 200, 32, 50, false, 1, true},
      {"D=128", 1, 2, 200, 128, 50, false, 1, true},
      {"D=128, scale 1", 1, 1, 333, 128, 77, true, 1, true},
      {"inputs up to |100|", 1, 2, 500, 0, 128, false, 100, false},
  };
  fixed.insert(fixed.end(), more.begin(), more.end());

  std::vector<int> dims;  // the head dimensions to draw random cases from
  for (int D : kHeadDims)
    if (scope.head_dims & head_dim_bit(D)) dims.push_back(D);
  if (dims.empty()) dims.push_back(base);

  std::vector<CaseSpec> cases;
  std::mt19937_64 rng(seed);
  int index = 0;
  for (int k = 0; k < kNumPatternKinds; ++k) {
    const PatternKind kind = static_cast<PatternKind>(k);
    if ((scope.patterns & pattern_bit(kind)) == 0) continue;
    const std::string prefix = scope.patterns == pattern_bit(kind) ? "" : std::string(pattern_name(kind)) + ", ";
    for (const Fixed& f : fixed) {
      const bool declared = f.D != 0 && (scope.head_dims & head_dim_bit(f.D)) != 0;
      if (f.tests_head_dim && !declared) continue;
      const int D = declared ? f.D : base;
      const float scale = f.scale_one ? 1.0f : default_scale(D);
      const std::string name = f.name == fixed.front().name
                                   ? "the exercise's sizes: N=2048, D=" + std::to_string(D) + ", W=128, scale 1"
                                   : f.name;
      cases.push_back(
          {prefix + name, f.B, f.H, f.N, D, scale, pattern_text(kind, f.W, f.N), f.amplitude, mix(seed, index++)});
    }
    if (kind == PatternKind::kSlidingWindow)
      cases.push_back({prefix + "a window with different sides: 7 left, 90 right", 1, 2, 300, base, default_scale(base),
                       "sliding:7:90", 1, mix(seed, index++)});
    // Random shapes, new every run (the seed in the report repeats them).
    const int random_cases = scope.patterns == pattern_bit(kind) ? 3 : 1;
    for (int r = 0; r < random_cases; ++r) {
      const int N = std::uniform_int_distribution<int>(1, 1500)(rng);
      const int W = std::uniform_int_distribution<int>(0, 300)(rng);
      const int D = dims[std::uniform_int_distribution<size_t>(0, dims.size() - 1)(rng)];
      const int B = std::uniform_int_distribution<int>(1, 2)(rng), H = std::uniform_int_distribution<int>(1, 3)(rng);
      const float scale = std::uniform_int_distribution<int>(0, 1)(rng) ? 1.0f : default_scale(D);
      const std::string text = pattern_text(kind, W, N);
      cases.push_back({prefix + "random: B=" + std::to_string(B) + " H=" + std::to_string(H) +
                           " N=" + std::to_string(N) + " D=" + std::to_string(D) + " " + text,
                       B, H, N, D, scale, text, 1, mix(seed, index++)});
    }
  }
  return cases;
}

std::vector<CaseSpec> window_cases(const CaseScope& scope, uint64_t seed) {
  // N = 150: three query tiles of 64, the last one partial; with D = 64, ceil(150/64) = 3 runs of one-hot
  // V columns recover every weight (D = 128: 2 runs).
  const int D = scope.base_head_dim();
  const float scale = default_scale(D);
  std::vector<std::pair<PatternKind, std::vector<std::string>>> by_kind;  // every kind's examples (pattern_spec.h)
  for (int k = 0; k < kNumPatternKinds; ++k)
    by_kind.emplace_back(static_cast<PatternKind>(k), example_pattern_texts(static_cast<PatternKind>(k), 37, 150));
  std::vector<CaseSpec> cases;
  int index = 0;
  for (const auto& [kind, texts] : by_kind) {
    if ((scope.patterns & pattern_bit(kind)) == 0) continue;
    for (const std::string& text : texts)
      cases.push_back({"weights of " + text + ", N=150", 1, 1, 150, D, scale, text, 1, mix(seed, 500 + index++)});
  }
  return cases;
}
}  // namespace swa
