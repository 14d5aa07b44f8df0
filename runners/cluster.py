"""The batch engine: a `dask.distributed` client on a local cluster we start and own, or on a running scheduler.

Every many-task driver goes through here: `runners.batch` (searcher runs) and `runners.generate` (the training
jobs of a benchmark build). The drivers submit plain functions whose tasks write their own folders and send back
small status records; `wait_all` hands each finished future to the driver as it ends.

- Local cluster: ``workers`` processes of one thread each on 127.0.0.1 (no dashboard). With ``gpu`` every worker
  advertises ``GPU=1`` and is pinned to one device (worker ``i`` sees only visible GPU ``i mod #GPUs``, through
  ``CUDA_VISIBLE_DEVICES``), so ``cuda`` in a task means that worker's GPU; the default is one worker per GPU, and
  more workers share the GPUs round-robin (NAS-Bench-201 networks are small: one job rarely fills a GPU).
- Existing cluster (``scheduler``): its workers are the user's; GPU workers are started one per GPU with
  ``CUDA_VISIBLE_DEVICES=K dask worker SCHEDULER --resources GPU=1``.

A local cluster's worker processes exit when the driver dies, even by SIGKILL (`dask_setup`), so a killed batch
leaves no orphans; the drivers skip finished work when they are started again.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

SCHEDULER_ENV = "SCHEDULER"
#: The driver's list of visible GPUs, handed to local GPU workers (each keeps one: see `dask_setup`).
GPU_LIST_ENV = "NB201_WORKER_GPUS"
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
#: Seconds to wait for a given scheduler to answer before saying it cannot be reached (dask's default is 30 s).
CONNECT_TIMEOUT_S = 5.0
#: Address schemes of a dask scheduler.
SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


def scheduler_address(given: str | None) -> str | None:
    """The dask scheduler a command uses: ``given`` (``--scheduler``), else ``$SCHEDULER``, else None (a local
    cluster, or this process)."""
    return given or os.environ.get(SCHEDULER_ENV) or None


def check_scheduler(address: str) -> str:
    """A scheduler address as dask takes it, ``[SCHEME://]HOST:PORT``, checked by its form (nothing is contacted);
    a bad one raises `UsageError` naming the valid form."""
    from urllib.parse import urlsplit

    text = address.strip()
    parts = urlsplit(text if "://" in text else f"tcp://{text}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in SCHEMES or not parts.hostname or port is None or not 0 < port < 65536 or \
            parts.path not in ("", "/"):
        _usage(f"invalid dask scheduler address {address!r}; valid: [SCHEME://]HOST:PORT with SCHEME one of "
               f"{', '.join(SCHEMES)} (e.g. tcp://127.0.0.1:8786, as `dask scheduler` prints it)")
    return text


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` entries (its own list when set)."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [g.strip() for g in listed.split(",") if g.strip() and g.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


@contextmanager
def open_client(*, scheduler: str | None = None, workers: int | None = None, gpu: bool = False) -> Iterator[Any]:
    """A client on ``scheduler`` (default: ``$SCHEDULER``), else on a local cluster of ``workers`` processes (default:
    one per CPU core, or one per visible GPU with ``gpu``), closed on exit. With ``gpu`` the cluster must offer
    ``GPU`` workers (a clear error otherwise)."""
    import dask
    from distributed import Client, LocalCluster

    scheduler = scheduler_address(scheduler)
    if scheduler:
        check_scheduler(scheduler)
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            _usage(f"cannot reach the dask scheduler {scheduler!r} within {CONNECT_TIMEOUT_S:g} s "
                   f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no answer'}); start it "
                   "(`dask scheduler`) or check the address, or leave --scheduler / SCHEDULER empty for a local "
                   "cluster")
        try:
            client.register_plugin(_no_profiler(), name="nb201-no-profiler")  # also on workers that join later
            if gpu:
                _require_gpu_workers(client)
            yield client
        finally:
            client.close()
        return
    env: dict[str, str] = {}
    if gpu:
        gpus = visible_gpus()
        if not gpus:
            listed = os.environ.get("CUDA_VISIBLE_DEVICES")
            shown = "unset" if listed is None else f"={listed!r}"
            _usage(f"--gpu was given but this machine shows no CUDA device (CUDA_VISIBLE_DEVICES {shown}); drop "
                   "--gpu for CPU workers, or give --scheduler")
        env[GPU_LIST_ENV] = ",".join(gpus)
        n = workers or len(gpus)
    else:
        n = workers or os.cpu_count() or 1
    # No CPU resource (one thread per worker says it already): tasks restricted to a resource are all handed to
    # workers at once, so one worker's death counts against every task queued on it, and after
    # ``allowed-failures`` deaths tasks that never started fail as KilledWorker (seen: 833 of 1,500 BOHB runs of a
    # batch). Unrestricted, the scheduler keeps them queued and hands out about one task per worker at a time.
    resources = {"GPU": 1} if gpu else None
    # Held while the cluster lives: a nanny reads the config again when it restarts a worker (e.g. one killed).
    with dask.config.set(WORKER_CONFIG):
        # No dashboard; the scheduler's small HTTP server (health checks) on a free port of 127.0.0.1, not 8787
        # (taken by any other cluster, which only earns a warning).
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                          resources=resources, silence_logs=logging.ERROR, preload=[__name__], env=env) as cluster, \
                Client(cluster) as client:
            yield client


def dask_setup(worker: Any) -> None:
    """Preload of the local cluster's workers (``preload=[__name__]``).

    On Linux, ask the kernel to SIGKILL this worker process when the process that started it (the driver, where the
    nannies live) dies: `distributed`'s own watch on its parent is a Python thread, which cannot run while the
    interpreter is stuck (a worker left behind, its event loop blocked in a BOHB run, was seen on this machine).
    On a GPU cluster, keep only this worker's GPU visible (before anything in the process touches CUDA).

    Ctrl-C in a terminal interrupts the whole process group, workers included: a worker ignores it (each would
    print a KeyboardInterrupt traceback); the driver stops the batch and closes its cluster, saying so in one line."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pin_gpu(worker.name)
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    pr_set_pdeathsig = 1
    if ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) != 0:
        return  # not permitted here: distributed's own watch remains
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def pin_gpu(worker_name: Any) -> str | None:
    """On a local GPU cluster (`GPU_LIST_ENV` set by `open_client`), make this process see its worker's GPU only;
    the GPU it took, or None elsewhere."""
    gpus = [g for g in os.environ.get(GPU_LIST_ENV, "").split(",") if g]
    if not gpus:
        return None
    os.environ["CUDA_VISIBLE_DEVICES"] = gpus[gpu_slot(worker_name, len(gpus))]
    return os.environ["CUDA_VISIBLE_DEVICES"]


def gpu_slot(worker_name: Any, num_gpus: int) -> int:
    """Which of ``num_gpus`` GPUs a local worker takes: local workers are named 0, 1, ... (a worker restarted by its
    nanny keeps its name, so it keeps its GPU)."""
    try:
        return int(worker_name) % num_gpus
    except (TypeError, ValueError):
        raise ValueError(f"cannot pick a GPU for worker {worker_name!r}: local workers are named 0, 1, ...") from None


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


def worker_resources(client: Any) -> set[str]:
    """The resource names (``GPU``, ``CPU`` ...) any worker of the cluster advertises."""
    info = client.scheduler_info()
    return {r for w in info.get("workers", {}).values() for r in (w.get("resources") or {})}


def num_workers(client: Any) -> int:
    return len(client.scheduler_info().get("workers", {})) or 1


def _require_gpu_workers(client: Any) -> None:
    if "GPU" not in worker_resources(client):
        _usage("--gpu was given but no worker of the cluster advertises a GPU resource; start one worker per GPU "
               "with `CUDA_VISIBLE_DEVICES=K dask worker SCHEDULER --resources GPU=1`")


def _usage(message: str) -> None:
    from runners.plan import UsageError  # here: the workers import this module and need none of the runner

    raise UsageError(message)


def wait_all(client: Any, futures: dict[str, tuple[Any, T]], on_done: Callable[[Any, T], None],
             on_running: Callable[[list[T]], None] | None = None, poll: float = 0.2) -> None:
    """Call ``on_done(future, payload)`` for each future (keyed by its dask key) as it ends, and ``on_running``
    with the payloads of the tasks running now. If ``on_done`` raises (or the driver is interrupted), the tasks
    not yet ended are cancelled and the exception goes on."""
    pending = dict(futures)
    try:
        while pending:
            if on_running is not None:
                processing = {k for keys in client.processing().values() for k in keys}
                on_running([pending[k][1] for k in processing if k in pending])
            for key in [k for k, (f, _) in pending.items() if f.done()]:
                fut, payload = pending.pop(key)
                on_done(fut, payload)
            if pending:
                time.sleep(poll)
    except BaseException:
        client.cancel([f for f, _ in pending.values()])
        raise


__all__ = ["CONNECT_TIMEOUT_S", "GPU_LIST_ENV", "SCHEDULER_ENV", "check_scheduler", "WORKER_CONFIG", "dask_setup", "gpu_slot", "num_workers", "open_client", "pin_gpu", "scheduler_address",
           "visible_gpus", "wait_all", "worker_resources"]
