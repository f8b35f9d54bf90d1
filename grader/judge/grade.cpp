// grade.cpp: the judge's top level: choose the sandbox, calibrate, grade each stage, write the reports.
#include "grade.h"

#include <cuda_runtime_api.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <sstream>

#include "checks.h"
#include "cuda_check.h"
#include "device.h"
#include "environment.h"
#include "judge_kernels.h"
#include "reference.h"
#include "reference_timings.h"
#include "report.h"
#include "sandbox.h"
#include "stage_library.h"

namespace swa {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Progress on the terminal: one line rewritten in place on a terminal, a line per check elsewhere.
class Progress {
 public:
  explicit Progress(std::ostream& os) : os_(os), tty_(isatty(STDERR_FILENO)) {}
  void event(const std::string& stage, const json& e) {
    const std::string check = e.value("check", std::string());
    if (tty_) {
      std::string line = "  " + stage + ": " + check + " " + std::to_string(e.value("index", 0) + 1) + "/" +
                         std::to_string(e.value("total", 0)) + "  " + e.value("case", std::string());
      if (line.size() > 100) line.resize(100);
      os_ << "\r" << line << std::string(line.size() < 100 ? 100 - line.size() : 0, ' ') << std::flush;
    } else if (check != last_check_) {
      os_ << "  " << stage << ": " << check << " (" << e.value("total", 0) << ")" << std::endl;
    }
    last_check_ = check;
  }
  void done(const std::string& stage, const json& result, double seconds) {
    char line[200];
    std::snprintf(line, sizeof(line), "  %-22s %6.1f / %-4g %s (%.0f s)", stage.c_str(), result["score"].get<double>(),
                  result["max_score"].get<double>(), result.value("status", std::string()).c_str(), seconds);
    os_ << (tty_ ? "\r" : "") << line << std::string(tty_ ? 40 : 0, ' ') << std::endl;
    last_check_.clear();
  }

 private:
  std::ostream& os_;
  bool tty_;
  std::string last_check_;
};

std::vector<std::string> build_log_names(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  if (dir.empty()) return names;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".log") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

long long nvml_of(const JudgeContext& ctx, RunnerProcess& runner) {
  const std::map<pid_t, long long> used = ctx.gpu_memory->by_process();
  long long sum = -1;
  for (pid_t p : runner.processes())
    if (const auto it = used.find(p); it != used.end()) sum = std::max(0LL, sum) + it->second;
  return sum;
}

// Starts a runner of the empty stage with the sandbox and sharing in ctx, checks that memory written by
// the runner is what the judge reads back, and records the empty runner's footprint.
void calibrate_empty(JudgeContext& ctx) {
  Problem p;
  p.B = 1, p.H = 1, p.N = 256, p.D = 64, p.scale = default_scale(64);
  const PatternSpec spec = parse_pattern("sliding:16", p.N);
  p.pattern = spec.view();
  ProblemArena arena(p, spec, 0, 1, ctx.sharing);
  judge_gpu::fill_uniform(arena.v(0), p.num_elements(), 1234, 1.f, ctx.stream);
  SWA_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  arena.poison();
  const long long free_before = GpuMemory::device_free();
  RemoteStage empty(ctx.launch(ctx.empty_stage, "runner-check"));
  empty.load("00_empty");
  const uint32_t id = empty.attach(arena);
  const RunOutcome r = empty.run(arena, id, 0, 1, 60);
  if (r.status != kSwaOk) throw std::runtime_error("the empty stage failed in its runner: " + r.message);
  // The empty stage writes O = V: the judge must read exactly that through its own mapping.
  std::vector<__half> v(p.num_elements());
  SWA_CUDA_CHECK(cudaMemcpy(v.data(), arena.v(0), v.size() * sizeof(__half), cudaMemcpyDeviceToHost));
  const std::vector<float> o = arena.output(0);
  for (size_t e = 0; e < o.size(); ++e)
    if (o[e] != __half2float(v[e]))
      throw std::runtime_error("the runner's writes did not reach the judge's memory (element " + std::to_string(e) +
                               ")");
  Calibration& cal = ctx.calibration;
  cal.empty_gpu_nvml = nvml_of(ctx, empty.process());
  cal.empty_gpu_device = free_before - GpuMemory::device_free();
  cal.empty_host = empty.process().host_memory();
  if (cal.empty_gpu_nvml >= 0) {  // does NVML count memory mapped from the judge as the runner's?
    Problem big = p;
    big.H = 16, big.N = 16384;
    ProblemArena large(big, parse_pattern("sliding:16", big.N), 0, 1, ctx.sharing);
    empty.attach(large);
    const long long with = nvml_of(ctx, empty.process());
    cal.nvml_counts_imports = with - cal.empty_gpu_nvml > static_cast<long long>(large.arena().size()) / 2;
  }
  empty.process().stop();
}

// The probe on an idle GPU: its chunks sized to about 3 ms in all, the longest chunk as the reference.
void calibrate_probe(JudgeContext& ctx) {
  judge_gpu::probe(100, ctx.stream);  // warm-up
  const judge_gpu::Probe first = judge_gpu::probe(100, ctx.stream);
  ctx.calibration.probe_chunks =
      static_cast<int>(std::clamp(100 * 3.0 / std::max(first.total_ms, 1e-3), 100.0, 20000.0));
  std::vector<double> longest;
  for (int k = 0; k < 5; ++k)
    longest.push_back(judge_gpu::probe(ctx.calibration.probe_chunks, ctx.stream).longest_chunk_us);
  std::sort(longest.begin(), longest.end());
  ctx.calibration.probe_chunk_us = longest[4];
}

std::string sharing_text(protocol::Sharing s) { return protocol::sharing_name(s); }

}  // namespace

std::vector<std::string> resolve_stage_names(const std::vector<std::string>& wanted,
                                             const std::vector<std::string>& available,
                                             const std::vector<std::string>& build_logs, const std::string& variant) {
  std::vector<std::string> known = available;
  for (const std::string& b : build_logs)
    if (std::find(known.begin(), known.end(), b) == known.end()) known.push_back(b);
  std::sort(known.begin(), known.end());
  std::string list;
  for (const std::string& a : known) list += (list.empty() ? "" : ", ") + a;
  std::vector<std::string> names;
  for (const std::string& want : wanted) {
    std::string found;
    for (const std::string& a : known)
      if (a == want || a.rfind(want + "_", 0) == 0) found = a;
    if (found.empty())
      throw std::invalid_argument("unknown stage '" + want + "'; the " + variant +
                                  " stages are: " + (list.empty() ? "(none built)" : list));
    if (std::find(names.begin(), names.end(), found) == names.end()) names.push_back(found);  // named twice: once
  }
  return names.empty() ? known : names;
}

int grade(const GradeOptions& o, std::ostream& out, std::ostream& progress_out) {
  const Clock::time_point started = Clock::now();
  const std::vector<std::string> available = list_stages(o.stages_dir, o.variant);
  const std::vector<std::string> logs = build_log_names(o.build_logs);
  if (available.empty() && logs.empty())
    throw std::invalid_argument("no " + o.variant + " stage libraries in " + o.stages_dir + "/" + o.variant +
                                ": build them first (tools/grade.sh builds and grades)");
  const std::vector<std::string> names = resolve_stage_names(o.stages, available, logs, o.variant);
  const uint64_t seed = o.seed != 0 ? o.seed : std::random_device{}() % 1000000000u + 1;
  ReportHeader header{gpu_description(), utc_now(), source_commit(), o.variant, "graded", seed};
  fs::create_directories(fs::path(o.out_dir) / "logs");

  std::vector<json> results;
  std::string why;
  if (!gpu_available(&why)) {
    header.status = "no GPU";
    out << "No GPU here (" << why << "): the stages can only be graded on a machine with an NVIDIA GPU.\n"
        << "Running what needs no GPU instead, the CPU reference's self-check ...\n";
    const reference::SelfCheck check = reference::self_check(seed);
    out << "  reference self-check: " << check.cases << " cases, " << check.failed << " failed, worst relative error "
        << check.worst_error << (check.failed ? ", first failure: " + check.first_failure : "") << "\n";
    const int status = check.failed ? kExitSomethingFailed : kExitNoGpu;
    // A run without a GPU never replaces a graded report.
    const fs::path existing = fs::path(o.out_dir) / "grade.json";
    if (fs::exists(existing)) {
      const json old = json::parse(std::ifstream(existing), nullptr, false);
      if (!old.is_discarded() && old.value("status", "") == "graded") {
        out << "Not graded, exit status " << status << ": no GPU. The graded reports already in " << o.out_dir
            << " were kept.\n";
        return status;
      }
    }
    for (const std::string& name : names)
      results.push_back(ungraded_stage(name, "no GPU", "no GPU (" + why + ")", o.rubric.stage(name)));
    json report = make_report(header, o.rubric, results);
    report["self_check"] = {{"cases", check.cases}, {"failed", check.failed}, {"worst_error", check.worst_error}};
    report["execution_time_s"] = seconds_since(started);
    const std::vector<std::string> paths = write_reports(report, o.out_dir);
    out << "Reports (every stage 0, not graded): " << paths[0] << ", " << paths[1] << "\n"
        << "Not graded, exit status " << status << ": no GPU.\n";
    return status;
  }

  // A rubric entry for a stage that is not being graded is most likely a misspelt name: say so.
  for (const auto& [key, unused] : o.rubric.stages) {
    const bool used = std::any_of(names.begin(), names.end(), [&](const std::string& n) {
      return n == key || (key.size() == 2 && n.rfind(key + "_", 0) == 0);
    });
    if (!used)
      progress_out << "warning: the rubric's entry \"" << key << "\" matches no stage being graded" << std::endl;
  }

  prctl(PR_SET_CHILD_SUBREAPER, 1);  // a runner's orphans come back to the judge, which ends them
  JudgeContext ctx;
  ctx.rubric = o.rubric;
  ctx.seed = seed;
  ctx.runner = o.runner;
  ctx.empty_stage = o.empty_stage;
  ctx.logs_dir = (fs::path(o.out_dir) / "logs").string();
  SWA_CUDA_CHECK(cudaFree(nullptr));
  SWA_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx.stream, cudaStreamNonBlocking));
  ctx.gpu_memory = std::make_unique<GpuMemory>();
  std::string timings_note;
  ctx.reference_timings = load_reference_timings(o.reference_timings, &timings_note);
  calibrate_probe(ctx);
  // Where the judge's own time goes, outside the stages (grade.json's "judge_seconds").
  json judge_seconds = {{"setup", seconds_since(started)}};
  Clock::time_point phase = Clock::now();

  // The sandbox and the memory sharing: the first that works of those allowed, tried with the empty stage.
  std::vector<bool> sandboxes;
  std::vector<std::string> attempts;
  if (o.sandbox != "none") {
    if (!find_bwrap().empty())
      sandboxes.push_back(true);
    else
      attempts.push_back("bubblewrap: bwrap is not installed (apt-get install bubblewrap)");
  }
  if (o.sandbox != "bwrap") sandboxes.push_back(false);
  std::vector<protocol::Sharing> sharings;
  if (o.sharing != "ipc") {
    if (const std::string no = sharing_supported(protocol::Sharing::kVmmFd); no.empty())
      sharings.push_back(protocol::Sharing::kVmmFd);
    else
      attempts.push_back(std::string(sharing_text(protocol::Sharing::kVmmFd)) + ": " + no);
  }
  if (o.sharing != "vmm") sharings.push_back(protocol::Sharing::kCudaIpc);
  bool ready = false;
  for (bool sandbox : sandboxes) {
    for (protocol::Sharing sharing : sharings) {
      ctx.sandbox = sandbox, ctx.sharing = sharing;
      try {
        calibrate_empty(ctx);
        ready = true;
        break;
      } catch (const std::exception& e) {
        attempts.push_back(std::string(sandbox ? "bubblewrap" : "no sandbox") + " + " + sharing_text(sharing) + ": " +
                           e.what());
        cudaGetLastError();
      }
    }
    if (ready) break;
  }
  for (const std::string& a : attempts) progress_out << "note: " << a << std::endl;
  if (!ready) {
    out << "swa grade: no runner could be started on this machine (every way tried is listed above).\n";
    return kExitUsage;
  }
  const std::string isolation =
      std::string(ctx.sandbox ? "sandboxed by bubblewrap" : "NOT sandboxed") + ", memory shared by " +
      sharing_text(ctx.sharing) + ", GPU memory read by " +
      (ctx.calibration.empty_gpu_nvml >= 0 ? "NVML"
                                           : "the device's free memory (" + ctx.gpu_memory->nvml_status() + ")");
  progress_out << "Runners: " << isolation << std::endl;
  if (!ctx.sandbox)
    progress_out << "warning: without bubblewrap a stage can read and write your files and signal the grader; "
                    "grades that count need the sandbox (docs/grading.md, \"Trust\")"
                 << std::endl;
  if (!timings_note.empty()) progress_out << "note: " << timings_note << std::endl;
  judge_seconds["runner_check"] = seconds_since(phase);
  phase = Clock::now();

  // The baseline's clean times, with no runner alive.
  std::set<std::string> measured;
  for (const std::string& name : names) {
    const StageRubric r = o.rubric.stage(name);
    std::vector<std::tuple<std::string, int, int, int>> shapes;
    if (r.speed > 0)
      for (int N : kSpeedSequenceLengths) shapes.emplace_back(r.speed_baseline, N < 4096 ? 1 : 4, N < 4096 ? 1 : 16, N);
    else if (r.time_limit_factor > 0)
      shapes.emplace_back("cuda_core", 4, 16, 4096);
    for (const auto& [engine, B, H, N] : shapes) {
      const std::string key = baseline_key(engine, B, H, N);
      if (!measured.insert(key).second) continue;
      try {
        ctx.calibration.clean_baseline_ms[key] = clean_baseline_ms(ctx, engine, B, H, N);
      } catch (const std::invalid_argument& e) {  // a baseline this build does not have: the stage says so later
        progress_out << "warning: " << e.what() << std::endl;
      }
    }
  }

  judge_seconds["clean_baselines"] = seconds_since(phase);
  phase = Clock::now();
  progress_out << "Grading " << names.size() << " " << o.variant << " stage" << (names.size() == 1 ? "" : "s") << " on "
               << header.gpu << " (seed " << seed << ")" << std::endl;
  Progress progress(progress_out);
  for (const std::string& name : names) {
    const Clock::time_point start = Clock::now();
    ctx.emit = [&](const json& e) { progress.event(name, e); };
    const std::string library = stage_path(o.stages_dir, o.variant, name);
    json result;
    if (!fs::exists(library)) {
      std::string message = "the stage library " + library + " does not exist: the stage did not compile";
      const std::string build_log = (fs::path(o.build_logs) / (name + ".log")).string();
      if (!o.build_logs.empty() && fs::exists(build_log))
        message += "; the end of its build log (" + build_log + "):" + log_tail(build_log, 25);
      result = ungraded_stage(name, "missing", message, o.rubric.stage(name));
    } else {
      result = grade_stage(ctx, {name, library});
    }
    result["seconds"] = seconds_since(start);  // the stage's wall time, runner start to its last check
    results.push_back(result);
    progress.done(name, results.back(), result["seconds"].get<double>());
  }
  cudaStreamDestroy(ctx.stream);
  judge_seconds["stages"] = seconds_since(phase);

  json report = make_report(header, o.rubric, results);
  report["execution_time_s"] = seconds_since(started);
  report["judge_seconds"] = judge_seconds;
  report["isolation"] = {{"sandbox", ctx.sandbox ? "bubblewrap" : "none"},
                         {"sharing", sharing_text(ctx.sharing)},
                         {"gpu_memory", ctx.calibration.empty_gpu_nvml >= 0 ? "NVML" : "device free memory"},
                         {"nvml", ctx.gpu_memory->nvml_status()},
                         {"notes", attempts}};
  const std::vector<std::string> paths = write_reports(report, o.out_dir);
  out << "\n";
  print_report(report, out, o.verbose);
  out << "\nReports: " << paths[0] << " (every check and timing), " << paths[1] << " (Gradescope); runner logs in "
      << ctx.logs_dir << "\n";
  if (!o.record_timings.empty()) {
    write_reference_timings(o.record_timings, ctx.recorded, header.gpu, header.date, header.commit);
    out << "Recorded the times of " << ctx.recorded.size() << " stages in " << o.record_timings
        << (full_marks(report) ? "" : " (warning: not every stage got full marks)") << "\n";
  }
  return full_marks(report) ? kExitAllPassed : kExitSomethingFailed;
}

}  // namespace swa
