// stage_grade.cpp: one stage, from its runner's start to its entry in grade.json (checks.h).
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "checks.h"
#include "report.h"
#include "launch.h"

namespace swa {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

json skipped(const char* name, double max_score, const std::string& why) {
  json c = check_result(name, 0, max_score, why);
  c["status"] = "skipped";
  return c;
}

}  // namespace

RunnerLaunch JudgeContext::launch(const std::string& library, const std::string& stage) const {
  RunnerLaunch l;
  l.runner = runner;
  l.library = library;
  l.log = (std::filesystem::path(logs_dir) / (stage + ".log")).string();
  l.sandbox = sandbox;
  l.cpu_seconds = rubric.stage_timeout_s + 60;
  return l;
}

json ungraded_stage(const std::string& name, const std::string& status, const std::string& message,
                    const StageRubric& rubric) {
  json checks = json::array();
  const std::pair<const char*, double> all[] = {{"correctness", rubric.correctness},
                                                {"window", rubric.window},
                                                {"memory", rubric.memory},
                                                {"speed", rubric.speed}};
  for (const auto& [check, points] : all)
    if (points > 0) {
      json c = check_result(check, 0, points, "not graded: " + message);
      c["status"] = "failed";
      checks.push_back(c);
    }
  return {
      {"stage", name},   {"status", status}, {"message", message}, {"score", 0.0}, {"max_score", rubric.max_score()},
      {"checks", checks}};
}

json grade_stage(JudgeContext& ctx, const GradeTarget& target) {
  const StageRubric points = ctx.rubric.stage(target.name);
  const std::string log = (std::filesystem::path(ctx.logs_dir) / (target.name + ".log")).string();
  std::ofstream(log, std::ios::trunc).flush();
  std::string current = "loading", current_case;
  const Clock::time_point start = Clock::now();
  JudgeContext& c = ctx;
  const Emit outer = ctx.emit;
  // Remember where we are, for the message of a fault; stop a stage that runs past its time.
  c.emit = [&](const json& event) {
    current = event.value("check", current);
    current_case = event.value("case", std::string());
    if (std::chrono::duration<double>(Clock::now() - start).count() > ctx.rubric.stage_timeout_s)
      throw RunnerFault(RunnerFault::kTimedOut, "it ran past the stage's time limit of " +
                                                    std::to_string(static_cast<int>(ctx.rubric.stage_timeout_s)) +
                                                    " s");
    if (outer) outer(event);
  };
  struct Restore {
    JudgeContext& ctx;
    Emit emit;
    ~Restore() { ctx.emit = emit; }
  } restore{ctx, outer};
  auto during = [&] {
    return current == "loading" ? std::string("while loading the stage")
                                : "during the " + current + " check, case '" + current_case + "'";
  };

  std::vector<std::string> violations;
  // A stage that ends early still reports what was caught before.
  auto with_violations = [&](json result) {
    for (const std::string& v : violations) result["violations"].push_back(v);
    return result;
  };
  json checks = json::array(), time_limit_measurement;
  double start_seconds = 0;  // starting the runner and loading the stage
  Declared declared;
  try {
    RemoteStage stage(ctx.launch(target.library, target.name));
    declared = stage.load(target.name);
    Clock::time_point lap = Clock::now();
    start_seconds = std::chrono::duration<double>(lap - start).count();
    // Each check's wall time, in grade.json (what a grade's minutes go to).
    auto timed = [&](json check) {
      const Clock::time_point now = Clock::now();
      check["seconds"] = std::chrono::duration<double>(now - lap).count();
      lap = now;
      return check;
    };
    // A stage built for another GPU is skipped, saying so: no zero with a misleading hint.
    const SwaStageInfo info = declared.info();
    if (const std::string why = check_device(info, compute_capability()); !why.empty()) {
      json result = ungraded_stage(target.name, "skipped", "skipped: " + why, points);
      result["skipped"] = true;
      return result;
    }
    bool not_implemented = false;
    json correctness = timed(correctness_check(ctx, stage, points, &not_implemented));
    if (not_implemented) {
      json result =
          ungraded_stage(target.name, "not implemented",
                         "the output was never written in any case: the stage is not implemented yet", points);
      result["checks"][0]["cases"] = correctness["cases"];
      return result;
    }
    json window = timed(window_check(ctx, stage, points));
    json speed;
    const bool all_correct = correctness["score"].get<double>() >= points.correctness - 1e-9;
    if (points.speed > 0) {
      speed = all_correct
                  ? timed(speed_check(ctx, stage, target.name, points, &violations))
                  : skipped("speed", points.speed, "skipped: every correctness case must pass before speed counts");
    } else if (points.time_limit_factor > 0) {
      bool too_slow = false;
      time_limit_measurement = timed(time_limit(ctx, stage, target.name, points, &violations, &too_slow));
      if (too_slow) {
        char text[300];
        std::snprintf(text, sizeof(text),
                      "the stage took %.3f ms at B=4 H=16 N=4096, over its time limit of %.3f ms (%s): the work "
                      "must run on the GPU",
                      time_limit_measurement["median_ms"].get<double>(),
                      time_limit_measurement["limit_ms"].get<double>(),
                      time_limit_measurement["limit_from"].get<std::string>().c_str());
        json result = with_violations(ungraded_stage(target.name, "too slow", text, points));
        result["time_limit"] = time_limit_measurement;
        return result;
      }
    }
    json memory = timed(memory_check(ctx, target, stage, points));
    const int left_behind = stage.process().stop();
    if (left_behind > 0)
      throw StageRejected("the stage started processes of its own (" + std::to_string(left_behind) +
                          " still running when its runner ended; they were killed)");
    checks = json::array({correctness, window, memory});
    if (points.speed > 0) checks.push_back(speed);
  } catch (const StageUnusable& e) {
    return with_violations(ungraded_stage(target.name, e.status, e.what(), points));
  } catch (const StageRejected& e) {
    violations.push_back(e.what());
    return with_violations(
        ungraded_stage(target.name, "rejected", std::string(e.what()) + " (" + during() + ")", points));
  } catch (const StageFault& e) {
    return with_violations(
        ungraded_stage(target.name, "cuda error",
                       "a CUDA error " + during() + ": " + e.what() +
                           " (an out-of-bounds access in the kernel, most often; compute-sanitizer finds it)",
                       points));
  } catch (const RunnerFault& e) {
    if (e.kind == RunnerFault::kProtocol) {
      const std::string what = std::string("protocol violation: ") + e.what();
      violations.push_back(what);
      return with_violations(ungraded_stage(target.name, "rejected", what + " (" + during() + ")", points));
    }
    if (e.kind == RunnerFault::kTimedOut)
      return with_violations(
          ungraded_stage(target.name, "timed out",
                         "the stage was stopped " + during() + ": " + e.what() +
                             ". A kernel that never finishes is the usual cause: an endless loop, or a "
                             "__syncthreads() that not every thread of the block reaches; the last lines it printed (" +
                             log + "):" + log_tail(log, 8),
                         points));
    return with_violations(ungraded_stage(target.name, "crashed",
                                          "the stage crashed " + during() + " (" + e.what() +
                                              "); the last lines it printed (" + log + "):" + log_tail(log, 8),
                                          points));
  } catch (const std::exception& e) {
    return with_violations(ungraded_stage(target.name, "grader error",
                                          "the grader failed on this stage " + during() + ": " + e.what(), points));
  }
  double score = 0;
  for (const json& check : checks) score += check["score"].get<double>();
  Rubric just_this;
  just_this.stages[target.name] = points;
  json result = {{"stage", target.name},
                 {"library", target.library},
                 {"status", "graded"},
                 {"message", ""},
                 {"score", capped_score(score, points)},
                 {"max_score", points.max_score()},
                 {"rubric", to_json(just_this)["stages"][target.name]},
                 {"checks", checks},
                 {"violations", violations},
                 {"declared",
                  {{"name", declared.name},
                   {"patterns", declared.patterns},
                   {"head_dims", declared.head_dims},
                   {"tile_m", declared.tile_m},
                   {"tile_n", declared.tile_n}}}};
  if (!time_limit_measurement.is_null()) result["time_limit"] = time_limit_measurement;
  result["start_seconds"] = start_seconds;
  return result;
}

}  // namespace swa
