"""The benchmark results (swa-bench/1), merged from one or more files, and how the figures pick from them."""
from dataclasses import dataclass

from .common import ResultError, plt


@dataclass
class Bench:
    files: list  # of ResultFile
    results: list  # every result of every file, in file order

    def provenance(self):
        """Which GPU, date, commit and variant the results came from, one entry per distinct run."""
        runs = []
        for f in self.files:
            run = (f"{f.data['gpu']}, {f.data['date'][:10]}, commit {f.data['commit']}, "
                   f"{f.data['variant']} stages")
            if run not in runs:
                runs.append(run)
        return "; ".join(runs)


def merge_bench_files(files):
    seen = {}
    results = []
    for f in files:
        for k, result in enumerate(f.data["results"]):
            key = (result["stage"], result["pattern"], result["B"], result["H"], result["N"], result["D"])
            if key in seen:
                raise ResultError(f"{f.name}: results[{k}]: {result['stage']} at B={result['B']}, H={result['H']}, "
                                  f"N={result['N']}, D={result['D']}, {result['pattern']} is also in {seen[key]}: "
                                  "give each measurement once")
            seen[key] = f.name
            results.append(result)
    return Bench(files, results)


def measured(result, run):
    """The result's "window" or "full" run if it was timed, else None (skipped, or not run)."""
    r = result.get(run)
    return r if isinstance(r, dict) and "median_ms" in r else None


def series_key(result):
    return (result["stage"], result["pattern"], result["D"])


def series_label(key, all_keys):
    """The stage's name, with the pattern and D only where the results mix several."""
    stage, pattern, D = key
    extra = []
    if len({k[1] for k in all_keys}) > 1:
        extra.append(pattern)
    if len({k[2] for k in all_keys}) > 1:
        extra.append(f"D={D}")
    return stage + (f" ({', '.join(extra)})" if extra else "")


def series_colors(results):
    keys = sorted({series_key(r) for r in results})
    palette = plt.get_cmap("tab10")
    return {key: palette(k % palette.N) for k, key in enumerate(keys)}


def series(results, value):
    """{series key: ([N, ...], [value, ...])} sorted by N, for the results where value(result) is not None."""
    points = {}
    for r in results:
        v = value(r)
        if v is not None:
            points.setdefault(series_key(r), []).append((r["N"], v))
    return {key: tuple(map(list, zip(*sorted(p)))) for key, p in sorted(points.items())}


def describe_shapes(results):
    """ "B=1, H=1, D=64, sliding:128" for the results of one panel (several values joined by '/')."""
    def values(name):
        return "/".join(str(v) for v in sorted({r[name] for r in results}))
    return f"B={values('B')}, H={values('H')}, D={values('D')}, {values('pattern')}"


def group_results(bench, group):
    return [r for r in bench.results if r["group"] == group]


