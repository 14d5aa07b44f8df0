"""Where runs live on disk and how files get there: one folder per run, every file written atomically.

``RESULTS/PROTOCOL/DATASET/ALGO/seed-N/`` holds ``config.json`` (written first), ``trace.csv`` and ``result.json``
(written last: its presence marks the run as finished), or ``error.txt`` when the run raised. Every file is written
to a temporary name in the same folder and renamed over the target, so a reader sees the old file or the new one,
never half of one; a folder without ``result.json`` is an unfinished run and is never read as a result.

A finished run is whole or it is not a result: ``result.json`` holds the SHA-256 of the run's other files
(``files``), and `check_run` reads a run as finished only when ``result.json`` parses, has every field, belongs
where it lies (its protocol, dataset, algorithm and seed are the folder's), holds the checksums of at least
``CHECKED_FILES`` and every file matches its checksum.
Anything else is *damaged*: tables and plots report and skip it, and the next batch redoes it.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import atomic, jsonio
from bench.atomic import file_sha256
from bench.jsonio import read_json

CONFIG = "config.json"
TRACE = "trace.csv"
RESULT = "result.json"
ERROR = "error.txt"
#: Sub-folder of a run folder that a searcher may checkpoint into (weight-sharing runs resume from it).
STATE = "state"
DEFAULT_RESULTS = Path("results")


def run_dir(results: Path, protocol: str, dataset: str, algo: str, seed: int) -> Path:
    return Path(results) / protocol / dataset / algo / f"seed-{seed}"


def protocol_dir(results: Path, protocol: str) -> Path:
    return Path(results) / protocol


#: Fields every ``result.json`` has; one without them is damaged, not a result.
RESULT_FIELDS = ("status", "algo", "kind", "protocol", "dataset", "seed", "arch", "index", "reported", "source",
                 "substitutes_used", "fingerprint", "files")
#: The files of a run that its ``result.json`` holds the checksums of (``state/`` is the searcher's, not a result).
CHECKED_FILES = (CONFIG, TRACE)


def checksums(folder: Path, names: tuple[str, ...] = CHECKED_FILES) -> dict[str, str]:
    """SHA-256 of each named file of a run folder (what ``result.json`` records under ``files``)."""
    return {name: file_sha256(Path(folder) / name) for name in names}


@dataclass(frozen=True)
class RunCheck:
    """What a run folder holds: ``finished`` (whole), ``unfinished`` (no ``result.json``: running, killed or
    failed) or ``damaged`` (a ``result.json`` that cannot be trusted, ``reason`` says why)."""

    folder: Path
    status: str
    reason: str = ""
    result: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    @property
    def damaged(self) -> bool:
        return self.status == "damaged"


def check_run(folder: Path) -> RunCheck:
    """Read and verify a run folder (see the module docstring); never raises for what is in the folder."""
    folder = Path(folder)

    def damaged(reason: str) -> RunCheck:
        return RunCheck(folder, "damaged", reason)

    try:
        res = read_json(folder / RESULT)
    except FileNotFoundError:
        return RunCheck(folder, "unfinished")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return damaged(f"{RESULT} cannot be read ({type(exc).__name__}; truncated?)")
    if not isinstance(res, dict) or res.get("status") != "finished":
        return damaged(f"{RESULT} is not a finished run's record")
    missing = [k for k in RESULT_FIELDS if k not in res]
    if "files" in missing or "fingerprint" in missing:
        return damaged(f"{RESULT} has no fingerprint or checksums (written by an older harness)")
    if missing:
        return damaged(f"{RESULT} lacks {', '.join(missing)}")
    says = run_dir(Path(), str(res["protocol"]), str(res["dataset"]), str(res["algo"]), res["seed"]).parts
    where = folder.parts[-len(says):]
    if where != says:
        return damaged(f"{RESULT} is a {res['protocol']} run of {res['algo']} on {res['dataset']} with seed "
                       f"{res['seed']}, but its folder is {'/'.join(where)} (copied or moved?)")
    files = res["files"]
    if not isinstance(files, dict):
        return damaged(f"{RESULT} has no checksums")
    unchecked = [name for name in CHECKED_FILES if name not in files]
    if unchecked:
        return damaged(f"{RESULT} holds no checksum of {', '.join(unchecked)}")
    for name, digest in files.items():
        try:
            actual = file_sha256(folder / name)
        except FileNotFoundError:
            return damaged(f"{name} is missing")
        except OSError as exc:
            return damaged(f"{name} cannot be read ({exc.strerror or exc})")
        if actual != digest:
            return damaged(f"{name} does not match its checksum in {RESULT} (changed or damaged)")
    return RunCheck(folder, "finished", result=res)


# --- atomic writes -------------------------------------------------------------------------------------------
class StorageError(OSError):
    """The results folder cannot be written (disk full, read-only, no permission, a file where a folder should be).

    Fatal for a batch: every later run would fail the same way, so the batch stops instead of recording each run
    as failed. Keeps ``errno`` and ``filename`` of the underlying error; the message names the folder and errno."""

    def __init__(self, folder: Path, exc: OSError, doing: str = "write") -> None:
        code = exc.errno
        name = errno.errorcode.get(code, "?") if code is not None else "no errno"
        reason = exc.strerror or str(exc)
        super().__init__(code, f"cannot {doing} in the folder {str(folder)!r}: [Errno {code} {name}] "
                               f"{reason}" + (f" ({exc.filename})" if exc.filename else ""))
        self.folder = Path(folder)
        self.filename = exc.filename

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple:  # pickles (dask sends it back from a worker) as the same message and errno
        return (_rebuild_storage_error, (str(self.folder), self.errno, self.strerror, self.filename))


def _rebuild_storage_error(folder: str, code: int | None, message: str, filename: str | None) -> StorageError:
    err = StorageError.__new__(StorageError)
    OSError.__init__(err, code, message)
    err.folder, err.filename = Path(folder), filename
    return err


def check_writable(folder: Path) -> None:
    """Create ``folder`` and a file in it, or raise `StorageError` before any run starts (a permission check by
    mode bits would be wrong for root and on network file systems; only a real write tells)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".write-check.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except StorageError:
        raise
    except OSError as exc:
        raise StorageError(folder, exc, "create files") from exc


@contextmanager
def _storage_errors(path: Path) -> Iterator[None]:
    """Raise any OS error of writing ``path`` as `StorageError` (naming its folder), so a batch can stop on it."""
    try:
        yield
    except StorageError:
        raise
    except OSError as exc:
        raise StorageError(path.parent, exc, f"write {path.name}") from exc


def write_atomic(path: Path, data: str | bytes, durable: bool = False) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``.

    The rename makes the write atomic for any reader and against a killed process (the batch's failure mode).
    ``durable`` also fsyncs, against a power cut; per-run files skip it (it would triple a query-only run's time)
    and readers instead treat an unreadable ``result.json`` as a damaged run (`check_run`), which the next batch
    redoes. Any OS error (a full disk, a
    read-only folder) leaves the old file, or none, never part of one, and is raised as `StorageError`."""
    path = Path(path)
    with _storage_errors(path):
        atomic.write_atomic(path, data, durable)


def write_json(path: Path, obj: Any) -> None:
    """``obj`` as JSON (`bench.jsonio`: `jsonable` values, NaN as null), atomically and not fsynced, as
    `write_atomic` explains; an OS error is raised as `StorageError`."""
    path = Path(path)
    with _storage_errors(path):
        jsonio.write_json(path, obj, durable=False)


def write_frame(path: Path, frame: Any) -> None:
    """A pandas DataFrame as CSV, atomically (floats at full precision so a re-run compares bit for bit)."""
    write_atomic(path, frame.to_csv(index=False, float_format=None, lineterminator="\n"))


def save_figure(fig: Any, stem: Path) -> list[Path]:
    """Save a matplotlib figure as ``stem.png`` and ``stem.pdf``, each atomically."""
    import io

    out = []
    for ext in ("png", "pdf"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=150 if ext == "png" else None, bbox_inches="tight")
        path = stem.with_suffix(f".{ext}")
        write_atomic(path, buf.getvalue())
        out.append(path)
    return out


# --- reading finished runs -----------------------------------------------------------------------------------
def scan_runs(results: Path, protocol: str) -> Iterator[RunCheck]:
    """`check_run` of every run folder of a protocol that has a ``result.json`` (finished or damaged), in a stable
    order; unfinished runs (no ``result.json``) are left out."""
    base = protocol_dir(results, protocol)
    if not base.is_dir():
        return
    for path in sorted(base.glob(f"*/*/seed-*/{RESULT}")):
        yield check_run(path.parent)
