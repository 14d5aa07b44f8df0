"""One checkpoint file per weight-sharing run, replaced atomically after every epoch.

The file is written to a temporary name in the same folder, flushed to disk and renamed over the old one, so a
kill at any moment leaves either the previous epoch's checkpoint or the new one, never a torn file. A run that finds
a checkpoint resumes from it (`load_checkpoint`); one whose settings differ from the checkpoint's refuses to.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from bench.atomic import write_atomic

CHECKPOINT = "checkpoint.pt"
#: Bumped when the layout of the saved dict changes; an old file then raises instead of resuming wrongly.
FORMAT = 1


def checkpoint_path(run_dir: Path | str) -> Path:
    return Path(run_dir) / CHECKPOINT


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (tensors, state dicts, plain values) to ``path`` atomically."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buf)
    write_atomic(path, buf.getbuffer(), durable=True)


def load_checkpoint(path: Path, expect: dict[str, Any]) -> dict[str, Any] | None:
    """The saved state, or None when there is none; ``expect`` entries must match what the run was started with."""
    path = Path(path)
    if not path.is_file():
        return None
    # Our own file: it holds numpy RNG states and plain Python values besides tensors.
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("format") != FORMAT:
        raise ValueError(f"{path} has checkpoint format {state.get('format')!r}, this code writes {FORMAT}; "
                         "delete it to start the run afresh")
    for key, want in expect.items():
        have = state.get(key)
        if have != want:
            raise ValueError(f"{path} was written by a run with {key}={have!r}, this run has {key}={want!r}; "
                             "use another run folder or delete the checkpoint to start afresh")
    return state


__all__ = ["CHECKPOINT", "checkpoint_path", "load_checkpoint", "save_checkpoint"]
