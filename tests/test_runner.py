"""The runner: one folder per run, atomic files, skip/redo/resume, failures, seeds, and clear errors on bad input.

Toy searchers defined here stand in for the real ones (registered by monkeypatching `algos.SEARCHERS` and
`algos.get_searcher`), so these tests check the runner alone; other test files import them from here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

import algos
from algos.base import SearchContext, Searcher, SearchResult, Trace
from bench import proxy_dataset
from bench.atomic import temporary_name
from runners.cli import main
from runners.layout import CONFIG, ERROR, RESULT, STATE, TRACE
from runners.plan import DEFAULT_SOURCE_SUBSTITUTES, UsageError, plan_runs, seeds_for
from runners.run import load_searcher
from runners.seeds import DEFAULT_MASTER_SEED, QUERY_RUNS, derive_seeds
from search_space import Arch

ROOT = Path(__file__).resolve().parents[1]
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable


# --- toy searchers -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ToyConfig:
    budget: float = 2000.0
    cost: float = 100.0
    #: Raise in the run with this seed (a searcher bug).
    fail_seed: int = -1
    #: Kill the process mid-run in the run with this seed, once (the marker file remembers it happened).
    crash_seed: int = -1
    crash_marker: str = ""
    #: Weight-sharing toy: epochs, and an interruption (KeyboardInterrupt) after this epoch, once.
    epochs: int = 4
    interrupt_after: int = -1

    #: The fault switches decide whether a run ends, not what a finished run found: not in its fingerprint, so a
    #: re-run without them (the "bug fixed") reuses the runs that finished.
    RESULT_NEUTRAL: ClassVar[tuple[str, ...]] = ("fail_seed", "crash_seed", "crash_marker", "interrupt_after")


class _Interrupted(BaseException):
    """Stands in for a kill: not an Exception, so the runner must not record it as a failure."""


def _maybe_crash(cfg: ToyConfig, ctx: SearchContext) -> None:
    if ctx.seed == cfg.crash_seed and cfg.crash_marker and not Path(cfg.crash_marker).exists():
        Path(cfg.crash_marker).write_text("crashed once")
        os._exit(3)


class ToyQuery(Searcher):
    """Random search with a fixed cost per query: enough to exercise the runner's query-only path."""

    name = "toy-query"
    kind = "query"
    Config = ToyConfig
    PRESETS = {"nb201": ToyConfig(), "nats": ToyConfig(budget=3000.0)}

    def search(self, ctx: SearchContext) -> SearchResult:
        cfg = self.config
        if ctx.seed == cfg.fail_seed:
            raise ValueError(f"toy failure on purpose (seed {ctx.seed})")
        metric = f"{proxy_dataset(ctx.dataset)}/x-valid@200"
        trace, t, best, best_acc = Trace(), 0.0, -1, -np.inf
        while t + cfg.cost <= cfg.budget:
            arch = Arch.sample(ctx.rng)
            acc = ctx.bench.value(arch, metric) + float(ctx.rng.normal(0, 1.0))
            t += cfg.cost
            if t > cfg.budget / 2:
                _maybe_crash(cfg, ctx)
            if acc > best_acc:
                best, best_acc = arch.index, acc
            trace.append(time=t, index=arch.index, arch=str(arch), accuracy=acc, cost=cfg.cost, incumbent=best,
                         incumbent_accuracy=best_acc)
        return SearchResult(Arch.from_index(best), trace, {"substitutes": [], "queries": len(trace),
                                                           "budget": cfg.budget})


class ToyWS(Searcher):
    """A 'weight-sharing' toy: one cell per epoch, checkpointing its RNG and trace into ``run_dir`` each epoch."""

    name = "toy-ws"
    kind = "weight-sharing"
    Config = ToyConfig
    PRESETS = {"nb201": ToyConfig(), "nats": ToyConfig(epochs=3)}

    def search(self, ctx: SearchContext) -> SearchResult:
        cfg = self.config
        ckpt = ctx.run_dir / "ckpt.json"
        rng, rows, start = ctx.rng, [], 0
        if ckpt.exists():
            state = json.loads(ckpt.read_text())
            rng.bit_generator.state = state["rng"]
            rows, start = state["rows"], state["epoch"]
        for epoch in range(start, cfg.epochs):
            arch = Arch.sample(rng)
            rows.append({"epoch": epoch, "index": arch.index, "arch": str(arch), "loss": float(rng.random())})
            ckpt.write_text(json.dumps({"rng": rng.bit_generator.state, "rows": rows, "epoch": epoch + 1}))
            if ctx.progress:
                ctx.progress(epoch + 1, cfg.epochs)
            if epoch == cfg.interrupt_after and not (ctx.run_dir / "interrupted").exists():
                (ctx.run_dir / "interrupted").write_text("once")
                raise _Interrupted()
        return SearchResult(Arch.from_index(rows[-1]["index"]), Trace(rows), {"resumed_from": start})


TOYS = {"toy-query": f"{__name__}:ToyQuery", "toy-ws": f"{__name__}:ToyWS"}


@pytest.fixture
def toys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, ref in TOYS.items():
        monkeypatch.setitem(algos.SEARCHERS, name, ref)
    real = algos.get_searcher
    monkeypatch.setattr(algos, "get_searcher", lambda n: load_searcher(algos.SEARCHERS[n]) if n in TOYS else real(n))


def run_cli(*args: str) -> int:
    return main(["run", *args, "--no-progress", "--no-report"])


def folder(results: Path, algo: str, seed: int, dataset: str = "cifar10", protocol: str = "nb201") -> Path:
    return results / protocol / dataset / algo / f"seed-{seed}"


# --- layout and files ----------------------------------------------------------------------------------------
def test_run_writes_one_folder_with_atomic_files(toys: None, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["run", "toy-query", "--seed", "7", "--results", str(tmp_path), "--no-progress",
                 "--set", "cost=150"]) == 0
    out = capsys.readouterr()
    f = folder(tmp_path, "toy-query", 7)
    assert sorted(p.name for p in f.iterdir()) == [CONFIG, RESULT, TRACE]  # no temporary files left
    cfg = json.loads((f / CONFIG).read_text())
    assert cfg["config"]["cost"] == 150.0 and cfg["overrides"] == {"cost": "150"}
    assert cfg["seed"] == 7 and cfg["seed_origin"] == {"how": "given"} and cfg["protocol"] == "nb201"
    assert cfg["bench"]["requested"] == "default"
    assert cfg["substitutes_allowed"] == list(DEFAULT_SOURCE_SUBSTITUTES)  # the embedded default's documented set
    assert "numpy" in cfg["versions"] and cfg["substitutes_used"] == []
    trace = pd.read_csv(f / TRACE)
    assert len(trace) == 2000 // 150 and list(trace["time"]) == [150.0 * (i + 1) for i in range(len(trace))]
    res = json.loads((f / RESULT).read_text())
    assert res["index"] == trace["incumbent"].iloc[-1] and res["arch"] == str(Arch.from_index(res["index"]))
    assert set(res["reported"]) == {"cifar10", "cifar100", "ImageNet16-120"}
    # the embedded default is the published figures: valid and test of every dataset
    assert all(res["reported"][d][s] is not None for d in res["reported"] for s in ("valid", "test"))
    # the runner adds the benchmark's reported figures of the incumbent on every dataset to each trace row
    for d in ("cifar10", "cifar100", "ImageNet16-120"):
        for s in ("valid", "test"):
            assert trace[f"incumbent_{d}_{s}"].iloc[-1] == pytest.approx(res["reported"][d][s])
    # the end of a run says where results, table and plots are
    assert str(f.parent) in out.out and "table.md" in out.out and "plots" in out.out
    assert "NOTE" in out.err and "embedded default" in out.err


def test_run_and_build_json_share_one_writer_nan_as_null(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.generate.files import write_json as build_write_json
    from runners.layout import StorageError, read_json, write_json

    fsyncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd))[1])
    record = {"acc": [1.5, float("nan"), np.float32(2.5)], "inf": -float("inf"), "n": np.int64(3),
              "path": Path("a/b"), 7: (1, 2)}
    write_json(tmp_path / "run.json", record)
    assert fsyncs == []  # per-run files: atomic, not fsynced
    build_write_json(tmp_path / "build.json", record)
    assert len(fsyncs) == 1  # a build's files: fsynced as well
    text = (tmp_path / "run.json").read_text()
    assert text == (tmp_path / "build.json").read_text()
    assert "NaN" not in text and "Infinity" not in text  # strict JSON: no figure is null
    assert read_json(tmp_path / "run.json") == {"acc": [1.5, None, 2.5], "inf": None, "n": 3, "path": "a/b",
                                                "7": [1, 2]}
    (tmp_path / "file").write_text("")
    with pytest.raises(StorageError, match="cannot write"):
        write_json(tmp_path / "file" / "run.json", record)  # a file where a folder should be


def test_same_seed_gives_a_bit_identical_trace(toys: None, tmp_path: Path) -> None:
    for sub in ("a", "b"):
        assert run_cli("toy-query", "--seed", "11", "--results", str(tmp_path / sub)) == 0
    a, b = (folder(tmp_path / s, "toy-query", 11) / TRACE for s in ("a", "b"))
    assert a.read_bytes() == b.read_bytes()
    assert run_cli("toy-query", "--seed", "12", "--results", str(tmp_path / "a")) == 0
    assert (folder(tmp_path / "a", "toy-query", 12) / TRACE).read_bytes() != a.read_bytes()


def test_rerun_skips_a_finished_run(toys: None, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run_cli("toy-query", "--seed", "3", "--results", str(tmp_path)) == 0
    res = folder(tmp_path, "toy-query", 3) / RESULT
    before = (res.stat().st_mtime_ns, res.read_bytes())
    assert run_cli("toy-query", "--seed", "3", "--results", str(tmp_path)) == 0
    assert "already finished" in capsys.readouterr().err
    assert (res.stat().st_mtime_ns, res.read_bytes()) == before


def test_folder_without_result_is_redone(toys: None, tmp_path: Path) -> None:
    f = folder(tmp_path, "toy-query", 5)
    f.mkdir(parents=True)
    (f / CONFIG).write_text("{}")
    (f / TRACE).write_text("time,index\n1.0,")  # half a file from a killed attempt
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = temporary_name(f / TRACE, pid=dead.pid)  # what a killed writer leaves
    left.write_text("junk")
    busy = temporary_name(f / "notes.txt")  # a live process's file in the making: never another's to delete
    busy.write_text("being written")
    assert run_cli("toy-query", "--seed", "5", "--results", str(tmp_path)) == 0
    assert (f / RESULT).is_file() and not left.exists() and busy.read_text() == "being written"
    assert len(pd.read_csv(f / TRACE)) == 20


def test_a_crash_mid_run_leaves_no_result_and_is_redone(tmp_path: Path) -> None:
    """A process killed mid-search (os._exit) leaves a folder without result.json; running again finishes it."""
    marker = tmp_path / "crashed"
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import algos, test_runner; "
            "algos.SEARCHERS['toy-query'] = 'test_runner:ToyQuery'; from runners.run import load_searcher; "
            "real = algos.get_searcher; "
            "algos.get_searcher = lambda n: load_searcher(algos.SEARCHERS[n]) if n == 'toy-query' else real(n); "
            "from runners.cli import main; "
            f"sys.exit(main(['run', 'toy-query', '--seed', '9', '--results', {str(tmp_path)!r}, '--no-progress', "
            f"'--no-report', '--set', 'crash_seed=9', '--set', 'crash_marker={marker}']))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.run([PY, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    f = folder(tmp_path, "toy-query", 9)
    assert first.returncode == 3 and marker.exists()
    assert (f / CONFIG).is_file() and not (f / RESULT).exists() and not (f / TRACE).exists()
    second = subprocess.run([PY, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert (f / RESULT).is_file() and len(pd.read_csv(f / TRACE)) == 20


def test_weight_sharing_run_resumes_from_its_state(toys: None, tmp_path: Path) -> None:
    with pytest.raises(_Interrupted):
        run_cli("toy-ws", "--seed", "21", "--results", str(tmp_path / "a"), "--set", "interrupt_after=1")
    f = folder(tmp_path / "a", "toy-ws", 21)
    assert not (f / RESULT).exists() and (f / STATE / "ckpt.json").is_file()
    assert run_cli("toy-ws", "--seed", "21", "--results", str(tmp_path / "a"), "--set", "interrupt_after=1") == 0
    cfg = json.loads((f / CONFIG).read_text())
    assert cfg["info"]["resumed_from"] == 2
    assert run_cli("toy-ws", "--seed", "21", "--results", str(tmp_path / "b")) == 0
    g = folder(tmp_path / "b", "toy-ws", 21)
    assert (f / TRACE).read_bytes() == (g / TRACE).read_bytes()  # resumed == uninterrupted
    trace = pd.read_csv(g / TRACE)
    assert list(trace["epoch"]) == [0, 1, 2, 3]
    for d in ("cifar10", "cifar100", "ImageNet16-120"):  # NB201 reports the found cell on all three datasets
        assert f"{d}_valid" in trace and f"{d}_test" in trace
    assert set(json.loads((g / RESULT).read_text())["reported"]) == {"cifar10", "cifar100", "ImageNet16-120"}


def test_a_raising_run_keeps_its_traceback(toys: None, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run_cli("toy-query", "--seed", "4", "--results", str(tmp_path), "--set", "fail_seed=4") == 1
    f = folder(tmp_path, "toy-query", 4)
    err = (f / ERROR).read_text()
    assert "Traceback" in err and "toy failure on purpose" in err
    assert not (f / RESULT).exists()
    assert "FAILED" in capsys.readouterr().out
    # fixed, the same run is redone and its error file goes
    assert run_cli("toy-query", "--seed", "4", "--results", str(tmp_path)) == 0
    assert (f / RESULT).is_file() and not (f / ERROR).exists()


# --- seeds ---------------------------------------------------------------------------------------------------
def test_seed_minus_one_derives_the_papers_runs_reproducibly(toys: None) -> None:
    algo = plan_runs(["toy-query"], ["cifar10"], [-1], "nb201")[0]
    assert len(algo) == QUERY_RUNS and len({s.seed for s in algo}) == QUERY_RUNS
    assert [s.seed for s in algo] == derive_seeds(DEFAULT_MASTER_SEED, QUERY_RUNS)
    assert algo[7].seed_origin == {"how": "derived", "master_seed": DEFAULT_MASTER_SEED, "run": 7, "runs": 500}
    few = plan_runs(["toy-query"], ["cifar10"], [-1], "nb201", runs=5, master_seed=123)[0]
    assert [s.seed for s in few] == derive_seeds(123, 5) == derive_seeds(123, 50)[:5]  # a prefix of the longer set
    assert [s.seed for s in few] != derive_seeds(124, 5)


def test_seed_minus_one_runs_and_records_the_master_seed(toys: None, tmp_path: Path) -> None:
    assert run_cli("toy-query", "--seed", "-1", "--runs", "4", "--master-seed", "77", "--workers", "0",
                   "--results", str(tmp_path)) == 0
    seeds = derive_seeds(77, 4)
    made = sorted(int(p.name.split("-")[1]) for p in (tmp_path / "nb201" / "cifar10" / "toy-query").iterdir())
    assert made == sorted(seeds)
    cfg = json.loads((folder(tmp_path, "toy-query", seeds[2]) / CONFIG).read_text())
    assert cfg["seed_origin"] == {"how": "derived", "master_seed": 77, "run": 2, "runs": 4}


def test_weight_sharing_seed_minus_one_draws_and_records_one_seed(toys: None, tmp_path: Path) -> None:
    specs, _ = plan_runs(["toy-ws"], ["cifar10"], [-1], "nb201")
    assert len(specs) == 1 and 1 <= specs[0].seed <= 100000 and specs[0].seed_origin["how"] == "drawn"
    batch, _ = plan_runs(["toy-ws"], ["cifar10"], [-1], "nb201", batch=True)  # a batch: 3 reproducible seeds
    assert [s.seed for s in batch] == [s for s, _ in seeds_for(_algo("toy-ws"), -1, runs=None,
                                                                 master_seed=DEFAULT_MASTER_SEED, batch=True)]
    assert len(batch) == 3 and all(1 <= s.seed <= 100000 for s in batch)
    # RUNS sizes the query-only sets only; WS_RUNS the weight-sharing ones
    both, _ = plan_runs(["toy-ws", "toy-query"], ["cifar10"], [-1], "nb201", batch=True, runs=7)
    assert sum(s.algo == "toy-ws" for s in both) == 3 and sum(s.algo == "toy-query" for s in both) == 7
    more, _ = plan_runs(["toy-ws"], ["cifar10"], [-1], "nb201", batch=True, ws_runs=5)
    assert [s.seed for s in more][:3] == [s.seed for s in batch] and len(more) == 5


def test_each_protocol_searches_its_own_datasets_by_default(toys: None) -> None:
    """NAS-Bench-201 searched CIFAR-10 only, every baseline; NATS-Bench each dataset; named datasets are kept."""
    nb201, notes = plan_runs(["toy-query", "toy-ws"], None, [1], "nb201")
    assert {(s.algo, s.dataset) for s in nb201} == {("toy-query", "cifar10"), ("toy-ws", "cifar10")} and not notes[1:]
    nats, _ = plan_runs(["toy-query", "toy-ws"], [], [1], "nats")
    assert {s.dataset for s in nats if s.algo == "toy-ws"} == {"cifar10", "cifar100", "ImageNet16-120"}
    named, notes = plan_runs(["toy-ws"], ["cifar100"], [1], "nb201")
    assert [s.dataset for s in named] == ["cifar100"]
    assert any("cifar100 under nb201" in n and "their own table rows" in n for n in notes)


def _algo(name: str):  # noqa: ANN202
    from runners.plan import resolve_algo

    return resolve_algo(name, "nb201")


# --- bad input -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "words"), [
    (["bogus"], ["unknown algorithm 'bogus'", "rea", "darts-v1", "random-nas"]),
    (["toy-query", "--dataset", "cifar11"], ["unknown dataset 'cifar11'", "cifar100", "ImageNet16-120"]),
    (["toy-query", "--protocol", "nb202"], ["unknown protocol 'nb202'", "nb201", "nats"]),
    (["toy-query", "--seed", "abc"], ["invalid seed 'abc'", "-1", ">= 0"]),
    (["toy-query", "--seed", "-3"], ["invalid seed -3", "-1"]),
    (["toy-query", "--substitute", "magic"], ["unknown substitute 'magic'", "trial-mean", "no-eval-time"]),
    (["toy-query", "--set", "budgett=3"], ["unknown setting 'budgett'", "budget", "cost"]),
    (["toy-query", "--set", "budget=lots"], ["invalid value 'lots'", "float"]),
    (["toy-query", "--set", "budget"], ["invalid setting 'budget'", "key=value"]),
    (["toy-query", "--bench", "/no/such/file.pth"], ["does not exist", "default"]),
    (["toy-query", "--runs", "0"], ["invalid number of runs 0", ">= 1"]),
])
def test_bad_values_name_the_valid_ones(toys: None, tmp_path: Path, capsys: pytest.CaptureFixture,
                                        args: list[str], words: list[str]) -> None:
    assert main(["run", *args, "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    for w in words:
        assert w in err
    assert not (tmp_path / "nb201").exists()


def test_plan_rejects_before_running(toys: None) -> None:
    with pytest.raises(UsageError, match="valid: cifar10, cifar100, ImageNet16-120"):
        plan_runs(["toy-query"], ["cifar10", "mnist"], [1], "nb201")


def _sub(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_python_m_runners_exits_2_without_traceback() -> None:
    r = _sub([PY, "-m", "runners", "run", "rea", "--dataset", "bogus", "--no-report"])
    assert r.returncode == 2 and "unknown dataset 'bogus'" in r.stderr and "cifar100" in r.stderr
    assert "Traceback" not in r.stderr
    r = _sub([PY, "-m", "runners", "table", "--protocol", "nb2"])
    assert r.returncode == 2 and "valid: nb201, nats" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(("var", "words"), [
    ("DATASET=bogus", ["unknown dataset 'bogus'", "cifar10, cifar100, ImageNet16-120"]),
    ("PROTOCOL=nb2", ["unknown protocol 'nb2'", "nb201, nats"]),
    ("SEED=x", ["invalid seed 'x'", "-1"]),
    ("SUBSTITUTES=magic", ["unknown substitute 'magic'", "acc200-for-acc12"]),
    ("GPU=7", ["invalid GPU='7'", "0, 1"]),
])
def test_make_stops_on_bad_variables(var: str, words: list[str]) -> None:
    # -o: never (re)install the venv from inside a test
    r = _sub(["make", "-s", "-o", ".venv/.installed", "rea", var, "RESULTS=/nonexistent-results"])
    assert r.returncode == 2, r.stdout + r.stderr
    for w in words:
        assert w in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(("args", "words"), [
    (["sweep", "ALGO=rea"], ["make sweep needs ALGO= PARAM= VALUES="]),
    (["sweep", "ALGO=rea", "PARAM=sample_sise", "VALUES=3 5"], ["unknown setting 'sample_sise'", "sample_size"]),
    (["table", "LAYOUT=sideways"], ["unknown table layout 'sideways'", "transfer, own"]),
])
def test_make_sweep_and_table_stop_on_bad_variables(args: list[str], words: list[str]) -> None:
    r = _sub(["make", "-s", "-o", ".venv/.installed", *args, "RESULTS=/nonexistent-results"])
    assert r.returncode == 2, r.stdout + r.stderr
    for w in words:
        assert w in r.stderr
    assert "Traceback" not in r.stderr


def test_make_batch_stops_on_a_bad_algorithm() -> None:
    r = _sub(["make", "-s", "-o", ".venv/.installed", "batch", "ALGOS=rea bogus", "RESULTS=/nonexistent-results"])
    assert r.returncode == 2 and "unknown algorithm 'bogus'" in r.stderr and "darts-v1" in r.stderr


def test_runner_options_reach_the_searcher_context(toys: None, tmp_path: Path) -> None:
    assert run_cli("toy-query", "--seed", "2", "--results", str(tmp_path), "--option", "data_dir=/some/where",
                   "--option", "subset=100", "--device", "cpu") == 0
    cfg = json.loads((folder(tmp_path, "toy-query", 2) / CONFIG).read_text())
    assert cfg["options"] == {"data_dir": "/some/where", "subset": 100, "device": "cpu"}


def test_make_names_the_valid_targets_for_an_unknown_one() -> None:
    r = _sub(["make", "-s", "-o", ".venv/.installed", "darts-v3"])
    assert r.returncode == 2 and "unknown target 'darts-v3'" in r.stderr and "darts-v2" in r.stderr


def test_a_benchmark_is_loaded_once_however_its_source_is_spelled(csv_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """--bench with a relative path: the plan (absolute path) and the table's reference (as typed) share one copy."""
    from runners.collect import reference
    from runners.plan import resolve_bench
    from runners.run import load_bench

    monkeypatch.setattr("runners.run._BENCHES", {})
    monkeypatch.chdir(csv_path.parent)
    source, bench = resolve_bench(csv_path.name)
    assert source == str(csv_path.resolve()) and load_bench(csv_path.name) is bench
    assert reference(pd.DataFrame({"requested": [csv_path.name]})).bench is bench
    assert load_bench("default") is load_bench(None) is load_bench("")
