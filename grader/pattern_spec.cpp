// pattern_spec.cpp: build, parse, check and describe attention patterns on the host.
#include "pattern_spec.h"

#include <algorithm>
#include <random>
#include <sstream>
#include <stdexcept>

#include "tile_mask.h"

namespace swa {

PatternSpec PatternSpec::sliding(int left, int right) {
  PatternSpec s;
  s.kind = PatternKind::kSlidingWindow;
  s.left = left;
  s.right = right;
  return s;
}

PatternSpec PatternSpec::causal(int window) {
  PatternSpec s;
  s.kind = PatternKind::kCausalSlidingWindow;
  s.left = window;
  return s;
}

PatternSpec PatternSpec::dilated(int left, int right, int dilation) {
  PatternSpec s;
  s.kind = PatternKind::kDilated;
  s.left = left;
  s.right = right;
  s.dilation = dilation;
  return s;
}

PatternSpec PatternSpec::global_local(int window, std::vector<int32_t> global_positions) {
  PatternSpec s;
  s.kind = PatternKind::kGlobalLocal;
  s.left = window;
  s.right = window;
  s.global_positions = std::move(global_positions);
  return s;
}

PatternSpec PatternSpec::adaptive(std::vector<int32_t> left, std::vector<int32_t> right) {
  PatternSpec s;
  s.kind = PatternKind::kAdaptive;
  s.adaptive_left = std::move(left);
  s.adaptive_right = std::move(right);
  return s;
}

PatternSpec PatternSpec::adaptive_random(int N, int min_window, int max_window, uint64_t seed) {
  if (min_window < 0 || max_window < min_window || max_window > kMaxWindow)
    throw std::invalid_argument("adaptive window range [" + std::to_string(min_window) + ", " +
                                std::to_string(max_window) +
                                "] is invalid: need 0 <= MIN <= MAX <= " + std::to_string(kMaxWindow));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> window(min_window, max_window);
  std::vector<int32_t> left(N), right(N);
  for (int i = 0; i < N; ++i) {
    left[i] = window(rng);
    right[i] = window(rng);
  }
  return adaptive(std::move(left), std::move(right));
}

PatternSpec PatternSpec::exponential(int first_offset, int local_window) {
  PatternSpec s;
  s.kind = PatternKind::kExponential;
  s.dilation = first_offset;
  s.left = local_window;
  s.right = local_window;  // not read: the local window is symmetric
  return s;
}

PatternSpec PatternSpec::block_diagonal(int block_size) {
  PatternSpec s;
  s.kind = PatternKind::kBlockDiagonal;
  s.block_size = block_size;
  return s;
}

PatternSpec PatternSpec::sinks(int left, int right, int num_sinks) {
  PatternSpec s;
  s.kind = PatternKind::kSinks;
  s.left = left;
  s.right = right;
  s.num_sinks = num_sinks;
  return s;
}

Pattern PatternSpec::view() const {
  Pattern p;
  p.kind = kind;
  p.left = left;
  p.right = right;
  p.dilation = dilation;
  p.block_size = block_size;
  p.num_sinks = num_sinks;
  p.num_global = static_cast<int32_t>(global_positions.size());
  p.global_positions = global_positions.empty() ? nullptr : global_positions.data();
  p.adaptive_left = adaptive_left.empty() ? nullptr : adaptive_left.data();
  p.adaptive_right = adaptive_right.empty() ? nullptr : adaptive_right.data();
  return p;
}

std::string PatternSpec::check(int N) const {
  if (kind == PatternKind::kAdaptive &&
      (adaptive_left.size() != static_cast<size_t>(N) || adaptive_right.size() != static_cast<size_t>(N)))
    return "adaptive windows: " + std::to_string(adaptive_left.size()) + " left and " +
           std::to_string(adaptive_right.size()) + " right values given, but N = " + std::to_string(N) +
           " queries need N of each";
  Problem p;  // only the pattern is checked: the other fields get valid values
  p.N = N;
  p.scale = 1.0f;
  p.pattern = view();
  std::string why = check_problem(p, HeadDims::kAny);
  if (why.empty()) why = check_pattern_arrays(p.pattern, N);
  return why;
}

std::string PatternSpec::to_string() const {
  std::ostringstream s;
  s << pattern_name(kind);
  switch (kind) {
    case PatternKind::kSlidingWindow:
      s << ':' << left;
      if (right != left) s << ':' << right;
      break;
    case PatternKind::kCausalSlidingWindow: s << ':' << left; break;
    case PatternKind::kDilated:
      s << ':' << left;
      if (right != left) s << ':' << right;
      s << ':' << dilation;
      break;
    case PatternKind::kGlobalLocal:
      s << ':' << left << ':';
      for (size_t k = 0; k < global_positions.size(); ++k) s << (k ? "," : "") << global_positions[k];
      break;
    case PatternKind::kAdaptive: {
      if (adaptive_left.empty()) break;
      const auto [l_min, l_max] = std::minmax_element(adaptive_left.begin(), adaptive_left.end());
      const auto [r_min, r_max] = std::minmax_element(adaptive_right.begin(), adaptive_right.end());
      s << ':' << std::min(*l_min, *r_min) << ':' << std::max(*l_max, *r_max);
      break;
    }
    case PatternKind::kExponential:
      s << ':' << dilation;
      if (left != 0) s << ':' << left;
      break;
    case PatternKind::kBlockDiagonal: s << ':' << block_size; break;
    case PatternKind::kSinks:
      s << ':' << left;
      if (right != left) s << ':' << right;
      s << ':' << num_sinks;
      break;
  }
  return s.str();
}

namespace {

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, sep)) parts.push_back(part);
  if (!text.empty() && text.back() == sep) parts.emplace_back();
  return parts;
}

int parse_int(const std::string& text, const std::string& pattern, const char* what) {
  size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < -kMaxWindow || value > kMaxWindow)
    throw std::invalid_argument("pattern '" + pattern + "': " + what + " '" + text + "' is not an integer in [0, " +
                                std::to_string(kMaxWindow) + "]");
  return static_cast<int>(value);
}

}  // namespace

PatternSpec parse_pattern(const std::string& text, int N, uint64_t seed) {
  const std::vector<std::string> parts = split(text, ':');
  const std::string kind = parts.empty() ? "" : parts[0];
  const size_t args = parts.size() - (parts.empty() ? 0 : 1);
  auto usage = [&](const char* forms) { return std::invalid_argument("pattern '" + text + "': expected " + forms); };
  auto arg = [&](size_t k, const char* what) { return parse_int(parts[k], text, what); };

  PatternSpec spec;
  if (kind == "sliding") {
    if (args == 1)
      spec = PatternSpec::sliding(arg(1, "window"));
    else if (args == 2)
      spec = PatternSpec::sliding(arg(1, "left window"), arg(2, "right window"));
    else
      throw usage("sliding:W or sliding:LEFT:RIGHT");
  } else if (kind == "causal") {
    if (args != 1) throw usage("causal:W");
    spec = PatternSpec::causal(arg(1, "window"));
  } else if (kind == "dilated") {
    if (args == 2)
      spec = PatternSpec::dilated(arg(1, "window"), arg(1, "window"), arg(2, "dilation"));
    else if (args == 3)
      spec = PatternSpec::dilated(arg(1, "left window"), arg(2, "right window"), arg(3, "dilation"));
    else
      throw usage("dilated:W:DILATION or dilated:LEFT:RIGHT:DILATION");
  } else if (kind == "global") {
    if (args != 2) throw usage("global:W:G1,G2,... (global positions, increasing)");
    std::vector<int32_t> globals;
    if (!parts[2].empty())
      for (const std::string& g : split(parts[2], ',')) globals.push_back(parse_int(g, text, "global position"));
    spec = PatternSpec::global_local(arg(1, "window"), std::move(globals));
  } else if (kind == "adaptive") {
    if (args != 2) throw usage("adaptive:MIN:MAX or adaptive:[L0,L1,...]:[R0,R1,...]");
    if (!parts[1].empty() && parts[1].front() == '[') {
      auto list = [&](const std::string& part, const char* what) {
        if (part.size() < 2 || part.front() != '[' || part.back() != ']')
          throw usage("adaptive:[L0,L1,...]:[R0,R1,...] (N windows in brackets)");
        std::vector<int32_t> values;
        for (const std::string& x : split(part.substr(1, part.size() - 2), ','))
          values.push_back(parse_int(x, text, what));
        return values;
      };
      spec = PatternSpec::adaptive(list(parts[1], "left window"), list(parts[2], "right window"));
    } else {
      spec = PatternSpec::adaptive_random(N, arg(1, "smallest window"), arg(2, "largest window"), seed);
    }
  } else if (kind == "exponential") {
    if (args == 1)
      spec = PatternSpec::exponential(arg(1, "first offset W"), 0);
    else if (args == 2)
      spec = PatternSpec::exponential(arg(1, "first offset W"), arg(2, "local window"));
    else
      throw usage("exponential:W or exponential:W:LOCAL");
  } else if (kind == "block") {
    if (args != 1) throw usage("block:SIZE");
    spec = PatternSpec::block_diagonal(arg(1, "block size"));
  } else if (kind == "sinks") {
    if (args == 2)
      spec = PatternSpec::sinks(arg(1, "window"), arg(1, "window"), arg(2, "number of sinks"));
    else if (args == 3)
      spec = PatternSpec::sinks(arg(1, "left window"), arg(2, "right window"), arg(3, "number of sinks"));
    else
      throw usage("sinks:W:SINKS or sinks:LEFT:RIGHT:SINKS");
  } else {
    std::string kinds;
    for (int k = 0; k < kNumPatternKinds; ++k)
      kinds += (k ? ", " : "") + std::string(pattern_name(static_cast<PatternKind>(k)));
    throw std::invalid_argument("pattern '" + text + "': unknown kind '" + kind + "'; expected one of " + kinds);
  }
  const std::string why = spec.check(N);
  if (!why.empty()) throw std::invalid_argument("pattern '" + text + "': " + why);
  return spec;
}

std::string render_pattern(const PatternSpec& spec, int N) {
  const Pattern p = spec.view();
  const int width = static_cast<int>(std::to_string(std::max(N - 1, 0)).size());
  std::ostringstream s;
  s << "j:" << std::string(width + 1, ' ');
  for (int j = 0; j < N; ++j) s << ' ' << j % 10;
  s << '\n';
  for (int i = 0; i < N; ++i) {
    const std::string label = std::to_string(i);
    s << "i=" << std::string(width - label.size(), ' ') << label << ' ';
    for (int j = 0; j < N; ++j) s << ' ' << (p.allows(i, j) ? 'x' : '.');
    s << '\n';
  }
  return s.str();
}

std::string render_tiles(const PatternSpec& spec, int N, int tile_m, int tile_n) {
  const TileMask mask{spec.view(), N, tile_m, tile_n};
  const int width = static_cast<int>(std::to_string(mask.num_query_tiles() - 1).size());
  std::ostringstream s;
  for (int m = 0; m < mask.num_query_tiles(); ++m) {
    const std::string label = std::to_string(m);
    s << "m=" << std::string(width - label.size(), ' ') << label << ' ';
    for (int n = 0; n < mask.num_key_tiles(); ++n) {
      const TileClass c = mask.classify(m, n);
      s << ' ' << (c == TileClass::kFull ? 'F' : c == TileClass::kPartial ? 'P' : '.');
    }
    s << '\n';
  }
  return s.str();
}

long long count_allowed_pairs(const PatternSpec& spec, int N) {
  const Pattern p = spec.view();
  long long pairs = 0;
  for (int i = 0; i < N; ++i) pairs += p.count_keys(i, N);
  return pairs;
}

PatternKind pattern_kind_named(const std::string& name) {
  std::string kinds;
  for (int k = 0; k < kNumPatternKinds; ++k) {
    const PatternKind kind = static_cast<PatternKind>(k);
    if (name == pattern_name(kind)) return kind;
    kinds += (k ? ", " : "") + std::string(pattern_name(kind));
  }
  throw std::invalid_argument("unknown pattern kind '" + name + "'; expected one of " + kinds);
}

std::vector<std::string> example_pattern_texts(PatternKind kind, int W, int N) {
  const std::string w = std::to_string(W);
  switch (kind) {
    case PatternKind::kSlidingWindow:
      return {"sliding:" + w, "sliding:" + std::to_string(W / 2) + ":" + std::to_string(W + 8)};
    case PatternKind::kCausalSlidingWindow: return {"causal:" + w};
    case PatternKind::kDilated: return {"dilated:" + w + ":3"};
    case PatternKind::kGlobalLocal: {
      std::string g = "0";
      if (N / 2 > 0) g += "," + std::to_string(N / 2);
      if (N - 1 > N / 2) g += "," + std::to_string(N - 1);
      return {"global:" + w + ":" + g};
    }
    case PatternKind::kAdaptive: return {"adaptive:" + std::to_string(W / 2) + ":" + w};
    // Offsets max(W, 1), 2 max(W, 1), ... around a local window of W/2; W = 0 gives the exercise's form.
    case PatternKind::kExponential:
      return {"exponential:" + std::to_string(std::max(W, 1)) + ":" + std::to_string(W / 2)};
    case PatternKind::kBlockDiagonal: return {"block:" + std::to_string(std::max(W, 1))};
    // StreamingLLM's form (a causal window and 4 sinks), then a window with two sides and 3 sinks.
    case PatternKind::kSinks: return {"sinks:" + w + ":0:4", "sinks:" + std::to_string(W / 2) + ":" + w + ":3"};
  }
  throw std::invalid_argument("example_pattern_texts: unknown pattern kind " + std::to_string(static_cast<int>(kind)));
}

PatternSpec example_pattern(PatternKind kind, int W, int N, uint64_t seed) {
  return parse_pattern(example_pattern_texts(kind, W, N).front(), N, seed);
}

std::vector<PatternSpec> pattern_corner_cases(int N, int W, uint64_t seed) {
  std::vector<PatternSpec> out = {
      PatternSpec::sliding(W),        PatternSpec::sliding(W, W / 2 + 1),  // different sides
      PatternSpec::causal(W),         PatternSpec::dilated(W, W, 2),      PatternSpec::dilated(W / 2, W, 3),
      PatternSpec::dilated(W, W, 97),  // a dilation wider than a tile: tiles inside the reach can be empty
  };
  std::vector<int32_t> globals;  // on and beside the edges of tiles of 64
  for (int g : {0, 1, 5, 63, 64, 65, 100, 130, 500, 1000})
    if (g < N) globals.push_back(g);
  out.push_back(PatternSpec::global_local(W, globals));
  out.push_back(PatternSpec::global_local(W, {N - 1}));
  out.push_back(PatternSpec::global_local(W, {}));
  out.push_back(PatternSpec::adaptive_random(N, 0, W, seed + 1000 + N + W));
  out.push_back(PatternSpec::adaptive_random(N, W, W + 70, seed + 2000 + N + W));
  out.push_back(PatternSpec::exponential(1, 0));  // the exercise's i +- 1, 2, 4, ...
  out.push_back(PatternSpec::exponential(3, 0));  // offsets 3, 6, 12, ...: never a tile's multiple
  out.push_back(PatternSpec::exponential(64, W));  // offsets a tile apart, inside or beyond the window
  out.push_back(PatternSpec::exponential(std::max(W, 1), W));  // the first offset inside the window
  out.push_back(PatternSpec::block_diagonal(7));
  out.push_back(PatternSpec::block_diagonal(64));
  out.push_back(PatternSpec::block_diagonal(std::max(W, 1) + 36));
  out.push_back(PatternSpec::sinks(W, W, 1));
  out.push_back(PatternSpec::sinks(W / 2, 0, 70));  // sinks beyond the first tile
  out.push_back(PatternSpec::sinks(0, W, 64));
  for (int k = 0; k < kNumPatternKinds; ++k) out.push_back(example_pattern(static_cast<PatternKind>(k), W, N, seed));
  return out;
}

}  // namespace swa
