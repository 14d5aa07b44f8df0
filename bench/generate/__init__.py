"""Generating a NAS-Bench-201-style benchmark: train every cell on the official splits and seeds, then merge.

Steps (each a module; the command line is ``python -m runners.generate``):

1. `bench.generate.plan`: which cells (``all``, ``FROM..TO``, ``resnet``, an arch string), settings, seeds and
   schedules -> ``ROOT/plan.json``;
2. `bench.generate.train`: the unit of work, `train_job(Job, ROOT)` (a `Job` is plain data: `bench.generate.job`):
   one cell x setting x seed x schedule, resumable per epoch, its own folder with ``result.json`` and a ``DONE``
   marker; `bench.generate.local` runs the pending jobs in order (or a shard of them) and lists them for other
   dispatchers;
3. `bench.generate.merge`: the finished jobs -> ``ROOT/benchmark.nbt.npz`` (a `bench.table.Table`; untrained cells
   NaN), which `bench.Benchmark.load` serves to every searcher.

`bench.generate.status` says which jobs are done, started, failed or pending (read-only, safe while a build runs);
the dispatch over the batch engine (dask, GPUs) is `runners.generate`. `bench.generate.protocol` holds the
benchmark's schedules (200 and 12 epochs), split settings and seeds as frozen dataclasses; `bench.generate.data`
builds a setting's loaders; `bench.generate.smoke` makes a toy benchmark on the offline digits;
`bench.generate.compare` sets a built table beside a reference (e.g. the published CSV).
"""

from typing import Any

from bench.generate.job import Job, JobOptions, JobStatus
from bench.generate.local import pending_jobs, run_local
from bench.generate.plan import RESNET_INDEX, Plan, make_plan, read_plan, select_archs, write_plan
from bench.generate.protocol import SCHEDULES, SEEDS, SETTINGS, Schedule, Setting

#: Names whose modules import torch (training, and the closed-form counts the merge fills in): loaded when first
#: used, so planning and `python -m runners.generate status` start without torch.
_LAZY = {"BENCHMARK": "merge", "build_benchmark": "merge", "read_result": "train", "train_job": "train"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"bench.generate.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'bench.generate' has no attribute {name!r}")

__all__ = ["BENCHMARK", "RESNET_INDEX", "SCHEDULES", "SEEDS", "SETTINGS", "Job", "JobOptions", "JobStatus", "Plan", "Schedule",
           "Setting", "build_benchmark", "make_plan", "pending_jobs", "read_plan", "read_result",
           "run_local", "select_archs", "train_job", "write_plan"]
