// test_grader.cpp: the grader's scoring, feedback and reports, with no GPU involved.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "checks.h"
#include "feedback.h"
#include "pattern_spec.h"
#include "report.h"
#include "rubric.h"

namespace swa {
namespace {

using nlohmann::json;

std::filesystem::path temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("swa_test_" + name + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string rubric_error(const json& overrides) {
  try {
    rubric_from_json(overrides, "r.json");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(accepted)";
}

// ---------------------------------------------------------------------------------------------------
// Rubric
// ---------------------------------------------------------------------------------------------------

TEST(Rubric, DefaultsOfDocsGrading) {
  const Rubric r = default_rubric();
  const StageRubric naive = r.stage("01_naive");
  EXPECT_EQ(naive.correctness, 60);
  EXPECT_EQ(naive.window, 25);
  EXPECT_EQ(naive.memory, 15);
  EXPECT_EQ(naive.speed, 0);
  EXPECT_EQ(naive.memory_rule, MemoryRule::kPerScore);
  EXPECT_EQ(r.stage("02_tiled_smem").memory_rule, MemoryRule::kPerRow);
  EXPECT_EQ(r.stage("03_masked_windows").speed_target, 0.55);
  EXPECT_EQ(r.stage("04_online_softmax").speed_target, 0.75);
  EXPECT_EQ(r.stage("05_bonus_patterns").speed_pattern, "causal:128");
  EXPECT_EQ(r.stage("05_bonus_patterns").speed_target, 0.45);
  // The CUDA-core stages are timed against the CUDA-core baseline, with their bounds pinned to 64 x 64.
  EXPECT_EQ(r.stage("04_online_softmax").speed_baseline, "cuda_core");
  EXPECT_EQ(r.stage("04_online_softmax").speed_tile_m, 64);
  EXPECT_EQ(r.stage("99_toy").speed_tile_m, 0) << "a stage the kit does not know: its declared tiles";
  for (const char* s :
       {"01_naive", "02_tiled_smem", "03_masked_windows", "04_online_softmax", "05_bonus_patterns", "07_new"})
    EXPECT_EQ(r.stage(s).max_score(), 100) << s;
  EXPECT_EQ(r.tolerance.rtol, 1e-2);
  EXPECT_EQ(r.tolerance.atol, 1e-3);
}

TEST(Rubric, FileOverridesOnlyWhatItNames) {
  const Rubric r = rubric_from_json(json::parse(R"({"stages": {"03_masked_windows": {"speed": 50, "speed_target": 0.4}},
                                                     "tolerance": {"rtol": 0.02}, "timeouts": {"silence_seconds": 5}})"),
                                    "r.json");
  EXPECT_EQ(r.stage("03_masked_windows").speed, 50);
  EXPECT_EQ(r.stage("03_masked_windows").speed_target, 0.4);
  EXPECT_EQ(r.stage("03_masked_windows").correctness, 40) << "unnamed fields keep the stage's default";
  EXPECT_EQ(r.stage("04_online_softmax").speed, 30);
  EXPECT_EQ(r.tolerance.rtol, 0.02);
  EXPECT_EQ(r.tolerance.atol, 1e-3);
  EXPECT_EQ(r.silence_timeout_s, 5);
  // The rubric in force survives the trip through JSON (grade.json records it).
  const Rubric again = rubric_from_json(to_json(r), "again");
  EXPECT_EQ(again.stage("03_masked_windows").speed, 50);
  EXPECT_EQ(again.silence_timeout_s, 5);
}

TEST(Rubric, StagesByNameOrNumber) {
  const Rubric r =
      rubric_from_json(json::parse(R"({"stages": {"03": {"speed": 10}, "04_online_softmax": {"speed": 20}}})"), "r");
  EXPECT_EQ(r.stage("03_masked_windows").speed, 10) << "a number names the stage with that number";
  EXPECT_EQ(r.stage("04_online_softmax").speed, 20);
  EXPECT_EQ(r.stage("05_bonus_patterns").speed, 30) << "the others keep their defaults";
  EXPECT_NE(rubric_error(json::parse(R"({"stages": {"masked": {}}})")).find("named by its folder"), std::string::npos);
  EXPECT_NE(rubric_error(json::parse(R"({"stages": {"3": {}}})")).find("or its number"), std::string::npos);
}

TEST(Rubric, BadFilesNameTheField) {
  EXPECT_NE(rubric_error(json::parse(R"({"stagez": {}})")).find("r.json: unknown field 'stagez'"), std::string::npos);
  EXPECT_NE(rubric_error(json::parse(R"({"stages": {"03_x": {"sped": 1}}})")).find("stages.03_x: unknown field 'sped'"),
            std::string::npos);
  EXPECT_NE(rubric_error(json::parse(R"({"stages": {"03_x": {"speed": "lots"}}})"))
                .find("stages.03_x.speed: expected a number"),
            std::string::npos);
  EXPECT_NE(rubric_error(json::parse(R"({"tolerance": {"rtol": -1}})")).find("tolerance.rtol: -1 must be >= 0"),
            std::string::npos);
  EXPECT_NE(
      rubric_error(json::parse(R"({"stages": {"05_x": {"speed_pattern": "circle:3"}}})")).find("unknown kind 'circle'"),
      std::string::npos);
  EXPECT_NE(rubric_error(json::parse(R"({"stages": {"05_x": {"speed_pattern": "global:8:700"}}})")).find("at N = 512"),
            std::string::npos)
      << "a global position past the smallest timed N";
  EXPECT_NE(rubric_error(json::parse(R"({"stages": {"01_x": {"memory_rule": "lots"}}})")).find("per_score"),
            std::string::npos);
  EXPECT_NE(rubric_error(json::parse(R"({"stages": {"06_x": {"speed_baseline": "turbo"}}})")).find("cuda_core"),
            std::string::npos);
  EXPECT_NE(rubric_error(json::parse(R"({"stages": {"06_x": {"speed_tile_m": -3}}})")).find("speed_tile_m"),
            std::string::npos);
  const auto dir = temp_dir("rubric");
  std::ofstream(dir / "broken.json") << "{ \"stages\": ";
  try {
    load_rubric((dir / "broken.json").string());
    ADD_FAILURE() << "accepted a broken file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is not valid JSON"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_rubric((dir / "missing.json").string()), std::runtime_error);
}

TEST(Rubric, RequiredPatternsHeadDimsTimeLimitsAndVisibility) {
  const Rubric r = default_rubric();
  EXPECT_EQ(r.stage("05_bonus_patterns").patterns, kAllPatterns) << "stage 05 is graded on all five patterns";
  EXPECT_EQ(r.stage("04_online_softmax").patterns, pattern_bit(PatternKind::kSlidingWindow));
  EXPECT_EQ(r.stage("02_tiled_smem").time_limit_factor, 10) << "stages 01-02 must run on the GPU";
  EXPECT_EQ(r.stage("03_masked_windows").time_limit_factor, 0) << "its speed check times it";
  EXPECT_EQ(r.stage("07_hopper").head_dims, head_dim_bit(64) | head_dim_bit(128));
  EXPECT_EQ(r.stage("06_tensor_cores").patterns,
            pattern_bit(PatternKind::kSlidingWindow) | pattern_bit(PatternKind::kCausalSlidingWindow));
  EXPECT_EQ(r.stage("98_toy").head_dims, 0u) << "a stage the kit does not know: graded on what it declares";
  SwaStageInfo toy{"98_toy", pattern_bit(PatternKind::kCausalSlidingWindow), head_dim_bit(64), 128, 64, 90, 1};
  EXPECT_EQ(case_scope(r.stage("98_toy"), toy).head_dims, head_dim_bit(64));
  EXPECT_EQ(case_scope(r.stage("04_x"), toy).head_dims, kAllHeadDims)
      << "a kit stage: the rubric's, not the declaration";
  EXPECT_EQ(case_scope(r.stage("04_x"), toy).patterns, pattern_bit(PatternKind::kSlidingWindow));
  EXPECT_EQ(case_scope(toy).patterns, pattern_bit(PatternKind::kCausalSlidingWindow)) << "the declaration alone";
  EXPECT_EQ(case_scope(toy).tile_m, 128);
  EXPECT_EQ(to_json(rubric_from_json(json::parse(R"({"stages": {"04": {"head_dims": "declared"}}})"),
                                     "r"))["stages"]["04"]["head_dims"],
            "declared");
  const Rubric f =
      rubric_from_json(json::parse(R"({"stages": {"04": {"patterns": ["sliding", "causal"], "head_dims": [64],
                                                     "visibility": {"speed": "after_due_date"}}}})"),
                       "r.json");
  EXPECT_EQ(f.stage("04_x").patterns,
            pattern_bit(PatternKind::kSlidingWindow) | pattern_bit(PatternKind::kCausalSlidingWindow));
  EXPECT_EQ(f.stage("04_x").head_dims, head_dim_bit(64));
  EXPECT_EQ(f.stage("04_x").visibility.at("speed"), "after_due_date");
  const Rubric again = rubric_from_json(to_json(f), "again");
  EXPECT_EQ(again.stage("04_x").visibility.at("speed"), "after_due_date");
  EXPECT_EQ(again.stage("04_x").head_dims, head_dim_bit(64));
  EXPECT_NE(
      rubric_error(json::parse(R"({"stages": {"04": {"patterns": ["circle"]}}})")).find("r.json: stages.04.patterns"),
      std::string::npos);
  EXPECT_NE(rubric_error(json::parse(R"({"stages": {"04": {"head_dims": [48]}}})")).find("48 is not one of"),
            std::string::npos);
  EXPECT_NE(
      rubric_error(json::parse(R"({"stages": {"04": {"visibility": {"speed": "later"}}}})")).find("after_due_date"),
      std::string::npos);
  EXPECT_EQ(capped_score(130, default_stage_rubric("04_x")), 100) << "never more than the rubric's maximum";
  EXPECT_EQ(capped_score(std::nan(""), default_stage_rubric("04_x")), 0);
}

TEST(Rubric, SpeedPointsScaleFromNoGainToTheTarget) {
  EXPECT_EQ(speed_fraction(1.0, 5.0), 0.0);
  EXPECT_EQ(speed_fraction(0.7, 5.0), 0.0) << "slower than full attention earns nothing";
  EXPECT_DOUBLE_EQ(speed_fraction(3.0, 5.0), 0.5);
  EXPECT_EQ(speed_fraction(5.0, 5.0), 1.0);
  EXPECT_EQ(speed_fraction(9.0, 5.0), 1.0) << "no bonus past the target";
  EXPECT_EQ(speed_fraction(0.9, 0.8), 0.0) << "a target below 1x still asks for a gain";
  EXPECT_EQ(speed_fraction(1.05, 0.8), 1.0);
  EXPECT_EQ(speed_fraction(std::nan(""), 2.0), 0.0);
}

TEST(Rubric, MemoryLimits) {
  Problem p;
  p.B = 4, p.H = 16, p.N = 4096, p.D = 64;
  p.pattern.left = p.pattern.right = 128;
  EXPECT_DOUBLE_EQ(memory_limit_bytes(default_stage_rubric("01_naive"), p), 8.0 * 64 * 4096 * 257);
  EXPECT_DOUBLE_EQ(memory_limit_bytes(default_stage_rubric("04_online_softmax"), p), 64.0 * 64 * 4096);
  p.pattern.left = p.pattern.right = 1 << 30;  // W >= N: at most N scores per query
  EXPECT_DOUBLE_EQ(memory_limit_bytes(default_stage_rubric("01_naive"), p), 8.0 * 64 * 4096 * 4096);
}

// ---------------------------------------------------------------------------------------------------
// Feedback
// ---------------------------------------------------------------------------------------------------

constexpr Tiles kTiles{64, 64};

Problem on(const PatternSpec& spec, int N) {
  Problem p;
  p.N = N;
  p.pattern = spec.view();
  return p;
}

TEST(Feedback, WhereAQuerySits) {
  const PatternSpec w = PatternSpec::sliding(10);
  EXPECT_EQ(describe_query(on(w, 200), 100, kTiles), "interior");
  EXPECT_NE(describe_query(on(w, 200), 3, kTiles).find("sequence start"), std::string::npos);
  EXPECT_NE(describe_query(on(w, 200), 195, kTiles).find("sequence end"), std::string::npos);
  EXPECT_NE(describe_query(on(w, 200), 193, kTiles).find("partial last query tile"), std::string::npos)
      << "200 = 3*64 + 8";
  EXPECT_EQ(describe_query(on(w, 256), 193, kTiles), "interior");
  const PatternSpec g = PatternSpec::global_local(2, {7});
  EXPECT_NE(describe_query(on(g, 64), 7, kTiles).find("global query"), std::string::npos);
  // The hint speaks of the stage's own tiles: 200 = 1*128 + 72, and 193 is in the last, partial tile of 128.
  EXPECT_NE(describe_query(on(w, 200), 193, Tiles{128, 64}).find("the 128-query tile"), std::string::npos);
  EXPECT_EQ(describe_query(on(w, 256), 193, Tiles{128, 64}), "interior");
  EXPECT_TRUE(window_cut_by_sequence(on(w, 200), 9));
  EXPECT_FALSE(window_cut_by_sequence(on(w, 200), 10));
}

TEST(Feedback, WhereAKeySitsAgainstTheWindow) {
  const Problem p = on(PatternSpec::sliding(10), 200);
  EXPECT_EQ(describe_pair(p, 50, 61, kTiles).rfind("one key right of the window (query 50 sees keys 40..60)", 0), 0u);
  EXPECT_EQ(describe_pair(p, 50, 39, kTiles).rfind("one key left of the window", 0), 0u);
  EXPECT_EQ(describe_pair(p, 50, 60, kTiles).rfind("at the window's right edge", 0), 0u);
  EXPECT_EQ(describe_pair(p, 50, 40, kTiles).rfind("at the window's left edge", 0), 0u);
  EXPECT_EQ(describe_pair(p, 50, 45, kTiles).rfind("inside the window", 0), 0u);
  EXPECT_EQ(describe_pair(p, 50, 90, kTiles).rfind("right of the window", 0), 0u);
  EXPECT_NE(describe_pair(p, 190, 195, kTiles).find("in the partial last key tile"), std::string::npos);
  EXPECT_EQ(describe_pair(on(PatternSpec::causal(5), 100), 50, 51, kTiles).rfind("the first future key", 0), 0u);
  EXPECT_EQ(describe_pair(on(PatternSpec::dilated(3, 3, 4), 100), 50, 53, kTiles).rfind("between the dilated keys", 0),
            0u);
  EXPECT_EQ(
      describe_pair(on(PatternSpec::dilated(3, 3, 4), 100), 50, 66, kTiles).rfind("one key right of the window", 0),
      0u);
  EXPECT_EQ(describe_pair(on(PatternSpec::global_local(2, {80}), 100), 50, 80, kTiles).rfind("a global key", 0), 0u);
}

CaseFacts fact(const std::string& name, bool passed) {
  CaseFacts f;
  f.name = name;
  f.passed = passed;
  return f;
}

TEST(Feedback, CorrectnessHintsFromWhichCasesFail) {
  std::vector<CaseFacts> cases = {fact("one head", true), fact("B=2 H=3", false)};
  cases[1].multi_head = true;
  auto hints = correctness_hints(cases);
  ASSERT_FALSE(hints.empty());
  EXPECT_NE(hints[0].find("B*H > 1"), std::string::npos);

  cases = {fact("N=128", true), fact("N=65", false)};
  cases[1].partial_tile = true;
  cases[1].unwritten = 10;
  cases[1].unwritten_only_in_partial_tile = true;
  hints = correctness_hints(cases);
  EXPECT_TRUE(std::any_of(hints.begin(), hints.end(),
                          [](const std::string& h) { return h.find("partial query tile") != std::string::npos; }));
  EXPECT_TRUE(std::any_of(hints.begin(), hints.end(), [](const std::string& h) {
    return h.find("not a multiple of the tile (64 queries, 64 keys) fail") != std::string::npos;
  }));
  // A stage with other tiles hears of its own.
  for (CaseFacts& c : cases) c.tiles = Tiles{128, 64};
  hints = correctness_hints(cases);
  EXPECT_TRUE(std::any_of(hints.begin(), hints.end(), [](const std::string& h) {
    return h.find("launch ceil(N / 128) query tiles") != std::string::npos;
  }));

  // A stage that refused a case says why, in the stage's own words.
  cases = {fact("D=64", true), fact("D=128", false)};
  cases[1].refusal = "the stage's launch configuration does not fit this GPU: needs 118784 bytes";
  hints = correctness_hints(cases);
  ASSERT_FALSE(hints.empty());
  EXPECT_NE(hints[0].find("does not fit this GPU"), std::string::npos) << hints[0];

  cases = {fact("a", false), fact("b", false)};
  cases[0].nothing_written = cases[1].nothing_written = true;
  hints = correctness_hints(cases);
  ASSERT_EQ(hints.size(), 1u);
  EXPECT_NE(hints[0].find("not implemented"), std::string::npos);

  cases = {fact("a", true), fact("b", false)};
  cases[1].not_finite = 3;
  hints = correctness_hints(cases);
  EXPECT_NE(hints[0].find("NaN"), std::string::npos);

  EXPECT_TRUE(correctness_hints({fact("a", true)}).empty());

  // One failing case does not blame every property it has: most cases have several heads, and pass.
  cases = {fact("large inputs", false), fact("x", true), fact("y", true), fact("z", true)};
  for (CaseFacts& c : cases) c.multi_head = true;
  cases[0].large_inputs = true;
  hints = correctness_hints(cases);
  EXPECT_TRUE(std::any_of(hints.begin(), hints.end(),
                          [](const std::string& h) { return h.find("large inputs") != std::string::npos; }));
  EXPECT_FALSE(std::any_of(hints.begin(), hints.end(),
                           [](const std::string& h) { return h.find("B*H > 1") != std::string::npos; }));
}

TEST(Feedback, WindowHintsNameTheEdge) {
  const Problem p = on(PatternSpec::sliding(10), 200);
  auto hints = window_hints(p, {{50, 61, 0.0, 0.01, true}, {50, 55, 0.02, 0.019, false}});
  ASSERT_EQ(hints.size(), 1u) << "the inside weights differ because of the key outside: one hint";
  EXPECT_NE(hints[0].find("right edge"), std::string::npos);
  EXPECT_NE(hints[0].find("off-by-one"), std::string::npos);
  hints = window_hints(p, {{50, 39, 0.0, 0.01, true}});
  EXPECT_NE(hints[0].find("left edge"), std::string::npos);
  hints = window_hints(p, {{50, 60, 0.02, 0.0, false}});
  ASSERT_EQ(hints.size(), 1u);
  EXPECT_NE(hints[0].find("right edge gets no weight"), std::string::npos);
  hints = window_hints(p, {{50, 40, 0.02, 0.0, false}});
  ASSERT_EQ(hints.size(), 1u);
  EXPECT_NE(hints[0].find("left edge gets no weight"), std::string::npos);
  hints = window_hints(p, {{50, 120, 0.0, 0.3, true}});
  EXPECT_NE(hints[0].find("outside the pattern"), std::string::npos);
  hints = window_hints(p, {{50, 55, 0.02, 0.03, false}});
  EXPECT_NE(hints[0].find("normalisation"), std::string::npos);
  EXPECT_TRUE(window_hints(p, {}).empty());
}

// ---------------------------------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------------------------------

CaseScope scope(uint32_t patterns, uint32_t head_dims = kAllHeadDims, int tile_m = 64, int tile_n = 64) {
  CaseScope s;
  s.patterns = patterns, s.head_dims = head_dims, s.tile_m = tile_m, s.tile_n = tile_n;
  return s;
}

TEST(Cases, EveryCaseIsAValidProblem) {
  for (const CaseScope& sc : {scope(pattern_bit(PatternKind::kSlidingWindow)), scope(kAllPatterns),
                              scope(kAllPatterns, head_dim_bit(64) | head_dim_bit(128), 128, 64),
                              scope(pattern_bit(PatternKind::kSlidingWindow), head_dim_bit(32), 128, 1)}) {
    for (const CaseSpec& c : correctness_cases(sc, 7)) {
      const PatternSpec spec = parse_pattern(c.pattern, c.N, c.seed);
      Problem p;
      p.B = c.B, p.H = c.H, p.N = c.N, p.D = c.D, p.scale = c.scale;
      p.pattern = spec.view();
      EXPECT_EQ(check_problem(p), "") << c.name;
      EXPECT_TRUE(sc.head_dims & head_dim_bit(c.D)) << c.name << ": D = " << c.D << " is not in the scope";
    }
    for (const CaseSpec& c : window_cases(sc, 7)) {
      EXPECT_NO_THROW(parse_pattern(c.pattern, c.N, c.seed)) << c.name;
      EXPECT_TRUE(sc.head_dims & head_dim_bit(c.D)) << c.name;
    }
  }
}

TEST(Cases, CoverTheDifficultiesAndEveryPattern) {
  const auto sliding = correctness_cases(scope(pattern_bit(PatternKind::kSlidingWindow)), 7);
  auto has = [&](const std::vector<CaseSpec>& cases, auto pred) {
    return std::any_of(cases.begin(), cases.end(), pred);
  };
  EXPECT_TRUE(has(sliding, [](const CaseSpec& c) { return c.N == 1; }));
  for (int N : {63, 64, 65}) EXPECT_TRUE(has(sliding, [N](const CaseSpec& c) { return c.N == N; })) << N;
  EXPECT_TRUE(has(sliding, [](const CaseSpec& c) { return c.pattern == "sliding:0"; }));
  EXPECT_TRUE(has(sliding, [](const CaseSpec& c) { return c.B * c.H > 1; }));
  EXPECT_TRUE(has(sliding, [](const CaseSpec& c) { return c.amplitude >= 100; }));
  EXPECT_TRUE(has(sliding, [](const CaseSpec& c) { return c.scale == 1.0f; }));
  for (int D : kHeadDims) EXPECT_TRUE(has(sliding, [D](const CaseSpec& c) { return c.D == D; })) << D;
  const auto all = correctness_cases(scope(kAllPatterns), 7);
  for (const char* kind : {"sliding:", "causal:", "dilated:", "global:", "adaptive:"})
    EXPECT_TRUE(has(all, [kind](const CaseSpec& c) { return c.pattern.rfind(kind, 0) == 0; })) << kind;
  // The random cases change with the seed; the fixed ones do not.
  const auto other = correctness_cases(scope(pattern_bit(PatternKind::kSlidingWindow)), 8);
  ASSERT_EQ(other.size(), sliding.size());
  EXPECT_EQ(other.front().name, sliding.front().name);
  EXPECT_NE(other.back().name, sliding.back().name);
}

TEST(Cases, FollowTheStagesTilesAndHeadDims) {
  // 128 x 64 tiles: the partial-tile sizes of both (127, 128, 129 and 63, 64, 65); D only 64 and 128.
  const auto cases = correctness_cases(
      scope(pattern_bit(PatternKind::kSlidingWindow), head_dim_bit(64) | head_dim_bit(128), 128, 64), 7);
  for (int N : {63, 64, 65, 127, 128, 129})
    EXPECT_TRUE(std::any_of(cases.begin(), cases.end(), [N](const CaseSpec& c) { return c.N == N; })) << N;
  EXPECT_TRUE(std::any_of(cases.begin(), cases.end(), [](const CaseSpec& c) { return c.D == 128; }));
  for (const CaseSpec& c : cases) EXPECT_TRUE(c.D == 64 || c.D == 128) << c.name;
  // Only D = 128: every case runs at 128, the window check too.
  for (const CaseSpec& c : correctness_cases(scope(pattern_bit(PatternKind::kSlidingWindow), head_dim_bit(128)), 7))
    EXPECT_EQ(c.D, 128) << c.name;
  for (const CaseSpec& c : window_cases(scope(pattern_bit(PatternKind::kSlidingWindow), head_dim_bit(128)), 7))
    EXPECT_EQ(c.D, 128) << c.name;
  EXPECT_EQ(scope(1, head_dim_bit(16) | head_dim_bit(32)).base_head_dim(), 32);
}

// ---------------------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------------------

json sample_stage(const std::string& name, double correctness, bool window_ok) {
  json cases = json::array({{{"name", "N=65: a partial last tile"},
                             {"pattern", "sliding:20"},
                             {"B", 1},
                             {"H", 2},
                             {"N", 65},
                             {"D", 64},
                             {"scale", 0.125},
                             {"passed", correctness >= 40},
                             {"summary", "2 of 8320 wrong"},
                             {"mismatches", json::array({{{"b", 0},
                                                          {"h", 1},
                                                          {"i", 64},
                                                          {"d", 3},
                                                          {"expected", 0.5},
                                                          {"got", "never written"},
                                                          {"kind", "never written"},
                                                          {"where", "the partial last query tile"}}})}}});
  return {{"stage", name},
          {"status", "graded"},
          {"message", ""},
          {"score", correctness + (window_ok ? 20 : 0) + 10},
          {"max_score", 70},
          {"checks", json::array({{{"name", "correctness"},
                                   {"score", correctness},
                                   {"max_score", 40},
                                   {"status", correctness >= 40 ? "passed" : "failed"},
                                   {"summary", "7 of 8 cases passed"},
                                   {"feedback", json::array({"Only N that are not a multiple of 64 fail"})},
                                   {"cases", cases},
                                   {"measurements", json::array()}},
                                  {{"name", "window"},
                                   {"score", window_ok ? 20 : 0},
                                   {"max_score", 20},
                                   {"status", window_ok ? "passed" : "failed"},
                                   {"summary", "..."},
                                   {"feedback", json::array()},
                                   {"cases", json::array()},
                                   {"measurements", json::array()}},
                                  {{"name", "memory"},
                                   {"score", 10},
                                   {"max_score", 10},
                                   {"status", "passed"},
                                   {"summary", "ok"},
                                   {"feedback", json::array()},
                                   {"cases", json::array()},
                                   {"measurements", json::array()}}})}};
}

TEST(Report, TotalsGradescopeAndTerminal) {
  ReportHeader h{"Test GPU", "2026-11-24T00:00:00Z", "abc123", "student", "graded", 42};
  const json report = make_report(
      h, default_rubric(),
      {sample_stage("03_masked_windows", 35, false),
       ungraded_stage("04_online_softmax", "crashed", "signal 11", default_stage_rubric("04_online_softmax"))});
  EXPECT_DOUBLE_EQ(report["score"].get<double>(), 45.0);
  EXPECT_DOUBLE_EQ(report["max_score"].get<double>(), 170.0);
  EXPECT_FALSE(full_marks(report));
  EXPECT_TRUE(full_marks(make_report(h, default_rubric(), {sample_stage("03_masked_windows", 40, true)})));

  const json gs = gradescope_results(report);
  EXPECT_DOUBLE_EQ(gs["score"].get<double>(), 45.0);
  ASSERT_EQ(gs["tests"].size(), 3u + 4u) << "a test per check: 3 graded, 4 of the crashed stage";
  EXPECT_EQ(gs["tests"][0]["name"], "03_masked_windows: correctness");
  EXPECT_EQ(gs["tests"][0]["status"], "failed");
  EXPECT_NE(gs["tests"][0]["output"].get<std::string>().find("O[b=0,h=1,i=64,d=3] = never written"), std::string::npos);
  EXPECT_EQ(gs["tests"][3]["output"].get<std::string>(), "signal 11") << "an ungraded stage says why, once";

  std::ostringstream text;
  print_report(report, text);
  EXPECT_NE(text.str().find("03_masked_windows"), std::string::npos);
  EXPECT_NE(text.str().find("hint: Only N that are not a multiple of 64"), std::string::npos);
  EXPECT_NE(text.str().find("TOTAL"), std::string::npos);
  EXPECT_NE(text.str().find("45.0 / 170"), std::string::npos);
}

TEST(Report, GradescopeGetsTimeLeaderboardVisibilityAndCappedTotals) {
  ReportHeader h{"Test GPU", "2026-11-24T00:00:00Z", "abc123", "student", "graded", 42};
  json stage = sample_stage("03_masked_windows", 40, true);
  stage["checks"].push_back({{"name", "speed"},
                             {"score", 30},
                             {"max_score", 30},
                             {"status", "passed"},
                             {"summary", "fast"},
                             {"feedback", json::array()},
                             {"cases", json::array()},
                             {"measurements", json::array({{{"B", 1}, {"H", 1}, {"N", 512}, {"speedup", 1.234}}})}});
  stage["score"] = 1000;  // a forged total: the report caps it
  Rubric rubric;
  rubric.stages["03"] = default_stage_rubric("03_masked_windows");
  rubric.stages["03"].visibility["speed"] = "after_due_date";
  json report = make_report(h, rubric, {stage});
  EXPECT_DOUBLE_EQ(report["score"].get<double>(), 70.0) << "no stage counts for more than its maximum";
  report["execution_time_s"] = 12.3;
  report["rubric"]["stages"]["03_masked_windows"] = to_json(rubric)["stages"]["03"];
  const json gs = gradescope_results(report);
  EXPECT_EQ(gs["execution_time"], 13);
  ASSERT_EQ(gs["leaderboard"].size(), 1u);
  EXPECT_EQ(gs["leaderboard"][0]["name"], "03 speedup B=1 H=1 N=512");
  EXPECT_DOUBLE_EQ(gs["leaderboard"][0]["value"].get<double>(), 1.23);
  EXPECT_EQ(gs["leaderboard"][0]["order"], "desc");
  for (const json& t : gs["tests"])
    EXPECT_EQ(t["visibility"], t["name"] == "03_masked_windows: speed" ? "after_due_date" : "visible") << t["name"];
  const auto dir = temp_dir("gradescope");
  std::ofstream(dir / "results.json") << gs.dump();
  const std::string validate = "python3 " SWA_SOURCE_DIR "/tools/validate_json.py ";
  EXPECT_EQ(std::system(
                (validate + SWA_SOURCE_DIR "/grader/schemas/gradescope.schema.json " + (dir / "results.json").string())
                    .c_str()),
            0);
}

TEST(Report, FilesMatchTheirSchemas) {
  ReportHeader h{"Test GPU", "2026-11-24T00:00:00Z", "abc123", "student", "graded", 42};
  const json report = make_report(
      h, default_rubric(),
      {sample_stage("03_masked_windows", 35, false),
       ungraded_stage("04_online_softmax", "timed out", "no progress", default_stage_rubric("04_online_softmax"))});
  const auto dir = temp_dir("reports");
  const std::vector<std::string> paths = write_reports(report, dir.string());
  ASSERT_EQ(paths.size(), 2u);
  const std::string validate = "python3 " SWA_SOURCE_DIR "/tools/validate_json.py ";
  EXPECT_EQ(std::system((validate + SWA_SOURCE_DIR "/plots/schemas/grade.schema.json " + paths[0]).c_str()), 0);
  EXPECT_EQ(std::system((validate + SWA_SOURCE_DIR "/grader/schemas/gradescope.schema.json " + paths[1]).c_str()), 0);
  // And the validator can fail: a results.json without scores is refused.
  std::ofstream(dir / "bad.json") << R"({"tests": [{"name": "x", "status": "passed"}]})";
  EXPECT_NE(std::system((validate + SWA_SOURCE_DIR "/grader/schemas/gradescope.schema.json " +
                         (dir / "bad.json").string() + " 2>/dev/null")
                            .c_str()),
            0);
}

// Without a GPU, `swa grade` says so, runs the reference's self-check, writes its reports and exits with 3.
// CUDA_VISIBLE_DEVICES= hides any GPU, so this runs the same on every machine.
TEST(GradeCommand, WithoutAGpuExitsWithThree) {
  const auto dir = temp_dir("nogpu");
  const std::string command =
      "CUDA_VISIBLE_DEVICES= " SWA_BINARY " grade --out " + dir.string() + " > " + (dir / "out.txt").string() + " 2>&1";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  std::ifstream out(dir / "out.txt");
  std::stringstream text;
  text << out.rdbuf();
  EXPECT_NE(text.str().find("No GPU here"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("0 failed"), std::string::npos) << text.str();
  const json report = json::parse(std::ifstream(dir / "grade.json"));
  EXPECT_EQ(report["status"], "no GPU");
  const std::string validate = "python3 " SWA_SOURCE_DIR "/tools/validate_json.py ";
  EXPECT_EQ(
      std::system(
          (validate + SWA_SOURCE_DIR "/plots/schemas/grade.schema.json " + (dir / "grade.json").string()).c_str()),
      0);
  EXPECT_EQ(std::system(
                (validate + SWA_SOURCE_DIR "/grader/schemas/gradescope.schema.json " + (dir / "results.json").string())
                    .c_str()),
            0);
}

TEST(GradeCommand, BadArgumentsExitWithTwo) {
  auto exit_status = [](const std::string& args) {
    const int status = std::system((SWA_BINARY " " + args + " > /dev/null 2>&1").c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(exit_status("grade 99_no_such_stage"), 2);
  EXPECT_EQ(exit_status("grade --rubric /no/such/rubric.json"), 2);
  EXPECT_EQ(exit_status("grade --variant teacher"), 2);
  EXPECT_EQ(exit_status("pattern circle:3"), 2);
  EXPECT_EQ(exit_status("pattern sliding:2 --tiles-only"), 2) << "--tiles-only needs --tiles";
  EXPECT_EQ(exit_status("pattern sliding:2 --tiles 4 --tiles-only"), 0);
  EXPECT_EQ(exit_status("frobnicate"), 2) << "an unknown command";
  EXPECT_EQ(exit_status("grade --seed -1"), 2);
  EXPECT_EQ(exit_status("grade --seed 99999999999999999999"), 2);
  EXPECT_EQ(exit_status("grade --sandbox maybe"), 2);
  // bench and reference check their arguments before any work (and before asking for a GPU).
  EXPECT_EQ(exit_status("bench --fill-sizes 512,lots"), 2);
  EXPECT_EQ(exit_status("bench --fill-sizes 0"), 2);
  EXPECT_EQ(exit_status("bench --stages 99_nothing"), 2);
  EXPECT_EQ(exit_status("bench --pattern circle:3"), 2);
  EXPECT_EQ(exit_status("reference --pattern circle:3"), 2);
  EXPECT_EQ(exit_status("reference -N 0"), 2);
  EXPECT_EQ(exit_status("reference -D 64 -B 65535 -H 2"), 2) << "B*H over its limit, refused before the self-check";
}

}  // namespace
}  // namespace swa
