"""Many runs at once on `dask.distributed`, safe to kill and re-run.

Each task writes its own run folders and sends back only small `RunStatus` records, so the driver never holds a
result that exists nowhere else. Query-only runs take milliseconds and are sent in chunks of runs; a weight-sharing
run is one task and asks for a ``GPU`` worker resource when ``gpu`` is set. The batch holds the results folder's
lock (`runners.lock`) from start to end. Before anything runs, `runners.identity.plan_reuse` reads every planned
run folder: whole finished runs of the same fingerprint are skipped, damaged ones are named and redone, and runs
made with other settings stop the batch (unless ``redo_changed``). A task whose worker died (killed, out of memory) is re-run on another worker, up to dask's
``distributed.scheduler.allowed-failures`` times, and one that raised outside the searcher is retried ``RETRIES``
times; the new attempt redoes a half-written run folder (a weight-sharing run resumes from its last epoch's
checkpoint) and is otherwise recorded as failed. A results folder that cannot be written (`StorageError`) stops the
batch with one clear error. The cluster (local or given) comes from `runners.cluster`; a killed batch leaves no
orphan workers and, started again, skips the runs that finished.
"""

from __future__ import annotations

import math
import os
import sys
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runners.cluster import num_workers, open_client, wait_all, worker_resources
from runners.identity import plan_reuse, reusable
from runners.layout import ERROR, StorageError, check_run, check_writable, protocol_dir, write_atomic, write_json
from runners.lock import results_lock
from runners.progress import ProgressView
from runners.run import RunSpec, RunStatus, execute, execute_many

#: Query-only runs per task.
DEFAULT_CHUNK = 25
#: Extra attempts of a task that raised outside the searcher (a searcher's own exception is recorded, not retried).
RETRIES = 1


@dataclass
class BatchSummary:
    statuses: list[RunStatus] = field(default_factory=list)
    seconds: float = 0.0
    summary_file: Path | None = None

    def count(self, status: str) -> int:
        return sum(s.status == status for s in self.statuses)

    @property
    def failed(self) -> list[RunStatus]:
        return [s for s in self.statuses if s.status == "failed"]


def chunk_specs(specs: Sequence[RunSpec], chunk: int, workers: int = 1) -> list[list[RunSpec]]:
    """Group query-only runs of the same algorithm and dataset into chunks of at most ``chunk`` runs, and small
    enough that each group spreads over all ``workers``; weight-sharing runs go alone, after them (dask starts tasks
    in submission order: minutes of query-only runs finish first instead of waiting hours behind the supernets,
    and a batch killed later has lost little)."""
    groups: dict[tuple[str, str], list[RunSpec]] = defaultdict(list)
    out: list[list[RunSpec]] = []
    alone: list[list[RunSpec]] = []
    for s in specs:
        if s.kind == "query":
            groups[(s.algo, s.dataset)].append(s)
        else:
            alone.append([s])
    for group in groups.values():
        size = max(1, min(chunk, math.ceil(len(group) / (2 * max(1, workers)))))
        out.extend(group[i:i + size] for i in range(0, len(group), size))
    return out + alone


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_batch(specs: Sequence[RunSpec], *, scheduler: str | None = None, workers: int | None = None,
              gpu: bool = False, chunk: int = DEFAULT_CHUNK, progress: bool = True,
              summary_dir: Path | None = None, redo_changed: bool = False, wait: bool = False,
              log: Callable[[str], None] = _stderr) -> BatchSummary:
    """Run every spec not yet finished; ``workers=0`` runs them in this process (no cluster). ``redo_changed``
    redoes finished runs made with other settings instead of stopping (`plan_reuse`); ``wait`` waits for another
    batch on the same results folder instead of stopping (`results_lock`); ``log`` gets the lines naming the runs
    that are redone."""
    folders = list(dict.fromkeys(Path(s.results) for s in specs))
    for results in folders:
        check_writable(results)  # before a cluster starts: a read-only or full results folder is a clear error now
    with ExitStack() as stack:
        for results in folders:
            stack.enter_context(results_lock(results, wait=wait, log=log))
        return _run_locked(specs, scheduler=scheduler, workers=workers, gpu=gpu, chunk=chunk, progress=progress,
                           summary_dir=summary_dir, redo_changed=redo_changed, log=log)


def _run_locked(specs: Sequence[RunSpec], *, scheduler: str | None, workers: int | None, gpu: bool, chunk: int,
                progress: bool, summary_dir: Path | None, redo_changed: bool,
                log: Callable[[str], None]) -> BatchSummary:
    t0 = time.perf_counter()
    reuse = plan_reuse(specs, redo_changed)  # may stop here, before any work
    for note in reuse.notes():
        log(note)
    view = ProgressView(Counter(s.algo for s in specs), enabled=progress)
    statuses: list[RunStatus] = []

    def record(st: RunStatus) -> None:
        statuses.append(st)
        view.update(st.algo, st.status)

    for s in reuse.reused:
        record(RunStatus(s.algo, s.dataset, s.seed, str(s.folder), "skipped"))
    todo = reuse.todo
    with view:
        if workers == 0 and not scheduler:
            for s in todo:
                view.running(s.algo, 1)
                st = execute(s)
                view.running(s.algo, -1)
                record(st)
        elif todo:
            # A local GPU cluster keeps one worker per core, as without --gpu (the query-only runs need them);
            # the workers share the GPUs round-robin.
            n = workers if workers or not gpu else os.cpu_count() or 1
            with open_client(scheduler=scheduler, workers=n, gpu=gpu) as client:
                _submit_and_wait(client, todo, gpu=gpu, chunk=chunk, view=view, record=record)
    summary = BatchSummary(statuses, time.perf_counter() - t0)
    if summary_dir is not None:
        summary.summary_file = write_summary(summary, summary_dir)
    return summary


def _submit_and_wait(client: Any, todo: list[RunSpec], *, gpu: bool, chunk: int, view: ProgressView,
                     record: Callable[[RunStatus], None]) -> None:
    have = worker_resources(client)
    futures = {}
    for i, group in enumerate(chunk_specs(todo, chunk, num_workers(client))):
        s = group[0]
        if s.kind == "query":
            resources = {"CPU": 1} if "CPU" in have else None
        else:
            resources = {"GPU": 1} if gpu else ({"CPU": 1} if "CPU" in have else None)
        key = f"run-{s.protocol}-{s.dataset}-{s.algo}-{i}"
        fut = client.submit(execute_many, group, key=key, pure=False, resources=resources, retries=RETRIES)
        futures[fut.key] = (fut, group)

    def done(fut: Any, group: list[RunSpec]) -> None:
        if fut.status == "error" and isinstance(fut.exception(), StorageError):
            raise fut.exception()  # every other run would fail the same way: wait_all cancels them
        for st in _collect(fut, group):
            record(st)

    def running(groups: list[list[RunSpec]]) -> None:
        view.set_running(Counter(s.algo for group in groups for s in group))

    wait_all(client, futures, done, running)
    view.set_running(Counter())


def _collect(fut: Any, group: list[RunSpec]) -> list[RunStatus]:
    """Statuses of a finished task; a task that died (e.g. its worker was killed) fails its runs that are not done
    (a run kept for ``--redo-changed`` still holds its old settings until redone: not done)."""
    try:
        # The driver submitted only unfinished runs: one a worker reports as finished before was completed by an
        # earlier attempt of this same task (dask re-runs a task whose worker died), so it is new in this batch.
        return [RunStatus(**{**asdict(st), "status": "finished"}) if st.status == "skipped" else st
                for st in fut.result()]
    except Exception as exc:  # noqa: BLE001 - whatever killed the task, the other tasks go on
        tb = "".join(traceback.format_exception(exc))
        out = []
        for s in group:
            if reusable(check_run(s.folder), s.fingerprint):
                out.append(RunStatus(s.algo, s.dataset, s.seed, str(s.folder), "finished"))
                continue
            s.folder.mkdir(parents=True, exist_ok=True)
            msg = f"the task running this run failed on its worker (not inside the searcher):\n{tb}"
            write_atomic(s.folder / ERROR, msg)
            out.append(RunStatus(s.algo, s.dataset, s.seed, str(s.folder), "failed", msg))
        return out


def write_summary(summary: BatchSummary, folder: Path) -> Path:
    """``batch-summary.json`` beside the protocol's runs: counts per algorithm and every failure's traceback."""
    per_algo: dict[str, Counter] = defaultdict(Counter)
    for s in summary.statuses:
        per_algo[s.algo][s.status] += 1
    path = Path(folder) / "batch-summary.json"
    write_json(path, {
        "seconds": summary.seconds,
        "counts": {a: dict(c) for a, c in per_algo.items()},
        "failed": [asdict(s) for s in summary.failed],
    })
    return path


def summary_dir_for(specs: Sequence[RunSpec]) -> Path | None:
    if not specs:
        return None
    return protocol_dir(Path(specs[0].results), specs[0].protocol)
