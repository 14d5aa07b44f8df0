"""Run identity: the fingerprint of what decides a run's result, and what a re-run and a table do with it.

A run's fingerprint holds its algorithm, protocol, search dataset and seed, the benchmark (its content checksum,
`bench.table.Table.checksum`, and, for the messages, its source), the substitutes allowed, the resolved
hyper-parameters (less a Config's ``RESULT_NEUTRAL`` fields, e.g. BOHB's wall-clock timeout) and the runner options
that change results (`algos.base.RUNNER_OPTIONS`: ``data`` and ``subset``, not where the data lives or the device).
It is recorded in ``config.json`` and ``result.json``.

- A batch reuses a finished run only when its fingerprint equals the one this command would record
  (`plan_reuse`); otherwise it stops before any work (`ChangedRunsError`) naming what differs and the two ways
  out: another results folder, or ``--redo-changed`` (make ``REDO=1``), which redoes the runs that differ.
- A table never pools runs whose fingerprints differ in anything but the seed (`group_differences`).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from algos.base import RUNNER_OPTIONS
from bench.jsonio import jsonable
from runners.layout import CONFIG, STATE, RunCheck, check_run, read_json

if TYPE_CHECKING:
    from bench import Benchmark
    from runners.run import RunSpec

FINGERPRINT_VERSION = 1
#: Entries recorded for the reader, never compared: the benchmark's content decides (its checksum), not the path
#: it was read from.
INFORMATIVE = ("bench.source",)
#: Entries in which the runs of one table row may differ.
PER_RUN = ("seed",)
#: How many folders and differences a message names before it says "and N more".
SHOWN = 5


def fingerprint(*, algo: str, protocol: str, dataset: str, seed: int, bench: Benchmark,
                substitutes: Iterable[str], config: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """What decides a run's result, as plain JSON values (see the module docstring)."""
    neutral = set(getattr(type(config), "RESULT_NEUTRAL", ()))
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in neutral}
    opts = {}
    for key, value in sorted(options.items()):
        option = RUNNER_OPTIONS.get(key)
        ident = None if option is None or option.identity is None else option.identity(value)
        if ident is not None:  # None: this value cannot change a result
            opts[key] = ident
    return jsonable({"version": FINGERPRINT_VERSION, "algo": algo, "protocol": protocol, "dataset": dataset,
                     "seed": seed, "bench": {"source": bench.source, "checksum": bench.checksum},
                     "substitutes": sorted(substitutes), "config": settings, "options": opts})


def _flat(fp: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fp.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and key in ("bench", "config", "options"):
            out.update(_flat(value, name + "."))
        else:
            out[name] = value
    return out


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(entry, old value, new value)`` of every compared entry in which two fingerprints differ (an entry one of
    them lacks is None there)."""
    a, b = _flat(old), _flat(new)
    keys = [k for k in dict.fromkeys([*a, *b]) if k not in INFORMATIVE]
    return [(k, a.get(k), b.get(k)) for k in keys if _key(a.get(k)) != _key(b.get(k))]


def same(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> bool:
    return old is not None and new is not None and not differences(old, new)


def reusable(check: RunCheck, fp: Mapping[str, Any]) -> bool:
    """Whether a checked run folder is done and still valid: finished, whole and made with fingerprint ``fp`` (a
    re-run skips it; anything else is redone)."""
    return check.finished and same(check.result["fingerprint"], fp)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]" if value else "[] (none)"
    return str(value)


def describe(diff: tuple[str, Any, Any], old_fp: Mapping[str, Any], new_fp: Mapping[str, Any],
             old_label: str = "in the finished runs", new_label: str = "now") -> str:
    """One difference in words, e.g. ``config.time_budget: (none) in the finished runs, 5000.0 now``; the benchmark
    is named by its source with the checksum beside it."""
    key, old, new = diff
    if key == "bench.checksum":
        def bench(fp: Mapping[str, Any]) -> str:
            b = fp.get("bench") or {}
            return _bench(b.get("source"), b.get("checksum"))
        return f"benchmark: {bench(old_fp)} {old_label}, {bench(new_fp)} {new_label}"
    return f"{key}: {_show(old)} {old_label}, {_show(new)} {new_label}"


def _bench(source: Any, checksum: Any) -> str:
    """A benchmark in a message: its source, with the start of its checksum (what decides) beside it."""
    return f"{source} (checksum {str(checksum)[:12]})"


def shown(items: Sequence[Any], sep: str = ", ") -> str:
    """The first `SHOWN` items joined by ``sep``, then how many more: ``a, b and 3 more``, ``a; b; and 3 more``
    (what messages naming runs print)."""
    text = sep.join(str(x) for x in items[:SHOWN])
    if len(items) <= SHOWN:
        return text
    more = f"and {len(items) - SHOWN} more"
    return f"{text} {more}" if sep == ", " else f"{text}{sep}{more}"


# --- a re-run: reuse, redo or stop ----------------------------------------------------------------------------
class ChangedRunsError(ValueError):
    """Finished runs in the results folder were made with other settings than the command asks for (exit 2)."""


@dataclass
class Reuse:
    """What a batch does with each planned run, decided before any work."""

    #: Finished, whole and with this command's fingerprint: skipped.
    reused: list[RunSpec] = field(default_factory=list)
    #: To run (new, unfinished, damaged, or changed and ``redo_changed``).
    todo: list[RunSpec] = field(default_factory=list)
    #: (spec, why) of finished runs that are damaged: redone.
    damaged: list[tuple[RunSpec, str]] = field(default_factory=list)
    #: (spec, words) of runs made with other settings (finished, or unfinished with a checkpoint to resume).
    changed: list[tuple[RunSpec, list[str]]] = field(default_factory=list)

    def notes(self) -> list[str]:
        """One line per kind of redo, naming the runs (what a batch prints before it starts)."""
        out = []
        if self.damaged:
            out.append(f"redoing {len(self.damaged)} damaged run{'s' if len(self.damaged) != 1 else ''}: "
                       + shown([f"{s.folder} ({why})" for s, why in self.damaged]))
        if self.changed:
            out.append(f"redoing {len(self.changed)} run{'s' if len(self.changed) != 1 else ''} made with other "
                       f"settings (--redo-changed; {'; '.join(_summary(self.changed))}): "
                       + shown([s.folder for s, _ in self.changed]))
        return out


def _summary(changed: list[tuple[RunSpec, list[str]]]) -> list[str]:
    counts = Counter(w for _, words in changed for w in words)
    common = [w for w, _ in counts.most_common(SHOWN)]
    return common + ([f"{len(counts) - SHOWN} more differences"] if len(counts) > SHOWN else [])


def plan_reuse(specs: Sequence[RunSpec], redo_changed: bool = False) -> Reuse:
    """Sort planned runs into reused and to-do, reading (and verifying) their folders. Runs made with other
    settings stop the batch here (`ChangedRunsError`, before any work) unless ``redo_changed``; so does an
    unfinished run whose checkpoint (``state/``) another setting wrote, which would otherwise resume under the
    wrong settings."""
    reuse = Reuse()
    for spec in specs:
        check = check_run(spec.folder)
        if reusable(check, spec.fingerprint):
            reuse.reused.append(spec)
            continue
        if check.finished:
            reuse.changed.append((spec, _words(check.result["fingerprint"], spec.fingerprint)))
        elif check.damaged:
            reuse.damaged.append((spec, check.reason))
        elif (old := other_checkpoint(spec.folder, spec.fingerprint)) is not None:
            reuse.changed.append((spec, _words(old, spec.fingerprint, "in an unfinished run's checkpoint")))
        reuse.todo.append(spec)
    if reuse.changed and not redo_changed:
        raise ChangedRunsError(_changed_message(reuse.changed))
    return reuse


def _words(old: Mapping[str, Any], new: Mapping[str, Any], old_label: str = "in the finished runs") -> list[str]:
    return [describe(d, old, new, old_label) for d in differences(old, new)]


def _changed_message(changed: list[tuple[RunSpec, list[str]]]) -> str:
    n = len(changed)
    results = Path(changed[0][0].results)
    return (f"{n} run{'s' if n != 1 else ''} in {str(results)!r} {'were' if n != 1 else 'was'} made with other "
            f"settings than this command asks for: {'; '.join(_summary(changed))} (e.g. {changed[0][0].folder}). "
            "Nothing was run. To keep them, use another results folder (--results, make RESULTS=); to redo them "
            "with these settings, add --redo-changed (make REDO=1)")


def started_fingerprint(folder: Path) -> dict[str, Any] | None:
    """The fingerprint an unfinished run's ``config.json`` recorded when it started (None if none is readable)."""
    try:
        cfg = read_json(Path(folder) / CONFIG)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    fp = cfg.get("fingerprint") if isinstance(cfg, dict) else None
    return fp if isinstance(fp, dict) else None


def other_checkpoint(folder: Path, fp: Mapping[str, Any]) -> dict[str, Any] | None:
    """The fingerprint of the run with other settings than ``fp`` whose checkpoint ``state/`` holds (its
    ``config.json`` says), or None when ``state/`` is empty or absent or was written with ``fp``: resumed, such a
    checkpoint would continue under the wrong settings."""
    state = Path(folder) / STATE
    if not (state.is_dir() and any(state.iterdir())):
        return None
    old = started_fingerprint(folder)
    return None if old is None or same(old, fp) else old


# --- a table: runs pooled into one row must agree -------------------------------------------------------------
def group_differences(fingerprints: Sequence[Mapping[str, Any]]) -> list[str]:
    """Entries in which runs meant to be pooled (one algorithm on one dataset) differ, besides the seed, each with
    the values found and how many runs have each, e.g. ``config.time_budget: 12000.0 (5 runs), 5000.0 (5 runs)``;
    an empty list when they agree."""
    flats = [_flat(fp) for fp in fingerprints]
    keys = [k for k in dict.fromkeys(k for f in flats for k in f) if k not in (*INFORMATIVE, *PER_RUN)]
    out = []
    for key in keys:
        counts = Counter(_key(f.get(key)) for f in flats)
        if len(counts) < 2:
            continue
        if key == "bench.checksum":
            sources = Counter(_bench(f.get("bench.source"), f.get(key)) for f in flats)
            out.append("benchmark: " + ", ".join(f"{v} ({n} run{'s' if n != 1 else ''})"
                                                 for v, n in sources.most_common()))
            continue
        values = ", ".join(f"{_show(json.loads(v))} ({n} run{'s' if n != 1 else ''})" for v, n in counts.most_common())
        out.append(f"{key}: {values}")
    return out


__all__ = ["FINGERPRINT_VERSION", "ChangedRunsError", "Reuse", "describe", "differences", "fingerprint",
           "group_differences", "other_checkpoint", "plan_reuse", "reusable", "same", "shown", "started_fingerprint"]
