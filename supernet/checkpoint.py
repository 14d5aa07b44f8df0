"""Checkpoints of long trainings (weight-sharing searches, benchmark jobs): verified, with the one before kept.

Each save writes the new checkpoint to a temporary name, flushed to disk, and renames it over ``checkpoint.pt``; the
checkpoint it replaces is kept as ``checkpoint.prev.pt``, and ``checkpoint.manifest.json`` holds the SHA-256 of both.
The manifest is written first, so a kill at any moment leaves files that match one of its entries. Loading checks
the file against the manifest before unpickling it: a damaged or truncated checkpoint (a full disk, a bad copy) is
reported and the previous one is used, or, with neither whole, the run starts afresh, saying so; it never fails every
re-run with torch's stream-reader message. A file that matches its checksum but that torch cannot load (a torch too
old for it, a class that no longer imports) is not damage: that error is raised, so that good checkpoints are not
rotated away by a fresh start. A run that finds a checkpoint resumes from it (`load_checkpoint`); one
whose settings differ from the checkpoint's refuses to.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench.atomic import file_sha256, write_atomic

CHECKPOINT = "checkpoint.pt"
#: Bumped when the layout of the saved dict changes; an old file then raises instead of resuming wrongly.
FORMAT = 1
MANIFEST_FORMAT = 1


def checkpoint_path(run_dir: Path | str) -> Path:
    return Path(run_dir) / CHECKPOINT


def previous_path(path: Path) -> Path:
    """Where the checkpoint before the latest is kept (``checkpoint.prev.pt``)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def manifest_path(path: Path) -> Path:
    """The checksums of the latest and the previous checkpoint (``checkpoint.manifest.json``)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.manifest.json")


def _sha256(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str | None:
    try:
        return file_sha256(path)
    except FileNotFoundError:
        return None


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads(manifest_path(path).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == MANIFEST_FORMAT else None


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (tensors, state dicts, plain values) to ``path`` atomically, keeping the previous checkpoint
    (when it is whole) beside it and both checksums in the manifest."""
    path = Path(path)
    buf = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buf)
    data = buf.getbuffer()
    manifest = _read_manifest(path) or {}
    latest = (manifest.get("latest") or {}).get("sha256")
    keep = latest is not None and _file_sha256(path) == latest  # only a whole checkpoint becomes the previous one
    previous = {"file": previous_path(path).name, "sha256": latest} if keep else manifest.get("previous")
    new = {"format": MANIFEST_FORMAT, "latest": {"file": path.name, "sha256": _sha256(data), "bytes": len(data)},
           "previous": previous}
    write_atomic(manifest_path(path), json.dumps(new, indent=1) + "\n", durable=True)  # first: see the module doc
    if keep:
        os.replace(path, previous_path(path))
    write_atomic(path, data, durable=True)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_checkpoint(path: Path, expect: dict[str, Any],
                    report: Callable[[str], None] | None = None) -> dict[str, Any] | None:
    """The saved state, or None when there is none (or none is whole); ``expect`` entries must match what the run
    was started with. A checkpoint that does not match its checksum is reported through ``report`` (one line;
    default: stderr) and the previous one is tried; with no whole checkpoint left, the run starts afresh and
    ``report`` says so."""
    report = report or _stderr
    path = Path(path)
    candidates = [p for p in (path, previous_path(path)) if p.is_file()]
    if not candidates:
        return None
    manifest = _read_manifest(path)
    known = {} if manifest is None else {e.get("sha256"): name for name, e in
                                         (("latest", manifest.get("latest")), ("previous", manifest.get("previous")))
                                         if isinstance(e, dict) and e.get("sha256")}
    problems: list[str] = []
    for file in candidates:
        data = file.read_bytes()
        verified = manifest is not None
        if verified and _sha256(data) not in known:
            problems.append(f"{file.name} is damaged (it matches no checksum in {manifest_path(path).name})")
            continue
        try:  # our own file: it holds numpy RNG states and plain Python values besides tensors
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
        except Exception as exc:
            if verified:  # the bytes are the ones saved: the failure is this environment's, not damage to skip
                raise
            # an unverifiable (pre-manifest) file that torch cannot read
            problems.append(f"{file.name} cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0]})")
            continue
        _check(file, state, expect)
        if problems:
            report(f"{path.parent}: {'; '.join(problems)}; resuming from {file.name} (the checkpoint before it)")
        return state
    report(f"{path.parent}: {'; '.join(problems)}; no whole checkpoint is left, so the run starts afresh")
    return None


def _check(file: Path, state: Any, expect: dict[str, Any]) -> None:
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{file} has checkpoint format {found!r}, this code writes {FORMAT}; "
                         "delete it to start the run afresh")
    for key, want in expect.items():
        have = state.get(key)
        if have != want:
            raise ValueError(f"{file} was written by a run with {key}={have!r}, this run has {key}={want!r}; "
                             "use another run folder or delete the checkpoint to start afresh")


def remove_checkpoint(path: Path) -> None:
    """Delete a checkpoint with its previous one and manifest (a finished job keeps only its result)."""
    for p in (Path(path), previous_path(path), manifest_path(path)):
        p.unlink(missing_ok=True)


__all__ = ["CHECKPOINT", "checkpoint_path", "load_checkpoint", "manifest_path", "previous_path", "remove_checkpoint",
           "save_checkpoint"]
