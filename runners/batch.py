"""Many runs at once on `dask.distributed`, safe to kill and re-run.

Each task writes its own run folders and sends back only small `RunStatus` records, so the driver never holds a
result that exists nowhere else. Query-only runs take milliseconds and are sent in chunks of runs; a weight-sharing
run is one task and asks for a ``GPU`` worker resource when ``gpu`` is set. Finished runs are skipped before
submission. A task whose worker died (killed, out of memory) is re-run on another worker, up to dask's
``distributed.scheduler.allowed-failures`` times, and one that raised outside the searcher is retried ``RETRIES``
times; the new attempt redoes a half-written run folder (a weight-sharing run resumes from its last epoch's
checkpoint) and is otherwise recorded as failed. A results folder that cannot be written (`StorageError`) stops the
batch with one clear error. The local cluster's worker processes exit when the driver dies, even by SIGKILL
(`distributed`'s worker processes watch a pipe from their parent; on Linux the kernel also kills them, see
`dask_setup`), so a killed batch leaves no orphans.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runners.layout import ERROR, StorageError, check_writable, is_finished, protocol_dir, write_atomic, write_json
from runners.plan import UsageError
from runners.run import RunSpec, RunStatus, execute, execute_many

#: Query-only runs per task.
DEFAULT_CHUNK = 25
#: Extra attempts of a task that raised outside the searcher (a searcher's own exception is recorded, not retried).
RETRIES = 1
SCHEDULER_ENV = "SCHEDULER"
#: dask's statistical profiler samples every thread's stack each 10 ms on the worker's event-loop thread. We never
#: read its profiles, it takes the GIL from the runs, and freeing its references to other threads' frames can run a
#: finalizer on the event loop: a Pyro4 socket's ``__del__`` (BOHB's hpbandster threads) there blocked the worker
#: with a BOHB run half-way (seen on this machine). So it is off: by config for the local cluster, by stopping its
#: periodic callbacks on the workers of an existing cluster. The event-loop health check (20 ms) and the system
#: monitor (500 ms) only feed dashboards and warnings: at 0.5 s / 5 s an idle local cluster costs a third of the CPU
#: (0.02 instead of 0.06 CPU-s per second, measured). Memory limits have their own monitor, left as it is.
WORKER_CONFIG = {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "500ms",
                 "distributed.admin.system-monitor.interval": "5s"}
PROFILER_CALLBACKS = ("profile", "profile-cycle")


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


def run_batch(specs: Sequence[RunSpec], *, scheduler: str | None = None, workers: int | None = None,
              gpu: bool = False, chunk: int = DEFAULT_CHUNK, progress: bool = True,
              summary_dir: Path | None = None) -> BatchSummary:
    """Run every spec not yet finished; ``workers=0`` runs them in this process (no cluster)."""
    t0 = time.perf_counter()
    for results in dict.fromkeys(Path(s.results) for s in specs):
        check_writable(results)  # before a cluster starts: a read-only or full results folder is a clear error now
    view = ProgressView(specs, enabled=progress)
    todo = []
    for s in specs:
        if is_finished(s.folder):
            view.update(RunStatus(s.algo, s.dataset, s.seed, str(s.folder), "skipped"))
        else:
            todo.append(s)
    statuses = list(view.statuses)
    with view:
        if workers == 0 and not scheduler:
            for s in todo:
                view.running(s.algo, 1)
                st = execute(s)
                view.running(s.algo, -1)
                view.update(st)
                statuses.append(st)
        elif todo:
            statuses += _run_on_dask(todo, scheduler=scheduler or os.environ.get(SCHEDULER_ENV) or None,
                                     workers=workers, gpu=gpu, chunk=chunk, view=view)
    summary = BatchSummary(statuses, time.perf_counter() - t0)
    if summary_dir is not None:
        summary.summary_file = write_summary(summary, summary_dir)
    return summary


def _run_on_dask(todo: list[RunSpec], *, scheduler: str | None, workers: int | None, gpu: bool, chunk: int,
                 view: ProgressView) -> list[RunStatus]:
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler)
        try:
            client.register_plugin(_no_profiler(), name="nb201-no-profiler")  # also on workers that join later
            return _submit_and_wait(client, todo, gpu=gpu, chunk=chunk, view=view)
        finally:
            client.close()
    n = workers or os.cpu_count() or 1
    # No CPU resource (one thread per worker says it already): tasks restricted to a resource are all handed to
    # workers at once, so one worker's death counts against every run queued on it, and after
    # ``allowed-failures`` deaths runs that never started fail as KilledWorker (seen: 833 of 1,500 BOHB runs of a
    # batch). Unrestricted, the scheduler keeps them queued and hands out about one task per worker at a time.
    resources = {"GPU": 1} if gpu else None
    # Held while the cluster lives: a nanny reads the config again when it restarts a worker (e.g. one killed).
    with dask.config.set(WORKER_CONFIG):
        # No dashboard; the scheduler's small HTTP server (health checks) on a free port of 127.0.0.1, not 8787
        # (taken by any other cluster, which only earns a warning).
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                          resources=resources, silence_logs=logging.ERROR, preload=[__name__]) as cluster, \
                Client(cluster) as client:
            return _submit_and_wait(client, todo, gpu=gpu, chunk=chunk, view=view)


def dask_setup(worker: Any) -> None:
    """Preload of the local cluster's workers (``preload=[__name__]``): on Linux, ask the kernel to SIGKILL this
    worker process when the process that started it (the driver, where the nannies live) dies. `distributed`'s own
    watch on its parent is a Python thread, which cannot run while the interpreter is stuck (a worker left behind,
    its event loop blocked in a BOHB run, was seen on this machine); the kernel's signal needs nothing from it."""
    del worker
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    parent = os.getppid()
    pr_set_pdeathsig = 1
    if ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) != 0:
        return  # not permitted here: distributed's own watch remains
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _no_profiler() -> Any:
    """A worker plugin that stops dask's statistical profiler on the workers of a cluster we did not start (see
    `WORKER_CONFIG`); it only stops two periodic callbacks. Built here so that importing this module does not
    import distributed (the class travels to the workers by value)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class NoProfiler(WorkerPlugin):
        idempotent = True

        def setup(self, worker: Any) -> None:
            for name in PROFILER_CALLBACKS:
                callback = worker.periodic_callbacks.get(name)
                if callback is not None:
                    callback.stop()

    return NoProfiler()


def _worker_resources(client: Any) -> set[str]:
    info = client.scheduler_info()
    return {r for w in info.get("workers", {}).values() for r in (w.get("resources") or {})}


def _submit_and_wait(client: Any, todo: list[RunSpec], *, gpu: bool, chunk: int,
                     view: ProgressView) -> list[RunStatus]:
    have = _worker_resources(client)
    if gpu and "GPU" not in have:
        raise UsageError("--gpu was given but no worker of the cluster advertises a GPU resource; start workers "
                           "with `dask worker SCHEDULER --resources GPU=1` (one per GPU)")
    futures = {}
    nworkers = len(client.scheduler_info().get("workers", {})) or 1
    for i, group in enumerate(chunk_specs(todo, chunk, nworkers)):
        s = group[0]
        if s.kind == "query":
            resources = {"CPU": 1} if "CPU" in have else None
        else:
            resources = {"GPU": 1} if gpu else ({"CPU": 1} if "CPU" in have else None)
        key = f"run-{s.protocol}-{s.dataset}-{s.algo}-{i}"
        fut = client.submit(execute_many, group, key=key, pure=False, resources=resources, retries=RETRIES)
        futures[fut.key] = (fut, group)
    statuses: list[RunStatus] = []
    pending = dict(futures)
    while pending:
        processing = {k for keys in client.processing().values() for k in keys}
        running = Counter()
        for k in processing:
            if k in pending:
                for s in pending[k][1]:
                    running[s.algo] += 1
        view.set_running(running)
        for k in [k for k, (f, _) in pending.items() if f.done()]:
            fut, group = pending.pop(k)
            if fut.status == "error" and isinstance(fut.exception(), StorageError):
                client.cancel([f for f, _ in pending.values()])  # every other run would fail the same way
                raise fut.exception()
            for st in _collect(fut, group):
                view.update(st)
                statuses.append(st)
        time.sleep(0.2)
    view.set_running(Counter())
    return statuses


def _collect(fut: Any, group: list[RunSpec]) -> list[RunStatus]:
    """Statuses of a finished task; a task that died (e.g. its worker was killed) fails its unfinished runs."""
    try:
        # The driver submitted only unfinished runs: one a worker reports as finished before was completed by an
        # earlier attempt of this same task (dask re-runs a task whose worker died), so it is new in this batch.
        return [RunStatus(**{**asdict(st), "status": "finished"}) if st.status == "skipped" else st
                for st in fut.result()]
    except Exception as exc:  # noqa: BLE001 - whatever killed the task, the other tasks go on
        tb = "".join(traceback.format_exception(exc))
        out = []
        for s in group:
            if is_finished(s.folder):
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


class ProgressView:
    """Live counts per algorithm (done, failed, skipped, running), rate and time left, drawn with rich."""

    def __init__(self, specs: Sequence[RunSpec], enabled: bool = True) -> None:
        self.totals = Counter(s.algo for s in specs)
        self.counts: dict[str, Counter] = defaultdict(Counter)
        self.run_counts: Counter = Counter()
        self.statuses: list[RunStatus] = []
        self.enabled = enabled and len(specs) > 0
        self.t0 = time.perf_counter()
        self._live = None

    def __enter__(self) -> ProgressView:
        self.t0 = time.perf_counter()
        if self.enabled:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(self._render(), console=Console(stderr=True), refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(*exc)
            self._live.console.print()
            self._live = None

    def update(self, st: RunStatus) -> None:
        self.counts[st.algo][st.status] += 1
        self.statuses.append(st)
        self._refresh()

    def running(self, algo: str, delta: int) -> None:
        self.run_counts[algo] += delta
        self._refresh()

    def set_running(self, counts: Counter) -> None:
        self.run_counts = Counter(counts)
        self._refresh()

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> Any:
        from rich.table import Table

        elapsed = time.perf_counter() - self.t0
        t = Table(title=f"runs ({elapsed:.0f} s)", title_justify="left")
        for col in ("algorithm", "done", "failed", "skipped", "running", "total", "rate", "time left"):
            t.add_column(col, justify="left" if col == "algorithm" else "right")
        for algo, total in self.totals.items():
            c = self.counts[algo]
            done, failed, skipped = c["finished"], c["failed"], c["skipped"]
            rate = (done + failed) / elapsed if elapsed > 0 else 0.0
            shown = f"{rate:.1f}/s" if rate >= 1 else f"{60 * rate:.1f}/min"
            left = total - done - failed - skipped
            eta = f"{left / rate:.0f} s" if rate > 0 and left else ("-" if left else "0 s")
            t.add_row(algo, str(done), str(failed), str(skipped), str(self.run_counts[algo]), str(total),
                      shown, eta)
        return t
