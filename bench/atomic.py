"""Atomic file writes, used by every writer in the harness (tables, run folders, checkpoints, build results).

A file is written to a temporary name in its target's folder and renamed over the target, so a reader or a killed
process only ever sees the old file or the whole new one. ``durable=True`` also fsyncs before the rename, which
guards against a power cut, at a cost that matters for tiny files written thousands of times.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_open(path: str | os.PathLike, durable: bool = True) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through; renamed over ``path`` on success, removed on any failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not mkstemp: its files are 0600; 0666 lets the umask decide, as for any file the user writes.
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
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


__all__ = ["atomic_open", "write_atomic"]
