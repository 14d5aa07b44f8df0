"""Run an import in a forked child process that hands back only the table it made.

Reading an official ``.pth`` builds a graph of Python objects to turn it into a table of a few hundred MB: about
3.5 GB of records and arrays for the v1.1 file through the stream reader, hundreds of millions of objects (about
26 GB) where the C unpickler reads it. In a child process that graph never has to be taken apart object by object:
the child saves the table (without fsync: a damaged entry fails its checksums and is rebuilt), says so, and ends
with ``os._exit``; the system takes its memory back while the caller goes on. The caller's process keeps only the
table (read back from the file, its curves lazily), so its own memory never holds the graph, nor the heap it grew
to. Where ``fork`` does not exist the import runs here.
"""

from __future__ import annotations

import os
import pickle
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.table import SUFFIX, Table


def run_isolated(make: Callable[..., Table], *args: Any, out: str | os.PathLike | None = None) -> Table:
    """``make(*args)`` in a forked child; the table it returns, saved to ``out`` (default: a temporary file that
    is removed once read back) and loaded here. An exception in the child is raised here as it was raised there."""
    if not hasattr(os, "fork"):
        table = make(*args)
        if out is not None:
            table.save(out)
        return table
    if out is not None:
        target = Path(out)
    else:
        fd, name = tempfile.mkstemp(suffix=SUFFIX, prefix="import-")
        os.close(fd)
        target = Path(name)
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: import, save, report, and leave without tearing the graph down
        status = 0
        try:
            os.close(read_fd)
            make(*args).save(target, durable=False)  # a damaged cache entry is found by its checksums, rebuilt
            os.write(write_fd, _DONE)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent, which raises it
            status = 1
            try:
                message = pickle.dumps(exc)
            except Exception:  # noqa: BLE001 - an exception that cannot travel is sent as its text
                message = pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))
            os.write(write_fd, _FAILED + message)
        finally:
            os._exit(status)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            head = pipe.read(len(_DONE))
            if head == _DONE:
                # The system takes the child's memory back while this process goes on (the OS's work, on
                # another core when there is one); a daemon thread reaps it.
                threading.Thread(target=os.waitpid, args=(pid, 0), daemon=True, name="import-reaper").start()
                pid = 0
                return Table.load(target)
            message = pipe.read() if head == _FAILED else b""
        _, status = os.waitpid(pid, 0)
        pid = 0
        if message:
            raise pickle.loads(message)  # noqa: S301 - written by our own child just now
        raise RuntimeError(f"the import process ended with status {os.waitstatus_to_exitcode(status)} before "
                           "saving its table (killed for memory?)")
    finally:
        if pid:
            os.waitpid(pid, 0)
        if out is None:
            target.unlink(missing_ok=True)  # a loaded table keeps its file open: its curves stay readable


_DONE = b"ok"
_FAILED = b"er"


__all__ = ["run_isolated"]
