"""One writer per results folder: a batch (or a single run) holds ``RESULTS/.lock`` from start to end.

The lock is an advisory `filelock` (``flock``) on ``RESULTS/.lock``: the kernel drops it when its process ends, even
by SIGKILL, so a killed batch never leaves the folder locked. The holder describes itself in
``RESULTS/.lock-holder.json`` (pid, host, command, start time), which a second batch names when it finds the folder
taken: it stops at once (`ResultsBusy`, exit status 75) or, asked to ``wait``, starts when the holder ends. Tables and
plots take no lock: they only read run folders and replace their own files by rename.

Within one process the lock is re-entrant (the command line and the batch engine both take it).
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runners.layout import read_json, write_json

LOCK_FILE = ".lock"
HOLDER_FILE = ".lock-holder.json"
#: Exit status of a command that finds its results folder taken (sysexits.h EX_TEMPFAIL: try again later).
BUSY_EXIT = 75
#: Seconds between two attempts while waiting for the holder.
POLL_S = 0.5

_held: dict[Path, tuple[Any, int]] = {}


class ResultsBusy(RuntimeError):
    """Another process holds the results folder's lock."""


def read_holder(results: Path) -> dict[str, Any] | None:
    """What the process holding ``results`` wrote about itself (None if nothing readable is there)."""
    try:
        holder = read_json(Path(results) / HOLDER_FILE)
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def describe_holder(holder: dict[str, Any] | None) -> str:
    if holder is None:
        return "another process (it has not described itself yet)"
    return (f"pid {holder.get('pid')} on host {holder.get('host')}, started {holder.get('started')}, running "
            f"`{holder.get('command') or '?'}`")


def command_line() -> str:
    """This process's command line as a user typed it (``python -m runners batch ...``), for the record."""
    import shlex

    if not sys.argv or not sys.argv[0]:
        return "python"
    first = Path(sys.argv[0])
    if first.name == "__main__.py":
        head = ["python", "-m", first.parent.name]
    elif sys.argv[0] == "-c":
        head = ["python", "-c"]
    else:
        head = [first.name]
    return shlex.join([*head, *sys.argv[1:]])


@contextmanager
def results_lock(results: Path | str, *, wait: bool = False,
                 log: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lock of the results folder ``results`` (which must exist) for the ``with`` block. Taken by another
    process: raise `ResultsBusy` naming the holder, or with ``wait`` tell ``log`` once and wait for it."""
    from filelock import FileLock, Timeout

    key = Path(results).resolve()
    if key in _held:  # re-entrant within this process
        lock, depth = _held[key]
        _held[key] = (lock, depth + 1)
        try:
            yield
        finally:
            lock, depth = _held[key]
            _held[key] = (lock, depth - 1)
        return
    lock = FileLock(str(key / LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = read_holder(key)
        if not wait:
            raise ResultsBusy(f"the results folder {str(results)!r} is in use by {describe_holder(holder)}. One batch "
                              "writes a results folder at a time: wait for that one to end (or add --wait, make "
                              "WAIT=1, to start when it does), or use another results folder (--results, make "
                              "RESULTS=)") from None
        if log is not None:
            log(f"waiting for the results folder {str(results)!r}: in use by {describe_holder(holder)}")
        lock.acquire(poll_interval=POLL_S)
    _held[key] = (lock, 1)
    try:
        write_json(key / HOLDER_FILE, {"pid": os.getpid(), "host": socket.gethostname(), "command": command_line(),
                                       "started": datetime.now(UTC).isoformat(timespec="seconds")})
        yield
    finally:
        del _held[key]
        try:
            (key / HOLDER_FILE).unlink(missing_ok=True)  # our own description, while we still hold the lock
        finally:
            lock.release()


__all__ = ["BUSY_EXIT", "HOLDER_FILE", "LOCK_FILE", "ResultsBusy", "command_line", "describe_holder", "read_holder",
           "results_lock"]
