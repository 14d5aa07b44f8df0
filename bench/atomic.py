"""Atomic file writes, used by every writer in the harness (tables, run folders, checkpoints, build results).

A file is written to a temporary name in its target's folder and renamed over the target, so a reader or a killed
process only ever sees the old file or the whole new one. ``durable=True`` also fsyncs before the rename, which
guards against a power cut, at a cost that matters for tiny files written thousands of times.

A temporary name says who writes it (``.NAME.HOST.PID.TOKEN.tmp``: a hash of the host name and the process id), so
that `remove_stale_temporaries` removes only what a process that died left behind, never a file another process
is writing at that moment.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

_TEMPORARY = re.compile(r"^\..+\.(?P<host>[0-9a-f]{8})\.(?P<pid>\d+)\.[0-9a-f]{12}\.tmp$")


@lru_cache(maxsize=1)
def _host() -> str:
    """This machine in 8 hex digits (host names may hold dots, which the temporary name uses as separators)."""
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def temporary_name(path: Path, pid: int | None = None) -> Path:
    """A fresh temporary name beside ``path`` that records this host and process (or ``pid``)."""
    return path.parent / f".{path.name}.{_host()}.{os.getpid() if pid is None else pid}.{secrets.token_hex(6)}.tmp"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files in ``folder`` that a process of this host left when it died (a SIGKILL leaves
    them; any other failure removes its own); the files of live processes, of other hosts and of unknown name are
    left alone. Returns what was removed."""
    removed = []
    for tmp in Path(folder).glob(".*.tmp"):
        m = _TEMPORARY.match(tmp.name)
        if m is None or m["host"] != _host() or _alive(int(m["pid"])):
            continue
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


@contextmanager
def atomic_open(path: str | os.PathLike, durable: bool = True) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through; renamed over ``path`` on success, removed on any failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not mkstemp: its files are 0600; 0666 lets the umask decide, as for any file the user writes.
    tmp = temporary_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: str | bytes | memoryview, durable: bool = False) -> Path:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` atomically."""
    with atomic_open(path, durable) as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    return Path(path)


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks (a checkpoint need not fit in memory twice)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


__all__ = ["atomic_open", "file_sha256", "remove_stale_temporaries", "temporary_name", "write_atomic"]
