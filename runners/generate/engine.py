"""A benchmark build's training jobs on the batch engine: each pending job of a plan is one dask task.

`bench.generate` makes a job a plain, idempotent function (`train_job`: skips a finished job, resumes an interrupted
one from its last epoch). This module hands a plan's pending jobs (all, or one ``--shard``) to a cluster from
`runners.cluster`:

- on a local CPU cluster every worker is one process with one dask thread, and a job whose plan leaves torch's
  thread count open gets ``cores // workers`` threads (recorded in its result), so the workers share the machine
  instead of fighting over it;
- with ``gpu`` every task asks for one ``GPU`` and each local worker owns one device (one worker per GPU), so a
  build runs in parallel over the machine's GPUs; on a running cluster, over whatever GPU workers it has;
- a worker that dies (killed, out of memory) has its task re-run elsewhere, which resumes from the checkpoint; a
  job that raises is retried once, then recorded as failed with its traceback in ``ERROR`` beside its checkpoint;
  the other jobs go on. The driver itself can be killed at any time: started again, it skips finished jobs and
  the interrupted ones resume.

``workers=0`` (and no scheduler) runs the jobs in this process instead, one after another
(`bench.generate.local.run_local`; ``gpu`` then means this process's default CUDA device).
"""

from __future__ import annotations

import dataclasses
import os
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.generate.files import ERROR, is_done, write_text
from bench.generate.job import Job, JobStatus
from bench.generate.local import run_local
from bench.generate.plan import read_plan
from bench.generate.train import train_job
from runners.cluster import SCHEDULER_ENV, num_workers, open_client, wait_all, worker_resources
from runners.progress import ProgressView

#: Extra attempts of a job that raised (a worker's death is dask's ``allowed-failures`` business, not this).
RETRIES = 1
#: Progress statuses of a build (``done`` shows as finished).
STATUSES = ("finished", "stopped", "failed", "skipped")


def group(job: Job) -> str:
    """The progress row of a job: its schedule and setting."""
    return f"{job.schedule.name} {job.setting}"


def run_jobs(root: Path | str, *, shard: tuple[int, int] | None = None, scheduler: str | None = None,
             workers: int | None = None, gpu: bool = False, stop_after: int | None = None,
             keep_checkpoint: bool = False, progress: bool = True,
             log: Callable[[str], None] | None = print) -> list[JobStatus]:
    """Train the pending jobs of the plan at ``root`` (this shard's) on the batch engine; the statuses of all the
    shard's jobs (finished before: ``skipped``). ``workers=0`` without a scheduler: in this process, in order."""
    root = Path(root)
    jobs = read_plan(root).jobs()
    if shard is not None:
        jobs = jobs[shard[0]::shard[1]]
    if workers == 0 and not scheduler:
        skipped = [JobStatus(str(j.folder(root)), "skipped", j.schedule.epochs, 0.0) for j in jobs
                   if is_done(j.folder(root))]
        return skipped + run_local(root, shard=shard, stop_after=stop_after, keep_checkpoint=keep_checkpoint, log=log)
    statuses: list[JobStatus] = []
    view = ProgressView(Counter(group(j) for j in jobs), title="training jobs", group="job",
                        statuses=STATUSES if stop_after is not None else tuple(s for s in STATUSES if s != "stopped"),
                        enabled=progress)

    def record(job: Job, st: JobStatus) -> None:
        statuses.append(st)
        view.update(group(job), "finished" if st.status == "done" else st.status)
        if log is not None and not view.enabled and st.status != "skipped":
            log(f"{st.status}: {st.folder} ({st.seconds:.1f} s){': ' + st.error.splitlines()[-1] if st.error else ''}")

    todo = []
    for job in jobs:
        if is_done(job.folder(root)):
            record(job, JobStatus(str(job.folder(root)), "skipped", job.schedule.epochs, 0.0))
        else:
            todo.append(job)
    local = not (scheduler or os.environ.get(SCHEDULER_ENV))
    t0 = time.perf_counter()
    with view:
        if todo:
            with open_client(scheduler=scheduler, workers=workers, gpu=gpu) as client:
                threads = _threads_per_job(client) if local and not gpu else None
                have = worker_resources(client)
                resources = {"GPU": 1} if gpu else ({"CPU": 1} if "CPU" in have else None)
                futures = {}
                for i, job in enumerate(todo):
                    if threads is not None and job.options.threads is None:
                        job = dataclasses.replace(job, options=dataclasses.replace(job.options, threads=threads))
                    key = f"train-{i:06d}-{job.index:05d}-{job.setting}-{job.seed}-{job.schedule.name}"
                    fut = client.submit(train_job, job, root, stop_after=stop_after, keep_checkpoint=keep_checkpoint,
                                        key=key, pure=False, resources=resources, retries=RETRIES)
                    futures[fut.key] = (fut, job)

                def done(fut: Any, job: Job) -> None:
                    record(job, _collect(fut, job, root))

                def running(active: list[Job]) -> None:
                    view.set_running(Counter(group(j) for j in active))

                wait_all(client, futures, done, running)
                view.set_running(Counter())
    if log is not None:
        counts = Counter(s.status for s in statuses)
        log(f"training jobs: {dict(counts)} in {time.perf_counter() - t0:.0f} s")
    return statuses


def _threads_per_job(client: Any) -> int:
    """torch threads for each job on a local CPU cluster: the cores shared evenly among its workers."""
    return max(1, (os.cpu_count() or 1) // num_workers(client))


def _collect(fut: Any, job: Job, root: Path) -> JobStatus:
    """A finished task's status; one that raised on every attempt (or whose workers kept dying) is ``failed``,
    its traceback written to ``ERROR`` in the job's folder."""
    folder = job.folder(root)
    try:
        return fut.result()
    except Exception as exc:  # noqa: BLE001 - whatever failed this job, the others go on
        if is_done(folder):  # finished by an attempt whose report was lost with its worker
            return JobStatus(str(folder), "done", job.schedule.epochs, 0.0)
        tb = "".join(traceback.format_exception(exc))
        folder.mkdir(parents=True, exist_ok=True)
        write_text(folder / ERROR, tb)
        return JobStatus(str(folder), "failed", 0, 0.0, error=tb)


__all__ = ["ERROR", "RETRIES", "group", "run_jobs"]
