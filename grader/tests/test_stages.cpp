// test_stages.cpp: the stages on the GPU against the double-precision reference.
//
// Every solution stage, over a matrix of awkward shapes, every head dimension, both scales and every
// pattern it implements; the output is poisoned before each launch and every element is checked. The
// untouched starters must leave the output unwritten ("not implemented"). Without a GPU every test here
// skips and says why; with one, none can pass without running a kernel.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "baselines/baselines.h"
#include "compare.h"
#include "device.h"
#include "gpu_test.h"
#include "inputs.h"
#include "pattern_spec.h"
#include "reference.h"
#include "stage_library.h"

namespace swa {
namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// The stages this build made (CMake passes their names): a missing library fails, it never skips.
const std::vector<std::string>& solution_names() {
  static const std::vector<std::string> names = split_list(SWA_SOLUTION_STAGES);
  return names;
}
const std::vector<std::string>& starter_names() {
  static const std::vector<std::string> names = split_list(SWA_STUDENT_STAGES);
  return names;
}

// Stage libraries stay loaded for the whole test program.
const StageLibrary& load(const std::string& variant, const std::string& name) {
  static std::map<std::string, std::unique_ptr<StageLibrary>> loaded;
  std::unique_ptr<StageLibrary>& lib = loaded[variant + "/" + name];
  if (!lib) lib = std::make_unique<StageLibrary>(stage_path(SWA_STAGE_DIR, variant, name));
  return *lib;
}

struct Case {
  int B, H, N, D;
  float scale;
  PatternSpec spec;
  float amplitude = 1.0f;
  uint64_t seed = 1;

  Problem problem() const {
    Problem p;
    p.B = B, p.H = H, p.N = N, p.D = D, p.scale = scale;
    p.pattern = spec.view();
    return p;
  }
  std::string describe() const {
    std::ostringstream s;
    s << spec.to_string() << " B=" << B << " H=" << H << " N=" << N << " D=" << D << " scale=" << scale;
    if (amplitude != 1.0f) s << " |inputs|<=" << amplitude;
    return s.str();
  }
};

// Runs every stage of `names` that implements the case's pattern on one set of fresh inputs, compares
// each with the reference, and returns how many stages ran.
int check_case(const Case& c, const std::vector<std::string>& names, bool twice = false) {
  const Problem host_problem = c.problem();
  const HostInputs in = random_inputs(host_problem, c.seed, c.amplitude);
  const reference::Result ref = reference::attention(host_problem, in.q.data(), in.k.data(), in.v.data());
  const double v_scale = value_scale(in.v);
  int ran = 0;
  for (const std::string& name : names) {
    const StageLibrary& stage = load("solution", name);
    if (!stage.supports(c.spec.kind) || !stage.supports_head_dim(c.D)) continue;  // what it declares, only
    const size_t ws = stage.api().workspace_bytes(&host_problem);
    DeviceProblem gpu(host_problem, c.spec, ws);
    gpu.upload(in);
    std::vector<float> first_output;
    for (int attempt = 0; attempt < (twice ? 2 : 1); ++attempt) {
      gpu.poison_output();
      std::string error;
      const int32_t status = gpu.run(stage.api(), nullptr, &error);
      EXPECT_EQ(status, kSwaOk) << name << " " << c.describe() << ": " << error;
      if (status != kSwaOk) return ran;
      const std::vector<float> out = gpu.output();
      const Comparison cmp = compare_output(host_problem, out, ref.o, v_scale);
      EXPECT_TRUE(cmp.passed()) << name << " " << c.describe() << ": " << cmp.summary()
                                << "; first: O[bh=" << (cmp.first.empty() ? -1 : cmp.first[0].bh)
                                << ", i=" << (cmp.first.empty() ? -1 : cmp.first[0].i)
                                << ", d=" << (cmp.first.empty() ? -1 : cmp.first[0].d)
                                << "] = " << (cmp.first.empty() ? 0.f : cmp.first[0].got) << ", expected "
                                << (cmp.first.empty() ? 0.0 : cmp.first[0].expected);
      if (attempt == 0)
        first_output = out;
      else
        EXPECT_EQ(std::memcmp(first_output.data(), out.data(), out.size() * sizeof(float)), 0)
            << name << " " << c.describe() << ": two runs on the same inputs differ (a race?)";
    }
    ++ran;
  }
  return ran;
}

// (B, H) for a sequence length: several heads where it is cheap.
std::pair<int, int> batch_heads_for(int N) {
  if (N <= 65) return {2, 3};
  if (N <= 257) return {3, 1};
  if (N <= 1013) return {1, 2};
  return {1, 1};
}

PatternSpec family_pattern(const std::string& family, int N, int W, uint64_t seed) {
  return example_pattern(pattern_kind_named(family), W, N, seed);  // pattern_spec.h
}

// Every pattern kind's name: the families the tests run.
std::vector<std::string> families() {
  std::vector<std::string> names;
  for (int k = 0; k < kNumPatternKinds; ++k) names.push_back(pattern_name(static_cast<PatternKind>(k)));
  return names;
}

// ---------------------------------------------------------------------------------------------------

struct MatrixParam {
  std::string family;
  int N;
};
void PrintTo(const MatrixParam& m, std::ostream* os) { *os << m.family << " N=" << m.N; }

class SolutionsMatchReference : public ::testing::TestWithParam<MatrixParam> {};

TEST_P(SolutionsMatchReference, EveryWindowHeadDimAndScale) {
  REQUIRE_GPU();
  const auto [family, N] = GetParam();
  const auto [B, H] = batch_heads_for(N);
  int ran = 0;
  uint64_t seed = 1;
  for (int W : {0, 1, 32, 127, 128, 129, N})
    for (int D : kHeadDims)
      for (float scale : {1.0f, default_scale(D)}) {
        Case c{B, H, N, D, scale, family_pattern(family, N, W, seed), 1.0f, seed++ * 7919 + N};
        ran += check_case(c, solution_names(), /*twice=*/W == 128 && D == 64);
        if (HasFailure()) return;  // the first failing case says enough
      }
  EXPECT_GT(ran, 0) << "no solution stage implements the " << family << " pattern";
}

std::vector<MatrixParam> matrix() {
  std::vector<MatrixParam> out;
  for (const std::string& family : families())
    for (int N : {1, 63, 64, 65, 257, 1013, 2048, 4096}) out.push_back({family, N});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Matrix, SolutionsMatchReference, ::testing::ValuesIn(matrix()),
                         [](const auto& info) { return info.param.family + "_N" + std::to_string(info.param.N); });

TEST(Solutions, ExerciseShape) {
  REQUIRE_GPU();
  // The exercise: B = H = 1, N = 2048, D = 64, W = 128, and its literal formula (scale 1).
  EXPECT_EQ(check_case({1, 1, 2048, 64, 1.0f, PatternSpec::sliding(128)}, solution_names(), true),
            static_cast<int>(solution_names().size()));
}

TEST(Solutions, ManyHeadsAndAsymmetricWindows) {
  REQUIRE_GPU();
  check_case({4, 8, 300, 64, 0.125f, PatternSpec::sliding(7, 90)}, solution_names());
  check_case({3, 5, 129, 32, 0.2f, PatternSpec::sliding(64, 0)}, solution_names());
}

TEST(Solutions, LargeInputsStayFinite) {
  REQUIRE_GPU();
  // |Q|, |K|, |V| up to 100: scores up to ~1e5 at scale 1/sqrt(D).
  for (int D : kHeadDims)
    for (const std::string& family : families())
      check_case({1, 2, 700, D, default_scale(D), family_pattern(family, 700, 100, D), 100.0f, 31u + D},
                 solution_names());
}

TEST(Solutions, RefuseUnsupportedPatternsAndBadArguments) {
  REQUIRE_GPU();
  const PatternSpec causal = PatternSpec::causal(4);
  Case c{1, 1, 64, 64, 0.125f, causal};
  const Problem p = c.problem();
  for (const std::string& name : solution_names()) {
    const StageLibrary& stage = load("solution", name);
    DeviceProblem gpu(p, causal, stage.api().workspace_bytes(&p));
    gpu.upload(random_inputs(p, 3));
    gpu.poison_output();
    std::string error;
    if (!stage.supports(PatternKind::kCausalSlidingWindow)) {
      EXPECT_EQ(gpu.run(stage.api(), nullptr, &error), kSwaUnsupported) << name;
      EXPECT_NE(error.find("does not implement the causal pattern"), std::string::npos) << name << ": " << error;
      EXPECT_TRUE(compare_output(p, gpu.output(), std::vector<double>(p.num_elements()), 1.0).nothing_written());
    }
    Problem bad = gpu.problem();
    bad.D = 48;
    const Tensors t = gpu.tensors();
    char message[256] = {};
    EXPECT_EQ(stage.api().forward(&bad, &t, gpu.workspace(), nullptr, message, sizeof(message)), kSwaInvalidArgument);
    EXPECT_NE(std::string(message).find("D = 48"), std::string::npos) << name << ": " << message;
  }
}

// Grids large enough for the stages' many-head configurations (stage 06 switches to blocks of two query
// tiles once the grid fills the GPU), at every head dimension.
TEST(Solutions, ManyHeadsFillTheGpu) {
  REQUIRE_GPU();
  for (int D : kHeadDims)
    for (const char* family : {"sliding", "causal"})
      check_case({4, 16, 1100, D, default_scale(D), family_pattern(family, 1100, 100, D), 1.0f, 7u + D},
                 solution_names());
}

// The speed check's yardsticks are right too: full attention, every key, whatever the pattern says.
TEST(Baselines, MatchTheReferenceAtFullAttention) {
  REQUIRE_GPU();
  for (const char* name : kBaselineNames)
    for (int N : {1, 63, 65, 1013}) {
      const PatternSpec full = PatternSpec::sliding(N);
      Case c{2, 3, N, kBaselineHeadDim, default_scale(kBaselineHeadDim), full, 1.0f, 5u + N};
      const Problem p = c.problem();
      const HostInputs in = random_inputs(p, c.seed);
      const reference::Result ref = reference::attention(p, in.q.data(), in.k.data(), in.v.data());
      DeviceProblem gpu(p, PatternSpec::sliding(1), 0);  // the baseline ignores the pattern
      gpu.upload(in);
      gpu.poison_output();
      std::string error;
      ASSERT_EQ(gpu.run(full_attention_baseline(name), nullptr, &error), kSwaOk) << name << ": " << error;
      const Comparison cmp = compare_output(p, gpu.output(), ref.o, value_scale(in.v));
      EXPECT_TRUE(cmp.passed()) << name << " N=" << N << ": " << cmp.summary();
    }
}

// A GPU with 99 KB of shared memory per block (RTX 3090, sm_86): every stage still runs at every head
// dimension it declares, within that limit. SWA_SHARED_MEMORY_LIMIT (launch.h) lowers this GPU's limit
// for the stages, which enforce it on their own launches: a stage succeeds under the cap only if it
// launched a configuration that fits (the float tiles at D = 128 take 118,784 bytes and are refused).
class SharedMemoryCap {
 public:
  explicit SharedMemoryCap(int bytes) { setenv("SWA_SHARED_MEMORY_LIMIT", std::to_string(bytes).c_str(), 1); }
  ~SharedMemoryCap() { unsetenv("SWA_SHARED_MEMORY_LIMIT"); }
};

TEST(Solutions, FitA99KBGpu) {
  REQUIRE_GPU();
  const SharedMemoryCap cap(99 * 1024);
  std::vector<std::string> on_sm86;  // the stages an RTX 3090 runs (not the sm_90a Hopper stage)
  for (const std::string& name : solution_names())
    if (check_device(load("solution", name).info(), 86).empty()) on_sm86.push_back(name);
  int ran = 0;
  for (int N : {1, 63, 65, 1013, 2048})
    for (int D : {64, 128})
      for (const char* family : {"sliding", "causal"})
        ran +=
            check_case({1, 2, N, D, default_scale(D), family_pattern(family, N, 128, 3), 1.0f, 17u + N + D}, on_sm86);
  EXPECT_GT(ran, 0);
}

TEST(Solutions, ReportARejectedLaunchConfiguration) {
  REQUIRE_GPU();
  const SharedMemoryCap cap(16 * 1024);  // less than any tiled stage needs at D = 128
  const PatternSpec spec = PatternSpec::sliding(32);
  Case c{1, 1, 200, 128, default_scale(128), spec};
  const Problem p = c.problem();
  int rejected = 0;
  for (const std::string& name : solution_names()) {
    const StageLibrary& stage = load("solution", name);
    if (!stage.supports_head_dim(128)) continue;
    DeviceProblem gpu(p, spec, stage.api().workspace_bytes(&p));
    gpu.upload(random_inputs(p, 3));
    std::string error;
    const int32_t status = gpu.run(stage.api(), nullptr, &error);
    if (status == kSwaOk) continue;  // a stage that needs little shared memory (stage 01 needs none)
    EXPECT_EQ(status, kSwaLaunchRejected) << name << ": " << error;
    EXPECT_NE(error.find("launch configuration rejected"), std::string::npos) << name << ": " << error;
    EXPECT_NE(error.find("this GPU allows 16384"), std::string::npos) << name << ": " << error;
    ++rejected;
  }
  EXPECT_GE(rejected, 3) << "stages 02-05 keep shared tiles: each must refuse, saying why";
}

// A stage built for another GPU refuses with its own status, and the toy stage of other tiles runs.
TEST(StageInterface, DeviceRequirementsAndDeclaredHeadDims) {
  REQUIRE_GPU();
  const PatternSpec spec = PatternSpec::sliding(40);
  Case c{2, 3, 300, 64, default_scale(64), spec};
  const Problem p = c.problem();
  const HostInputs in = random_inputs(p, 11);
  const reference::Result ref = reference::attention(p, in.q.data(), in.k.data(), in.v.data());

  const StageLibrary future(stage_path(SWA_STAGE_DIR, "planted", "99_future_gpu"));
  DeviceProblem gpu(p, spec, 0);
  gpu.upload(in);
  gpu.poison_output();
  std::string error;
  EXPECT_EQ(gpu.run(future.api(), nullptr, &error), kSwaUnsupportedDevice) << error;
  EXPECT_NE(error.find("needs sm_100a"), std::string::npos) << error;

  const StageLibrary toy(stage_path(SWA_STAGE_DIR, "planted", "98_toy_tiles"));
  EXPECT_EQ(toy.info().tile_m, 128);
  gpu.poison_output();
  ASSERT_EQ(gpu.run(toy.api(), nullptr, &error), kSwaOk) << error;
  EXPECT_TRUE(compare_output(p, gpu.output(), ref.o, value_scale(in.v)).passed());

  Problem other = gpu.problem();
  other.D = 32;  // a head dimension the kit knows and the toy does not declare
  const Tensors t = gpu.tensors();
  char message[256] = {};
  EXPECT_EQ(toy.api().forward(&other, &t, gpu.workspace(), nullptr, message, sizeof(message)), kSwaUnsupported);
  EXPECT_NE(std::string(message).find("supports D = 64"), std::string::npos) << message;
}

// The starters as handed out compile, run, and write nothing: the grader reports them as not
// implemented. (Instructor build only: a student's stages/ is no longer the starters.)
TEST(Starters, RunAndLeaveTheOutputUnwritten) {
  REQUIRE_GPU();
  ASSERT_FALSE(starter_names().empty());
  for (const std::string& name : starter_names()) {
    const StageLibrary& stage = load("student", name);
    for (const std::string& family : families()) {
      const PatternSpec spec = family_pattern(family, 300, 40, 5);
      if (!stage.supports(spec.kind)) continue;
      Case c{2, 2, 300, 64, 0.125f, spec};
      const Problem p = c.problem();
      DeviceProblem gpu(p, spec, stage.api().workspace_bytes(&p));
      gpu.upload(random_inputs(p, 9));
      gpu.poison_output();
      std::string error;
      ASSERT_EQ(gpu.run(stage.api(), nullptr, &error), kSwaOk) << name << ": " << error;
      const Comparison cmp = compare_output(p, gpu.output(), std::vector<double>(p.num_elements()), 1.0);
      EXPECT_TRUE(cmp.nothing_written()) << "starter " << name << " " << c.describe() << " wrote "
                                         << cmp.elements - cmp.unwritten << " elements";
    }
  }
}

}  // namespace
}  // namespace swa
