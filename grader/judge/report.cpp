// report.cpp: terminal report, grade.json and Gradescope's results.json.
#include "report.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

namespace swa {

using nlohmann::json;

namespace {

std::string points(double score, double max_score) {
  // Rounded down to a tenth: 29.99 of 30 shows as 29.9, never as the full 30.0 it did not earn.
  char text[64];
  std::snprintf(text, sizeof(text), "%.1f / %g", std::floor(score * 10 + 1e-9) / 10, max_score);
  return text;
}

std::string shape_of(const json& c) {
  std::ostringstream s;
  s << c.value("pattern", "?") << "  B=" << c.value("B", 0) << " H=" << c.value("H", 0) << " N=" << c.value("N", 0)
    << " D=" << c.value("D", 0);
  if (c.contains("scale")) s << " scale=" << c["scale"].get<double>();
  return s.str();
}

std::string value_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  std::ostringstream s;
  s << v.get<double>();
  return s.str();
}

// One wrong element or weight, as a line: where it is, what it holds, what it should, where that sits.
std::string mismatch_line(const json& m) {
  std::ostringstream s;
  if (m.contains("d"))
    s << "O[b=" << m.value("b", 0) << ",h=" << m.value("h", 0) << ",i=" << m.value("i", 0) << ",d=" << m.value("d", 0)
      << "]";
  else
    s << "weight of query " << m.value("i", 0) << " on key " << m.value("j", 0);
  s << " = " << value_text(m["got"]) << ", expected " << value_text(m["expected"]) << "  (" << m.value("where", "")
    << ")";
  return s.str();
}

// The text of one check for people: its summary, its failing cases or measurements, its hints.
std::string check_text(const json& check, bool verbose, size_t max_cases = 3, size_t max_lines = 3) {
  std::ostringstream s;
  s << check.value("summary", "") << "\n";
  size_t shown = 0, failing = 0;
  for (const json& c : check.value("cases", json::array())) {
    if (c.value("passed", false)) continue;
    ++failing;
    if (!verbose && shown >= max_cases) continue;
    ++shown;
    s << "  FAILED " << c.value("name", "") << "  [" << shape_of(c) << "]\n";
    s << "      " << c.value("summary", "") << "\n";
    size_t lines = 0;
    for (const json& m : c.value("mismatches", json::array()))
      if (lines++ < max_lines) s << "      " << mismatch_line(m) << "\n";
  }
  if (failing > shown) s << "  ... and " << failing - shown << " more failing cases (all in grade.json)\n";
  for (const json& m : check.value("measurements", json::array()))
    if (m.contains("summary") && !m.value("passed", true)) s << "  FAILED " << m["summary"].get<std::string>() << "\n";
  for (const json& h : check.value("feedback", json::array())) s << "  hint: " << h.get<std::string>() << "\n";
  return s.str();
}

}  // namespace

json make_report(const ReportHeader& h, const Rubric& rubric, const std::vector<json>& stages) {
  double score = 0, max_score = 0;
  for (const json& s : stages) {  // a stage never counts for more than its maximum
    score += std::min(s["score"].get<double>(), s["max_score"].get<double>());
    max_score += s["max_score"].get<double>();
  }
  json r = to_json(rubric);
  for (const json& s : stages)
    if (s.contains("rubric")) r["stages"][s["stage"].get<std::string>()] = s["rubric"];
  return {{"schema", "swa-grade/1"}, {"gpu", h.gpu},   {"date", h.date},     {"commit", h.commit},
          {"variant", h.variant},    {"seed", h.seed}, {"status", h.status}, {"score", score},
          {"max_score", max_score},  {"rubric", r},    {"stages", stages}};
}

json gradescope_results(const json& report) {
  json tests = json::array(), leaderboard = json::array();
  for (const json& stage : report["stages"]) {
    const std::string name = stage["stage"];
    const json visibility = report["rubric"]["stages"].contains(name)
                                ? report["rubric"]["stages"][name].value("visibility", json::object())
                                : json::object();
    for (const json& check : stage["checks"]) {
      if (check["name"] == "speed")
        for (const json& m : check.value("measurements", json::array()))
          if (m.contains("speedup"))
            leaderboard.push_back(
                {{"name", name.substr(0, 2) + " speedup B=" + std::to_string(m.value("B", 0)) +
                              " H=" + std::to_string(m.value("H", 0)) + " N=" + std::to_string(m.value("N", 0))},
                 {"value", std::round(m["speedup"].get<double>() * 100) / 100},
                 {"order", "desc"}});
      const std::string output = stage.value("status", "") == "graded" ? check_text(check, /*verbose=*/true, 100, 5)
                                                                       : stage.value("message", "");
      tests.push_back({{"name", name + ": " + check["name"].get<std::string>()},
                       {"score", check["score"]},
                       {"max_score", check["max_score"]},
                       {"status", check["status"] == "passed" ? "passed" : "failed"},
                       {"output", output},
                       {"visibility", visibility.value(check["name"].get<std::string>(), std::string("visible"))}});
    }
  }
  std::ostringstream summary;
  print_report(report, summary);
  json results = {{"score", report["score"]}, {"output", summary.str()}, {"visibility", "visible"}, {"tests", tests}};
  if (report.contains("execution_time_s"))
    results["execution_time"] = std::ceil(report["execution_time_s"].get<double>());
  if (!leaderboard.empty()) results["leaderboard"] = leaderboard;
  return results;
}

void print_report(const json& report, std::ostream& out, bool verbose) {
  out << "Graded the " << report.value("variant", "?") << " stages on " << report.value("gpu", "?") << ", seed "
      << report.value("seed", 0) << " (repeat a run with --seed " << report.value("seed", 0) << ")\n";
  for (const json& stage : report["stages"]) {
    char head[160];
    std::snprintf(head, sizeof(head), "\n%-22s %-16s %s\n", stage["stage"].get<std::string>().c_str(),
                  points(stage["score"], stage["max_score"]).c_str(), stage.value("status", "").c_str());
    out << head;
    if (stage.value("status", "") != "graded") {
      out << "  " << stage.value("message", "") << "\n";  // the one thing to know; the details are in grade.json
      continue;
    }
    for (const json& v : stage.value("violations", json::array())) out << "  CAUGHT " << v.get<std::string>() << "\n";
    for (const json& check : stage["checks"]) {
      char line[160];
      const std::string status = check["status"] == "passed" ? "PASS" : check["status"] == "skipped" ? "SKIP" : "FAIL";
      std::snprintf(line, sizeof(line), "  %s %-12s %-13s ", status.c_str(), check["name"].get<std::string>().c_str(),
                    points(check["score"], check["max_score"]).c_str());
      std::string text = check_text(check, verbose);
      // Indent the check's further lines under its summary.
      for (size_t at = text.find('\n'); at != std::string::npos && at + 1 < text.size(); at = text.find('\n', at + 1))
        text.insert(at + 1, "       ");
      out << line << text;
    }
  }
  // The summary table.
  out << "\nSummary\n";
  char line[200];
  std::snprintf(line, sizeof(line), "  %-22s %13s %13s %13s %13s %15s\n", "stage", "correctness", "window", "memory",
                "speed", "total");
  out << line;
  for (const json& stage : report["stages"]) {
    std::string cells[4] = {"-", "-", "-", "-"};
    const char* names[4] = {"correctness", "window", "memory", "speed"};
    for (const json& check : stage["checks"])
      for (int k = 0; k < 4; ++k)
        if (check["name"] == names[k]) cells[k] = points(check["score"], check["max_score"]);
    std::snprintf(line, sizeof(line), "  %-22s %13s %13s %13s %13s %15s  %s\n",
                  stage["stage"].get<std::string>().c_str(), cells[0].c_str(), cells[1].c_str(), cells[2].c_str(),
                  cells[3].c_str(), points(stage["score"], stage["max_score"]).c_str(),
                  stage.value("status", "") == "graded" ? "" : stage.value("status", "").c_str());
    out << line;
  }
  std::snprintf(line, sizeof(line), "  %-22s %13s %13s %13s %13s %15s\n", "TOTAL", "", "", "", "",
                points(report["score"], report["max_score"]).c_str());
  out << line;
}

std::string log_tail(const std::string& path, size_t count) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string text;
  for (size_t k = lines.size() > count ? lines.size() - count : 0; k < lines.size(); ++k) text += "\n    | " + lines[k];
  return text;
}

void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp-" + std::to_string(getpid());
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot write " + temp + ": " + std::strerror(errno));
  for (size_t at = 0; at < text.size();) {
    const ssize_t n = write(fd, text.data() + at, text.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      unlink(temp.c_str());
      throw std::runtime_error("cannot write " + temp + ": " + std::strerror(errno));
    }
    at += static_cast<size_t>(n);
  }
  fsync(fd);
  close(fd);
  if (rename(temp.c_str(), path.c_str()) != 0) {
    unlink(temp.c_str());
    throw std::runtime_error("cannot rename " + temp + " to " + path + ": " + std::strerror(errno));
  }
}

std::vector<std::string> write_reports(const json& report, const std::string& dir) {
  std::filesystem::create_directories(dir);
  const std::string grade = (std::filesystem::path(dir) / "grade.json").string();
  const std::string gradescope = (std::filesystem::path(dir) / "results.json").string();
  // results.json first: grade.json, written last, is the mark that the run finished.
  write_file_atomically(gradescope, gradescope_results(report).dump(1) + "\n");
  write_file_atomically(grade, report.dump(-1) + "\n");  // compact: it holds weight matrices
  return {grade, gradescope};
}

bool full_marks(const json& report) {
  int graded = 0;
  for (const json& stage : report["stages"]) {
    if (stage.value("status", "") == "skipped") continue;  // built for another GPU: says so, is not a failure
    if (!stage.value("violations", json::array()).empty()) return false;
    ++graded;
    if (stage["score"].get<double>() < stage["max_score"].get<double>() - 1e-9 || stage.value("status", "") != "graded")
      return false;
  }
  return graded > 0;
}

}  // namespace swa
