"""Trained weights behind the user API's ``reload`` / ``get_net_param`` / ``clear_params``.

Only a benchmark this harness built keeps weights: ``python -m runners.generate ... --keep-weights`` writes each
trial's final state dict beside its result (``ROOT/runs/INDEX/SETTING/seed-SEED/SCHEDULE/weights.pt``).
`WeightStore` loads a cell's weights from such a build (``reload``), hands them out per dataset and seed, and
drops them (``clear_params``). Every other source has figures only, and asking it for weights is an error that
names them (`NO_WEIGHTS`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: Sources that hold no weights, for the error a caller gets from them.
NO_WEIGHTS = ("the embedded default and any CSV or table of published figures, the official NAS-Bench-201 files "
              "(NAS-Bench-201-v1_0-e61699.pth, -v1_1-096897.pth) and NATS-Bench files (figures only: the official "
              "weights are separate archives of hundreds of GB, not read here), and builds planned without "
              "--keep-weights. A benchmark built by `python -m runners.generate build ROOT ... --keep-weights` "
              "(make bench-gen KEEP_WEIGHTS=1) keeps each trial's final weights: api.reload(ROOT, index)")


class NoWeightsError(LookupError):
    """Weights asked for where none are (not a build that keeps them, or not loaded)."""

    def __str__(self) -> str:
        return str(self.args[0])


class WeightStore:
    """Weights loaded per (cell, schedule epochs): {(dataset, seed): state dict}."""

    def __init__(self) -> None:
        self._loaded: dict[tuple[int, int], dict[tuple[str, int], Any]] = {}

    def reload(self, root: str | Path, indices: Iterable[int] | None) -> list[int]:
        """Load the weights of ``indices`` (None: every cell of the build's plan); returns the cells loaded."""
        import torch

        from bench.generate.files import is_done
        from bench.generate.job import WEIGHTS
        from bench.generate.plan import read_plan

        root = Path(root)
        try:
            plan = read_plan(root)
        except (FileNotFoundError, ValueError) as exc:
            raise NoWeightsError(f"{str(root)!r} is not a benchmark build ({exc}); weights come only from a build "
                                 f"that keeps them. No weights in {NO_WEIGHTS}") from None
        if not plan.options.keep_weights:
            raise NoWeightsError(f"the build at {str(root)!r} was planned without --keep-weights: it kept no "
                                 f"weights. No weights in {NO_WEIGHTS}")
        wanted = set(plan.archs) if indices is None else set(indices)
        outside = sorted(wanted - set(plan.archs))
        if outside:
            raise NoWeightsError(f"cells {outside[:10]} are not in the build at {str(root)!r}; it trained "
                                 f"{len(plan.archs)} cells: {list(plan.archs)[:10]}...")
        for i in wanted:
            for sched in plan.schedules:
                self._loaded[(i, sched.epochs)] = {}
        for job in plan.jobs():
            if job.index not in wanted:
                continue
            folder = job.folder(root)
            path = folder / WEIGHTS
            if is_done(folder) and path.is_file():
                weights = torch.load(path, map_location="cpu", weights_only=True)  # our own file: tensors only
                self._loaded[(job.index, job.schedule.epochs)][(job.setting, job.seed)] = weights
        return sorted(wanted)

    def get(self, index: int, epochs: int, dataset: str, seed: int | None, source: str) -> Any:
        """``{seed: state dict}`` of every trial (``seed`` None) or one trial's state dict."""
        loaded = self._loaded.get((index, epochs))
        if loaded is None:
            raise NoWeightsError(f"no weights of cell {index} (hp={epochs}) are loaded from {source}: call "
                                 f"api.reload(ROOT, {index}) with the folder of a build that keeps them. No weights "
                                 f"in {NO_WEIGHTS}")
        trials = {s: w for (d, s), w in sorted(loaded.items()) if d == dataset}
        if not trials:
            raise NoWeightsError(f"no weights of cell {index} on {dataset} (hp={epochs}): its jobs are not finished, "
                                 "or were cleared (clear_params); reload it")
        if seed is None:
            return trials
        if seed not in trials:
            raise ValueError(f"key={(dataset, seed)} not in the weights of cell {index} (hp={epochs}): seeds "
                             f"{list(trials)}")
        return trials[seed]

    def clear(self, index: int, epochs: Iterable[int]) -> None:
        for e in epochs:
            if (index, e) in self._loaded:
                self._loaded[(index, e)] = {}

    def cleared(self, index: int, epochs: int) -> bool:
        return self._loaded.get((index, epochs)) == {}


__all__ = ["NO_WEIGHTS", "NoWeightsError", "WeightStore"]
