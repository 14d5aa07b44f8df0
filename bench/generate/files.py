"""Small files of a benchmark build, written so that a kill never leaves half of one: JSON and "done" markers.

Every file goes to a temporary name in the target's folder, is flushed to disk and renamed over the target. A job
folder is finished when its ``DONE`` marker exists; the marker is written after ``result.json``, so a reader that
sees the marker always finds the whole result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import jsonio
from bench.atomic import write_atomic
from bench.jsonio import read_json

DONE = "DONE"
#: The traceback of a job whose last attempt failed (written by the dispatcher; ``DONE`` beside it wins).
ERROR = "ERROR"


def write_json(path: Path | str, obj: Any) -> Path:
    """``obj`` as JSON at ``path``, atomically and fsynced (`bench.jsonio`: NaN written as null, JSON has no NaN)."""
    return jsonio.write_json(path, obj, durable=True)


def write_text(path: Path | str, text: str) -> Path:
    return write_atomic(path, text, durable=True)


def mark_done(folder: Path | str) -> None:
    write_text(Path(folder) / DONE, "")


def is_done(folder: Path | str) -> bool:
    return (Path(folder) / DONE).is_file()


__all__ = ["DONE", "ERROR", "is_done", "mark_done", "read_json", "write_json", "write_text"]
