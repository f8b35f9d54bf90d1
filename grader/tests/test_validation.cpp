// test_validation.cpp: bad arguments get a clear error that names the argument and the allowed range.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "pattern_spec.h"
#include "stage.h"

namespace swa {
namespace {

Problem valid_problem() {
  Problem p;
  p.B = 2;
  p.H = 4;
  p.N = 2048;
  p.D = 64;
  p.scale = default_scale(64);
  p.pattern.kind = PatternKind::kSlidingWindow;
  p.pattern.left = p.pattern.right = 128;
  return p;
}

// check_problem() on p must fail with a message that contains every one of `words`.
void expect_rejected(const Problem& p, std::initializer_list<const char*> words, HeadDims dims = HeadDims::kKernel) {
  const std::string why = check_problem(p, dims);
  ASSERT_FALSE(why.empty()) << "accepted, but should have been rejected";
  for (const char* w : words)
    EXPECT_NE(why.find(w), std::string::npos) << "'" << why << "' does not mention '" << w << "'";
}

TEST(CheckProblem, AcceptsTheExerciseAndEdgeSizes) {
  EXPECT_EQ(check_problem(valid_problem()), "");
  Problem p = valid_problem();
  p.N = 1;
  p.pattern.left = p.pattern.right = 0;
  EXPECT_EQ(check_problem(p), "");
  p.pattern.left = p.pattern.right = kMaxWindow;  // W >= N is full attention
  EXPECT_EQ(check_problem(p), "");
  for (int D : kHeadDims) {
    p.D = D;
    EXPECT_EQ(check_problem(p), "") << D;
  }
}

TEST(CheckProblem, NamesTheBadShape) {
  Problem p = valid_problem();
  p.B = 0;
  expect_rejected(p, {"B = 0", "[1, 65535]"});
  p = valid_problem();
  p.H = -3;
  expect_rejected(p, {"H = -3"});
  p = valid_problem();
  p.B = 300;
  p.H = 300;
  expect_rejected(p, {"B*H = 90000", "65535"});
  p = valid_problem();
  p.N = 0;
  expect_rejected(p, {"N = 0", "[1, 1048576]"});
  p.N = kMaxSeqLen + 1;
  expect_rejected(p, {"N = 1048577"});
  p = valid_problem();
  p.B = 64;
  p.H = 64;
  p.N = 1 << 16;
  expect_rejected(p, {"B*H*N*D"});
}

TEST(CheckProblem, HeadDimension) {
  Problem p = valid_problem();
  p.D = 48;
  expect_rejected(p, {"D = 48", "16, 32, 64, 128"});
  EXPECT_EQ(check_problem(p, HeadDims::kAny), "") << "the reference takes any D up to 128";
  p.D = 0;
  expect_rejected(p, {"D = 0", "[1, 128]"}, HeadDims::kAny);
  p.D = 129;
  expect_rejected(p, {"D = 129", "[1, 128]"}, HeadDims::kAny);
}

TEST(CheckProblem, Scale) {
  Problem unset;  // the scale has no default: 1/sqrt(D) or 1 must be chosen
  unset.pattern.kind = PatternKind::kSlidingWindow;
  EXPECT_NE(check_problem(unset).find("default_scale(D)"), std::string::npos) << check_problem(unset);
  Problem p = valid_problem();
  for (float bad : {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    p.scale = bad;
    expect_rejected(p, {"scale", "finite and > 0"});
  }
}

TEST(CheckProblem, Windows) {
  Problem p = valid_problem();
  p.pattern.left = -1;
  expect_rejected(p, {"window left = -1", "[0, 1073741824]"});
  p = valid_problem();
  p.pattern.right = -5;
  expect_rejected(p, {"window right = -5"});
  p = valid_problem();
  p.pattern.kind = PatternKind::kDilated;
  p.pattern.dilation = 0;
  expect_rejected(p, {"dilation = 0", "[1, 1048576]"});
  p = valid_problem();
  p.pattern.kind = static_cast<PatternKind>(9);
  expect_rejected(p, {"pattern kind = 9", "[0, 7]"});
}

TEST(CheckProblem, ExponentialBlockAndSinks) {
  Problem p = valid_problem();
  p.pattern.kind = PatternKind::kExponential;
  p.pattern.dilation = 16;
  p.pattern.left = 0;
  EXPECT_EQ(check_problem(p), "") << "a local window of 0: the offsets and the query itself";
  p.pattern.dilation = 0;
  expect_rejected(p, {"first offset W = 0", "[1, 1048576]"});
  p.pattern.dilation = 16;
  p.pattern.left = -3;
  expect_rejected(p, {"local window = -3", "[0, 1073741824]"});
  p = valid_problem();
  p.pattern.kind = PatternKind::kBlockDiagonal;
  p.pattern.block_size = 100;
  EXPECT_EQ(check_problem(p), "") << "a block size need not divide N or the tile";
  p.pattern.block_size = 0;
  expect_rejected(p, {"block size = 0", "[1, 1073741824]"});
  p = valid_problem();
  p.pattern.kind = PatternKind::kSinks;
  p.pattern.num_sinks = 4;
  p.pattern.right = 0;
  EXPECT_EQ(check_problem(p), "") << "StreamingLLM: a causal window and 4 sinks";
  p.pattern.num_sinks = -1;
  expect_rejected(p, {"number of sinks = -1", "[0, 1073741824]"});
  p.pattern.num_sinks = 4;
  p.pattern.right = -2;
  expect_rejected(p, {"window right = -2"});
}

TEST(CheckProblem, GlobalAndAdaptiveArrays) {
  Problem p = valid_problem();
  p.pattern.kind = PatternKind::kGlobalLocal;
  p.pattern.num_global = 3;
  expect_rejected(p, {"global positions are null"});
  p.pattern.num_global = p.N + 1;
  expect_rejected(p, {"number of global positions = 2049", "[0, 2048]"});
  p = valid_problem();
  p.pattern.kind = PatternKind::kAdaptive;
  expect_rejected(p, {"adaptive windows are null"});
}

TEST(CheckPatternArrays, GlobalPositionsInRangeAndIncreasing) {
  EXPECT_EQ(PatternSpec::global_local(4, {0, 5, 99}).check(100), "");
  EXPECT_NE(PatternSpec::global_local(4, {0, 5, 100}).check(100).find("global position #2 = 100"), std::string::npos);
  EXPECT_NE(PatternSpec::global_local(4, {-1}).check(100).find("global position #0 = -1"), std::string::npos);
  EXPECT_NE(PatternSpec::global_local(4, {5, 5}).check(100).find("strictly increasing"), std::string::npos);
  EXPECT_NE(PatternSpec::global_local(4, {7, 5}).check(100).find("#1 = 5 follows 7"), std::string::npos);
}

TEST(CheckPatternArrays, AdaptiveWindows) {
  EXPECT_EQ(PatternSpec::adaptive({0, 1, 2}, {2, 1, 0}).check(3), "");
  EXPECT_NE(PatternSpec::adaptive({0, -1, 2}, {2, 1, 0}).check(3).find("adaptive_left[1] = -1"), std::string::npos);
  EXPECT_NE(PatternSpec::adaptive({0, 1, 2}, {2, 1, -7}).check(3).find("adaptive_right[2] = -7"), std::string::npos);
  EXPECT_NE(PatternSpec::adaptive({0, 1}, {2, 1}).check(3).find("N = 3"), std::string::npos);
}

TEST(CheckTensors, NamesTheNullTensor) {
  const Problem p = valid_problem();
  const __half* some = reinterpret_cast<const __half*>(0x1000);
  float* out = reinterpret_cast<float*>(0x2000);
  EXPECT_EQ(check_tensors(p, {some, some, some, out}), "");
  EXPECT_EQ(check_tensors(p, {nullptr, some, some, out}).rfind("Q is null", 0), 0u);
  EXPECT_EQ(check_tensors(p, {some, nullptr, some, out}).rfind("K is null", 0), 0u);
  EXPECT_EQ(check_tensors(p, {some, some, nullptr, out}).rfind("V is null", 0), 0u);
  EXPECT_EQ(check_tensors(p, {some, some, some, nullptr}).rfind("O is null", 0), 0u);
  const __half* misaligned = reinterpret_cast<const __half*>(0x1002);
  EXPECT_EQ(check_tensors(p, {some, misaligned, some, out}).rfind("K is not 16-byte aligned", 0), 0u);
}

// ---------------------------------------------------------------------------------------------------
// The text form of patterns
// ---------------------------------------------------------------------------------------------------

TEST(ParsePattern, EveryFormRoundTrips) {
  for (const char* text :
       {"sliding:128", "sliding:3:7", "causal:64", "dilated:8:2", "dilated:1:4:3", "global:16:0,5,9",
        "global:4:", "exponential:4", "exponential:64:128", "block:100", "sinks:128:4", "sinks:128:0:4"}) {
    EXPECT_EQ(parse_pattern(text, 100).to_string(), text);
  }
  const PatternSpec a = parse_pattern("adaptive:2:9", 50, 3);
  EXPECT_EQ(a.kind, PatternKind::kAdaptive);
  ASSERT_EQ(a.adaptive_left.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(a.adaptive_left[i] >= 2 && a.adaptive_left[i] <= 9);
  EXPECT_EQ(parse_pattern("adaptive:2:9", 50, 3).adaptive_right, a.adaptive_right) << "same seed, same windows";
  const PatternSpec listed = parse_pattern("adaptive:[1,0,2]:[0,0,1]", 3);
  EXPECT_EQ(listed.adaptive_left, (std::vector<int32_t>{1, 0, 2}));
  EXPECT_EQ(listed.adaptive_right, (std::vector<int32_t>{0, 0, 1}));
}

TEST(ParsePattern, ErrorsSayWhatIsAllowed) {
  auto message = [](const char* text, int N = 100) {
    try {
      parse_pattern(text, N);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(message("slidng:3").find("unknown kind 'slidng'"), std::string::npos);
  EXPECT_NE(message("sliding").find("sliding:W or sliding:LEFT:RIGHT"), std::string::npos);
  EXPECT_NE(message("sliding:abc").find("'abc' is not an integer"), std::string::npos);
  EXPECT_NE(message("sliding:-2").find("window left = -2"), std::string::npos);
  EXPECT_NE(message("dilated:4:0").find("dilation = 0"), std::string::npos);
  EXPECT_NE(message("global:4:3,200").find("global position #1 = 200"), std::string::npos);
  EXPECT_NE(message("adaptive:9:2").find("[9, 2] is invalid"), std::string::npos);
  EXPECT_NE(message("adaptive:[1,2]:[1,2]", 3).find("N = 3"), std::string::npos);
  EXPECT_NE(
      message("slidng:3").find("expected one of sliding, causal, dilated, global, adaptive, exponential, block, sinks"),
      std::string::npos);
  EXPECT_NE(message("exponential").find("exponential:W or exponential:W:LOCAL"), std::string::npos);
  EXPECT_NE(message("exponential:0").find("first offset W = 0"), std::string::npos);
  EXPECT_NE(message("exponential:8:-1").find("local window = -1"), std::string::npos);
  EXPECT_NE(message("block:0").find("block size = 0"), std::string::npos);
  EXPECT_NE(message("block:4:4").find("block:SIZE"), std::string::npos);
  EXPECT_NE(message("sinks:4").find("sinks:W:SINKS or sinks:LEFT:RIGHT:SINKS"), std::string::npos);
  EXPECT_NE(message("sinks:4:x").find("number of sinks 'x' is not an integer"), std::string::npos);
  EXPECT_NE(message("sinks:4:-4").find("number of sinks = -4"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------------
// The stage entry point refuses bad arguments before anything reaches the GPU
// ---------------------------------------------------------------------------------------------------

bool g_launched = false;
size_t no_workspace(const Problem&) { return 0; }
size_t big_workspace(const Problem& p) { return p.num_elements() * sizeof(float); }
void record_launch(const Problem&, const Tensors&, Workspace, cudaStream_t) { g_launched = true; }

int32_t call_forward(const Problem& p, const Tensors& t, Workspace ws, std::string& error,
                     size_t (*workspace_fn)(const Problem&) = no_workspace) {
  char buffer[512] = {};
  g_launched = false;
  // A stage of the sliding window at D = 64 and 128 only.
  constexpr SwaStageInfo info = {
      "test_stage", pattern_bit(PatternKind::kSlidingWindow), head_dim_bit(64) | head_dim_bit(128), 64, 64, 80, 0};
  const int32_t status =
      stage_detail::forward(info, workspace_fn, record_launch, &p, &t, ws, nullptr, buffer, sizeof(buffer));
  error = buffer;
  return status;
}

TEST(StageInfo, HeadDimsAndDeviceRequirements) {
  EXPECT_EQ(head_dim_bit(16) | head_dim_bit(32) | head_dim_bit(64) | head_dim_bit(128), kAllHeadDims);
  EXPECT_EQ(head_dim_bit(48), 0u);
  EXPECT_EQ(head_dims_text(head_dim_bit(64) | head_dim_bit(128)), "64, 128");
  SwaStageInfo info = {"07_x", 1, kAllHeadDims, 128, 64, 90, 1};
  EXPECT_EQ(device_requirement(info), "sm_90a");
  EXPECT_EQ(check_device(info, 90), "");
  EXPECT_EQ(check_device(info, 86), "needs sm_90a; this GPU is sm_86");
  EXPECT_EQ(check_device(info, 100), "needs sm_90a; this GPU is sm_100")
      << "arch-specific code runs on its own GPU only";
  info.min_compute_capability = 80, info.arch_specific = 0;
  EXPECT_EQ(device_requirement(info), "sm_80 or newer");
  EXPECT_EQ(check_device(info, 120), "");
  EXPECT_EQ(check_device(info, 75), "needs sm_80 or newer; this GPU is sm_75");
}

TEST(StageEntry, RejectsBadArgumentsWithoutLaunching) {
  const __half* some = reinterpret_cast<const __half*>(0x1000);
  float* out = reinterpret_cast<float*>(0x2000);
  const Tensors tensors{some, some, some, out};
  std::string error;

  Problem p = valid_problem();
  p.N = 0;
  EXPECT_EQ(call_forward(p, tensors, {}, error), kSwaInvalidArgument);
  EXPECT_NE(error.find("N = 0"), std::string::npos) << error;

  p = valid_problem();
  p.pattern.kind = PatternKind::kCausalSlidingWindow;
  EXPECT_EQ(call_forward(p, tensors, {}, error), kSwaUnsupported);
  EXPECT_NE(error.find("does not implement the causal pattern"), std::string::npos) << error;

  // A head dimension the kit knows but this stage does not declare: unsupported, not a bad argument.
  p = valid_problem();
  p.D = 32;
  EXPECT_EQ(call_forward(p, tensors, {}, error), kSwaUnsupported);
  EXPECT_NE(error.find("does not support D = 32: it supports D = 64, 128"), std::string::npos) << error;
  p.D = 48;
  EXPECT_EQ(call_forward(p, tensors, {}, error), kSwaInvalidArgument) << "no kernel takes D = 48";

  EXPECT_EQ(call_forward(valid_problem(), {some, some, some, nullptr}, {}, error), kSwaInvalidArgument);
  EXPECT_NE(error.find("O is null"), std::string::npos) << error;

  EXPECT_EQ(call_forward(valid_problem(), tensors, {nullptr, 0}, error, big_workspace), kSwaInvalidArgument);
  EXPECT_NE(error.find("needs 4194304 bytes"), std::string::npos) << error;
  EXPECT_FALSE(g_launched);
}

}  // namespace
}  // namespace swa
