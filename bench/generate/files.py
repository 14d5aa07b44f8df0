"""Small files of a benchmark build, written so that a kill never leaves half of one: JSON and "done" markers.

Every file goes to a temporary name in the target's folder, is flushed to disk and renamed over the target. A job
folder is finished when its ``DONE`` marker exists; the marker is written after ``result.json``, so a reader that
sees the marker always finds the whole result.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.atomic import write_atomic

DONE = "DONE"


def write_json(path: Path | str, obj: Any) -> Path:
    """``obj`` as JSON at ``path``, atomically (NaN written as null: JSON has no NaN)."""
    path = Path(path)
    text = json.dumps(_nan_to_none(obj), indent=1, sort_keys=False, allow_nan=False)
    write_text(path, text + "\n")
    return path


def write_text(path: Path | str, text: str) -> Path:
    return write_atomic(path, text, durable=True)


def read_json(path: Path | str) -> Any:
    with open(path) as fh:
        return json.load(fh)


def mark_done(folder: Path | str) -> None:
    write_text(Path(folder) / DONE, "")


def is_done(folder: Path | str) -> bool:
    return (Path(folder) / DONE).is_file()


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_nan_to_none(v) for v in obj]
    return obj


__all__ = ["DONE", "is_done", "mark_done", "read_json", "write_json", "write_text"]
