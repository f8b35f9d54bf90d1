// rubric.cpp: the default rubric, rubric files, and the score arithmetic.
#include "rubric.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "baselines/baselines.h"
#include "pattern_spec.h"

namespace swa {

using nlohmann::json;

StageRubric default_stage_rubric(const std::string& name) {
  StageRubric r;  // stages 03 on: correctness 40, window 20, memory 10, speed 30
  const std::string number = name.substr(0, 2);
  if (number == "01" || number == "02") {
    r.correctness = 60, r.window = 25, r.memory = 15, r.speed = 0;  // no speed target before the window tiles
  }
  if (number == "01") r.memory_rule = MemoryRule::kPerScore, r.memory_bytes = 8;  // it may keep every score
  if (number == "03") r.speed_target = 0.55;  // still two passes over the tiles
  // Stage 05's target was set for its first solution, which masked its partial tiles through the general
  // Pattern::allows (two of the causal window's three tiles are partial) and whose long kernel started cold
  // on one head. The current solution measured 2.11x, 4.08x, 7.86x, 18.38x against 1.20x, 2.40x, 4.80x,
  // 9.60x (H200, 2026-12-02, commit d70279a).
  if (number == "05") r.speed_target = 0.45, r.speed_pattern = "causal:128", r.patterns = kAllPatterns;
  // Stages 01 and 02 have no speed points, but must run on the GPU (a generous limit: 10x the solution).
  if (number == "01" || number == "02") r.time_limit_factor = 10;
  // The tensor-core stages: the sliding and causal windows; stage 07's wgmma kernels take D = 64 and 128.
  if (number == "06" || number == "07")
    r.patterns = pattern_bit(PatternKind::kSlidingWindow) | pattern_bit(PatternKind::kCausalSlidingWindow);
  if (number == "07") r.head_dims = head_dim_bit(64) | head_dim_bit(128);
  // A stage the kit does not know (08 on): what it declares is what it is graded on.
  if (number >= "08") r.patterns = r.head_dims = 0;
  // The CUDA-core stages' bounds count the exercise's 64 x 64 tiles, whatever a stage declares.
  if (number == "03" || number == "04" || number == "05") r.speed_tile_m = r.speed_tile_n = 64;
  // The tensor-core stages against the tensor-core baseline ("mma"), on 64 x 64 tiles too. Stage 06, measured
  // on the H200 with the judge's clock (2026-12-02, commit d70279a; grader/reference-timings.json): speedups
  // 1.09x, 1.86x, 3.31x on one head (N = 512, 1024, 2048) and 7.10x at (4, 16, 4096); 0.4 of the bound
  // (0.64x, 1.28x, 2.56x, 5.12x) leaves it above every target, while a kernel at stage 04's speed (about
  // 1.0x and 1.6x there) earns almost nothing.
  if (number == "06") r.speed_baseline = "mma", r.speed_tile_m = r.speed_tile_n = 64, r.speed_target = 0.4;
  // Stage 07 (Hopper) against the same baseline. Measured on the H200 with the judge's clock (the same run):
  // 1.06x, 1.77x, 3.10x on one head (N = 512, 1024, 2048), 7.43x at (4, 16, 4096). One head is a chain of
  // key tiles for both tensor-core stages, so no fraction separates 07 from 06 there; 0.35 of the bound
  // (0.56x, 1.12x, 2.24x, 4.48x) leaves the solution above every target.
  if (number == "07") r.speed_baseline = "mma", r.speed_tile_m = r.speed_tile_n = 64, r.speed_target = 0.35;
  return r;
}

Rubric default_rubric() { return Rubric{}; }

StageRubric Rubric::stage(const std::string& name) const {
  if (const auto it = stages.find(name); it != stages.end()) return it->second;  // "03_masked_windows"
  if (const auto it = stages.find(name.substr(0, 2)); it != stages.end()) return it->second;  // "03"
  return default_stage_rubric(name);
}

namespace {

// Reads field `key` of object `obj` (at `path` in `source`) into `value` if present, checking its type
// and that it is at least `min`.
void read_number(const json& obj, const char* key, double& value, const std::string& where, double min = 0) {
  if (!obj.contains(key)) return;
  const json& x = obj[key];
  if (!x.is_number())
    throw std::runtime_error(where + "." + key + ": expected a number, got " + std::string(x.type_name()));
  value = x.get<double>();
  if (!(value >= min)) {
    std::ostringstream bound;
    bound << min;
    throw std::runtime_error(where + "." + key + ": " + x.dump() + " must be >= " + bound.str());
  }
}

void reject_unknown(const json& obj, std::initializer_list<const char*> known, const std::string& where) {
  if (!obj.is_object()) throw std::runtime_error(where + ": expected an object, got " + std::string(obj.type_name()));
  for (const auto& [key, value] : obj.items()) {
    if (std::find_if(known.begin(), known.end(), [&](const char* k) { return key == k; }) == known.end()) {
      std::string list;
      for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
      throw std::runtime_error(where + ": unknown field '" + key + "' (known: " + list + ")");
    }
  }
}

}  // namespace

Rubric rubric_from_json(const json& file, const std::string& source) {
  Rubric r = default_rubric();
  reject_unknown(file, {"stages", "tolerance", "window", "timeouts"}, source);
  if (file.contains("stages")) {
    const std::string where = source + ": stages";
    if (!file["stages"].is_object()) throw std::runtime_error(where + ": expected an object of stage names");
    for (const auto& [name, entry] : file["stages"].items()) {
      const std::string at = where + "." + name;
      const bool numbered = name.size() >= 2 && std::isdigit(static_cast<unsigned char>(name[0])) &&
                            std::isdigit(static_cast<unsigned char>(name[1])) && (name.size() == 2 || name[2] == '_');
      if (!numbered)
        throw std::runtime_error(at +
                                 ": a stage is named by its folder (\"03_masked_windows\") or its number (\"03\")");
      reject_unknown(entry,
                     {"correctness", "window", "memory", "speed", "speed_target", "speed_pattern", "speed_baseline",
                      "speed_tile_m", "speed_tile_n", "memory_rule", "memory_bytes", "patterns", "head_dims",
                      "time_limit_factor", "visibility"},
                     at);
      StageRubric s = default_stage_rubric(name);
      read_number(entry, "correctness", s.correctness, at);
      read_number(entry, "window", s.window, at);
      read_number(entry, "memory", s.memory, at);
      read_number(entry, "speed", s.speed, at);
      read_number(entry, "speed_target", s.speed_target, at, 1e-6);
      read_number(entry, "memory_bytes", s.memory_bytes, at, 1e-6);
      read_number(entry, "time_limit_factor", s.time_limit_factor, at);
      if (entry.contains("patterns") && entry["patterns"] == "declared") {
        s.patterns = 0;
      } else if (entry.contains("patterns")) {
        const json& list = entry["patterns"];
        if (!list.is_array() || list.empty())
          throw std::runtime_error(at + ".patterns: expected a list of pattern names");
        s.patterns = 0;
        for (const json& item : list) {
          int kind = -1;
          for (int k = 0; k < kNumPatternKinds; ++k)
            if (item.is_string() && item.get<std::string>() == pattern_name(static_cast<PatternKind>(k))) kind = k;
          if (kind < 0)
            throw std::runtime_error(at + ".patterns: " + item.dump() +
                                     " is not one of sliding, causal, dilated, global, adaptive, exponential, block, "
                                     "sinks");
          s.patterns |= pattern_bit(static_cast<PatternKind>(kind));
        }
      }
      if (entry.contains("head_dims") && entry["head_dims"] == "declared") {
        s.head_dims = 0;
      } else if (entry.contains("head_dims")) {
        const json& list = entry["head_dims"];
        if (!list.is_array() || list.empty())
          throw std::runtime_error(at + ".head_dims: expected a list such as [64, 128], or \"declared\"");
        s.head_dims = 0;
        for (const json& item : list) {
          if (!item.is_number_integer() || head_dim_bit(item.get<int>()) == 0)
            throw std::runtime_error(at + ".head_dims: " + item.dump() + " is not one of 16, 32, 64, 128");
          s.head_dims |= head_dim_bit(item.get<int>());
        }
      }
      if (entry.contains("visibility")) {
        const json& v = entry["visibility"];
        if (!v.is_object())
          throw std::runtime_error(at + ".visibility: expected an object such as {\"speed\": \"after_due_date\"}");
        for (const auto& [check, value] : v.items()) {
          if (check != "correctness" && check != "window" && check != "memory" && check != "speed")
            throw std::runtime_error(at + ".visibility: unknown check '" + check +
                                     "' (known: correctness, window, memory, speed)");
          const std::string text = value.is_string() ? value.get<std::string>() : "";
          if (text != "visible" && text != "hidden" && text != "after_due_date" && text != "after_published")
            throw std::runtime_error(at + ".visibility." + check + ": " + value.dump() +
                                     " is not one of visible, hidden, after_due_date, after_published");
          s.visibility[check] = text;
        }
      }
      for (const auto& [key, tile] :
           {std::pair<const char*, int*>{"speed_tile_m", &s.speed_tile_m}, {"speed_tile_n", &s.speed_tile_n}}) {
        if (!entry.contains(key)) continue;
        if (!entry[key].is_number_integer() || entry[key].get<int>() < 0 || entry[key].get<int>() > 1024)
          throw std::runtime_error(at + "." + key + ": " + entry[key].dump() +
                                   " must be an integer in [0, 1024] (0: the stage's declared tiles)");
        *tile = entry[key].get<int>();
      }
      if (entry.contains("speed_baseline")) {
        const std::string name = entry["speed_baseline"].is_string() ? entry["speed_baseline"].get<std::string>() : "";
        if (std::find_if(std::begin(kBaselineNames), std::end(kBaselineNames),
                         [&](const char* known) { return name == known; }) == std::end(kBaselineNames)) {
          std::string known;
          for (const char* k : kBaselineNames) known += (known.empty() ? "" : ", ") + std::string(k);
          throw std::runtime_error(at + ".speed_baseline: " + entry["speed_baseline"].dump() + " is not one of " +
                                   known);
        }
        s.speed_baseline = name;
      }
      if (entry.contains("speed_pattern")) {
        if (!entry["speed_pattern"].is_string()) throw std::runtime_error(at + ".speed_pattern: expected a string");
        s.speed_pattern = entry["speed_pattern"].get<std::string>();
        for (int N : kSpeedSequenceLengths) {  // it must fit every shape the speed check times
          try {
            parse_pattern(s.speed_pattern, N);
          } catch (const std::exception& e) {
            throw std::runtime_error(at + ".speed_pattern: at N = " + std::to_string(N) + ": " + e.what());
          }
        }
      }
      if (entry.contains("memory_rule")) {
        const std::string rule = entry["memory_rule"].is_string() ? entry["memory_rule"].get<std::string>() : "";
        if (rule == "per_score")
          s.memory_rule = MemoryRule::kPerScore;
        else if (rule == "per_row")
          s.memory_rule = MemoryRule::kPerRow;
        else
          throw std::runtime_error(at + ".memory_rule: expected \"per_score\" or \"per_row\", got " +
                                   entry["memory_rule"].dump());
      }
      r.stages[name] = s;
    }
  }
  if (file.contains("tolerance")) {
    const std::string at = source + ": tolerance";
    reject_unknown(file["tolerance"], {"atol", "rtol"}, at);
    read_number(file["tolerance"], "atol", r.tolerance.atol, at);
    read_number(file["tolerance"], "rtol", r.tolerance.rtol, at);
  }
  if (file.contains("window")) {
    const std::string at = source + ": window";
    reject_unknown(file["window"], {"outside_max", "inside_atol", "inside_rtol"}, at);
    read_number(file["window"], "outside_max", r.window_outside_max, at);
    read_number(file["window"], "inside_atol", r.window_inside.atol, at);
    read_number(file["window"], "inside_rtol", r.window_inside.rtol, at);
  }
  if (file.contains("timeouts")) {
    const std::string at = source + ": timeouts";
    reject_unknown(file["timeouts"], {"stage_seconds", "silence_seconds"}, at);
    read_number(file["timeouts"], "stage_seconds", r.stage_timeout_s, at, 1);
    read_number(file["timeouts"], "silence_seconds", r.silence_timeout_s, at, 1);
  }
  return r;
}

Rubric load_rubric(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the rubric file " + path);
  json file;
  try {
    file = json::parse(in);
  } catch (const json::parse_error& e) {
    throw std::runtime_error("rubric file " + path + " is not valid JSON: " + e.what());
  }
  return rubric_from_json(file, path);
}

namespace {
json pattern_names(uint32_t bits) {
  if (bits == 0) return "declared";
  json names = json::array();
  for (int k = 0; k < kNumPatternKinds; ++k)
    if (bits & pattern_bit(static_cast<PatternKind>(k))) names.push_back(pattern_name(static_cast<PatternKind>(k)));
  return names;
}
json head_dim_list(uint32_t bits) {
  if (bits == 0) return "declared";
  json dims = json::array();
  for (int D : kHeadDims)
    if (bits & head_dim_bit(D)) dims.push_back(D);
  return dims;
}
}  // namespace

json to_json(const Rubric& r) {
  json stages = json::object();
  for (const auto& [name, s] : r.stages)
    stages[name] = {{"correctness", s.correctness},
                    {"window", s.window},
                    {"memory", s.memory},
                    {"speed", s.speed},
                    {"speed_target", s.speed_target},
                    {"speed_pattern", s.speed_pattern},
                    {"speed_baseline", s.speed_baseline},
                    {"speed_tile_m", s.speed_tile_m},
                    {"speed_tile_n", s.speed_tile_n},
                    {"memory_rule", s.memory_rule == MemoryRule::kPerScore ? "per_score" : "per_row"},
                    {"memory_bytes", s.memory_bytes},
                    {"patterns", pattern_names(s.patterns)},
                    {"head_dims", head_dim_list(s.head_dims)},
                    {"time_limit_factor", s.time_limit_factor},
                    {"visibility", s.visibility}};
  return {{"stages", stages},
          {"tolerance", {{"atol", r.tolerance.atol}, {"rtol", r.tolerance.rtol}}},
          {"window",
           {{"outside_max", r.window_outside_max},
            {"inside_atol", r.window_inside.atol},
            {"inside_rtol", r.window_inside.rtol}}},
          {"timeouts", {{"stage_seconds", r.stage_timeout_s}, {"silence_seconds", r.silence_timeout_s}}}};
}

double speed_fraction(double speedup, double target) {
  if (!(speedup > 1)) return 0;  // not faster than full attention: nothing, whatever the target
  if (target <= 1) return 1;
  return std::clamp((speedup - 1) / (target - 1), 0.0, 1.0);
}

double capped_score(double score, const StageRubric& rubric) {
  if (!(score > 0)) return 0;  // NaN too
  return std::min(score, rubric.max_score());
}

double memory_limit_bytes(const StageRubric& rubric, const Problem& p) {
  const double rows = static_cast<double>(p.batch_heads()) * p.N;
  if (rubric.memory_rule == MemoryRule::kPerRow) return rubric.memory_bytes * rows;
  const double window = static_cast<double>(p.pattern.left) + p.pattern.right + 1;
  return rubric.memory_bytes * rows * std::min<double>(p.N, window);
}

}  // namespace swa
