"""Helpers shared by the tests (not fixtures): killing a search or a batch for real, comparing tables."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from algos.base import SearchContext
from bench.jsonio import read_json
from bench.table import Table
from runners.layout import RESULT


def run_and_kill(cls, cfg, ctx: SearchContext, kill_at: float) -> int:  # noqa: ANN001
    """Run the search in a forked child that SIGKILLs itself (no cleanup, no flush) once ``kill_at`` epochs are done;
    returns the child's wait status. Forking keeps the already imported modules, so this costs no start-up time."""
    pid = os.fork()
    if pid == 0:  # child
        try:
            def progress(done: float, total: float) -> None:
                if done >= kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)

            cls(cfg).search(dataclasses.replace(ctx, progress=progress))
        finally:
            os._exit(3)  # reached only if the kill did not happen
    _, status = os.waitpid(pid, 0)
    return status


def process_group(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def kill_driver_alone(proc: subprocess.Popen, grace: float = 20) -> list[int]:
    """SIGKILL only the driver of a batch started with ``start_new_session`` (as the OOM killer would), wait up to
    ``grace`` seconds for the rest of its process group to die, and return what is still alive (orphans)."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    end = time.monotonic() + grace
    while process_group(proc.pid) and time.monotonic() < end:
        time.sleep(0.1)
    return process_group(proc.pid)


def kill_group(proc: subprocess.Popen) -> None:
    """Clean-up: nothing of a test's batch (started with ``start_new_session``) outlives the test."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def assert_same_table(a: Table, b: Table) -> None:
    """Same provenance and the same metrics with identical arrays (dtype and values) in every part."""
    assert a.info == b.info
    for part in ("means", "trials", "curves", "seeds"):
        x, y = getattr(a, part), getattr(b, part)
        assert sorted(x) == sorted(y)
        for k in x:
            assert x[k].dtype == y[k].dtype
            np.testing.assert_array_equal(x[k], y[k])


def read_result(folder: Path) -> dict[str, Any] | None:
    """A run's ``result.json`` as written, or None while the run is unfinished (or the file is unreadable);
    `runners.layout.check_run` says whether the run is whole."""
    try:
        res = read_json(Path(folder) / RESULT)
    except (OSError, ValueError):
        return None
    return res if isinstance(res, dict) and res.get("status") == "finished" else None
