"""Where a build stands, read from its folders alone (safe while it runs): every job of the plan is ``done``,
``failed`` (its last attempt left a traceback in ``ERROR`` and no ``DONE``), ``started`` (an epoch checkpoint, no
result yet) or ``pending``; a finished job's final figures come from its ``result.json``."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.generate.files import ERROR, is_done, read_json
from bench.generate.job import CHECKPOINT, RESULT, Job
from bench.generate.plan import read_plan

STATES = ("done", "started", "failed", "pending")


@dataclass(frozen=True)
class JobState:
    job: Job
    state: str
    #: Final accuracy (%) on each evaluation split, training seconds, parameters (M), FLOPs (M): done jobs only.
    final: dict[str, float] | None = None
    train_seconds: float | None = None
    params_M: float | None = None
    flops_M: float | None = None


def job_state(job: Job, root: Path | str) -> JobState:
    folder = job.folder(root)
    if is_done(folder):
        summary = read_json(folder / RESULT)["summary"]
        return JobState(job, "done", summary["final"], summary["train_seconds"], summary["params_M"],
                        summary["flops_M"])
    if (folder / ERROR).is_file():
        return JobState(job, "failed")
    return JobState(job, "started" if (folder / CHECKPOINT).is_file() else "pending")


def build_status(root: Path | str) -> list[JobState]:
    """The state of every job of the plan at ``root``, in plan order."""
    return [job_state(job, root) for job in read_plan(root).jobs()]


def format_status(states: list[JobState], *, jobs: bool = False) -> str:
    """Counts per schedule and setting (and, with ``jobs``, a line per job with its final figures)."""
    groups: dict[str, Counter] = {}
    for s in states:
        groups.setdefault(f"{s.job.schedule.name} {s.job.setting}", Counter())[s.state] += 1
    width = max([len(g) for g in groups] + [3])
    lines = [f"{'job':{width}s} " + " ".join(f"{h:>7s}" for h in (*STATES, "total"))]
    for name, c in groups.items():
        lines.append(f"{name:{width}s} " + " ".join(f"{c[h]:7d}" for h in STATES) + f" {sum(c.values()):7d}")
    total = Counter(s.state for s in states)
    lines.append(f"{'all':{width}s} " + " ".join(f"{total[h]:7d}" for h in STATES) + f" {len(states):7d}")
    if jobs:
        lines.append("")
        for s in states:
            j = s.job
            head = f"{j.index:5d} {j.setting:14s} seed {j.seed:<5d} {j.schedule.name:12s} {s.state:8s}"
            if s.state == "done":
                acc = " ".join(f"{k} {v:.2f}%" for k, v in s.final.items() if v is not None and not math.isnan(v))
                head += f" {acc}  train {s.train_seconds:.0f} s  {s.params_M:.4f} M params  {s.flops_M:.2f} MFLOPs"
            lines.append(head)
    return "\n".join(lines)


__all__ = ["STATES", "JobState", "build_status", "format_status", "job_state"]
