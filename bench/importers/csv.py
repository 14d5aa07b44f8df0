"""Import a CSV in the layout of the published ``nb201_tss.csv.gz``: one row a cell, official index order."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd

from bench.table import MetricName, Table, TableError, cause, pack_trials
from search_space import NUM_ARCHS, arch_strings

SEEDS_SUFFIX = "/seeds"


def read_csv(path: str | Path) -> Table:
    """Every ``DATASET/FIELD[@E]`` column becomes a metric; ``.../seeds`` columns (``a;b;c``) its trials."""
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, EOFError, ValueError, pd.errors.ParserError) as exc:
        raise TableError(f"cannot read benchmark CSV {str(path)!r}: {cause(exc)}") from exc
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
    lines = order + 2  # the file line of each (sorted) row: the header is line 1
    _check_archs(path, df["arch"].to_numpy(dtype=str), lines)

    table = Table(info={"source": str(path), "importer": "csv"})
    for col in df.columns:
        if col in ("index", "arch") or col.endswith(SEEDS_SUFFIX):
            continue
        metric = MetricName.parse(col)
        mean = _floats(path, df[col], col)
        _check_range(path, col, metric, mean, lines)
        trials = None
        if col + SEEDS_SUFFIX in df.columns:
            trials = pack_trials([_seed_values(path, col + SEEDS_SUFFIX, i, text)
                                  for i, text in enumerate(df[col + SEEDS_SUFFIX])])
            _check_range(path, col + SEEDS_SUFFIX, metric, trials, lines)
        table.add(col, mean=mean, trials=trials)
    return table


def _check_archs(path: Path, archs: np.ndarray, lines: np.ndarray) -> None:
    """Every row's ``arch`` must be the official string of its ``index`` (a wrong op anywhere would otherwise put one
    cell's figures under another's name)."""
    official = np.array(arch_strings())
    wrong = np.flatnonzero(archs != official)
    if wrong.size:
        i = int(wrong[0])
        more = f" ({wrong.size - 1} more rows differ)" if wrong.size > 1 else ""
        raise TableError(f"benchmark CSV {str(path)!r}: line {lines[i]} (index {i}) has arch {archs[i]!r}, not the "
                         f"official cell {official[i]}{more}")


#: What a figure may be: accuracies are percentages, times, latencies, sizes and FLOPs are not negative.
ACCURACY_RANGE = (0.0, 100.0)


def _check_range(path: Path, name: str, metric: MetricName, values: np.ndarray, lines: np.ndarray) -> None:
    """Refuse a figure no benchmark can have (NaN, a missing figure, is fine): an accuracy outside 0..100, a negative
    or infinite cost."""
    v = values.reshape(len(values), -1)
    with np.errstate(invalid="ignore"):
        if metric.is_accuracy:
            low, high = ACCURACY_RANGE
            bad = (v < low) | (v > high) | np.isinf(v)
            valid = f"an accuracy in percent, {low:g}..{high:g}"
        else:
            bad = (v < 0) | np.isinf(v)
            valid = f"a {metric.field} figure, finite and >= 0"
    if bad.any():
        row, col = (int(x[0]) for x in np.nonzero(bad))
        raise TableError(f"benchmark CSV {str(path)!r}: column {name!r}, line {lines[row]}: {float(v[row, col])!r} is "
                         f"out of range; valid: {valid}")


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
