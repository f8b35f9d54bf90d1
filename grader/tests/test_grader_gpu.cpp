// test_grader_gpu.cpp: the grader end to end on the GPU, run as students and instructors run it.
//
//   untouched starters   every stage 0 points, "not implemented"
//   solutions            full marks
//   planted faults       an off-by-one window edge loses the right points, with feedback naming the
//                        edge; a crash, a hang and an abort each cost only their own stage, while the
//                        stage graded after them still gets its points (tests/planted/README.md)
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "device.h"
#include "gpu_test.h"

namespace swa {
namespace {

using nlohmann::json;

struct GradeRun {
  int exit_status = -1;
  std::string output;
  json report;
};

// Runs `swa grade ARGS` into a fresh folder and reads back its exit status, output and grade.json.
GradeRun run_grade(const std::string& name, const std::string& args) {
  const auto dir = std::filesystem::temp_directory_path() / ("swa_grade_" + name + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string command = std::string(SWA_BINARY) + " grade --out " + dir.string() + " " + args + " > " +
                              (dir / "out.txt").string() + " 2>&1";
  GradeRun run;
  const int status = std::system(command.c_str());
  run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::stringstream text;
  text << std::ifstream(dir / "out.txt").rdbuf();
  run.output = text.str();
  if (std::filesystem::exists(dir / "grade.json")) run.report = json::parse(std::ifstream(dir / "grade.json"));
  return run;
}

const json& stage_of(const GradeRun& run, const std::string& name) {
  for (const json& s : run.report["stages"])
    if (s["stage"] == name) return s;
  static const json none;
  ADD_FAILURE() << "no stage " << name << " in the report:\n" << run.output;
  return none;
}

const json& check_of(const json& stage, const std::string& name) {
  for (const json& c : stage["checks"])
    if (c["name"] == name) return c;
  static const json none;
  ADD_FAILURE() << "no check " << name << " in " << stage.value("stage", "?");
  return none;
}

TEST(GradeStudent, UntouchedStartersScoreZeroAsNotImplemented) {
  REQUIRE_GPU();
  const GradeRun run = run_grade("starters", "--variant student");
  EXPECT_EQ(run.exit_status, 1) << run.output;
  ASSERT_TRUE(run.report.is_object()) << run.output;
  ASSERT_FALSE(run.report["stages"].empty());
  for (const json& s : run.report["stages"]) {
    EXPECT_EQ(s["status"], "not implemented") << s["stage"] << ": " << s.value("message", "");
    EXPECT_EQ(s["score"].get<double>(), 0.0) << s["stage"];
  }
  EXPECT_NE(run.output.find("not implemented"), std::string::npos);
}

TEST(GradeSolutions, ScoreFullMarks) {
  REQUIRE_GPU();
  const GradeRun run = run_grade("solutions", "--variant solution");
  ASSERT_TRUE(run.report.is_object()) << run.output;
  EXPECT_EQ(run.exit_status, 0) << run.output;
  for (const json& s : run.report["stages"]) {
    EXPECT_EQ(s["status"], "graded") << s["stage"];
    EXPECT_DOUBLE_EQ(s["score"].get<double>(), s["max_score"].get<double>()) << s["stage"] << "\n" << run.output;
  }
  EXPECT_DOUBLE_EQ(run.report["score"].get<double>(), run.report["max_score"].get<double>());
}

TEST(GradePlanted, FaultsCostTheirOwnStageAndSayWhy) {
  REQUIRE_GPU();
  // Short time limits, so that the hanging stage is stopped quickly.
  const auto rubric =
      std::filesystem::temp_directory_path() / ("swa_planted_rubric_" + std::to_string(getpid()) + ".json");
  std::ofstream(rubric) << R"({"timeouts": {"stage_seconds": 120, "silence_seconds": 10}})";
  const GradeRun run = run_grade("planted", "--variant planted --rubric " + rubric.string() +
                                                " 04_off_by_one 91_crash 92_hang 93_abort 97_correct");
  ASSERT_TRUE(run.report.is_object()) << run.output;
  EXPECT_EQ(run.exit_status, 1) << run.output;

  // The off-by-one loses correctness and window points, and the feedback names the right edge.
  const json& off = stage_of(run, "04_off_by_one");
  EXPECT_EQ(off["status"], "graded");
  const json& correctness = check_of(off, "correctness");
  EXPECT_LT(correctness["score"].get<double>(), correctness["max_score"].get<double>());
  EXPECT_GT(correctness["score"].get<double>(), 0.0) << "W >= N and W far beyond N still pass";
  const json& window = check_of(off, "window");
  EXPECT_EQ(window["score"].get<double>(), 0.0);
  bool names_edge = false;
  for (const json& h : window["feedback"])
    names_edge = names_edge || h.get<std::string>().find("right edge") != std::string::npos;
  EXPECT_TRUE(names_edge) << window.dump(1).substr(0, 2000);
  bool mismatch_at_edge = false;
  for (const json& c : window["cases"])
    for (const json& m : c["mismatches"])
      mismatch_at_edge = mismatch_at_edge || m["where"].get<std::string>().rfind("one key right of the window", 0) == 0;
  EXPECT_TRUE(mismatch_at_edge);
  EXPECT_EQ(check_of(off, "memory")["status"], "passed") << "its memory use is the solution's";
  EXPECT_EQ(check_of(off, "speed")["status"], "skipped") << "speed counts only once every case passes";

  const json& crash = stage_of(run, "91_crash");
  EXPECT_EQ(crash["status"], "cuda error") << crash.value("message", "");
  EXPECT_NE(crash["message"].get<std::string>().find("illegal"), std::string::npos) << crash["message"];
  EXPECT_EQ(crash["score"].get<double>(), 0.0);

  const json& hang = stage_of(run, "92_hang");
  EXPECT_EQ(hang["status"], "timed out") << hang.value("message", "");
  EXPECT_NE(hang["message"].get<std::string>().find("correctness check"), std::string::npos) << hang["message"];
  EXPECT_EQ(hang["score"].get<double>(), 0.0);

  const json& abort = stage_of(run, "93_abort");
  EXPECT_EQ(abort["status"], "crashed") << abort.value("message", "");
  EXPECT_NE(abort["message"].get<std::string>().find("signal 6"), std::string::npos) << abort["message"];

  // The correct stage graded after the faulty ones still gets every point.
  const json& good = stage_of(run, "97_correct");
  EXPECT_EQ(good["status"], "graded");
  EXPECT_DOUBLE_EQ(good["score"].get<double>(), good["max_score"].get<double>()) << run.output;
}

// The grader follows what a stage declares: the toy stage's 128 x 64 tiles set its partial-tile cases and
// its speed bound, only its D = 64 is tested; a stage for a GPU this machine is not is skipped, saying so.
TEST(GradeStageInterface, TilesHeadDimsAndGpuFromTheDeclaration) {
  REQUIRE_GPU();
  const GradeRun run = run_grade("engines", "--variant planted 98_toy_tiles 99_future_gpu");
  ASSERT_TRUE(run.report.is_object()) << run.output;

  const json& toy = stage_of(run, "98_toy_tiles");
  EXPECT_EQ(toy["status"], "graded") << toy.value("message", "");
  const json& correctness = check_of(toy, "correctness");
  EXPECT_DOUBLE_EQ(correctness["score"].get<double>(), correctness["max_score"].get<double>()) << run.output;
  bool n127 = false, n129 = false;
  for (const json& c : correctness["cases"]) {
    EXPECT_EQ(c["D"], 64) << c["name"];
    n127 = n127 || c["N"] == 127;
    n129 = n129 || c["N"] == 129;
  }
  EXPECT_TRUE(n127 && n129) << "the partial-tile cases of a 128-query tile";
  for (const json& m : check_of(toy, "speed")["measurements"]) {
    if (!m.contains("tile_bound")) continue;
    EXPECT_EQ(m["tiles"], "128x64");
    // At N = 4096, W = 128 a query tile of 128 sees at most 6 of the 64 key tiles of 64 (keys i0 - 128 ..
    // i0 + 255): the busiest-block bound is 64 / 6, where 64 x 64 tiles would give 64 / 5.
    if (m["N"] == 4096) EXPECT_NEAR(m["tile_bound"].get<double>(), 64.0 / 6.0, 1e-6) << m.dump();
  }

  const json& future = stage_of(run, "99_future_gpu");
  EXPECT_EQ(future["status"], "skipped");
  EXPECT_NE(future["message"].get<std::string>().find("needs sm_100a"), std::string::npos) << future["message"];
  EXPECT_EQ(run.output.find("out-of-bounds"), std::string::npos) << "no misleading hint for a skipped stage";
}

}  // namespace
}  // namespace swa
