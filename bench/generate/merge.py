"""Merge the finished jobs of a build into a benchmark table, so searchers run on it as on the official one.

For every setting ``D`` and schedule of ``E`` epochs of the plan, with one trial per seed (plan order):

- ``D/SPLIT@E``: final accuracy on each evaluation split (``x-valid``, ``ori-test``, ``x-test``): per-trial values,
  their mean and the per-epoch curve (NaN at epochs without an evaluation pass); ``D/SPLIT-loss@E`` the final
  loss per trial;
- ``D/train@E``: final training accuracy (and its curve), ``D/train-loss@E`` the final training loss;
- ``Table.seeds["D@E"]``: the seed of each trial (the plan's seeds in order; -1 where a cell's job is not done);
- ``D/train_seconds@E``: the whole schedule's training time; ``D/eval_seconds@E``: the mean time of one
  evaluation pass on the setting's primary split (x-valid, or ori-test for ``cifar10``), what the simulated clock
  charges as ``valid-per-time``;
- ``D/latency_s``: per trial, from the 200-epoch runs when the plan has them (else its longest schedule), their
  mean over the cell's trials; ``D/params_M``, ``D/flops_M``: counted in closed form for every cell (they need no
  training), checked against the counts of the trained networks.

A cell, seed or schedule not trained (yet) is NaN, never zero, so a partial build is still a valid table; a
metric no job has finished is left out. Loss curves stay in the jobs' ``result.json`` files (the table holds
accuracies, final losses, costs and model figures only); so do the final weights of jobs that keep them, which
the user API reads (`bench.api`: ``reload(ROOT, index)``). `Benchmark.load(ROOT/benchmark.nbt.npz)` then serves
the table.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from bench.generate.files import is_done, read_json
from bench.generate.job import RESULT, RESULT_FORMAT, Job
from bench.generate.plan import read_plan
from bench.generate.protocol import setting
from bench.table import LOSS_SUFFIX, SUFFIX, Table, metric
from search_space import NUM_ARCHS
from supernet.datasets import DATASETS
from supernet.flops import flops_counts, param_counts
from supernet.transforms import AUGMENT

BENCHMARK = "benchmark" + SUFFIX


def merge(root: Path | str, *, curves: bool = True) -> Table:
    """The table of every finished job under ``root`` (its plan says which jobs exist)."""
    root = Path(root)
    plan = read_plan(root)
    table = Table()
    trained: dict[str, int] = {}
    labels: dict[str, Any] = {}
    model: dict[str, dict[str, list[list[float]]]] = defaultdict(
        lambda: {k: [[] for _ in range(NUM_ARCHS)] for k in ("params_M", "flops_M")})
    n_seeds = len(plan.seeds)
    #: latency per trial comes from the schedule the published figures use (200 epochs) or the plan's longest
    latency_epochs = max(s.epochs for s in plan.schedules) if all(s.epochs != 200 for s in plan.schedules) else 200
    latency: dict[str, np.ndarray] = {}
    groups: dict[tuple[str, str], list[Job]] = defaultdict(list)
    for job in plan.jobs():
        groups[(job.schedule.name, job.setting)].append(job)
    for sched in plan.schedules:
        epochs = sched.epochs
        for sett_name in plan.settings:
            sett = setting(sett_name)
            splits = (*sett.evals, "train")
            acc = {s: np.full((NUM_ARCHS, n_seeds), np.nan) for s in splits}
            loss = {s: np.full((NUM_ARCHS, n_seeds), np.nan) for s in splits}
            curve = {s: np.full((NUM_ARCHS, n_seeds, epochs), np.nan, dtype=np.float32) for s in splits}
            train_s = np.full((NUM_ARCHS, n_seeds), np.nan)
            eval_s = np.full((NUM_ARCHS, n_seeds), np.nan)
            lat = np.full((NUM_ARCHS, n_seeds), np.nan)
            seeds = np.full((NUM_ARCHS, n_seeds), -1, dtype=np.int64)
            done = 0
            for job in groups[(sched.name, sett_name)]:
                res = _read(job.folder(root))
                if res is None:
                    continue
                done += 1
                i, t = job.index, plan.seeds.index(job.seed)
                seeds[i, t] = job.seed
                for s in sett.evals:
                    values = _floats(res["eval"][s]["acc"])
                    acc[s][i, t] = values[-1]
                    loss[s][i, t] = _float(res["eval"][s]["loss"][-1])
                    curve[s][i, t] = values
                values = _floats(res["train"]["acc"])
                acc["train"][i, t] = values[-1]
                loss["train"][i, t] = _float(res["train"]["loss"][-1])
                curve["train"][i, t] = values
                summary = res["summary"]
                train_s[i, t] = summary["train_seconds"]
                eval_s[i, t] = _float(summary["eval_seconds"])
                lat[i, t] = _float(summary["latency_s"])
                for k in ("params_M", "flops_M"):
                    model[sett_name][k][i].append(_float(summary[k]))
                labels.setdefault(sett_name, {k: res["data"].get(k) for k in ("data", "data_note", "split_source",
                                                                             "num_train", "subset", "eval_subset")})
            trained[f"{sett_name}@{epochs}"] = done
            if done == 0:
                continue
            for s in splits:
                table.add(metric(sett_name, s, epochs), trials=acc[s], curve=curve[s] if curves else None)
                table.add(metric(sett_name, s + LOSS_SUFFIX, epochs), trials=loss[s])
            table.add(metric(sett_name, "train_seconds", epochs), trials=train_s)
            table.add(metric(sett_name, "eval_seconds", epochs), trials=eval_s)
            table.add_seeds(sett_name, epochs, seeds)
            if epochs == latency_epochs:
                latency[sett_name] = lat
    for sett_name, lat in latency.items():
        table.add(metric(sett_name, "latency_s"), trials=lat)
    for sett_name, fields in model.items():  # params and FLOPs: properties of the network, the same every trial
        counted = _counts(plan, sett_name)
        for k, per_cell in fields.items():
            mean = np.array([np.mean(v) if v else np.nan for v in per_cell])
            if k in counted:  # a property of the network, not of training: every cell gets it
                trained_cells = ~np.isnan(mean)
                if not np.allclose(mean[trained_cells], counted[k][trained_cells], rtol=1e-6):
                    raise ValueError(f"{sett_name}: measured {k} of the trained cells disagree with the closed form")
                mean = counted[k]
            table.add(metric(sett_name, k), mean=mean)
    table.info = {
        "source": str(root), "importer": "bench.generate", "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                     time.gmtime()),
        "smoke": plan.is_smoke, "seeds": list(plan.seeds), "archs": len(plan.archs),
        "weights": plan.options.keep_weights,
        "schedules": [s.as_dict() for s in plan.schedules], "data": labels, "trained_jobs": trained,
        "notes": ["self-made benchmark: cells, seeds and schedules not trained are NaN",
                  "trials are the plan's seeds in order: " + ", ".join(map(str, plan.seeds)),
                  "eval_seconds: mean time of one pass on the setting's primary split; latency_s: per trial, the "
                  f"mean forward time of a full evaluation batch in the last pass of the {latency_epochs}-epoch "
                  "schedule"]
                 + (["SMOKE benchmark: trained on scikit-learn digits; figures mean nothing for NAS-Bench-201"]
                    if plan.is_smoke else []),
    }
    return table


def build_benchmark(root: Path | str, out: Path | str | None = None, *, curves: bool = True) -> Path:
    """Merge and save atomically to ``out`` (default ``ROOT/benchmark.nbt.npz``); returns the path."""
    table = merge(root, curves=curves)
    if not table.means:
        raise ValueError(f"no finished job under {root}: train first (python -m runners.generate run {root})")
    return table.save(Path(out) if out is not None else Path(root) / BENCHMARK)


def _counts(plan: Any, sett_name: str) -> dict[str, np.ndarray]:
    """Closed-form params_M and flops_M of all cells for a setting, when every schedule builds the same network size
    (`supernet.flops`; checked above against the counts measured on the trained networks)."""
    sizes = {(s.C, s.N) for s in plan.schedules}
    if len(sizes) != 1:
        return {}
    (C, N), source = sizes.pop(), plan.source(sett_name)
    classes, side = DATASETS[source].num_classes, AUGMENT[source].crop
    return {"params_M": param_counts(classes, C, N) / 1e6, "flops_M": flops_counts(classes, side, C, N)}


def _read(folder: Path) -> dict[str, Any] | None:
    if not is_done(folder):
        return None
    res = read_json(folder / RESULT)
    if res.get("format") != RESULT_FORMAT:
        raise ValueError(f"{folder / RESULT} is not a training result (format {res.get('format')!r})")
    return res


def _float(x: Any) -> float:
    return math.nan if x is None else float(x)


def _floats(xs: list[Any]) -> np.ndarray:
    return np.array([_float(x) for x in xs], dtype=np.float64)


__all__ = ["BENCHMARK", "build_benchmark", "merge"]
