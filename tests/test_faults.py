"""A batch survives faults, for real: a worker SIGKILLed mid-run, the whole batch SIGKILLed and started again, a full
disk and a results folder that cannot be written. (One run that raises: tests/test_batch.py.)

The kill tests run ``python -m runners batch`` in its own process group with a local cluster on 127.0.0.1: query-only
runs of R-EA and Random plus smoke-sized RANDOM-NAS runs (a few seconds each, checkpointed every epoch), and compare
every run and the table with an uninterrupted batch of the same command.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers import kill_driver_alone, kill_group, process_group, read_result
from test_runner import PY, ROOT, ToyQuery, folder, toys  # noqa: F401 - the toy searchers' fixture

from algos.base import SearchContext, SearchResult
from runners.cli import main
from runners.collect import load_report
from runners.layout import CONFIG, RESULT, STATE, TRACE
from runners.plan import plan_runs
from runners.table import write_table

#: One batch: 2 runs each of R-EA and Random (milliseconds) and of RANDOM-NAS at smoke size (3 epochs, seconds).
BATCH = ["batch", "--algos", "rea", "random", "random-nas", "--datasets", "cifar10", "--seeds", "-1", "--runs", "2", "--ws-runs", "2",
         "--master-seed", "11", "--protocol", "nb201", "--workers", "2", "--smoke", "--no-progress", "--no-report"]
WS = "random-nas"
#: Columns of a weight-sharing trace that are wall-clock times (the only ones a resumed run may differ in).
TIMES = ("search_seconds", "epoch_seconds")


def _command(results: Path) -> list[str]:
    return [PY, "-m", "runners", *BATCH, "--results", str(results)]


def _start(results: Path, log: Path) -> subprocess.Popen:
    """The batch in a new session: its process group is the driver and its local cluster."""
    with open(log, "wb") as fh:
        return subprocess.Popen(_command(results), cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _finish(results: Path, log: Path, timeout: float = 240) -> None:
    """The same command again, to the end."""
    with open(log, "ab") as fh:
        proc = subprocess.run(_command(results), cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout)
    assert proc.returncode == 0, log.read_text()[-4000:]


def _ws_folders(results: Path) -> list[Path]:
    base = results / "nb201" / "cifar10" / WS
    return sorted(base.glob("seed-*")) if base.is_dir() else []


def _wait_for_checkpoint(results: Path, proc: subprocess.Popen, log: Path, timeout: float = 180) -> Path:
    """The first weight-sharing run folder with an epoch checkpoint and no result yet: a run in the middle."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for f in _ws_folders(results):
            if (f / STATE / "checkpoint.pt").is_file() and not (f / RESULT).exists():
                return f
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    raise AssertionError(f"no weight-sharing run reached a checkpoint mid-run (batch rc={proc.poll()}):\n"
                         + log.read_text()[-4000:])


def _runs(results: Path) -> dict[str, tuple[dict, pd.DataFrame]]:
    """Every run's result (less its wall time, date and the checksums of files that record them) and trace (less
    wall-clock columns), by relative folder."""
    out = {}
    for res_path in sorted((results / "nb201").glob(f"*/*/seed-*/{RESULT}")):
        f = res_path.parent
        res = read_result(f)
        assert res is not None, f"damaged result in {f}"
        res = {k: v for k, v in res.items() if k not in ("wall_seconds", "finished_at", "files")}
        trace = pd.read_csv(f / TRACE)
        out[str(f.relative_to(results))] = (res, trace.drop(columns=[c for c in TIMES if c in trace]))
    return out


def _assert_same_runs(results: Path, reference: Path) -> None:
    got, want = _runs(results), _runs(reference)
    assert sorted(got) == sorted(want)
    for key, (res, trace) in want.items():
        assert got[key][0] == res, key
        pd.testing.assert_frame_equal(got[key][1], trace, check_exact=True, obj=key)


def _table(results: Path) -> tuple[bytes, bytes]:
    md, csv, _ = write_table(load_report(results, "nb201"))[:3]
    return md.read_bytes(), csv.read_bytes()


def _summary(results: Path) -> dict:
    return json.loads((results / "nb201" / "batch-summary.json").read_text())


def _info(f: Path) -> dict:
    return json.loads((f / CONFIG).read_text())


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[bytes, bytes]]:
    """The same batch, never interrupted."""
    results = tmp_path_factory.mktemp("reference") / "results"
    _finish(results, results.parent / "batch.log")
    runs = _runs(results)
    assert len(runs) == 6 and not _summary(results)["failed"]
    return results, _table(results)


# --- 1. a worker killed in the middle of a run ----------------------------------------------------------------
def test_a_worker_killed_mid_run_is_retried_and_the_batch_completes(reference: tuple, tmp_path: Path) -> None:
    ref_results, ref_table = reference
    results, log = tmp_path / "results", tmp_path / "batch.log"
    proc = _start(results, log)
    try:
        victim = _wait_for_checkpoint(results, proc, log)
        pid = _info(victim)["process"]["pid"]
        assert pid != proc.pid and proc.pid in process_group(proc.pid)  # a worker process of this batch, not the driver
        os.kill(pid, signal.SIGKILL)
        assert not (victim / RESULT).exists()  # it really died mid-run
        assert proc.wait(timeout=240) == 0, log.read_text()[-4000:]
    finally:
        kill_group(proc)
    # dask re-ran the task in a new worker process, which resumed the run from its last epoch's checkpoint
    info = _info(victim)
    assert info["process"]["pid"] != pid and info["info"]["resumed_from_epoch"] >= 1
    summary = _summary(results)
    assert summary["failed"] == [] and summary["counts"] == {"rea": {"finished": 2}, "random": {"finished": 2},
                                                             WS: {"finished": 2}}
    _assert_same_runs(results, ref_results)
    assert _table(results) == ref_table


# --- 2. the whole batch killed and started again ---------------------------------------------------------------
def test_a_killed_batch_restarted_skips_finished_runs_and_resumes_the_rest(reference: tuple, tmp_path: Path) -> None:
    ref_results, ref_table = reference
    results, log = tmp_path / "results", tmp_path / "batch.log"
    proc = _start(results, log)
    pgid = proc.pid
    try:
        _wait_for_checkpoint(results, proc, log)
        cluster = process_group(pgid)
        assert len(cluster) >= 3, cluster  # the driver and its two worker processes (at least)
        # The driver dies first and alone (as under the OOM killer): its workers must not outlive it.
        orphans = kill_driver_alone(proc)
    finally:
        kill_group(proc)  # the rest of the process group, if anything was left: the whole batch is dead now
    assert orphans == [], f"worker processes outlived the driver: {orphans}"
    # state at the kill: some runs finished, the weight-sharing runs in the middle (checkpoint, no result)
    finished = {f: (f / RESULT).read_bytes() for f in (results / "nb201").glob("*/*/seed-*") if read_result(f)}
    unfinished = [f for f in _ws_folders(results) if not (f / RESULT).exists()]
    ckpt_epochs = {f: _checkpoint_epoch(f) for f in unfinished if (f / STATE / "checkpoint.pt").is_file()}
    assert finished and ckpt_epochs and all(e >= 1 for e in ckpt_epochs.values()), (finished, ckpt_epochs)
    mtimes = {f: (f / RESULT).stat().st_mtime_ns for f in finished}

    _finish(results, log)
    summary = _summary(results)
    assert summary["failed"] == []
    assert sum(c.get("skipped", 0) for c in summary["counts"].values()) == len(finished)
    assert sum(c.get("finished", 0) for c in summary["counts"].values()) == 6 - len(finished)
    for f, before in finished.items():  # skipped, untouched
        assert (f / RESULT).read_bytes() == before and (f / RESULT).stat().st_mtime_ns == mtimes[f]
    for f, epoch in ckpt_epochs.items():  # resumed from the last epoch's checkpoint, not started afresh
        info = _info(f)["info"]
        assert info["resumed_from_epoch"] == epoch and info["epochs_run"] == 3
    _assert_same_runs(results, ref_results)  # resumed == uninterrupted, run for run
    assert _table(results) == ref_table


class StuckQuery(ToyQuery):
    """A run whose interpreter hangs with the GIL held (C code that never returns to Python), so no Python thread
    of its worker can run any more: the worst case for a worker whose driver dies."""

    name = "toy-stuck"

    def search(self, ctx: SearchContext) -> SearchResult:
        ctypes.PyDLL(None).sleep(120)  # PyDLL: the GIL stays held while libc's sleep blocks
        return super().search(ctx)


def test_a_stuck_worker_dies_with_its_driver(tmp_path: Path) -> None:
    results, log = tmp_path / "results", tmp_path / "batch.log"
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import algos, test_faults; "
            "algos.SEARCHERS['toy-stuck'] = 'test_faults:StuckQuery'; from runners.run import load_searcher; "
            "real = algos.get_searcher; "
            "algos.get_searcher = lambda n: load_searcher(algos.SEARCHERS[n]) if n == 'toy-stuck' else real(n); "
            "from runners.cli import main; "
            f"sys.exit(main(['batch', '--algos', 'toy-stuck', '--seeds', '1', '2', '--datasets', 'cifar10', "
            f"'--workers', '1', '--results', {str(results)!r}, '--no-progress', '--no-report']))")
    with open(log, "wb") as fh:
        proc = subprocess.Popen([PY, "-c", code], cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        end, cfg = time.monotonic() + 120, None
        while time.monotonic() < end and proc.poll() is None:
            cfg = next(iter(results.glob(f"nb201/cifar10/toy-stuck/seed-*/{CONFIG}")), None)
            if cfg is not None:
                break
            time.sleep(0.05)
        assert cfg is not None, log.read_text()[-3000:]
        time.sleep(0.5)  # config.json is written just before the search: let it reach the stuck call
        pid = json.loads(cfg.read_text())["process"]["pid"]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        end = time.monotonic() + 10
        while pid in process_group(proc.pid) and time.monotonic() < end:
            time.sleep(0.1)
        assert pid not in process_group(proc.pid), "a worker stuck with the GIL held outlived its driver"
    finally:
        kill_group(proc)


def _checkpoint_epoch(f: Path) -> int:
    import torch

    return int(torch.load(f / STATE / "checkpoint.pt", map_location="cpu", weights_only=False)["epoch"])


# --- 4. a full disk, a results folder that cannot be written ---------------------------------------------------
_FDOPEN = os.fdopen


class FullDisk:
    """`os.fdopen` whose files opened for writing under ``root`` take ``free`` more bytes in all, then fail with
    ENOSPC (the bytes that fit are written first, as on a real disk: the temporary file is left half-written)."""

    def __init__(self, free: int, root: Path) -> None:
        self.free, self.root = free, str(root).rstrip(os.sep) + os.sep

    def fdopen(self, fd: int, mode: str = "r", *args: object, **kwargs: object) -> object:
        fh = _FDOPEN(fd, mode, *args, **kwargs)
        on_disk = os.readlink(f"/proc/self/fd/{fd}") if Path("/proc/self/fd").is_dir() else ""
        return _Writer(fh, self) if "w" in mode and on_disk.startswith(self.root) else fh


class _Writer:
    def __init__(self, fh: object, disk: FullDisk) -> None:
        self.fh, self.disk = fh, disk

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()

    def write(self, data: bytes) -> int:
        n = max(0, min(len(data), self.disk.free))
        self.fh.write(data[:n])
        self.fh.flush()
        self.disk.free -= n
        if n < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return n

    def flush(self) -> None:
        self.fh.flush()

    def fileno(self) -> int:
        return self.fh.fileno()


def _no_temporaries(results: Path) -> None:
    assert not [p for p in results.rglob("*") if p.name.endswith(".tmp")]


def _every_result_complete(results: Path) -> None:
    for res in results.rglob(RESULT):
        assert read_result(res.parent) is not None, f"incomplete {res}"
        assert len(pd.read_csv(res.parent / TRACE)) == 20


TOY = ["batch", "--algos", "toy-query", "--datasets", "cifar10", "--seeds", "-1", "--runs", "6", "--master-seed", "3",
       "--workers", "0", "--no-progress", "--no-report"]


def test_a_full_disk_stops_the_batch_with_a_clear_error_and_no_damaged_file(
        toys: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:  # noqa: F811
    meter = FullDisk(10**9, tmp_path)
    monkeypatch.setattr(os, "fdopen", meter.fdopen)
    assert main([*TOY, "--runs", "1", "--results", str(tmp_path / "one")]) == 0
    per_run = 10**9 - meter.free  # bytes one run writes (config.json twice, trace, result, batch summary)
    results = tmp_path / "results"
    disk = FullDisk(int(2.5 * per_run), tmp_path)
    monkeypatch.setattr(os, "fdopen", disk.fdopen)
    capsys.readouterr()
    assert main([*TOY, "--results", str(results)]) == 1
    err = capsys.readouterr().err
    assert "[Errno 28 ENOSPC] No space left on device" in err and "run the same command again" in err
    assert str(results / "nb201" / "cifar10" / "toy-query") in err  # names the folder
    assert "Traceback" not in err
    runs = list((results / "nb201" / "cifar10" / "toy-query").iterdir())
    done = [f for f in runs if read_result(f)]
    assert len(done) == 2 and len(runs) == 3  # the third run hit the full disk; the batch stopped there
    _every_result_complete(results)
    _no_temporaries(results)
    # space freed: the same command finishes the batch, skipping the two finished runs
    monkeypatch.setattr(os, "fdopen", _FDOPEN)
    assert main([*TOY, "--results", str(results)]) == 0
    assert _summary(results)["counts"] == {"toy-query": {"skipped": 2, "finished": 4}}
    _every_result_complete(results)
    # a table is never half-written: the disk fills while the next table is written, the old one stays whole
    md, csv, tex = write_table(load_report(results, "nb201"))[:3]
    before = [p.read_bytes() for p in (md, csv, tex)]
    assert main([*TOY, "--runs", "7", "--results", str(results)]) == 0  # one more run: the next table differs
    monkeypatch.setattr(os, "fdopen", FullDisk(len(before[0]) // 2, tmp_path).fdopen)
    capsys.readouterr()
    assert main(["table", "--results", str(results)]) == 1
    err = capsys.readouterr().err
    assert "ENOSPC" in err and str(results / "nb201") in err
    assert [p.read_bytes() for p in (md, csv, tex)] == before
    _no_temporaries(results)


def test_a_results_path_under_a_regular_file_is_a_clear_error_before_any_run(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A folder that cannot be created: the batch stops before starting a cluster, naming folder and errno."""
    (tmp_path / "file").write_text("not a folder")
    results = tmp_path / "file" / "results"
    t0 = time.perf_counter()
    assert main([*BATCH, "--algos", "rea", "--results", str(results)]) == 1
    err = capsys.readouterr().err
    assert f"{str(results)!r}" in err and "[Errno 20 ENOTDIR] Not a directory" in err
    assert time.perf_counter() - t0 < 30  # no cluster was started for nothing


def test_a_read_only_results_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    results = tmp_path / "results"
    results.mkdir()
    results.chmod(0o555)
    try:
        probe = results / "probe"
        try:
            probe.write_text("x")
        except PermissionError:
            pass
        else:
            probe.unlink()
            pytest.skip("chmod 555 does not stop this user from writing (root): a read-only folder cannot be "
                        "simulated here; test_a_results_path_under_a_regular_file... covers the error path")
        assert main([*BATCH, "--algos", "rea", "--results", str(results)]) == 1
        err = capsys.readouterr().err
        assert f"{str(results)!r}" in err and "[Errno 13 EACCES] Permission denied" in err
    finally:
        results.chmod(0o755)


def test_a_run_folder_that_cannot_be_written_stops_the_batch_on_dask(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    """The results folder is writable but one algorithm's folder is a regular file: the worker's error comes back
    through dask as the same clear error, the batch stops, and the other runs' folders are whole."""
    results = tmp_path / "results"
    blocked = results / "nb201" / "cifar10" / "random"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the algorithm's folder should be")
    args = [*BATCH, "--algos", "random", "--runs", "3", "--workers", "1", "--results", str(results)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "ENOTDIR" in err and str(blocked) in err and "Traceback" not in err
    _no_temporaries(results)
    assert blocked.read_text().startswith("a file")
    specs, _ = plan_runs(["random"], ["cifar10"], [-1], "nb201", results=results, runs=3, master_seed=11)
    assert not any(read_result(s.folder) for s in specs)
