// speed_check.cpp: the speed check, the time limit of stages 01-02, and the clean baseline (checks.h).
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "baselines/baselines.h"
#include "checks.h"
#include "pattern_spec.h"
#include "reference_timings.h"
#include "timed_problem.h"
#include "timing.h"

namespace swa {
namespace {

using nlohmann::json;

// A batch's wall time, aimed at: the request and reply (~30 us) stay under 1% of it. The input sets cap a
// batch (one set per launch): at (4, 16, 4096) 14 sets make a fast stage's batch ~2 ms, the request ~1.5%.
constexpr double kBatchMs = 20;
constexpr int kRounds = 5;  // stage batch, baseline batch, five times
constexpr size_t kSetBudget = size_t{4} << 30;  // bytes of input sets per shape
constexpr int kMaxSets = 1024;

struct Shape {
  int B, H, N;
};

std::string shape_text(const Shape& s) {
  return "B=" + std::to_string(s.B) + " H=" + std::to_string(s.H) + " N=" + std::to_string(s.N);
}

Problem speed_problem(const Shape& s, const PatternSpec& spec) {
  Problem p;
  p.B = s.B, p.H = s.H, p.N = s.N, p.D = kBaselineHeadDim, p.scale = default_scale(kBaselineHeadDim);
  p.pattern = spec.view();
  return p;
}

int sets_for(const Problem& p) {
  const size_t set_bytes = p.num_elements() * (3 * sizeof(__half) + 3 * sizeof(float));
  return static_cast<int>(std::clamp<size_t>(kSetBudget / set_bytes, 2, kMaxSets));
}

// What one shape's timing found.
struct ShapeTiming {
  std::string refusal;  // the stage refused the problem (unsupported, ...)
  std::vector<std::string> violations;  // named failures of the timed runs
  double stage_ms = 0, baseline_ms = 0;  // medians per launch
  int launches = 0, rounds = 0;
  double overhead_ms = 0;  // one request and reply with no launch: what the judge's clock adds to a batch
};

// Times the stage and the baseline in turn on one shape.
ShapeTiming time_shape(JudgeContext& ctx, RemoteStage& stage, const Shape& s, const PatternSpec& spec,
                       const std::string& engine, uint64_t seed) {
  ShapeTiming out;
  const Problem p = speed_problem(s, spec);
  const size_t workspace = stage.workspace_bytes(p);
  if (workspace > (size_t{16} << 30)) {
    out.refusal = "the stage asks for " + megabytes(static_cast<double>(workspace)) + " of workspace";
    return out;
  }
  TimedProblem timed(ctx, p, spec, workspace, sets_for(p));
  const uint32_t id = stage.attach(timed.arena());
  const SwaStageApi& baseline = full_attention_baseline(engine);
  std::vector<double> stage_ms, base_ms;
  {  // the cost of the clock's method itself: a request and reply with no launch
    std::vector<double> empty;
    for (int k = 0; k < 5; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      stage.run(timed.arena(), id, 0, 0, ctx.rubric.silence_timeout_s, /*check_code_after=*/false);
      empty.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    out.overhead_ms = median(empty);
  }
  // A first, short batch warms both up and says how many launches fill kBatchMs.
  int count = timed.min_sets();
  for (int round = -1; round < kRounds; ++round) {
    timed.prepare(mix_seed(seed, 100 + round), count);
    if (round == -1) timed.validate_reference();
    const TimedProblem::StageBatch b = timed.stage_batch(stage, id, count);
    if (b.outcome.status != kSwaOk) {
      out.refusal = "the stage refused the timed problem: " + b.outcome.message;
      break;
    }
    out.violations = timed.verdicts(b);
    if (!out.violations.empty()) break;
    bool busy = false;
    const double base = timed.baseline_batch(baseline, count, &busy);
    if (busy) {  // the runner is frozen: what keeps the GPU busy is work it left running
      out.violations.push_back("the GPU was busy while the baseline was timed");
      break;
    }
    if (round == -1) {
      count =
          std::clamp(static_cast<int>(kBatchMs / std::max(b.ms_per_launch, 1e-3)), timed.min_sets(), timed.max_sets());
      continue;
    }
    stage_ms.push_back(b.ms_per_launch);
    base_ms.push_back(base);
    // A slow stage (a CPU one, say) gets fewer rounds: its time is clear long before five.
    if (b.ms_per_launch * count > 2000 && round >= 1) break;
  }
  stage.process().thaw();  // left frozen by the last batch
  stage.detach(id);
  out.stage_ms = median(stage_ms);
  out.baseline_ms = median(base_ms);
  out.launches = count;
  out.rounds = static_cast<int>(stage_ms.size());
  return out;
}

// The baseline's time for a shape: the smaller of the alternated median and the clean one, so that a
// runner that slows the GPU down while the baseline runs cannot lower its own target.
double fair_baseline(JudgeContext& ctx, const std::string& engine, const Shape& s, const ShapeTiming& t,
                     bool* inflated) {
  const auto it = ctx.calibration.clean_baseline_ms.find(baseline_key(engine, s.B, s.H, s.N));
  if (it == ctx.calibration.clean_baseline_ms.end()) return t.baseline_ms;
  *inflated = t.baseline_ms > 1.25 * it->second + 0.002;
  return std::min(t.baseline_ms, it->second);
}

}  // namespace

std::string baseline_key(const std::string& engine, int B, int H, int N) {
  return engine + " B=" + std::to_string(B) + " H=" + std::to_string(H) + " N=" + std::to_string(N);
}

double clean_baseline_ms(JudgeContext& ctx, const std::string& engine, int B, int H, int N) {
  const Shape s{B, H, N};
  const PatternSpec spec = PatternSpec::sliding(N);
  const Problem p = speed_problem(s, spec);
  TimedProblem timed(ctx, p, spec, 0, sets_for(p));
  const SwaStageApi& baseline = full_attention_baseline(engine);
  bool busy = false;
  timed.prepare(mix_seed(ctx.seed, 90), timed.min_sets(), /*with_references=*/false);
  const double first = timed.baseline_batch(baseline, timed.min_sets(), &busy);
  const int count = std::clamp(static_cast<int>(kBatchMs / std::max(first, 1e-3)), timed.min_sets(), timed.max_sets());
  std::vector<double> times;
  for (int round = 0; round < 3; ++round) {
    timed.prepare(mix_seed(ctx.seed, 91 + round), count, /*with_references=*/false);
    times.push_back(timed.baseline_batch(baseline, count, &busy));
  }
  return median(times);
}

json speed_check(JudgeContext& ctx, RemoteStage& stage, const std::string& name, const StageRubric& points,
                 std::vector<std::string>* violations) {
  std::vector<Shape> shapes;  // the exercise's single heads, then a size that fills the GPU
  for (int N : kSpeedSequenceLengths) shapes.push_back(N < 4096 ? Shape{1, 1, N} : Shape{4, 16, N});
  // The bound behind the target counts the rubric's tiles where it pins them (a stage cannot lower its
  // target by declaring large tiles), else the stage's own.
  const int tile_m = points.speed_tile_m > 0 ? points.speed_tile_m : stage.declared().tile_m;
  const int tile_n = points.speed_tile_n > 0 ? points.speed_tile_n : stage.declared().tile_n;
  json measurements = json::array();
  double total = 0;
  std::ostringstream summary;
  std::vector<std::string> hints;
  for (size_t k = 0; k < shapes.size(); ++k) {
    const Shape& s = shapes[k];
    ctx.emit(
        {{"type", "progress"}, {"check", "speed"}, {"case", shape_text(s)}, {"index", k}, {"total", shapes.size()}});
    const PatternSpec spec = parse_pattern(points.speed_pattern, s.N, ctx.seed);
    const Problem p = speed_problem(s, spec);
    json m = {{"B", s.B},
              {"H", s.H},
              {"N", s.N},
              {"D", p.D},
              {"pattern", points.speed_pattern},
              {"baseline", points.speed_baseline}};
    const auto shape_start = std::chrono::steady_clock::now();
    const ShapeTiming t = time_shape(ctx, stage, s, spec, points.speed_baseline, mix_seed(ctx.seed, 700 + k));
    m["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - shape_start).count();
    double fraction = 0;
    if (!t.refusal.empty()) {
      m["error"] = t.refusal;
      summary << (k ? ", " : "") << "N=" << s.N << ": " << t.refusal;
    } else if (!t.violations.empty()) {
      m["error"] = t.violations.front();
      m["check_after_timing"] = "FAILED: " + t.violations.front();
      summary << (k ? ", " : "") << "N=" << s.N << ": " << t.violations.front();
      for (const std::string& v : t.violations) violations->push_back("speed, " + shape_text(s) + ": " + v);
    } else {
      bool inflated = false;
      const double baseline_ms = fair_baseline(ctx, points.speed_baseline, s, t, &inflated);
      const TileBounds bounds = tile_bounds(spec.view(), s.N, tile_m, tile_n);
      const double bound = std::min(bounds.average, bounds.busiest);
      const double speedup = baseline_ms / t.stage_ms;
      const double goal = points.speed_target * bound;
      fraction = speed_fraction(speedup, goal);
      m.update({{"median_ms", t.stage_ms},
                {"runs", t.launches * t.rounds},
                {"launches_per_batch", t.launches},
                {"batches", t.rounds},
                {"request_overhead_ms", t.overhead_ms},
                {"request_overhead_share", t.overhead_ms / (t.stage_ms * t.launches)},
                {"baseline_ms", baseline_ms},
                {"baseline_alternated_ms", t.baseline_ms},
                {"speedup", speedup},
                {"target", goal},
                {"tile_bound", bound},
                {"tiles", std::to_string(tile_m) + "x" + std::to_string(tile_n)},
                {"score", fraction * points.speed / shapes.size()},
                {"useful_tflops", useful_tflops(p, count_allowed_pairs(spec, s.N), t.stage_ms)},
                {"check_after_timing", "passed: every output of every timed run"}});
      if (inflated) {
        m["note"] = "the GPU was busy while the baseline was timed; the baseline's clean time was used";
        violations->push_back("speed, " + shape_text(s) + ": the GPU was busy while the baseline was timed");
      }
      if (const auto scaled = solution_time_ms(ctx.reference_timings, name, shape_text(s), baseline_ms)) {
        m["solution_ms"] = *scaled;
        m["time_vs_solution"] = t.stage_ms / *scaled;
      }
      ctx.recorded[name]["shapes"][shape_text(s)] = {
          {"stage_ms", t.stage_ms}, {"baseline_ms", baseline_ms}, {"baseline", points.speed_baseline}};
      char line[200];
      std::snprintf(line, sizeof(line), "%sN=%d%s: %.2fx (target %.2fx)", k ? ", " : "", s.N,
                    s.B * s.H > 1 ? " B*H=64" : "", speedup, goal);
      summary << line;
    }
    total += fraction;
    measurements.push_back(std::move(m));
  }
  if (total < shapes.size() - 1e-9)
    hints.push_back(
        "Below the speed target: visit only the key tiles the pattern reaches, mask only the partial "
        "ones, and keep the inner loops free of per-element branches (README.md of this stage).");
  if (!violations->empty())
    hints.insert(hints.begin(),
                 "The timed runs must each compute their own output, on the GPU, before the stage "
                 "returns: every output of every timed run is checked (docs/grading.md, \"Speed\").");
  json check = check_result(
      "speed", points.speed * total / shapes.size(), points.speed,
      "speedup over the grader's full-attention baseline (" + points.speed_baseline + "): " + summary.str(), hints);
  check["measurements"] = measurements;
  return check;
}

json time_limit(JudgeContext& ctx, RemoteStage& stage, const std::string& name, const StageRubric& points,
                std::vector<std::string>* violations, bool* too_slow) {
  *too_slow = false;
  const Shape s{4, 16, 4096};
  const PatternSpec spec = parse_pattern("sliding:128", s.N);
  ctx.emit({{"type", "progress"}, {"check", "time limit"}, {"case", shape_text(s)}, {"index", 0}, {"total", 1}});
  const ShapeTiming t = time_shape(ctx, stage, s, spec, "cuda_core", mix_seed(ctx.seed, 800));
  json m = {{"B", s.B}, {"H", s.H}, {"N", s.N}, {"D", kBaselineHeadDim}, {"pattern", "sliding:128"}};
  if (!t.refusal.empty() || !t.violations.empty()) {
    m["error"] = t.refusal.empty() ? t.violations.front() : t.refusal;
    for (const std::string& v : t.violations) violations->push_back("time limit: " + v);
    return m;
  }
  bool inflated = false;
  const double baseline_ms = fair_baseline(ctx, "cuda_core", s, t, &inflated);
  m.update({{"median_ms", t.stage_ms}, {"baseline_ms", baseline_ms}, {"runs", t.launches * t.rounds}});
  ctx.recorded[name]["time_limit"] = {
      {"stage_ms", t.stage_ms}, {"baseline_ms", baseline_ms}, {"baseline", "cuda_core"}};
  const auto scaled = solution_time_ms(ctx.reference_timings, name, "time_limit", baseline_ms);
  // Without recorded timings, a generous multiple of the full-attention baseline stands in.
  const double limit = scaled ? points.time_limit_factor * *scaled : 10.0 * baseline_ms;
  m["limit_ms"] = limit;
  m["limit_from"] = scaled ? "the solution's recorded time x " + std::to_string(points.time_limit_factor)
                           : std::string("no recorded timings: 10 x the full-attention baseline");
  *too_slow = points.time_limit_factor > 0 && t.stage_ms > limit;
  return m;
}

}  // namespace swa
