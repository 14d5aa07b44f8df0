"""Import a CSV in the layout of the published ``nb201_tss.csv.gz``: one row a cell, official index order."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd

from bench.table import MetricName, Table, TableError, pack_trials
from search_space import NUM_ARCHS, Arch

SEEDS_SUFFIX = "/seeds"


def read_csv(path: str | Path) -> Table:
    """Every ``DATASET/FIELD[@E]`` column becomes a metric; ``.../seeds`` columns (``a;b;c``) its trials."""
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, EOFError, ValueError, pd.errors.ParserError) as exc:
        raise TableError(f"cannot read benchmark CSV {str(path)!r}: {type(exc).__name__}: {exc}") from exc
    for col in ("index", "arch"):
        if col not in df.columns:
            raise TableError(f"benchmark CSV {str(path)!r} has no {col!r} column; columns: {', '.join(df.columns[:8])}...")
    if len(df) != NUM_ARCHS:
        raise TableError(f"benchmark CSV {str(path)!r} has {len(df)} rows, expected {NUM_ARCHS} (truncated?)")
    try:
        index = df["index"].astype(int).to_numpy()
    except ValueError:
        _refuse(path, df["index"], "index", "line {}", offset=2)
    if not np.array_equal(np.sort(index), np.arange(NUM_ARCHS)):
        raise TableError(f"benchmark CSV {str(path)!r}: the 'index' column is not a permutation of 0..{NUM_ARCHS - 1}")
    order = np.argsort(index)
    df = df.iloc[order].reset_index(drop=True)
    for i in (0, 11472, NUM_ARCHS - 1):
        if str(Arch.from_index(i)) != df["arch"][i]:
            raise TableError(f"benchmark CSV {str(path)!r}: row {i} is {df['arch'][i]!r}, not the official cell {Arch.from_index(i)}")

    table = Table(info={"source": str(path), "importer": "csv"})
    for col in df.columns:
        if col in ("index", "arch") or col.endswith(SEEDS_SUFFIX):
            continue
        MetricName.parse(col)
        mean = _floats(path, df[col], col)
        trials = None
        if col + SEEDS_SUFFIX in df.columns:
            trials = pack_trials([_seed_values(path, col + SEEDS_SUFFIX, i, text)
                                  for i, text in enumerate(df[col + SEEDS_SUFFIX])])
        table.add(col, mean=mean, trials=trials)
    return table


def _floats(path: Path, col: pd.Series, name: str) -> np.ndarray:
    """Empty cells are missing figures: NaN, never zero. A value that is not a number is an error naming the file,
    the column and the cell."""
    try:
        return pd.to_numeric(col.replace("", np.nan), errors="raise").to_numpy(dtype=np.float64)
    except (ValueError, TypeError):
        _refuse(path, col, name, "cell {}")


def _seed_values(path: Path, name: str, cell: int, text: str) -> list[float]:
    """The per-seed figures of one cell, ``;``-separated (empty: none)."""
    try:
        return [float(x) for x in text.split(";")] if text else []
    except ValueError:
        raise TableError(f"benchmark CSV {str(path)!r}: column {name!r}, cell {cell}: {text!r} holds a value that "
                         "is not a number") from None


def _refuse(path: Path, col: pd.Series, name: str, where: str, offset: int = 0) -> NoReturn:
    """Raise TableError for the first value of ``col`` that is not a number (``where`` formats its position)."""
    values = pd.to_numeric(col.replace("", np.nan), errors="coerce")
    bad = values.isna().to_numpy() & col.ne("").to_numpy() & ~col.str.strip().str.lower().isin(_NAN_TEXT).to_numpy()
    row = int(np.flatnonzero(bad)[0]) if bad.any() else 0
    raise TableError(f"benchmark CSV {str(path)!r}: column {name!r}, {where.format(row + offset)}: "
                     f"{col.iloc[row]!r} is not a number")


_NAN_TEXT = ("nan", "-nan", "+nan")
