"""How fast the official NAS-Bench-201 ``.pth`` imports, beside the official loader: prints figures (not a test).

    python -m runners.perf.pth_import [--fraction 0.15] [--small-fraction 0.03] [--safe-fraction 0.002] [--repeats 3]
                                  [--layout update_eval|v1_1-script] [--folder DIR [--keep] [--reuse]]

Writes synthetic files in the official schema with the official package's own classes (``nas_201_api``
``ArchResults`` / ``ResultsCount`` state dicts, saved by ``torch.save`` in torch's legacy layout as the 2020 files
are), holding ``small_fraction`` and ``fraction`` of the 15,625 cells at the size of the real v1.1 file: 200-epoch runs on the four
datasets with 1, 2 or 3 trials as often as v1.1 has them (14 %, 35 %, 51 %), 12-epoch runs once each (twice on
cifar10-valid), per-epoch train accuracy (top-1 and top-5), loss and time, per-epoch accuracy, loss and time on
every evaluation set (``--layout v1_1-script``: filled as the script that made v1.1 fills them, `LAYOUTS`). Then, each in a fresh process, one after the other (best of ``repeats``: the machine is
shared), it times (wall and CPU) and measures the peak resident memory (``ru_maxrss``, of the import process for
ours) of:

- the official loader, ``nas_201_api.NASBench201API(path)``, on torch's native unpickler
  (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``: how it ran in 2020, and its fastest; it builds any class a file names);
- our import, ``bench.importers.nb201.read_nb201(path)``: the restricted stream reader
  (``bench.importers.stream_pickle``: per-epoch records read as arrays from the mapped file) plus the conversion into
  a table (every metric, trial and the validation curves), in its own process, which writes the table file the
  caller reads (the file a cache entry is);
- the official loader as today's torch runs it by default (``weights_only=True``: safe, pure Python), on a
  smaller file of ``safe_fraction`` (it is far slower).

The two sizes give each loader's per-cell cost and fixed part, extrapolated to the 15,625 cells of the real file
(4.7 GB). Keep every process under the machine's share: the official loader takes about 1.7 MB a cell (28 GB for
the real file), the process writing the large file about 2.6 MB a cell.

Measured on the 2-core development machine, best of 5, the loaders taking turns (load average 1.3 to 2.3: another
session used about one core), ``python -m runners.perf.pth_import --repeats 5`` (``--layout update_eval``) and
``--layout v1_1-script``:

    layout        loader                 cells  wall s  CPU s  peak MB | per cell         | at 15,625 (extrapolated)
    update_eval   official (torch)         469    0.93   0.93     1330 | 1.96 ms, 1.65 MB | 0.5 min, 25.8 GB
                                          2344    4.61   4.54     4429 |                  |
                  ours (stream reader)     469    0.86   0.79      290 | 1.00 ms, 0.21 MB | 0.3 min,  3.4 GB
                                          2344    2.74   2.63      684 |                  |
    v1_1-script   official (torch)         469    1.01   0.98     1310 | 2.45 ms, 1.68 MB | 0.6 min, 26.2 GB
                                          2344    5.60   5.54     4462 |                  |
                  ours (stream reader)     469    1.06   0.96      264 | 1.26 ms, 0.15 MB | 0.3 min,  2.6 GB
                                          2344    3.43   3.43      554 |                  |

Ours / official at 2,344 cells: wall 0.59 and 0.61, CPU 0.58 and 0.62, peak memory 0.15 and 0.12; extrapolated to
15,625: wall 0.52 and 0.53, peak memory 0.13 and 0.10 (the caller's own peak: 71 MB). Ours has a fixed part of
0.4 to 0.5 s (writing the table file, 140 MB of arrays and their checksums, and reading it back), so on the 469-cell
files it is 0.92x and 1.05x the official loader's time. The C unpickler it replaced took 1.2 to 1.35x the official
loader's time at both sizes (2.40 ms a cell); it still reads a file the stream reader gives up on.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from search_space import NUM_ARCHS

ROOT = Path(__file__).resolve().parents[2]
REAL_FILE_BYTES = 4.7e9
#: v1.1's trials per cell on the 200-epoch schedule: 2,225 once, 5,439 twice, 7,961 three times.
TRIALS_SHARE = (2225 / NUM_ARCHS, 5439 / NUM_ARCHS, 7961 / NUM_ARCHS)
SPLITS = {"cifar10-valid": ("x-valid", "ori-test"), "cifar10": ("ori-test",),
          "cifar100": ("ori-test", "x-valid", "x-test"), "ImageNet16-120": ("ori-test", "x-valid", "x-test")}
CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
SEEDS = (777, 888, 999)


#: How the synthetic trials are filled: ``update_eval`` (the current scripts: every split at every epoch, one key
#: object shared by accuracies, losses and times), or as the script that made v1.1 fills them from its 2019
#: checkpoints (``update_OLD_eval``: the first split at every epoch, the others at the last one, accuracies and losses
#: under keys of their own; pseudo train times in an ordered dict and pseudo evaluation times; each cell an ordered
#: dict, ``evaluated_indexes`` a set).
LAYOUTS = ("update_eval", "v1_1-script")


def _trial(results_count: type, rng: np.random.Generator, dataset: str, arch: str, seed: int, epochs: int,
           layout: str) -> object:
    """One ResultsCount filled the way the official scripts fill it."""
    e = range(epochs)
    v = rng.uniform(0, 100, (4, epochs)).tolist()
    train = (dict(zip(e, v[0], strict=True)), dict(zip(e, v[2], strict=True))) if layout == "v1_1-script" else (None,) * 2
    rc = results_count(dataset, None, *train, float(rng.uniform(0.1, 1.5)), float(rng.uniform(10, 200)),
                       {"channel": 16, "num_cells": 5, "arch_str": arch, "class_num": CLASSES[dataset]}, seed, epochs,
                       [float(rng.uniform(0.005, 0.03))])
    if layout == "v1_1-script":
        first, *others = SPLITS[dataset]
        rc.update_OLD_eval(first, dict(zip(e, v[1], strict=True)), dict(zip(e, v[3], strict=True)))
        for split in others:
            rc.update_OLD_eval(split, {epochs - 1: float(rng.uniform(0, 100))}, {epochs - 1: float(rng.uniform(0, 5))})
        return rc
    rc.update_train_info(dict(zip(e, v[0], strict=True)), dict(zip(e, v[1], strict=True)),
                         dict(zip(e, v[2], strict=True)), dict(zip(e, v[3], strict=True)))
    accs, losses, times = {}, {}, {}
    for split in SPLITS[dataset]:
        a, lo, t = rng.uniform(0, 100, (3, epochs)).tolist()
        for k in e:
            key = f"{split}@{k}"  # one key object for the three dicts, as update_eval shares it
            accs[key], losses[key], times[key] = a[k], lo[k], t[k]
    rc.update_eval(accs, losses, times)
    return rc


def write_file(path: Path, fraction: float, seed: int = 0, layout: str = LAYOUTS[0]) -> dict:
    """The synthetic file; returns its size and cell count."""
    import torch
    from nas_201_api import ArchResults, ResultsCount

    from search_space import Arch

    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    rng = np.random.default_rng(seed)
    cells = sorted(rng.choice(NUM_ARCHS, size=max(1, round(fraction * NUM_ARCHS)), replace=False).tolist())
    arch2infos = {}
    for i in cells:
        arch = str(Arch.from_index(i))
        hp = {} if layout == LAYOUTS[0] else OrderedDict()
        for key, epochs in (("less", 12), ("full", 200)):
            res = ArchResults(i, arch)
            for dataset in SPLITS:
                if epochs == 200:
                    seeds = SEEDS[: 1 + int(rng.choice(3, p=TRIALS_SHARE))]
                else:
                    seeds = SEEDS[:2] if dataset == "cifar10-valid" else SEEDS[:1]
                for s in seeds:
                    res.update(dataset, s, _trial(ResultsCount, rng, dataset, arch, s, epochs, layout))
                if layout == "v1_1-script":  # correct_time_related_info
                    res.reset_pseudo_train_times(dataset, None, float(rng.uniform(5, 40)))
                    for split in SPLITS[dataset]:
                        res.reset_pseudo_eval_times(dataset, None, split, float(rng.uniform(0.5, 4)))
            hp[key] = res.state_dict()
        arch2infos[i] = hp
    data = {"meta_archs": [str(Arch.from_index(i)) for i in range(NUM_ARCHS)], "arch2infos": arch2infos,
            "evaluated_indexes": cells if layout == LAYOUTS[0] else set(cells)}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # a killed run leaves no file that --reuse would take
    torch.save(data, tmp, _use_new_zipfile_serialization=False)
    tmp.replace(path)
    return {"cells": len(cells), "bytes": path.stat().st_size}


_CHILD = r"""
import json, os, resource, sys, time
def cpu():  # this process and the import process it forks (ours)
    r, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime
which, path = sys.argv[1:3]
if which == "ours":
    import threading
    from bench.importers.nb201 import read_nb201
    c0, t0 = cpu(), time.perf_counter(); table = read_nb201(path); t1 = time.perf_counter()
    for thread in threading.enumerate():  # CPU time counts the import process to its end (reaped)
        if thread.name == "import-reaper":
            thread.join()
    c1 = cpu()
    extra = {"metrics": len(table.means), "curves": len(table.curves), "reader": table.info["unpickler"]}
else:
    import torch
    from nas_201_api import NASBench201API
    from bench.importers.nb201 import _numpy_scalars_allowed
    with _numpy_scalars_allowed():  # the official reader, as torch lets it read numpy scalars safely
        c0, t0 = cpu(), time.perf_counter(); api = NASBench201API(path, verbose=False)
        t1, c1 = time.perf_counter(), cpu()
    extra = {"cells": len(api.arch2infos_dict)}
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({"seconds": t1 - t0, "cpu_seconds": c1 - c0, "peak_rss_mb": peak / 1024,
                  "own_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}))
"""


def measure(which: str, path: Path, native: bool = False) -> dict:
    """Time and peak memory of one loader in a fresh process (imports not timed; memory includes them)."""
    env = dict(os.environ)
    env.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    if native:
        env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    out = subprocess.run([sys.executable, "-c", _CHILD, which, str(path)], capture_output=True, text=True,
                         cwd=ROOT, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _write(path: Path, fraction: float, seed: int, layout: str) -> dict:
    """The synthetic file, written in a child process (its memory is returned when it ends)."""
    code = ("import json, sys; from pathlib import Path; from runners.perf.pth_import import write_file; "
            "print(json.dumps(write_file(Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4])))")
    out = subprocess.run([sys.executable, "-c", code, str(path), str(fraction), str(seed), layout],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout)


def _load() -> str:
    """The machine's load average (1, 5, 15 min): the figures are only comparable on a quiet machine."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _best(runs: list[dict]) -> dict:
    """Figure by figure, the best of repeated runs (the machine is shared: the least disturbed run)."""
    return {k: (min(r[k] for r in runs) if isinstance(runs[0][k], float) else runs[0][k]) for k in runs[0]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runners.perf.pth_import", description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=0.15, help="share of the 15,625 cells in the large file")
    parser.add_argument("--small-fraction", type=float, default=0.03,
                        help="share in the small file (the two sizes separate fixed from per-cell costs)")
    parser.add_argument("--safe-fraction", type=float, default=0.002,
                        help="share for the official loader on torch's default (weights_only) path; 0 skips it")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each loader on each file, the loaders taking turns (best is kept)")
    parser.add_argument("--folder", type=Path, help="where to write the files (default: a temporary folder)")
    parser.add_argument("--layout", choices=LAYOUTS, default=LAYOUTS[0],
                        help="how the trials are filled (see LAYOUTS): update_eval, or as the script that made v1.1")
    parser.add_argument("--keep", action="store_true", help="keep the synthetic files")
    parser.add_argument("--reuse", action="store_true",
                        help="take the synthetic files an earlier --keep run left in --folder (they are deterministic)")
    args = parser.parse_args(argv)
    if not 0 < args.small_fraction < args.fraction <= 1 or not 0 <= args.safe_fraction <= 1 or args.repeats < 1:
        parser.error("need 0 < --small-fraction < --fraction <= 1, 0 <= --safe-fraction <= 1, --repeats >= 1")
    if args.reuse and args.folder is None:
        parser.error("--reuse needs the --folder an earlier --keep run wrote")
    folder = args.folder or Path(tempfile.mkdtemp(prefix="perf-import-"))
    folder.mkdir(parents=True, exist_ok=True)
    loaders = (("official loader (nas_201_api, torch's native unpickler)", "official", True),
               ("ours (read_nb201: restricted stream reader -> table)", "ours", False))
    print(f"load average before: {_load()}", flush=True)
    try:
        results: dict[str, dict[int, dict]] = {key: {} for _, key, _ in loaders}
        sizes = {}
        for fraction, seed in ((args.small_fraction, 1), (args.fraction, 0)):
            path = folder / f"NAS-Bench-201-v1_1-synthetic-{args.layout}-{fraction}.pth"
            t0 = time.perf_counter()
            if args.reuse and path.is_file():
                made = {"cells": max(1, round(fraction * NUM_ARCHS)), "bytes": path.stat().st_size}
                how = "taken from an earlier run"
            else:
                made = _write(path, fraction, seed, args.layout)
                how = f"written in {time.perf_counter() - t0:.0f} s"
            n = made["cells"]
            sizes[n] = made["bytes"]
            print(f"synthetic file: {n} cells ({n / NUM_ARCHS:.1%} of 15,625), {made['bytes'] / 2**20:.0f} MiB "
                  f"({made['bytes'] / n / 1024:.0f} KiB a cell; the real v1.1 file: "
                  f"{REAL_FILE_BYTES / NUM_ARCHS / 1024:.0f} KiB), {how}", flush=True)
            runs: dict[str, list[dict]] = {key: [] for _, key, _ in loaders}
            for _ in range(args.repeats):  # taking turns: a change in the machine's load falls on both
                for _, key, native in loaders:
                    runs[key].append(measure(key, path, native=native))
            for key, done in runs.items():
                results[key][n] = _best(done)
            if not args.keep:
                path.unlink()
        small, large = sorted(sizes)
        print(f"\n{'loader':55s} {'cells':>6s} {'wall s':>7s} {'CPU s':>7s} {'peak MB':>8s} {'caller MB':>9s}")
        for label, key, _ in loaders:
            for n in (small, large):
                r = results[key][n]
                print(f"{label:55s} {n:6d} {r['seconds']:7.2f} {r['cpu_seconds']:7.2f} {r['peak_rss_mb']:8.0f} "
                      f"{r['own_rss_mb']:9.0f}")
        print("\nextrapolated to 15,625 cells (per-cell cost from the two sizes, plus the fixed part):")
        full = {}
        for label, key, _ in loaders:
            row = {}
            for fig in ("seconds", "cpu_seconds", "peak_rss_mb"):
                a, b = results[key][small][fig], results[key][large][fig]
                per_cell = (b - a) / (large - small)
                row[fig] = (b + per_cell * (NUM_ARCHS - large), per_cell)
            full[key] = row
            print(f"{label:55s} wall {row['seconds'][0] / 60:5.1f} min ({row['seconds'][1] * 1e3:.2f} ms a cell), "
                  f"CPU {row['cpu_seconds'][0] / 60:5.1f} min, peak {row['peak_rss_mb'][0] / 1024:5.1f} GB "
                  f"({row['peak_rss_mb'][1]:.2f} MB a cell)")
        o, m = results["official"][large], results["ours"][large]
        print(f"\nours / official at {large} cells: wall {m['seconds'] / o['seconds']:.2f}, CPU "
              f"{m['cpu_seconds'] / o['cpu_seconds']:.2f}, peak memory {m['peak_rss_mb'] / o['peak_rss_mb']:.2f}; "
              f"extrapolated to 15,625: wall {full['ours']['seconds'][0] / full['official']['seconds'][0]:.2f}, CPU "
              f"{full['ours']['cpu_seconds'][0] / full['official']['cpu_seconds'][0]:.2f}, peak memory "
              f"{full['ours']['peak_rss_mb'][0] / full['official']['peak_rss_mb'][0]:.2f}")
        print(f"load average after the timed runs: {_load()}")
        print(f"ours read the files with: {sorted({results['ours'][n]['reader'] for n in (small, large)})}")
        print("(ours: wall time until the table is ready; CPU time includes the import process to its end, whose "
              "memory the system takes back while the caller goes on; peak: of the import process, caller: of the "
              "process that asked for the table)")
        if args.safe_fraction > 0:
            small_path = folder / "NAS-Bench-201-v1_1-synthetic-safe.pth"
            m = _write(small_path, args.safe_fraction, 2, args.layout)["cells"]
            safe, mine = measure("official", small_path), measure("ours", small_path)
            print(f"official loader on torch's default weights_only path, {m} cells: {safe['seconds']:.1f} s "
                  f"({safe['seconds'] * NUM_ARCHS / m / 3600:.1f} h at 15,625 by its per-cell cost); ours on the same "
                  f"file: {mine['seconds']:.1f} s")
            if not args.keep:
                small_path.unlink()
    finally:
        if args.folder is None and not args.keep:
            for p in folder.glob("*.pth"):
                p.unlink()
            folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
