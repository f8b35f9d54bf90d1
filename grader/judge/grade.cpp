// grade.cpp: the grader's parent process (one worker per stage) and the worker's entry point.
#include "grade.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "checks.h"
#include "device.h"
#include "environment.h"
#include "reference.h"
#include "report.h"
#include "stage_library.h"

extern char** environ;

namespace swa {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// What the worker was doing when it last said so: "the correctness check, case 'N=65: ...'".
std::string doing(const json& progress) {
  if (progress.is_null()) return "while loading the stage";
  return "during the " + progress.value("check", std::string("?")) + " check, case '" +
         progress.value("case", std::string("?")) + "'";
}

std::string last_lines(const std::string& path, size_t count) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string text;
  for (size_t k = lines.size() > count ? lines.size() - count : 0; k < lines.size(); ++k) text += "\n    | " + lines[k];
  return text;
}

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

// Starts the worker for one stage and follows it until it reports, dies, or falls silent too long.
json run_worker(const GradeOptions& o, const std::string& rubric_file, const StageTarget& target, uint64_t seed,
                Progress& progress) {
  const StageRubric points = o.rubric.stage(target.name);
  const std::string log = (std::filesystem::path(o.out_dir) / "logs" / (target.name + ".log")).string();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 3);  // the report channel (dup2 clears close-on-exec)
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);  // kernel printf
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  const std::string seed_text = std::to_string(seed);
  std::vector<std::string> args = {o.self,     "grade-worker", "--stage", target.name, "--library",   target.library,
                                   "--rubric", rubric_file,    "--seed",  seed_text,   "--report-fd", "3"};
  if (!target.solution.empty()) args.insert(args.end(), {"--solution", target.solution});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, o.self.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (spawned != 0) {
    close(fds[0]);
    return ungraded_stage(target.name, "crashed", std::string("could not start the worker: ") + std::strerror(spawned),
                          points);
  }

  const Clock::time_point start = Clock::now();
  Clock::time_point last_news = start;
  json result, last_progress;
  std::string buffer, killed_because;
  for (bool open = true; open;) {
    const double budget = std::min(o.rubric.silence_timeout_s - seconds_since(last_news),
                                   o.rubric.stage_timeout_s - seconds_since(start));
    if (budget <= 0) {
      kill(pid, SIGKILL);
      killed_because =
          seconds_since(start) >= o.rubric.stage_timeout_s
              ? "it ran past the stage's time limit of " + std::to_string(int(o.rubric.stage_timeout_s)) + " s"
              : "it made no progress for " + std::to_string(int(o.rubric.silence_timeout_s)) + " s";
      break;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(budget * 1000) + 1) <= 0) continue;
    char chunk[65536];
    const ssize_t n = read(fds[0], chunk, sizeof(chunk));
    if (n <= 0) {
      open = false;
      continue;
    }
    buffer.append(chunk, static_cast<size_t>(n));
    for (size_t end; (end = buffer.find('\n')) != std::string::npos; buffer.erase(0, end + 1)) {
      json event = json::parse(buffer.substr(0, end), nullptr, /*allow_exceptions=*/false);
      if (event.is_discarded()) continue;
      last_news = Clock::now();
      if (event.value("type", std::string()) == "progress") {
        last_progress = event;
        progress.event(target.name, event);
      } else if (event.value("type", std::string()) == "result") {
        result = event["stage"];
      }
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);

  if (!result.is_null()) return result;
  std::string message;
  std::string state = "crashed";
  if (!killed_because.empty()) {
    state = "timed out";
    message = "the stage was stopped " + doing(last_progress) + ": " + killed_because +
              ". A kernel that never finishes is the usual cause: an endless loop, or a __syncthreads() that not "
              "every thread of the block reaches";
  } else if (WIFSIGNALED(status)) {
    message = "the stage crashed " + doing(last_progress) + " (signal " + std::to_string(WTERMSIG(status)) + ", " +
              strsignal(WTERMSIG(status)) + ")";
  } else {
    message = "the worker stopped " + doing(last_progress) + " with exit status " +
              std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + " and no result";
  }
  message += "; the last lines it printed (" + log + "):" + last_lines(log, 8);
  return ungraded_stage(target.name, state, message, points);
}

// The stages to grade: the named ones (a name or its number, "03"), else every stage of the variant.
std::vector<StageTarget> resolve_stages(const GradeOptions& o) {
  const std::vector<std::string> available = list_stages(o.stages_dir, o.variant);
  std::string list;
  for (const std::string& a : available) list += (list.empty() ? "" : ", ") + a;
  if (available.empty())
    throw std::invalid_argument("no " + o.variant + " stage libraries in " + o.stages_dir + "/" + o.variant +
                                ": build them first (tools/grade.sh builds and grades)");
  std::vector<std::string> names;
  for (const std::string& want : o.stages) {
    std::string found;
    for (const std::string& a : available)
      if (a == want || a.rfind(want + "_", 0) == 0) found = a;
    if (found.empty())
      throw std::invalid_argument("unknown stage '" + want + "'; the " + o.variant + " stages are: " + list);
    names.push_back(found);
  }
  if (names.empty()) names = available;
  const std::string solutions = o.solutions_dir.empty() ? o.stages_dir : o.solutions_dir;
  std::vector<StageTarget> targets;
  for (const std::string& name : names) {
    StageTarget t{name, stage_path(o.stages_dir, o.variant, name), ""};
    const std::string sol = stage_path(solutions, "solution", name);
    if (o.variant != "solution" && std::filesystem::exists(sol)) t.solution = sol;
    targets.push_back(t);
  }
  return targets;
}

}  // namespace

int grade(const GradeOptions& o, std::ostream& out, std::ostream& progress_out) {
  const std::vector<StageTarget> targets = resolve_stages(o);
  const uint64_t seed = o.seed != 0 ? o.seed : std::random_device{}() % 1000000000u + 1;
  ReportHeader header{gpu_description(), utc_now(), source_commit(), o.variant, "graded", seed};
  std::filesystem::create_directories(std::filesystem::path(o.out_dir) / "logs");

  std::vector<json> results;
  std::string why;
  if (!gpu_available(&why)) {
    header.status = "no GPU";
    out << "No GPU here (" << why << "): the stages can only be graded on a machine with an NVIDIA GPU.\n"
        << "Running what needs no GPU instead, the CPU reference's self-check ...\n";
    const reference::SelfCheck check = reference::self_check(seed);
    out << "  reference self-check: " << check.cases << " cases, " << check.failed << " failed, worst relative error "
        << check.worst_error << (check.failed ? ", first failure: " + check.first_failure : "") << "\n";
    for (const StageTarget& t : targets)
      results.push_back(ungraded_stage(t.name, "no GPU", "no GPU (" + why + ")", o.rubric.stage(t.name)));
    json report = make_report(header, o.rubric, results);
    report["self_check"] = {{"cases", check.cases}, {"failed", check.failed}, {"worst_error", check.worst_error}};
    const std::vector<std::string> paths = write_reports(report, o.out_dir);
    out << "Reports (every stage 0, not graded): " << paths[0] << ", " << paths[1] << "\n";
    return check.failed ? kExitSomethingFailed : kExitNoGpu;
  }

  // A rubric entry for a stage that is not being graded is most likely a misspelt name: say so.
  for (const auto& [key, unused] : o.rubric.stages) {
    const bool used = std::any_of(targets.begin(), targets.end(), [&](const StageTarget& t) {
      return t.name == key || (key.size() == 2 && t.name.rfind(key + "_", 0) == 0);
    });
    if (!used)
      progress_out << "warning: the rubric's entry \"" << key << "\" matches no stage being graded" << std::endl;
  }

  // The workers read the rubric in force from a file.
  const std::string rubric_file = (std::filesystem::path(o.out_dir) / "logs" / "rubric.json").string();
  {
    std::ofstream r(rubric_file);
    r << to_json(o.rubric).dump(1);
  }
  progress_out << "Grading " << targets.size() << " " << o.variant << " stage" << (targets.size() == 1 ? "" : "s")
               << " on " << header.gpu << " (seed " << seed << ")" << std::endl;
  Progress progress(progress_out);
  for (const StageTarget& t : targets) {
    const Clock::time_point start = Clock::now();
    results.push_back(run_worker(o, rubric_file, t, seed, progress));
    progress.done(t.name, results.back(), seconds_since(start));
  }
  const json report = make_report(header, o.rubric, results);
  const std::vector<std::string> paths = write_reports(report, o.out_dir);
  out << "\n";
  print_report(report, out, o.verbose);
  out << "\nReports: " << paths[0] << " (every check and timing), " << paths[1] << " (Gradescope); worker logs in "
      << (std::filesystem::path(o.out_dir) / "logs").string() << "\n";
  return full_marks(report) ? kExitAllPassed : kExitSomethingFailed;
}

int grade_worker(const std::string& stage, const std::string& library, const std::string& solution,
                 const std::string& rubric_file, uint64_t seed, int report_fd) {
  auto send = [report_fd](const json& event) {
    const std::string line = event.dump() + "\n";
    for (size_t at = 0; at < line.size();) {
      const ssize_t n = write(report_fd, line.data() + at, line.size() - at);
      if (n <= 0) return;
      at += static_cast<size_t>(n);
    }
  };
  Rubric rubric;
  try {
    rubric = load_rubric(rubric_file);
  } catch (const std::exception& e) {
    std::cerr << "grade-worker: " << e.what() << "\n";
    return kExitUsage;
  }
  json result;
  try {
    result = grade_stage({stage, library, solution}, rubric, seed, send);
  } catch (const std::exception& e) {
    result = ungraded_stage(stage, "crashed", std::string("the grader failed on this stage: ") + e.what(),
                            rubric.stage(stage));
  }
  send({{"type", "result"}, {"stage", result}});
  return 0;
}

}  // namespace swa
