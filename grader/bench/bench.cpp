// bench.cpp: the benchmark sweep.
#include "bench.h"

#include <cuda_runtime_api.h>

#include <cstdio>
#include <iomanip>
#include <memory>
#include <ostream>
#include <sstream>

#include "compare.h"
#include "cuda_check.h"
#include "environment.h"
#include "inputs.h"
#include "pattern_spec.h"
#include "stage_library.h"

namespace swa {
namespace {

using nlohmann::json;

json measure(const StageLibrary& stage, Problem p, const PatternSpec& spec, const HostInputs& in, bool check,
             const TimingOptions& timing, cudaStream_t stream) {
  p.pattern = spec.view();
  const size_t workspace = stage.api().workspace_bytes(&p);
  size_t free_bytes = 0, total_bytes = 0;
  SWA_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  const double need = static_cast<double>(p.num_elements()) * (3 * sizeof(__half) + sizeof(float)) + workspace;
  if (need > 0.85 * static_cast<double>(free_bytes)) {
    std::ostringstream why;
    why << std::fixed << std::setprecision(1) << "needs " << need / 1e9 << " GB of GPU memory, " << free_bytes / 1e9
        << " GB free";
    return {{"skipped", why.str()}};
  }
  DeviceProblem gpu(p, spec, workspace);
  gpu.upload(in);
  gpu.poison_output();
  const Timing t = time_stage(stage.api(), gpu, timing, stream);
  const long long pairs = count_allowed_pairs(spec, p.N);
  json r = {{"median_ms", t.median_ms},    {"min_ms", t.min_ms},
            {"max_ms", t.max_ms},          {"runs", t.runs},
            {"pairs_per_head", pairs},     {"useful_tflops", useful_tflops(p, pairs, t.median_ms)},
            {"workspace_bytes", workspace}};
  if (check) {
    const Comparison c = compare_heads(p, in, gpu.output(), {0, p.batch_heads() - 1});
    r["check"] = c.passed() ? "passed" : "FAILED: " + c.summary();
  }
  return r;
}

}  // namespace

std::vector<BenchShape> standard_shapes(const std::vector<int>& fill_sizes, int D) {
  std::vector<BenchShape> shapes;
  for (int N : {512, 1024, 2048}) shapes.push_back({1, 1, N, D, "exercise"});
  for (int N : fill_sizes) shapes.push_back({4, 16, N, D, "fill"});
  return shapes;
}

json run_benchmarks(const BenchOptions& o, std::ostream& progress) {
  const std::vector<std::string> names = o.stages.empty() ? list_stages(o.stages_dir, o.variant) : o.stages;
  if (names.empty())
    throw std::runtime_error("no " + o.variant + " stage libraries under " + o.stages_dir + " (build first)");
  std::vector<std::unique_ptr<StageLibrary>> stages;
  for (const std::string& name : names)
    stages.push_back(std::make_unique<StageLibrary>(stage_path(o.stages_dir, o.variant, name)));

  json out = {{"schema", "swa-bench/1"},
              {"gpu", gpu_description()},
              {"date", utc_now()},
              {"commit", source_commit()},
              {"variant", o.variant},
              {"settings",
               {{"warmup", o.timing.warmup},
                {"min_repeats", o.timing.min_repeats},
                {"l2_flush", o.timing.flush_l2},
                {"statistic", "median"}}},
              {"results", json::array()}};
  cudaStream_t stream;
  SWA_CUDA_CHECK(cudaStreamCreate(&stream));
  uint64_t seed = 1;
  for (const BenchShape& shape : o.shapes) {
    Problem p;
    p.B = shape.B, p.H = shape.H, p.N = shape.N, p.D = shape.D;
    p.scale = default_scale(shape.D);
    const PatternSpec full = PatternSpec::sliding(shape.N);  // W >= N: every key
    const HostInputs in = random_inputs(p, seed++);
    for (const std::string& pattern : o.patterns) {
      for (const auto& stage : stages) {
        const PatternSpec spec = parse_pattern(pattern, shape.N, seed);
        json r = {
            {"stage", stage->name()}, {"variant", o.variant}, {"group", shape.group}, {"pattern", spec.to_string()},
            {"B", shape.B},           {"H", shape.H},         {"N", shape.N},         {"D", shape.D}};
        if (!stage->supports(spec.kind)) {
          r["skipped"] = "does not implement the " + std::string(pattern_name(spec.kind)) + " pattern";
          out["results"].push_back(r);
          continue;
        }
        r["window"] = measure(*stage, p, spec, in, o.check, o.timing, stream);
        r["tile_bound"] = tile_count_bound(spec.view(), shape.N);
        if (o.with_full) {
          r["full"] = measure(*stage, p, full, in, false, o.timing, stream);
          if (r["window"].contains("median_ms") && r["full"].contains("median_ms"))
            r["speedup"] = r["full"]["median_ms"].get<double>() / r["window"]["median_ms"].get<double>();
        }
        progress << "  " << stage->name() << "  B=" << shape.B << " H=" << shape.H << " N=" << shape.N << "  "
                 << (r["window"].contains("median_ms") ? std::to_string(r["window"]["median_ms"].get<double>()) + " ms"
                                                       : r["window"].value("skipped", std::string("?")))
                 << std::endl;
        out["results"].push_back(r);
      }
    }
  }
  cudaStreamDestroy(stream);
  return out;
}

void print_bench_table(const json& results, std::ostream& os) {
  os << "GPU: " << results.value("gpu", "?") << "   pattern speeds: median of timed runs, L2 flushed; useful TFLOP/s = "
     << "4*D per unmasked (i, j) pair\n";
  char line[256];
  std::snprintf(line, sizeof(line), "%-18s %-9s %-16s %-14s %10s %8s %10s %8s %8s %7s %s\n", "stage", "group",
                "B,H,N,D", "pattern", "window ms", "TFLOP/s", "full ms", "TFLOP/s", "speedup", "bound", "check");
  os << line;
  for (const json& r : results["results"]) {
    const std::string shape = std::to_string(r["B"].get<int>()) + "," + std::to_string(r["H"].get<int>()) + "," +
                              std::to_string(r["N"].get<int>()) + "," + std::to_string(r["D"].get<int>());
    if (r.contains("skipped")) {
      std::snprintf(line, sizeof(line), "%-18s %-9s %-16s skipped: %s\n", r["stage"].get<std::string>().c_str(),
                    r["group"].get<std::string>().c_str(), shape.c_str(), r["skipped"].get<std::string>().c_str());
      os << line;
      continue;
    }
    auto ms = [&](const char* key) -> std::string {
      if (!r.contains(key)) return "-";
      if (r[key].contains("skipped")) return "skipped";
      char b[32];
      std::snprintf(b, sizeof(b), "%.4f", r[key]["median_ms"].get<double>());
      return b;
    };
    auto tf = [&](const char* key) -> std::string {
      if (!r.contains(key) || !r[key].contains("useful_tflops")) return "-";
      char b[32];
      std::snprintf(b, sizeof(b), "%.2f", r[key]["useful_tflops"].get<double>());
      return b;
    };
    char speedup[32] = "-", bound[32] = "-";
    if (r.contains("speedup")) std::snprintf(speedup, sizeof(speedup), "%.2fx", r["speedup"].get<double>());
    if (r.contains("tile_bound")) std::snprintf(bound, sizeof(bound), "%.2fx", r["tile_bound"].get<double>());
    std::snprintf(line, sizeof(line), "%-18s %-9s %-16s %-14s %10s %8s %10s %8s %8s %7s %s\n",
                  r["stage"].get<std::string>().c_str(), r["group"].get<std::string>().c_str(), shape.c_str(),
                  r["pattern"].get<std::string>().c_str(), ms("window").c_str(), tf("window").c_str(),
                  ms("full").c_str(), tf("full").c_str(), speedup, bound,
                  r["window"].value("check", std::string("-")).c_str());
    os << line;
  }
}

}  // namespace swa
