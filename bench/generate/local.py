"""Run a plan's jobs: in this process one after another (`run_local`), or hand the pending ones to any dispatcher.

Every job is independent and idempotent (`bench.generate.train.train_job` skips a finished job and resumes an
interrupted one), so a build is parallelised by giving disjoint job lists to several workers: ``--shard I/N`` takes
every N-th job starting at I (one process per GPU or machine, no scheduler needed), and a dask client runs
``client.map(train_job, pending_jobs(root), root=root)``. Re-running after a kill continues where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bench.generate.files import is_done
from bench.generate.job import Job, JobStatus
from bench.generate.plan import read_plan


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``I/N`` -> (I, N) with 0 <= I < N; None stays None."""
    if text is None:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"shard {text!r} must be I/N, e.g. 0/4") from None
    if not 0 <= i < n:
        raise ValueError(f"shard {text!r} must satisfy 0 <= I < N")
    return i, n


def pending_jobs(root: Path | str, shard: tuple[int, int] | None = None) -> list[Job]:
    """The plan's jobs (this shard's) that are not done yet, in plan order."""
    jobs = read_plan(root).jobs()
    if shard is not None:
        jobs = jobs[shard[0]::shard[1]]
    return [j for j in jobs if not is_done(j.folder(root))]


def run_local(root: Path | str, *, shard: tuple[int, int] | None = None, stop_after: int | None = None,
              keep_checkpoint: bool = False, log: Callable[[str], None] | None = print) -> list[JobStatus]:
    """Train every pending job of the plan at ``root`` (this shard's), one after another."""
    from bench.generate.train import train_job  # torch: only when something is trained

    jobs = pending_jobs(root, shard)
    statuses = []
    t0 = time.perf_counter()
    for n, job in enumerate(jobs, 1):
        status = train_job(job, root, stop_after=stop_after, keep_checkpoint=keep_checkpoint, log=log)
        statuses.append(status)
        if log:
            log(f"[{n}/{len(jobs)}] {status.status}: {status.folder} ({status.seconds:.1f} s; "
                f"{time.perf_counter() - t0:.0f} s so far)")
    return statuses


__all__ = ["parse_shard", "pending_jobs", "run_local"]
