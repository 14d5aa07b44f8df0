"""How fast the benchmark oracle loads and answers: prints figures against the targets (not a test).

    python -m runners.perf.oracle [--bench SOURCE] [--scalar N] [--vector N]

The load is measured in a fresh Python process (imports timed apart from the load) reading the table file (the
shipped one for the default, the cached import for other sources, as every run after the first does); its peak
resident memory is that process's maximum RSS.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

TARGETS = {"load_s": 0.3, "peak_rss_mb": 150.0, "scalar_us": 5.0, "vector_1e6_s": 0.1}
ROOT = Path(__file__).resolve().parents[2]

# Runs in the fresh process: time the imports, then the load, then report the peak RSS of the whole process.
_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from bench import Benchmark
t1 = time.perf_counter()
b = Benchmark.load(None if sys.argv[1] == 'default' else sys.argv[1])
t2 = time.perf_counter()
n = sum(v.nbytes for v in b.table.means.values()) + sum(v.nbytes for v in b.table.trials.values())
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "path": str(b.path), "metrics": len(b.metrics),
                  "array_mb": n / 2**20, "curves_not_read": len(b.table.curves),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure_load(source: str, repeats: int) -> dict:
    """Best of ``repeats`` fresh-process loads (the cache is built first, outside the timing)."""
    from bench import Benchmark

    Benchmark.load(None if source == "default" else source)  # make sure the cache file exists
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", _CHILD, source], capture_output=True, text=True, check=True,
                             cwd=ROOT)
        runs.append(json.loads(out.stdout))
    best = min(runs, key=lambda r: r["load_s"])
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return best


def measure_queries(source: str, n_scalar: int, n_vector: int) -> dict:
    from bench import Benchmark

    bench = Benchmark.load(None if source == "default" else source)
    name = next(m for m in bench.metrics if "x-valid@200" in m)
    rng = np.random.default_rng(0)
    idx = [int(i) for i in rng.integers(0, 15625, size=n_scalar)]
    value = bench.value
    best_scalar = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for i in idx:
            value(i, name)
        best_scalar = min(best_scalar, (time.perf_counter() - t0) / n_scalar)
    vidx = rng.integers(0, 15625, size=n_vector)
    best_vec = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        bench.values(vidx, name)
        best_vec = min(best_vec, time.perf_counter() - t0)
    return {"metric": name, "scalar_us": best_scalar * 1e6, "scalar_per_s": 1 / best_scalar,
            "vector_s": best_vec, "vector_n": n_vector, "vector_1e6_s": best_vec * 1e6 / n_vector,
            "vector_per_s": n_vector / best_vec}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runners.perf.oracle", description=__doc__.splitlines()[0])
    parser.add_argument("--bench", metavar="SOURCE", default="default",
                        help="benchmark source (default: the embedded default, bench/data/nb201_tss.nbt.npz)")
    parser.add_argument("--scalar", type=int, default=200_000, help="scalar queries to time")
    parser.add_argument("--vector", type=int, default=1_000_000, help="indices in the vectorised query")
    parser.add_argument("--repeats", type=int, default=3, help="fresh-process loads (best is reported)")
    args = parser.parse_args(argv)
    for flag in ("scalar", "vector", "repeats"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be at least 1, got {getattr(args, flag)}")
    try:
        load = measure_load(args.bench, args.repeats)
    except subprocess.CalledProcessError as exc:
        parser.exit(2, f"{parser.prog}: error: loading {args.bench!r} failed:\n{exc.stderr}")
    q = measure_queries(args.bench, args.scalar, args.vector)
    figures = {"load_s": load["load_s"], "peak_rss_mb": load["peak_rss_mb"], "scalar_us": q["scalar_us"],
               "vector_1e6_s": q["vector_1e6_s"]}
    print(f"source:            {args.bench} (table {load['path']}, {load['metrics']} metrics, "
          f"{load['array_mb']:.1f} MB of arrays read; {load['curves_not_read']} curves left for first use)")
    print(f"imports:           {load['import_s'] * 1000:8.1f} ms  (fresh process, `from bench import Benchmark`)")
    print(f"load:              {load['load_s'] * 1000:8.1f} ms  (best of {args.repeats} fresh processes; "
          f"target < {TARGETS['load_s'] * 1000:.0f} ms)")
    print(f"peak resident:     {load['peak_rss_mb']:8.1f} MB  (whole process after load; "
          f"target < {TARGETS['peak_rss_mb']:.0f} MB)")
    print(f"scalar query:      {q['scalar_us']:8.2f} us  ({q['scalar_per_s']:,.0f} /s, bench.value(i, "
          f"{q['metric']!r}); target < {TARGETS['scalar_us']:.0f} us)")
    print(f"vectorised query:  {q['vector_s'] * 1000:8.2f} ms  for {q['vector_n']:,} indices "
          f"({q['vector_per_s']:,.0f} /s; target < {TARGETS['vector_1e6_s'] * 1000:.0f} ms per 1e6)")
    missed = [k for k, v in figures.items() if v >= TARGETS[k]]
    print("targets:           " + ("all met" if not missed else "MISSED: " + ", ".join(missed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
