"""How fast a benchmark table loads when it carries per-epoch curves (read at first use, not at load).

Builds two synthetic tables in a temporary folder: one with means and trials only (three datasets), and one that
also has four curves of shape (15,625, 3, 200) in float32, which is about 150 MB, the size of a table imported
from the official files. For each table it prints the best of three fresh-process loads (time, and memory added
by the load). For the table with curves it also prints the first access to one curve (read plus checksum) and
the cost of a later access. The figures are printed, not tested.

    .venv/bin/python -m runners.perf.table [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CURVE = "cifar100/x-valid@12"

_CHILD = r"""
import json, os, sys, time, timeit
from bench.table import Table
def rss(): return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
path, curve = sys.argv[1:3]
r0 = rss(); t0 = time.perf_counter(); t = Table.load(path); t1 = time.perf_counter()
out = {"load_s": t1 - t0, "load_mb": rss() - r0}
if curve:
    t.curves[curve]; t2 = time.perf_counter()
    out.update(first_s=t2 - t1, again_s=timeit.timeit(lambda: t.curves[curve], number=10000) / 10000,
               access_mb=rss() - r0)
print(json.dumps(out))
"""


def build(folder: Path) -> dict[str, Path]:
    """The two synthetic tables (seeded values; only their sizes matter)."""
    from bench.table import Table
    from search_space import NUM_ARCHS

    rng = np.random.default_rng(0)
    plain, full = Table(info={"source": "synthetic"}), Table(info={"source": "synthetic"})
    for ds in ("cifar10-valid", "cifar100", "ImageNet16-120"):
        for t in (plain, full):
            t.add(f"{ds}/x-valid@200", trials=rng.uniform(40, 95, (NUM_ARCHS, 3)))
            t.add(f"{ds}/params_M", mean=rng.uniform(0.1, 1.5, NUM_ARCHS))
    for ds in ("cifar10-valid", "cifar100", "ImageNet16-120", "cifar10"):
        split = "ori-test" if ds == "cifar10" else "x-valid"
        full.add(f"{ds}/{split}@12", mean=rng.uniform(40, 95, NUM_ARCHS),
                 curve=rng.uniform(10, 90, (NUM_ARCHS, 3, 200)).astype(np.float32))
    return {"means and trials": plain.save(folder / "plain.nbt.npz"), "with curves": full.save(folder / "full.nbt.npz")}


def measure(path: Path, curve: str, repeats: int) -> dict[str, float]:
    """Best of ``repeats`` fresh processes, figure by figure."""
    runs = [json.loads(subprocess.run([sys.executable, "-c", _CHILD, str(path), curve], capture_output=True,
                                      text=True, check=True, cwd=ROOT).stdout) for _ in range(repeats)]
    return {k: min(r[k] for r in runs) for k in runs[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runners.perf.table", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        for label, path in build(Path(d)).items():
            curve = CURVE if label == "with curves" else ""
            r = measure(path, curve, args.repeats)
            line = f"{label:17s} ({path.stat().st_size / 2**20:6.1f} MB): load {r['load_s'] * 1e3:6.1f} ms " \
                   f"(+{r['load_mb']:5.1f} MB)"
            if curve:
                line += (f"; first access to one curve {r['first_s'] * 1e3:5.1f} ms (+{r['access_mb']:5.1f} MB since "
                         f"the load), then {r['again_s'] * 1e6:.2f} us")
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
