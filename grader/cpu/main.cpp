// main.cpp: `swa-cpu`, the CPU check of a stage: its own kernel.cu, compiled for the host (cuda_cpu.h),
// through the grader's correctness and window cases, with the grader's feedback. For writing code on a
// machine without an NVIDIA GPU; the GPU grade is the one that counts.
//
//   swa-cpu 04                    check stages/04_*/kernel.cu (build/<preset>/stages/cpu-student/04_*.so)
//   swa-cpu 04 --variant solution the instructor's solution
//   swa-cpu 04 --max-n 300        only cases with N <= 300 (the default is 512)
//
// Exit status: 0 every case passed, 1 something failed, 2 bad command line, 4 not implemented.
#include <dlfcn.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <sstream>

#include "checks.h"
#include "compare.h"
#include "feedback.h"
#include "inputs.h"
#include "pattern_spec.h"
#include "reference.h"
#include "rubric.h"

namespace {

using namespace swa;

const SwaStageApi* load(const std::string& path, std::string* why) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    *why = std::string("cannot load ") + path + ": " + dlerror();
    return nullptr;
  }
  const auto entry = reinterpret_cast<SwaStageApiFn>(dlsym(handle, SWA_STAGE_API_SYMBOL));
  const SwaStageApi* api = entry ? entry() : nullptr;
  if (api == nullptr || api->abi_version != kSwaAbiVersion) {
    *why = path + ": not a stage library of this kit (rebuild it)";
    return nullptr;
  }
  return api;
}

Problem problem_of(const CaseSpec& c, const PatternSpec& spec) {
  Problem p;
  p.B = c.B, p.H = c.H, p.N = c.N, p.D = c.D, p.scale = c.scale;
  p.pattern = spec.view();
  return p;
}

// Runs the stage on host buffers with the output and workspace poisoned, the block's threads in forward
// or reverse order. "" on success, else why it refused.
std::string run(const SwaStageApi& stage, const Problem& p, const HostInputs& in, bool reverse,
                std::vector<float>* out) {
  setenv("SWA_CPU_ORDER", reverse ? "reverse" : "forward", 1);
  out->assign(p.num_elements(), 0.f);
  std::memset(out->data(), 0xff, out->size() * sizeof(float));  // the poison (compare.h)
  std::vector<unsigned char> workspace(stage.workspace_bytes(&p), 0xff);
  const Tensors t{in.q.data(), in.k.data(), in.v.data(), out->data()};
  char error[512] = {};
  const int32_t status = stage.forward(&p, &t, {workspace.data(), workspace.size()}, nullptr, error, sizeof(error));
  return status == kSwaOk ? "" : std::string(error);
}

// Whether two runs of the same case differ: a value apart by more than float rounding, or NaN in one only.
bool outputs_differ(const std::vector<float>& a, const std::vector<float>& b) {
  for (size_t e = 0; e < a.size(); ++e) {
    if (std::isnan(a[e]) || std::isnan(b[e])) {
      if (std::isnan(a[e]) != std::isnan(b[e])) return true;
    } else if (!(std::fabs(a[e] - b[e]) <= 1e-5f * (1.f + std::fabs(a[e])))) {
      return true;
    }
  }
  return false;
}

struct CpuCase {
  CaseFacts facts;  // what the grader's hints read
  bool order_dependent = false;  // the two thread orders gave different outputs: a race
};

// One correctness case, in both thread orders.
CpuCase correctness_case(const SwaStageApi& stage, const CaseSpec& c, const CaseScope& scope, bool verbose) {
  const PatternSpec spec = parse_pattern(c.pattern, c.N, c.seed);
  const Problem p = problem_of(c, spec);
  const Tiles tiles{scope.tile_m, scope.tile_n};
  CpuCase out{case_facts(c, spec, scope)};
  CaseFacts& f = out.facts;
  const HostInputs in = random_inputs(p, c.seed, c.amplitude);
  const reference::Result ref = reference::attention(p, in.q.data(), in.k.data(), in.v.data());
  std::ostringstream report;
  f.passed = true;
  f.nothing_written = true;
  std::vector<float> outputs[2];
  size_t shown = verbose ? 8 : 2;  // wrong elements listed: those of the first failing order
  for (bool reverse : {false, true}) {
    std::vector<float>& got = outputs[reverse];
    f.refusal = run(stage, p, in, reverse, &got);
    if (!f.refusal.empty()) {
      f.passed = f.nothing_written = false;
      report << "    refused: " << f.refusal << "\n";
      break;
    }
    const Comparison cmp = compare_output(p, got, ref.o, value_scale(in.v));
    f.nothing_written = f.nothing_written && cmp.nothing_written();
    f.unwritten = std::max(f.unwritten, cmp.unwritten);
    f.not_finite = std::max(f.not_finite, cmp.not_finite);
    if (cmp.passed()) continue;
    f.passed = false;
    report << "    threads in " << (reverse ? "reverse" : "forward") << " order: " << cmp.summary() << "\n";
    for (size_t k = 0; k < cmp.first.size() && k < shown; ++k) {
      const Mismatch& m = cmp.first[k];
      report << "      O[b=" << m.bh / c.H << ", h=" << m.bh % c.H << ", i=" << m.i << ", d=" << m.d
             << "] = " << (never_written(m.got) ? std::string("never written") : std::to_string(m.got)) << ", expected "
             << m.expected << " (" << describe_query(p, m.i, tiles) << ")\n";
    }
    if (!verbose) shown = 0;
  }
  if (f.refusal.empty() && outputs_differ(outputs[0], outputs[1])) {
    out.order_dependent = true;
    report << "    the output changes with the order the block's threads run in: a race (a missing __syncthreads())\n";
  }
  std::cout << "  " << (f.passed ? "PASS " : "FAIL ") << c.name << "\n" << report.str();
  return out;
}

// One window case: the weights the stage gives each key, from one-hot V columns, against the pattern.
bool window_case(const SwaStageApi& stage, const CaseSpec& c, const Tiles& tiles, std::vector<std::string>* hints) {
  const PatternSpec spec = parse_pattern(c.pattern, c.N, c.seed);
  const Problem p = problem_of(c, spec);
  HostInputs in = random_inputs(p, c.seed);
  const Rubric rubric = default_rubric();  // the grader's tolerances for weights
  std::vector<std::vector<double>> want(p.N);
  for (int i = 0; i < p.N; ++i) want[i] = reference::attention_weights(p, in.q.data(), in.k.data(), 0, i);
  std::vector<WeightError> errors;
  for (int j0 = 0; j0 < p.N; j0 += p.D) {
    std::fill(in.v.begin(), in.v.end(), __float2half(0.f));
    for (int d = 0; d < p.D && j0 + d < p.N; ++d) in.v[p.row_offset(0, j0 + d) + d] = __float2half(1.f);
    std::vector<float> got;
    const std::string why = run(stage, p, in, false, &got);
    if (!why.empty()) {
      std::cout << "  FAIL " << c.name << ": refused: " << why << "\n";
      return false;
    }
    for (int i = 0; i < p.N; ++i)
      for (int d = 0; d < p.D && j0 + d < p.N; ++d) {
        const int j = j0 + d;
        const float w = got[p.row_offset(0, i) + d];
        const bool visible = p.pattern.allows(i, j);
        const bool ok =
            visible ? std::fabs(w - want[i][j]) <= rubric.window_inside.atol + rubric.window_inside.rtol * want[i][j]
                    : std::fabs(w) <= rubric.window_outside_max;  // false for NaN and the poison
        if (!ok) errors.push_back({i, j, want[i][j], w, !visible});
      }
  }
  std::stable_partition(errors.begin(), errors.end(), [](const WeightError& e) { return e.outside; });
  std::cout << "  " << (errors.empty() ? "PASS " : "FAIL ") << c.name << "\n";
  for (size_t k = 0; k < errors.size() && k < 3; ++k)
    std::cout << "    query " << errors[k].i << ", key " << errors[k].j << ": weight " << errors[k].got << ", expected "
              << errors[k].expected << " (" << describe_pair(p, errors[k].i, errors[k].j, tiles) << ")\n";
  for (const std::string& h : window_hints(p, errors))
    if (std::find(hints->begin(), hints->end(), h) == hints->end()) hints->push_back(h);
  return errors.empty();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Check a stage on the CPU (no GPU needed): its kernel.cu compiled for the host, through the "
      "grader's correctness and window cases. The GPU grade is the one that counts."};
  std::string stage_name, variant = "student", stages_dir = SWA_CPU_STAGE_DIR;
  int max_n = 512;
  uint64_t seed = 0;
  bool verbose = false;
  app.add_option("stage", stage_name, "the stage, by name or number (04)")->required();
  app.add_option("--variant", variant, "student (stages/), solution (solutions/) or planted (the check's own tests)")
      ->check(CLI::IsMember({"student", "solution", "planted"}))
      ->capture_default_str();
  app.add_option("--stages-dir", stages_dir, "where the CPU stage libraries are")->capture_default_str();
  app.add_option("--max-n", max_n, "only cases with N up to this")->check(CLI::Range(1, 4096))->capture_default_str();
  app.add_option("--seed", seed, "seed of the random cases (default: a new one)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 62));
  app.add_flag("-v,--verbose", verbose, "show more of each failing case");
  CLI11_PARSE(app, argc, argv);

  const std::filesystem::path dir = std::filesystem::path(stages_dir) / ("cpu-" + variant);
  std::string path;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().stem().string();
    if (entry.path().extension() == ".so" && (name == stage_name || name.rfind(stage_name + "_", 0) == 0))
      path = entry.path().string();
  }
  if (path.empty()) {
    std::cerr << "swa-cpu: no CPU build of stage '" << stage_name << "' in " << dir.string()
              << " (the CPU check covers the CUDA-core stages 01-05; build them with "
                 "`cmake --build --preset <preset> --target cpu_stages`)\n";
    return 2;
  }
  std::string why;
  const SwaStageApi* stage = load(path, &why);
  if (stage == nullptr) {
    std::cerr << "swa-cpu: " << why << "\n";
    return 2;
  }
  if (seed == 0) seed = std::random_device{}() % 1000000000u + 1;
  const SwaStageInfo& info = stage->info;
  const Tiles tiles{info.tile_m, info.tile_n};
  std::cout << "CPU check of " << info.name << " (" << path << "), seed " << seed << ", cases with N <= " << max_n
            << "\nEvery block's threads take turns (forward, then reverse order), so a missing __syncthreads "
               "shows every time. It cannot show speed, races that need real timing, or the tensor-core stages; "
               "the GPU grade is the one that counts.\n\ncorrectness\n";
  std::vector<CaseFacts> facts;
  int passed = 0, races = 0;
  for (const CaseSpec& c : correctness_cases(case_scope(info), seed)) {
    if (c.N > max_n) continue;
    const CpuCase one = correctness_case(*stage, c, case_scope(info), verbose);
    facts.push_back(one.facts);
    passed += one.facts.passed;
    races += one.order_dependent;
  }
  const bool not_implemented =
      std::all_of(facts.begin(), facts.end(), [](const CaseFacts& f) { return f.nothing_written; });
  // A race first: it can make any other hint point the wrong way.
  if (races > 0)
    std::cout << "  hint (CPU check): " << races << " of " << facts.size()
              << " cases give a different output when each block's threads run in the other order: a race. "
                 "Look for a missing __syncthreads(): between the threads writing a shared tile and any thread "
                 "reading it, and between the last read of a tile and its next overwrite (the top of the next "
                 "loop step). Fix it first: the hints below assume the kernel gives the same answer every run.\n";
  for (const std::string& h : correctness_hints(facts)) std::cout << "  hint: " << h << "\n";
  if (std::any_of(facts.begin(), facts.end(), [](const CaseFacts& f) { return !f.passed && f.not_finite > 0; }))
    std::cout << "  hint (CPU check): shared memory starts as NaN here, so NaN in the output often means a thread "
                 "read a tile before every thread of the block had written it: a missing __syncthreads.\n";
  std::cout << "  " << passed << " of " << facts.size() << " cases passed\n\nwindow\n";
  if (not_implemented) {
    std::cout << "  skipped: nothing was written in any correctness case\n\n"
              << info.name << ": not implemented (nothing written in any case)\n";
    return 4;
  }
  int window_passed = 0, window_total = 0;
  std::vector<std::string> hints;
  for (const CaseSpec& c : window_cases(case_scope(info), seed)) {
    window_passed += window_case(*stage, c, tiles, &hints);
    ++window_total;
  }
  if (races > 0 && window_passed < window_total)
    std::cout << "  hint (CPU check): the race found above moves weights too; fix it before reading these hints\n";
  for (const std::string& h : hints) std::cout << "  hint: " << h << "\n";
  std::cout << "  " << window_passed << " of " << window_total << " patterns use exactly the weights they should\n\n";
  const bool all = passed == static_cast<int>(facts.size()) && window_passed == window_total;
  if (all)
    std::cout << info.name << ": every case passed on the CPU; now grade it on a GPU (tools/grade.sh)\n";
  else
    std::cout << info.name << ": some cases failed on the CPU; fix them (the hints above) before grading on a GPU\n";
  return all ? 0 : 1;
}
