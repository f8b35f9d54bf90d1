// test_trust_gpu.cpp: the planted cheats on the GPU, each caught and named in the report.
//
// `swa grade --variant planted` grades every cheat of grader/tests/planted/ (README.md there lists them
// with the name each must be reported under) in the sandbox, next to an honest stage that must still get
// every point. One test per family, all from one grade run (it takes a few minutes).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "gpu_test.h"

namespace swa {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct GradeRun {
  int exit_status = -1;
  std::string output;
  json report;
  fs::path dir;
};

// Runs `swa grade ARGS` into a folder of its own. With `reuse`, a report already there that is newer than
// the swa binary is read instead (ctest runs each test of this file as a process of its own; the cheats
// are graded once for all of them).
GradeRun run_grade(const std::string& name, const std::string& args, bool reuse = false) {
  GradeRun run;
  run.dir = fs::temp_directory_path() / ("swa_trust_gpu_" + name + (reuse ? "" : "_" + std::to_string(getpid())));
  const fs::path saved = run.dir / "out" / "grade.json", status_file = run.dir / "exit_status";
  if (reuse && fs::exists(saved) && fs::exists(status_file) &&
      fs::last_write_time(saved) > fs::last_write_time(SWA_BINARY)) {
    std::ifstream(status_file) >> run.exit_status;
    std::stringstream text;
    text << std::ifstream(run.dir / "out.txt").rdbuf();
    run.output = text.str();
    run.report = json::parse(std::ifstream(saved));
    return run;
  }
  fs::remove_all(run.dir);
  fs::create_directories(run.dir);
  const fs::path rubric = run.dir / "rubric.json";
  std::ofstream(rubric) << R"({"timeouts": {"stage_seconds": 240, "silence_seconds": 60}})";
  const std::string command = std::string(SWA_BINARY) + " grade --out " + (run.dir / "out").string() + " --rubric " +
                              rubric.string() + " " + args + " > " + (run.dir / "out.txt").string() + " 2>&1";
  const int status = std::system(command.c_str());
  run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::stringstream text;
  text << std::ifstream(run.dir / "out.txt").rdbuf();
  run.output = text.str();
  if (fs::exists(run.dir / "out" / "grade.json"))
    run.report = json::parse(std::ifstream(run.dir / "out" / "grade.json"));
  std::ofstream(status_file) << run.exit_status;
  return run;
}

// Every cheat, graded once in the sandbox (shared by the tests below).
const GradeRun& cheats() {
  static const GradeRun run = run_grade(
      "cheats",
      "--variant planted --sandbox bwrap 04_forge_constructor 04_forge_atexit 04_forge_in_launch 04_second_result "
      "04_kill_parent 04_linger 04_rubric_rewrite 04_dlopen_solution 04_cache_by_pointer 04_first_call_only "
      "04_count_calls 04_results_in_inputs 04_work_after_done 04_patch_event_timer 04_busy_gpu 04_static_scratch "
      "04_cumemalloc 04_early_alloc 04_pinned_host 04_rtld_next_malloc 04_skip_middle_heads 02_cpu_implementation "
      "05_two_patterns 97_correct",
      /*reuse=*/true);
  return run;
}

const json& stage_of(const GradeRun& run, const std::string& name) {
  for (const json& s : run.report["stages"])
    if (s["stage"] == name) return s;
  static const json none = json::object();
  ADD_FAILURE() << "no stage " << name << " in the report:\n" << run.output;
  return none;
}

const json& check_of(const json& stage, const std::string& name) {
  if (stage.contains("checks"))
    for (const json& c : stage["checks"])
      if (c["name"] == name) return c;
  static const json none = json::object();
  ADD_FAILURE() << "no check " << name << " in " << stage.value("stage", "?");
  return none;
}

// The stage's whole entry as text: its message, violations, summaries and feedback.
std::string text_of(const json& stage) { return stage.dump(); }

void expect_named(const std::string& stage, const std::string& status, const std::string& name) {
  const json& s = stage_of(cheats(), stage);
  if (!status.empty()) EXPECT_EQ(s.value("status", ""), status) << stage << ": " << s.value("message", "");
  EXPECT_NE(text_of(s).find(name), std::string::npos) << stage << " is not reported as \"" << name << "\":\n"
                                                      << text_of(s).substr(0, 3000);
  EXPECT_LT(s.value("score", 0.0), s.value("max_score", 100.0)) << stage;
}

TEST(TrustGpu, TheGradeRanInTheSandboxAndTheHonestStageKeepsFullMarks) {
  REQUIRE_GPU();
  const GradeRun& run = cheats();
  ASSERT_TRUE(run.report.is_object()) << run.output;
  EXPECT_EQ(run.exit_status, 1) << run.output;
  EXPECT_EQ(run.report["isolation"]["sandbox"], "bubblewrap") << run.report["isolation"].dump();
  const json& good = stage_of(run, "97_correct");
  EXPECT_EQ(good["status"], "graded");
  EXPECT_DOUBLE_EQ(good["score"].get<double>(), good["max_score"].get<double>()) << text_of(good).substr(0, 3000);
  EXPECT_TRUE(good["violations"].empty()) << good["violations"];
}

TEST(TrustGpu, ReportForgeryIsAProtocolViolation) {
  REQUIRE_GPU();
  for (const char* stage : {"04_forge_constructor", "04_forge_atexit", "04_forge_in_launch", "04_second_result"})
    expect_named(stage, "rejected", "protocol violation");
}

TEST(TrustGpu, KillingTheParentAndRewritingFilesReachNothing) {
  REQUIRE_GPU();
  const GradeRun& run = cheats();
  expect_named("04_kill_parent", "not implemented", "not implemented");
  expect_named("04_rubric_rewrite", "not implemented", "not implemented");
  EXPECT_EQ(run.report["schema"], "swa-grade/1") << "the judge wrote the report, after every stage";
  // The rubric in force is the one given on the command line, whatever the stage wrote.
  EXPECT_EQ(run.report["rubric"]["timeouts"].value("stage_seconds", 0.0), 240.0) << run.report["rubric"].dump();
  EXPECT_EQ(stage_of(run, "04_rubric_rewrite").value("max_score", 0.0), 100.0);
  // A process left behind would rewrite the reports later: there is none.
  expect_named("04_linger", "rejected", "started processes of its own");
  const std::string before = json::parse(std::ifstream(run.dir / "out" / "grade.json")).dump();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(json::parse(std::ifstream(run.dir / "out" / "grade.json")).dump(), before);
}

TEST(TrustGpu, TheSolutionIsNotThereToLoadAndLoadingOneIsNamed) {
  REQUIRE_GPU();
  expect_named("04_dlopen_solution", "not implemented", "not implemented");
  // Without the sandbox the library can be reached: the judge sees it in the runner's maps.
  const GradeRun plain = run_grade("dlopen_plain", "--variant planted --sandbox none 04_dlopen_solution");
  ASSERT_TRUE(plain.report.is_object()) << plain.output;
  const json& s = stage_of(plain, "04_dlopen_solution");
  EXPECT_EQ(s.value("status", ""), "rejected") << s.value("message", "");
  EXPECT_NE(s.value("message", "").find("stage loaded another library"), std::string::npos) << s.value("message", "");
  EXPECT_NE(s.value("message", "").find("solution/04_online_softmax.so"), std::string::npos) << s.value("message", "");
}

TEST(TrustGpu, TimingEscapesAreCaughtByCheckingEveryTimedOutput) {
  REQUIRE_GPU();
  // (A stage may also end in a CUDA error after it was caught: work it left running can fault once the
  // judge has taken its memory back. What was caught is reported either way.)
  expect_named("04_cache_by_pointer", "", "wrong output in a timed run");
  for (const char* stage : {"04_first_call_only", "04_count_calls", "04_work_after_done", "04_patch_event_timer"})
    expect_named(stage, "", "output not written by the time the stage said it was done");
  expect_named("04_results_in_inputs", "", "the stage changed its inputs");
  expect_named("04_skip_middle_heads", "", "timed run");
  for (const char* stage : {"04_cache_by_pointer", "04_first_call_only", "04_count_calls", "04_work_after_done",
                            "04_patch_event_timer", "04_results_in_inputs", "04_skip_middle_heads"}) {
    const json& s = stage_of(cheats(), stage);
    if (s.value("status", "") == "graded") EXPECT_LT(check_of(s, "speed").value("score", 30.0), 30.0) << stage;
  }
}

// Work the stage leaves on the GPU can only slow the baseline while the runner is frozen, and work launched
// before "done" ends before it (the runner synchronised its device): what is left is the one kernel a helper
// thread launched between that and the freeze. Either the probe still sees it and the stage is named, or
// the baseline the stage is measured against is the one the honest stage got (the smaller of the alternated
// and the clean time), and the stage gains no speedup over the honest one.
TEST(TrustGpu, LeavingTheGpuBusyGainsNothing) {
  REQUIRE_GPU();
  const json& busy = stage_of(cheats(), "04_busy_gpu");
  const std::string all = text_of(busy);
  if (all.find("GPU was still busy") != std::string::npos ||
      all.find("busy while the baseline was timed") != std::string::npos) {
    EXPECT_LT(busy.value("score", 100.0), busy.value("max_score", 100.0));
    return;
  }
  const json& mine = check_of(busy, "speed");
  const json& honest = check_of(stage_of(cheats(), "97_correct"), "speed");
  ASSERT_TRUE(mine.contains("measurements") && honest.contains("measurements")) << mine.dump().substr(0, 2000);
  int compared = 0;
  for (const json& m : mine["measurements"])
    for (const json& h : honest["measurements"]) {
      if (m.value("N", 0) != h.value("N", 0) || m.value("B", 0) != h.value("B", 0) ||
          m.value("baseline", "") != h.value("baseline", "") || !m.contains("speedup") || !h.contains("speedup"))
        continue;
      ++compared;
      const std::string shape = "N=" + std::to_string(m.value("N", 0)) + " B=" + std::to_string(m.value("B", 0));
      EXPECT_LE(m["baseline_ms"].get<double>(), 1.10 * h["baseline_ms"].get<double>() + 0.002) << shape;
      EXPECT_LE(m["speedup"].get<double>(), 1.10 * h["speedup"].get<double>()) << shape;
    }
  EXPECT_EQ(compared, static_cast<int>(mine["measurements"].size())) << "every shape timed beside the honest stage";
  EXPECT_GT(compared, 0);
}

TEST(TrustGpu, MemoryFromEveryPathIsSeen) {
  REQUIRE_GPU();
  struct Case {
    const char* stage;
    const char* name;
  };
  // A static array is allocated when its module loads, which with lazy loading is the first launch: then
  // under the memory check's cap, where it fails instead of showing in the reading.
  const std::string all = check_of(stage_of(cheats(), "04_static_scratch"), "memory").dump();
  EXPECT_TRUE(all.find("more GPU memory than an empty stage") != std::string::npos ||
              all.find("the run failed with the memory its limit allows") != std::string::npos)
      << all.substr(0, 2000);
  for (const Case& c : {Case{"04_early_alloc", "more GPU memory than an empty stage"},
                        Case{"04_cumemalloc", "the run failed with the memory its limit allows"},
                        Case{"04_rtld_next_malloc", "the run failed with the memory its limit allows"},
                        Case{"04_pinned_host", "of host memory beyond an empty stage's"}}) {
    const json& memory = check_of(stage_of(cheats(), c.stage), "memory");
    EXPECT_EQ(memory.value("status", ""), "failed") << c.stage << ": " << memory.value("summary", "");
    EXPECT_NE(memory.dump().find(c.name), std::string::npos) << c.stage << ": " << memory.value("summary", "");
  }
}

TEST(TrustGpu, PartialWorkLosesItsPoints) {
  REQUIRE_GPU();
  expect_named("02_cpu_implementation", "too slow", "time limit");
  const json& two = stage_of(cheats(), "05_two_patterns");
  EXPECT_EQ(two.value("status", ""), "graded");
  const json& correctness = check_of(two, "correctness");
  EXPECT_LT(correctness.value("score", 40.0), 0.7 * 40) << "six patterns of eight fail";
  EXPECT_NE(correctness.dump().find("does not implement the dilated pattern"), std::string::npos);
  EXPECT_LT(check_of(two, "window").value("score", 20.0), 20.0);
}

TEST(TrustGpu, AStageThatDidNotCompileIsReportedWithItsBuildLog) {
  REQUIRE_GPU();
  // Not run_grade's own folder for "buildlog" (swa_trust_gpu_buildlog_PID): it empties that one first.
  const fs::path dir = fs::temp_directory_path() / ("swa_trust_gpu_buildlog_inputs_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "stages" / "student");
  fs::create_directories(dir / "logs");
  fs::copy_file(fs::path(SWA_STAGE_DIR) / "solution" / "01_naive.so", dir / "stages" / "student" / "01_naive.so");
  std::ofstream(dir / "logs" / "02_tiled_smem.log") << "kernel.cu(42): error: identifier \"tile\" is undefined\n";
  const GradeRun run = run_grade(
      "buildlog", "--stages-dir " + (dir / "stages").string() + " --build-logs " + (dir / "logs").string() + " 01 02");
  ASSERT_TRUE(run.report.is_object()) << run.output;
  const json& missing = stage_of(run, "02_tiled_smem");
  EXPECT_EQ(missing.value("status", ""), "missing");
  EXPECT_NE(missing.value("message", "").find("identifier \"tile\" is undefined"), std::string::npos)
      << missing.value("message", "");
  const json results = json::parse(std::ifstream(run.dir / "out" / "results.json"));
  EXPECT_NE(results.dump().find("identifier \\\"tile\\\" is undefined"), std::string::npos) << "Gradescope shows it";
  EXPECT_EQ(stage_of(run, "01_naive").value("status", ""), "graded");
}

}  // namespace
}  // namespace swa
