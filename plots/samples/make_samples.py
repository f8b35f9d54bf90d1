#!/usr/bin/env python3
"""make_samples.py: how the sample inputs in plots/samples/ were made (the tests read them; nothing runs this).

    python3 plots/samples/make_samples.py --bench-slow RUN/bench-slow.json --bench-fast RUN/bench-fast.json \
        --swa build/dev/swa

- bench-slow.json, bench-fast.json: two real `swa bench --json` files (an H100, stages 01-02 and 03-05),
  trimmed to a few shapes, plus one made-up entry whose window run was skipped, so the plots meet one.
- grade.json: a made-up `swa grade` result in the swa-grade/1 format. Stage 03 is a student kernel whose
  window reaches one key too far on the right (j <= i + W + 1): its window check recovers a weight at
  j = i + W + 1, and its correctness check fails on every query row but the last W + 1 (where that key
  does not exist). Everything is computed here from random scores, so the numbers are self-consistent.
- swa-pattern/*.txt: the text `swa pattern` prints for the patterns of figure 4, so the tests can draw
  figure 4 without a build. Figure 4 draws one panel per file there: add a pattern to PATTERN_OUTPUTS
  and rerun this to give it a panel.
- torch-bench.json: made-up numbers in the swa-torch-bench/1 format (python/), written by hand once for
  the pytorch.png tests; not a measurement, and not remade by this script.
"""
import argparse
import json
import re
import subprocess
from pathlib import Path

import numpy as np

SAMPLES = Path(__file__).resolve().parent

# Shapes kept from the real benchmark files: (group, N).
KEPT_SHAPES = {("exercise", 512), ("exercise", 1024), ("exercise", 2048),
               ("fill", 1024), ("fill", 4096), ("fill", 16384)}

# The patterns figure 4 draws: (spec, N, tile size or 0 for no tiles), one panel per saved output.
PATTERN_OUTPUTS = [("sliding:2", 8, 0), ("sliding:3", 16, 4), ("causal:3", 16, 4), ("dilated:1:4", 16, 4),
                   ("global:2:0,9", 16, 4), ("adaptive:0:4", 16, 4)]

# The student's bug in stage 03: one key too many on the right of the window.
WINDOW_CASE_N, WINDOW_CASE_W = 32, 4
CORRECTNESS_CASE_N, CORRECTNESS_CASE_W, HEAD_DIM = 64, 8, 64
DECIMALS = 5


def trim_bench(source, target, note, extra=()):
    data = json.loads(Path(source).read_text())
    data["note"] = note
    data["results"] = [r for r in data["results"] if (r["group"], r["N"]) in KEPT_SHAPES] + list(extra)
    Path(target).write_text(json.dumps(data, indent=2) + "\n")


def skipped_slow_entry():
    """A made-up fill shape that did not fit in memory: the figures must leave it out, the table say so."""
    return {"stage": "01_naive", "variant": "solution", "group": "fill", "pattern": "sliding:128",
            "B": 4, "H": 16, "N": 16384, "D": 64, "tile_bound": 51.44113029827316,
            "window": {"skipped": "made up for the sample: needs 90.0 GB of GPU memory, 79.1 GB free"},
            "full": {"skipped": "made up for the sample: needs 90.0 GB of GPU memory, 79.1 GB free"}}


def softmax_rows(scores, allowed):
    masked = np.where(allowed, scores, -np.inf)
    weights = np.exp(masked - masked.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)


def sliding_mask(N, left, right):
    i, j = np.indices((N, N))
    return (j >= i - left) & (j <= i + right)


def window_case(rng):
    """The window check's case: weights the buggy kernel gave each key, and the right ones."""
    N, W = WINDOW_CASE_N, WINDOW_CASE_W
    scores = rng.normal(size=(N, N))
    expected = softmax_rows(scores, sliding_mask(N, W, W))
    recovered = softmax_rows(scores, sliding_mask(N, W, W + 1))
    mismatches = []
    for i in range(N - W - 1):
        if len(mismatches) == 3:
            break
        j = i + W + 1
        mismatches.append({"b": 0, "h": 0, "i": i, "j": j, "expected": 0.0,
                           "got": round(float(recovered[i, j]), DECIMALS), "kind": "outside the pattern",
                           "where": "right of the window (j = i + W + 1)"})
    return {"name": f"weights of sliding:{W}, N={N}", "pattern": f"sliding:{W}", "B": 1, "H": 2, "N": N, "D": HEAD_DIM,
            "scale": 1.0 / np.sqrt(HEAD_DIM), "passed": False,
            "summary": f"{N - W - 1} of {N} query rows give weight to a key outside the window, all at j = i + W + 1",
            "mismatches": mismatches,
            "weights": {"recovered": np.round(recovered, DECIMALS).tolist(),
                        "expected": np.round(expected, DECIMALS).tolist()}}


def correctness_cases():
    N, W, D = CORRECTNESS_CASE_N, CORRECTNESS_CASE_W, HEAD_DIM
    # Rows whose extra key j = i + W + 1 exists are wrong in every element; the last W + 1 rows are right.
    bad = [D if i + W + 1 < N else 0 for i in range(N)]
    failed = {"name": "exercise pattern, small", "pattern": f"sliding:{W}", "B": 2, "H": 2, "N": N, "D": D,
              "scale": 1.0 / np.sqrt(D), "passed": False,
              "summary": f"{sum(bad)} of {N * D} elements wrong in head (0, 0); rows {N - W - 1}..{N - 1} correct",
              "mismatches": [{"b": 0, "h": 0, "i": 0, "d": 0, "expected": 0.41237, "got": 0.39811,
                              "kind": "outside tolerance", "where": "query 0, window [0, 8]"}],
              "bad_per_query": bad}
    passed = {"name": "one query", "pattern": "sliding:128", "B": 1, "H": 1, "N": 1, "D": D,
              "scale": 1.0 / np.sqrt(D), "passed": True, "summary": "all 64 elements within tolerance",
              "mismatches": []}
    return [passed, failed]


def grade_sample():
    rng = np.random.default_rng(2024)
    naive = {"stage": "01_naive", "status": "graded", "message": "", "score": 20.0, "max_score": 20.0, "checks": [
        {"name": "correctness", "score": 10.0, "max_score": 10.0, "status": "passed",
         "summary": "12 of 12 cases passed", "feedback": [], "cases": []},
        {"name": "window", "score": 10.0, "max_score": 10.0, "status": "passed", "summary": "the window is exact",
         "feedback": [], "cases": [{"name": "long sequence", "pattern": "sliding:128", "B": 1, "H": 1, "N": 200,
                                    "D": HEAD_DIM, "scale": 0.125, "passed": True, "summary": "exact",
                                    "mismatches": []}]}]}
    tiled = {"stage": "02_tiled_smem", "status": "not implemented", "message": "swa_run returned 'not implemented'",
             "score": 0.0, "max_score": 20.0, "checks": []}
    masked = {"stage": "03_masked_windows", "status": "graded", "message": "", "score": 8.0, "max_score": 20.0,
              "checks": [
                  {"name": "correctness", "score": 0.0, "max_score": 8.0, "status": "failed",
                   "summary": "1 of 2 cases failed", "cases": correctness_cases(),
                   "feedback": ["Every row fails except the last W + 1: look at the right edge of the window."]},
                  {"name": "window", "score": 0.0, "max_score": 4.0, "status": "failed",
                   "summary": "weights outside the pattern", "cases": [window_case(rng)],
                   "feedback": ["Query i gives weight to key i + W + 1: the right bound is inclusive, j <= i + W."]},
                  {"name": "memory", "score": 4.0, "max_score": 4.0, "status": "passed", "summary": "no workspace",
                   "feedback": [], "cases": [],
                   "measurements": [{"B": 4, "H": 16, "N": 4096, "D": 64, "pattern": "sliding:128",
                                     "workspace_bytes": 0, "allocated_bytes": 0, "limit_bytes": 33554432,
                                     "passed": True}]},
                  {"name": "speed", "score": 4.0, "max_score": 4.0, "status": "passed", "summary": "5.1x at N = 2048",
                   "feedback": [], "cases": [],
                   "measurements": [{"B": 1, "H": 1, "N": 2048, "D": 64, "pattern": "sliding:128",
                                     "median_ms": 0.0512, "runs": 100, "baseline_ms": 0.2611, "speedup": 5.1,
                                     "target": 3.2, "tile_bound": 6.649, "score": 4.0, "useful_tflops": 2.55,
                                     "check_after_timing": "failed"}]}]}
    later = {"stage": "04_online_softmax", "status": "not implemented", "message": "swa_run returned 'not implemented'",
             "score": 0.0, "max_score": 20.0, "checks": []}
    stages = [naive, tiled, masked, later]
    return {"schema": "swa-grade/1", "gpu": "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)", "date": "2026-11-24T23:05:00Z",
            "commit": "sample", "variant": "student", "seed": 2024,
            "note": "made up by plots/samples/make_samples.py in the swa-grade/1 format",
            "score": sum(s["score"] for s in stages), "max_score": sum(s["max_score"] for s in stages),
            "stages": stages}


def dumps_with_flat_rows(data):
    """JSON indented for reading, but with each row of a number matrix on one line."""
    def is_number_row(value):
        return isinstance(value, list) and value and all(isinstance(x, (int, float)) for x in value)

    rows = []

    def stash_rows(value):
        if is_number_row(value):
            rows.append(json.dumps(value))
            return f"@row{len(rows) - 1}@"
        if isinstance(value, dict):
            return {k: stash_rows(v) for k, v in value.items()}
        if isinstance(value, list):
            return [stash_rows(v) for v in value]
        return value

    text = json.dumps(stash_rows(data), indent=1)
    return re.sub(r'"@row(\d+)@"', lambda m: rows[int(m.group(1))], text)


def pattern_file_name(spec, N, tile):
    return f"{spec.replace(':', '_').replace(',', '_')}-N{N}-t{tile}.txt"


def save_pattern_outputs(swa):
    folder = SAMPLES / "swa-pattern"
    folder.mkdir(exist_ok=True)
    for spec, N, tile in PATTERN_OUTPUTS:
        command = [swa, "pattern", spec, "-N", str(N)] + (["--tiles", str(tile)] if tile else [])
        text = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        (folder / pattern_file_name(spec, N, tile)).write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench-slow", required=True)
    parser.add_argument("--bench-fast", required=True)
    parser.add_argument("--swa", required=True)
    args = parser.parse_args()
    trim_bench(args.bench_slow, SAMPLES / "bench-slow.json",
               "trimmed from an H100 run of stages 01-02; the 01_naive N=16384 entry is made up (a skipped run)",
               extra=[skipped_slow_entry()])
    trim_bench(args.bench_fast, SAMPLES / "bench-fast.json", "trimmed from an H100 run of stages 03-05")
    (SAMPLES / "grade.json").write_text(dumps_with_flat_rows(grade_sample()) + "\n")
    save_pattern_outputs(args.swa)


if __name__ == "__main__":
    main()
