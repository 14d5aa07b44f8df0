"""JSON files of the harness (run records, build plans and results): one conversion and one atomic writer.

NaN policy, the same for every file: a non-finite float (NaN, +-inf) is written as ``null``. JSON has no NaN (a
strict parser rejects Python's ``NaN`` token), and in these records a non-finite number always means "no figure"
(an epoch that was not evaluated, a metric the benchmark lacks); readers (`runners.collect`, `bench.generate.merge`)
read ``null`` back as missing.

Durability is the caller's choice (see `bench.atomic`): a benchmark build fsyncs each file, because its jobs take
hours and a power cut must not lose them; the runner's per-run files do not, because they are many and tiny and
an unreadable ``result.json`` just reads as an unfinished run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

from bench import atomic


def jsonable(obj: Any) -> Any:
    """Plain JSON values: numpy scalars/arrays, tuples, sets, paths and dataclasses become lists/numbers/strings,
    keys become strings, and a non-finite float becomes None (the NaN policy above). Anything else is recorded by
    its ``str`` (a torch device, an enum), so a record never fails to write over a label."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def dumps(obj: Any) -> str:
    """The text `write_json` writes: `jsonable` values, indented, one trailing newline; never a NaN token."""
    return json.dumps(jsonable(obj), indent=2, sort_keys=False, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike, obj: Any, *, durable: bool = False) -> Path:
    """``obj`` as JSON at ``path``, atomically (`bench.atomic.write_atomic`); ``durable`` also fsyncs."""
    return atomic.write_atomic(path, dumps(obj), durable)


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


__all__ = ["dumps", "jsonable", "read_json", "write_json"]
