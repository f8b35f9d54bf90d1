// feedback.cpp: positions and hints for the grader's messages.
#include "feedback.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <sstream>

namespace swa {
namespace {

// The keys query i sees, as an arithmetic run lo, lo + step, ..., hi before clamping to the sequence;
// none for a global query (it sees everything).
struct Window {
  long long lo, hi, step;
};

std::optional<Window> window_of(const Problem& p, int i) {  // the pattern's local window (problem.h)
  if (p.pattern.sees_every_key(i)) return std::nullopt;
  const Pattern::LocalWindow w = p.pattern.local_window(i);
  return Window{w.first, w.last, w.step};
}

// Is position x in the last tile of `tile` positions, when that tile is cut short by N?
bool in_partial_last_tile(const Problem& p, int x, int tile) { return p.N % tile != 0 && x >= p.N / tile * tile; }

std::string keys_text(const Problem& p, int i, const Window& w) {
  std::ostringstream s;
  s << "query " << i << " sees keys " << std::max(0LL, w.lo) << ".." << std::min<long long>(p.N - 1, w.hi);
  if (w.step > 1) s << " in steps of " << w.step;
  return s.str();
}

}  // namespace

bool window_cut_by_sequence(const Problem& p, int i) {
  const auto w = window_of(p, i);
  return w && (w->lo < 0 || w->hi > p.N - 1);
}

std::string describe_query(const Problem& p, int i, Tiles tiles) {
  std::vector<std::string> parts;
  if (p.pattern.kind == PatternKind::kGlobalLocal && p.pattern.is_global(i))
    parts.push_back("a global query (it sees every key)");
  if (const auto w = window_of(p, i)) {
    if (w->lo < 0) parts.push_back("sequence start (its window is cut at key 0)");
    if (w->hi > p.N - 1)
      parts.push_back("sequence end (its window is cut at key N-1 = " + std::to_string(p.N - 1) + ")");
  }
  if (in_partial_last_tile(p, i, tiles.m))
    parts.push_back("the partial last query tile (N = " + std::to_string(p.N) + " is not a multiple of the " +
                    std::to_string(tiles.m) + "-query tile)");
  if (parts.empty()) return "interior";
  std::string text = parts[0];
  for (size_t k = 1; k < parts.size(); ++k) text += ", " + parts[k];
  return text;
}

std::string describe_pair(const Problem& p, int i, int j, Tiles tiles) {
  std::string where;
  const auto w = window_of(p, i);
  if (!w) {
    where = "in a global query's row (it sees every key)";
  } else if (p.pattern.kind == PatternKind::kGlobalLocal && p.pattern.is_global(j)) {
    where = "a global key (every query sees it)";
  } else if ((j - w->lo) % w->step != 0 && j > w->lo && j < w->hi) {
    where = "between the dilated keys (" + keys_text(p, i, *w) + ")";
  } else if (j == w->hi + w->step) {
    where = (p.pattern.kind == PatternKind::kCausalSlidingWindow ? "the first future key, one right of the window ("
                                                                 : "one key right of the window (") +
            keys_text(p, i, *w) + ")";
  } else if (j == w->lo - w->step) {
    where = "one key left of the window (" + keys_text(p, i, *w) + ")";
  } else if (j > w->hi) {
    where = (p.pattern.kind == PatternKind::kCausalSlidingWindow ? "a future key, right of the window ("
                                                                 : "right of the window (") +
            keys_text(p, i, *w) + ")";
  } else if (j < w->lo) {
    where = "left of the window (" + keys_text(p, i, *w) + ")";
  } else if (j == w->lo) {
    where = "at the window's left edge (" + keys_text(p, i, *w) + ")";
  } else if (j == w->hi) {
    where = "at the window's right edge (" + keys_text(p, i, *w) + ")";
  } else {
    where = "inside the window (" + keys_text(p, i, *w) + ")";
  }
  if (in_partial_last_tile(p, j, tiles.n)) where += ", in the partial last key tile";
  return where;
}

std::vector<std::string> correctness_hints(const std::vector<CaseFacts>& cases) {
  std::vector<const CaseFacts*> failing;
  for (const CaseFacts& c : cases)
    if (!c.passed) failing.push_back(&c);
  if (failing.empty()) return {};
  std::vector<std::string> hints;
  auto any_failing = [&](auto pred) {
    return std::any_of(failing.begin(), failing.end(), [&](const CaseFacts* c) { return pred(*c); });
  };
  auto all_failing = [&](auto pred) {
    return std::all_of(failing.begin(), failing.end(), [&](const CaseFacts* c) { return pred(*c); });
  };
  // "Only the cases with this property fail": every failing case has it, at least half of the cases that
  // have it fail (so that one failing case does not blame every property it happens to have), and some
  // case without it passed.
  auto fails_only = [&](const std::function<bool(const CaseFacts&)>& has) {
    const auto with = std::count_if(cases.begin(), cases.end(), [&](const CaseFacts& c) { return has(c); });
    return all_failing(has) && 2 * static_cast<long>(failing.size()) >= with &&
           std::any_of(cases.begin(), cases.end(), [&](const CaseFacts& c) { return c.passed && !has(c); });
  };

  if (all_failing([](const CaseFacts& c) { return c.nothing_written; }) && failing.size() == cases.size()) {
    hints.push_back(
        "Nothing was written in any case: the stage is not implemented yet (every output still holds the "
        "poison the grader put there before the launch).");
    return hints;
  }
  for (const CaseFacts* c : failing)
    if (!c->refusal.empty()) {
      hints.push_back("The stage did not run every case: " + c->refusal + " (first in case '" + c->name +
                      "'). The grader asks only for what the stage declares "
                      "(problem.h, section 6) and the rubric requires.");
      break;
    }
  if (any_failing([](const CaseFacts& c) { return c.not_finite > 0; }))
    hints.push_back(
        "NaN or infinity in the output. A row that sees no key of a tile computes exp(-inf - (-inf)) = "
        "NaN: use 0 in place of a running max of -infinity, and never divide by a zero sum "
        "(docs/troubleshooting.md, \"NaN\").");
  if (any_failing([](const CaseFacts& c) { return c.unwritten > 0 && !c.nothing_written; })) {
    if (all_failing([](const CaseFacts& c) { return c.unwritten == 0 || c.unwritten_only_in_partial_tile; }))
      hints.push_back("Rows of the last, partial query tile were never written (N is not a multiple of " +
                      std::to_string(failing.front()->tiles.m) + " there): launch ceil(N / " +
                      std::to_string(failing.front()->tiles.m) + ") query tiles and store every row i < N.");
    else
      hints.push_back(
          "Some outputs were never written: does the grid cover every query (ceil(N / block)) and every "
          "(batch, head), and does every thread store all of its rows?");
  }
  if (fails_only([](const CaseFacts& c) { return c.multi_head; }))
    hints.push_back(
        "Only problems with B*H > 1 fail: the rows of head (b, h) start at ((b*H + h)*N + i)*D "
        "(Problem::row_offset); check the strides for the batch and the head.");
  if (fails_only([](const CaseFacts& c) { return c.partial_tile; }))
    hints.push_back("Only N that are not a multiple of the tile (" + std::to_string(failing.front()->tiles.m) +
                    " queries, " + std::to_string(failing.front()->tiles.n) +
                    " keys) fail: in the last, partial tile, keys j >= N must be masked, and queries i >= N "
                    "neither computed into the softmax of others nor stored.");
  if (fails_only([](const CaseFacts& c) { return c.D != c.base_D; }))
    hints.push_back("Only head dimensions other than " + std::to_string(failing.front()->base_D) +
                    " fail: is D hard-coded somewhere (a loop bound, a stride, a shared-memory size)? Use the "
                    "template parameter D.");
  if (fails_only([](const CaseFacts& c) { return c.scale_one; }) ||
      fails_only([](const CaseFacts& c) { return !c.scale_one; }))
    hints.push_back(
        "Cases fail or pass with the scale: S = scale * (Q . K) with the problem's scale (1/sqrt(D) by "
        "default, 1 in the exercise's literal formula), applied once.");
  if (fails_only([](const CaseFacts& c) { return c.window_zero; }))
    hints.push_back("W = 0 fails: the window is inclusive, so each query still sees itself and O[i] = V[i].");
  if (fails_only([](const CaseFacts& c) { return c.full_window; }))
    hints.push_back("W >= N fails: clamp the window to the sequence, 0 .. N-1, and beware of overflow in i + W.");
  if (fails_only([](const CaseFacts& c) { return c.large_inputs; }))
    hints.push_back(
        "Only large inputs fail: subtract the row's maximum score before exp() (the stable softmax), "
        "or exp() overflows to infinity.");
  if (fails_only([](const CaseFacts& c) { return c.asymmetric; }))
    hints.push_back(
        "The window with different sides fails: use pattern.left for the keys before the query and "
        "pattern.right for the keys after it.");
  if (all_failing([](const CaseFacts& c) { return c.errors_only_at_sequence_ends; }))
    hints.push_back(
        "The wrong queries all sit near the ends of the sequence: clamp the window to keys 0 .. N-1 "
        "(max(0, i - W) and min(N - 1, i + W)).");
  if (hints.empty())
    hints.push_back(
        "Compare with the reference on the first failing case. The window check's feedback says which "
        "keys each query really weighs; `swa pattern` draws the pattern, and docs/troubleshooting.md "
        "lists the usual mistakes and the feedback each produces.");
  return hints;
}

std::vector<std::string> window_hints(const Problem& p, const std::vector<WeightError>& errors) {
  bool right_past = false, left_past = false, far_outside = false, inside = false;
  bool left_edge_missing = false, right_edge_missing = false;
  for (const WeightError& e : errors) {
    const auto w = window_of(p, e.i);
    if (e.outside) {
      if (w && e.j == w->hi + w->step)
        right_past = true;
      else if (w && e.j == w->lo - w->step)
        left_past = true;
      else
        far_outside = true;
    } else {
      if (w && e.j == w->lo && std::abs(e.got) < 1e-6)
        left_edge_missing = true;
      else if (w && e.j == w->hi && std::abs(e.got) < 1e-6)
        right_edge_missing = true;
      else
        inside = true;
    }
  }
  std::vector<std::string> hints;
  if (right_past)
    hints.push_back(
        "Keys one past the right edge of the window get weight: the window is inclusive, "
        "i - W_left <= j <= i + W_right; the key at i + W_right + 1 must be masked (an off-by-one "
        "in the right bound: <= i + W, not <= i + W + 1).");
  if (left_past)
    hints.push_back(
        "Keys one past the left edge of the window get weight: the bound is i - W_left <= j; the key "
        "at i - W_left - 1 must be masked (an off-by-one in the left bound).");
  if (far_outside)
    hints.push_back(
        "Keys outside the pattern get weight: every score whose key the pattern hides must be set to "
        "-infinity before the softmax, in every partial tile.");
  if (left_edge_missing)
    hints.push_back(
        "The key at the window's left edge gets no weight: the left bound is inclusive, i - W_left <= j "
        "(an off-by-one in the left bound: >= i - W, not > i - W).");
  if (right_edge_missing)
    hints.push_back(
        "The key at the window's right edge gets no weight: the right bound is inclusive, j <= i + W_right "
        "(an off-by-one in the right bound: <= i + W, not < i + W).");
  const bool edge_missing = left_edge_missing || right_edge_missing;
  // Weight on a key outside the pattern is taken from the keys inside, so those differ too: say so only
  // when it is the whole story.
  if (inside && !edge_missing && !right_past && !left_past && !far_outside)
    hints.push_back(
        "Weights inside the window differ from the softmax: its max and its sum must run over exactly "
        "the visible keys; check the scale and the normalisation.");
  return hints;
}

}  // namespace swa
