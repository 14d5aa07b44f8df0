"""A smoke benchmark: the whole pipeline (plan, train, merge, load) at toy size on the offline digits.

Cells are a seeded sample of the space (or given); the schedule is the benchmark's 12-epoch one shrunk by
`Schedule.smoke` (same optimiser and LR rule, ``epochs`` epochs, C=2, N=1, batch 64) and named ``smoke-E``; data is
`supernet.datasets`' ``smoke`` set (16x16 digits) for every setting. The table it makes carries the metric names of
the real benchmark (``cifar10-valid/x-valid@E`` ...) and says ``smoke: true`` in its provenance: searchers run on it
exactly as on the official one, and its figures mean nothing for NAS-Bench-201.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bench.generate.job import JobOptions
from bench.generate.local import run_local
from bench.generate.plan import Plan, write_plan
from bench.generate.protocol import SCHEDULES, setting
from search_space import NUM_ARCHS

SMOKE_SETTINGS = ("cifar10-valid", "cifar10")


def smoke_plan(num_cells: int = 200, *, cells: Sequence[int] | None = None, seeds: Sequence[int] = (777, 888),
               epochs: int = 2, C: int = 2, N: int = 1, batch_size: int = 64,
               settings: Sequence[str] = SMOKE_SETTINGS, subset: int | None = None, eval_subset: int | None = None,
               sample_seed: int = 0, threads: int | None = None, keep_weights: bool = False) -> Plan:
    """The plan of a smoke benchmark (``cells`` given, else ``num_cells`` drawn without replacement)."""
    if cells is None:
        if not 1 <= num_cells <= NUM_ARCHS:
            raise ValueError(f"num_cells must be in 1..{NUM_ARCHS}, got {num_cells}")
        cells = np.random.default_rng(sample_seed).choice(NUM_ARCHS, size=num_cells, replace=False).tolist()
    data = {setting(s).family: "smoke" for s in settings}
    sched = SCHEDULES["12"].smoke(epochs=epochs, C=C, N=N, batch_size=batch_size)
    return Plan(archs=tuple(int(c) for c in cells), settings=tuple(settings), seeds=tuple(seeds), schedules=(sched,),
                data=tuple(data.items()),
                options=JobOptions(subset=subset, eval_subset=eval_subset, device="cpu", threads=threads,
                                   keep_weights=keep_weights))


def build_smoke(root: Path | str, plan: Plan | None = None, *, log: Callable[[str], None] | None = None) -> Path:
    """Write the plan, train every job, merge: the path of ``ROOT/benchmark.nbt.npz``."""
    from bench.generate.merge import build_benchmark  # torch (the closed-form counts): only when building

    plan = plan if plan is not None else smoke_plan()
    write_plan(plan, root)
    run_local(root, log=log)
    return build_benchmark(root)


__all__ = ["SMOKE_SETTINGS", "build_smoke", "smoke_plan"]
