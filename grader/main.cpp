// main.cpp: `swa`, the kit's command line.
//
//   swa grade      grade the stages, each through a sandboxed runner of its own (grade.h)
//   swa bench      time stages against their own full-attention run
//   swa pattern    draw a pattern and its tile classes
//   swa reference  check the CPU reference against the definition, and time it
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "bench.h"
#include "device.h"
#include "grade.h"
#include "inputs.h"
#include "pattern_spec.h"
#include "reference.h"
#include "reference_timings.h"
#include "stage_library.h"

namespace {

using namespace swa;

// Integers from a comma-separated list ("512,1024,2048").
std::vector<int> parse_sizes(const std::string& text, const char* what) {
  std::vector<int> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    try {
      size_t used = 0;
      out.push_back(std::stoi(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw CLI::ValidationError(what, "'" + item + "' is not an integer");
    }
  }
  return out;
}

int run_pattern(const std::string& text, int N, int tile, bool tiles_only) {
  const PatternSpec spec = parse_pattern(text, N);
  if (tiles_only && tile <= 0) throw CLI::ValidationError("--tiles-only", "needs --tiles SIZE");
  if (!tiles_only)
    std::cout << text << ", N = " << N << ": 'x' where query i sees key j\n\n" << render_pattern(spec, N);
  if (tile > 0) {
    if (tiles_only) std::cout << text << ", N = " << N << "\n";
    std::cout << "\nTiles of " << tile << " x " << tile << ": F full (no mask), P partial (mask), . empty (skip)\n\n"
              << render_tiles(spec, N, tile, tile);
  }
  return 0;
}

int run_reference(int B, int H, int N, int D, const std::string& pattern) {
  // The arguments first: nothing runs on a shape that cannot be.
  Problem p;
  p.B = B, p.H = H, p.N = N, p.D = D, p.scale = default_scale(D);
  PatternSpec spec;
  try {
    spec = parse_pattern(pattern, N);
  } catch (const std::exception& e) {
    throw CLI::ValidationError("--pattern", e.what());
  }
  p.pattern = spec.view();
  const std::string why = check_problem(p, HeadDims::kAny);
  if (!why.empty()) throw CLI::ValidationError("shape", why);

  std::cout << "Reference self-check: attention() against the definition (every pair, long double) on every "
               "pattern and awkward sizes ...\n";
  const reference::SelfCheck check = reference::self_check(std::random_device{}());
  std::cout << "  " << check.cases << " cases, " << check.failed << " failed, worst relative error "
            << check.worst_error << "\n";
  if (check.failed) std::cout << "  first failure: " << check.first_failure << "\n";
  const HostInputs in = random_inputs(p, 1);
  const auto start = std::chrono::steady_clock::now();
  const reference::Result r = reference::attention(p, in.q.data(), in.k.data(), in.v.data());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "Reference time for B=" << B << " H=" << H << " N=" << N << " D=" << D << " " << spec.to_string() << ": "
            << seconds << " s (" << r.o.size() << " outputs)\n";
  return check.failed ? 1 : 0;
}

// The executable beside this one (swa-runner), else where the build put it.
std::string beside_self(const std::string& name, const std::string& fallback) {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    const std::string dir = std::string(self, static_cast<size_t>(n)).substr(0, std::string(self, n).rfind('/'));
    if (access((dir + "/" + name).c_str(), X_OK) == 0) return dir + "/" + name;
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Sliding-window attention course kit: grade, benchmark and explore the stages"};
  app.require_subcommand(1);
  app.option_defaults()->always_capture_default();
  app.set_version_flag("--version", std::string("swa, stage ABI ") + std::to_string(kSwaAbiVersion));
  const std::vector<std::string> commands = {"grade", "bench", "pattern", "reference"};
  if (argc > 1 && argv[1][0] != '-' && std::find(commands.begin(), commands.end(), argv[1]) == commands.end()) {
    std::cerr << "swa: unknown command '" << argv[1] << "' (the commands are grade, bench, pattern, reference; "
              << "swa --help says more)\n";
    return kExitUsage;
  }

  // swa grade
  auto* grade_cmd = app.add_subcommand("grade",
                                       "Grade stages: correctness, window constraint, memory, speed "
                                       "(docs/grading.md)");
  GradeOptions grade;
  grade.stages_dir = SWA_STAGE_DIR;
  grade.reference_timings = default_reference_timings();
  std::string rubric_path, solutions_dir;
  grade_cmd->add_option("stages", grade.stages, "stages to grade, by name or number (default: all)");
  grade_cmd
      ->add_option("--variant", grade.variant,
                   "whose stages: student (stages/), solution (solutions/), or planted (the grader's own "
                   "faulty and cheating test stages, grader/tests/planted)")
      ->check(CLI::IsMember({"student", "solution", "planted"}));
  grade_cmd->add_option("--stages-dir", grade.stages_dir, "where the stage libraries are (the build's stages/)");
  grade_cmd->add_option("--out", grade.out_dir, "folder for grade.json, results.json (Gradescope) and logs/");
  grade_cmd->add_option("--rubric", rubric_path, "JSON rubric overriding the defaults (docs/grading.md)");
  grade_cmd
      ->add_option("--seed", grade.seed,
                   "seed of the random cases and inputs, 1 to 2^62 (default 0: a new one; the report says which)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 62));
  grade_cmd->add_flag("-v,--verbose", grade.verbose, "show every failing case, not only the first few");
  grade_cmd
      ->add_option("--sandbox", grade.sandbox,
                   "how each stage's runner is isolated: auto (bubblewrap where it works), bwrap (required), none")
      ->check(CLI::IsMember({"auto", "bwrap", "none"}));
  grade_cmd
      ->add_option("--sharing", grade.sharing,
                   "how the judge's GPU memory reaches the runner: auto, vmm (CUDA VMM file descriptors), ipc "
                   "(CUDA IPC handles)")
      ->check(CLI::IsMember({"auto", "vmm", "ipc"}));
  grade_cmd->add_option("--reference-timings", grade.reference_timings,
                        "the solutions' recorded times (time limits of stages 01-02, time vs solution)");
  grade_cmd->add_option("--record-timings", grade.record_timings,
                        "write this run's times as a reference timings file (grade --variant solution)");
  grade_cmd->add_option("--build-logs", grade.build_logs,
                        "folder of STAGE.log build outputs: a stage that did not compile is reported with its log");
  grade_cmd->add_option("--solutions-dir", solutions_dir, "(no longer used: times come from --reference-timings)")
      ->group("");

  // swa pattern
  auto* pattern_cmd = app.add_subcommand("pattern", "Draw an attention pattern and the tile classes of TileMask");
  std::string pattern_text;
  int pattern_n = 8, pattern_tile = 0;
  pattern_cmd
      ->add_option("pattern", pattern_text,
                   "the pattern, e.g. sliding:2, causal:3, dilated:2:2, global:1:0,6, "
                   "adaptive:0:3 (docs/patterns.md)")
      ->required();
  pattern_cmd->add_option("-N,--seq-len", pattern_n, "sequence length")->check(CLI::Range(1, 256));
  pattern_cmd->add_option("--tiles", pattern_tile, "also draw the tile classes for tiles of this size (0: none)")
      ->check(CLI::Range(0, 256));
  bool pattern_tiles_only = false;
  pattern_cmd->add_flag("--tiles-only", pattern_tiles_only, "draw only the tile classes (with --tiles)");

  // swa reference
  auto* ref_cmd = app.add_subcommand("reference", "Self-check the CPU reference and time it (no GPU needed)");
  int rB = 1, rH = 16, rN = 16384, rD = 64;
  std::string ref_pattern = "sliding:128";
  ref_cmd->add_option("-B", rB, "batch")->check(CLI::Range(1, kMaxBatchHeads));
  ref_cmd->add_option("-H", rH, "heads")->check(CLI::Range(1, kMaxBatchHeads));
  ref_cmd->add_option("-N", rN, "sequence length")->check(CLI::Range(1, kMaxSeqLen));
  ref_cmd->add_option("-D", rD, "head dimension")->check(CLI::Range(1, kMaxHeadDim));
  ref_cmd->add_option("--pattern", ref_pattern, "attention pattern (docs/patterns.md)");

  // swa bench
  auto* bench_cmd = app.add_subcommand("bench", "Time stages at the exercise's sizes and at sizes that fill the GPU");
  BenchOptions bench;
  bench.stages_dir = SWA_STAGE_DIR;
  std::string bench_stages, bench_fill = "512,1024,2048,4096,8192,16384", bench_json;
  bool bench_no_full = false, bench_no_check = false, bench_exercise_only = false;
  int bench_d = 64;
  bench_cmd->add_option("--variant", bench.variant, "which implementation: solution or student")
      ->check(CLI::IsMember({"solution", "student"}));
  bench_cmd->add_option("--stages", bench_stages, "comma-separated stage names (default: all of the variant)");
  bench_cmd->add_option("--fill-sizes", bench_fill, "N values for the B=4, H=16 shapes (empty: none)");
  bench_cmd->add_flag("--exercise-only", bench_exercise_only, "only the exercise's B=H=1 shapes");
  bench_cmd->add_option("-D", bench_d, "head dimension")->check(CLI::IsMember({16, 32, 64, 128}));
  bench_cmd->add_option("--pattern", bench.patterns, "pattern of the timed runs (docs/patterns.md); repeat for several")
      ->take_all();
  bench_cmd->add_flag("--no-full", bench_no_full, "skip the full-attention runs (and the speedups)");
  bench_cmd->add_flag("--no-check", bench_no_check, "skip checking the outputs against the reference");
  bench_cmd->add_option("--json", bench_json, "write every measurement to this JSON file (input of plots/)");
  bench_cmd->add_option("--stages-dir", bench.stages_dir, "where the stage libraries are (the build's stages/)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints the help, or the error and how to get help
    return code == 0 ? 0 : kExitUsage;
  }

  try {
    if (*grade_cmd) {
      try {
        grade.rubric = rubric_path.empty() ? default_rubric() : load_rubric(rubric_path);
        if (!solutions_dir.empty())
          std::cerr << "swa grade: --solutions-dir is ignored: the grader never loads a solution; times come from "
                       "--reference-timings\n";
        grade.runner = beside_self("swa-runner", SWA_RUNNER_PATH);
        grade.empty_stage = SWA_EMPTY_STAGE;
        return swa::grade(grade, std::cout, std::cerr);
      } catch (const std::invalid_argument& e) {
        std::cerr << "swa grade: " << e.what() << "\n";
        return kExitUsage;
      } catch (const std::runtime_error& e) {
        std::cerr << "swa grade: " << e.what() << "\n";
        return kExitUsage;
      }
    }
    if (*pattern_cmd) return run_pattern(pattern_text, pattern_n, pattern_tile, pattern_tiles_only);
    if (*ref_cmd) return run_reference(rB, rH, rN, rD, ref_pattern);
    if (*bench_cmd) {
      // The arguments first, before anything needs a GPU.
      std::stringstream stages(bench_stages);
      for (std::string s; std::getline(stages, s, ',');)
        if (!s.empty()) bench.stages.push_back(s);
      const std::vector<int> fill =
          bench_exercise_only || bench_fill.empty() ? std::vector<int>{} : parse_sizes(bench_fill, "--fill-sizes");
      for (int N : fill)
        if (N < 1 || N > kMaxSeqLen)
          throw CLI::ValidationError(
              "--fill-sizes",
              "N = " + std::to_string(N) + " is out of range: N must be in [1, " + std::to_string(kMaxSeqLen) + "]");
      for (const std::string& pattern : bench.patterns) {
        try {
          for (int N : {512, 1024, 2048}) parse_pattern(pattern, N);
          for (int N : fill) parse_pattern(pattern, N);
        } catch (const std::exception& e) {
          throw CLI::ValidationError("--pattern", e.what());
        }
      }
      const std::vector<std::string> available = list_stages(bench.stages_dir, bench.variant);
      for (const std::string& s : bench.stages)
        if (std::find(available.begin(), available.end(), s) == available.end()) {
          std::string list;
          for (const std::string& a : available) list += (list.empty() ? "" : ", ") + a;
          throw CLI::ValidationError("--stages", "unknown stage '" + s + "'; the " + bench.variant +
                                                     " stages are: " + (list.empty() ? "(none built)" : list));
        }
      std::string why;
      if (!gpu_available(&why)) {
        std::cerr << "swa bench: " << why << ". Benchmarks need a GPU.\n";
        return kExitNoGpu;
      }
      bench.shapes = standard_shapes(fill, bench_d);
      bench.with_full = !bench_no_full;
      bench.check = !bench_no_check;
      const nlohmann::json results = run_benchmarks(bench, std::cerr);
      print_bench_table(results, std::cout);
      if (!bench_json.empty()) {
        std::ofstream out(bench_json);
        if (!out) throw std::runtime_error("cannot write " + bench_json);
        out << results.dump(2) << "\n";
        std::cout << "wrote " << bench_json << "\n";
      }
      return 0;
    }
  } catch (const CLI::Error& e) {
    std::cerr << "swa: " << e.get_name() << ": " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "swa: " << e.what() << "\n";
    return kExitUsage;
  }
  return 0;
}
