"""CUDA graphs for the fixed-shape passes of a search: captured once, then each pass is one launch.

The NAS-Bench-201 supernet is tiny (C=16) and deep (15 cells of 6 edges): on a GPU its mixture step launches
thousands of small kernels, and eager PyTorch spends far longer launching them than the GPU spends running them.
A pass whose kernels do not depend on the data -- the mixture and joint modes (DARTS, SETN's alpha step), forward
and backward, and their no-gradient valid forward -- is captured into a CUDA graph the second time its (kind,
shape) is seen and replayed from then on: the same kernels on the same memory, so the same numbers as the eager
pass, launched at once. Passes that choose their ops on the host (GDAS, sampled paths) stay eager.

What a captured pass may do (`PassGraphs.run` checks what it can): read its inputs from the static batch it is given
and the module's parameters and buffers (updated in place by the optimizers, which run eagerly between replays),
accumulate into ``.grad`` tensors that exist before the capture (zeroed in place before each replay, as
``zero_grad(set_to_none=False)`` does), and return tensors that the caller consumes before the next replay of the
same graph. Learning rates, momentum and clipping stay outside the graph, so nothing host-side is frozen in it.

``PassGraphs(device, emulate=True)`` runs the same static-buffer bookkeeping without CUDA (each "replay" re-runs the
pass on the static buffers): the CPU tests check the plumbing with it; the capture itself needs a GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import torch

#: A pass: static batch (x, y) -> tensors the caller reads (e.g. loss and logits).
Pass = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]]


@dataclass
class _Entry:
    seen: int = 0
    x: torch.Tensor | None = None
    y: torch.Tensor | None = None
    outputs: tuple[torch.Tensor, ...] = ()
    graph: object | None = None
    fn: Pass | None = None


@dataclass
class PassGraphs:
    """Captured passes by key. ``warmup``: eager runs of a key before it is captured (cuDNN/cuBLAS set-up, and the
    gradients the capture must find already allocated)."""

    device: torch.device
    warmup: int = 1
    emulate: bool = False
    _entries: dict[Hashable, _Entry] = field(default_factory=dict)
    #: How many passes ran eagerly / were captured / were replayed (for the record).
    counts: dict[str, int] = field(default_factory=lambda: {"eager": 0, "captured": 0, "replayed": 0})

    def __post_init__(self) -> None:
        self.device = torch.device(self.device)
        if self.device.type != "cuda" and not self.emulate:
            raise ValueError(f"CUDA graphs need a CUDA device, got {self.device}")

    def run(self, key: Hashable, fn: Pass, x: torch.Tensor, y: torch.Tensor,
            needs_grad: Sequence[torch.Tensor] = ()) -> tuple[torch.Tensor, ...]:
        """``fn(x, y)``: eagerly for the first ``warmup`` times of ``key``, then captured once and replayed.

        ``needs_grad``: tensors whose ``.grad`` the pass accumulates into; the capture waits until all have one (a
        gradient first allocated inside a graph would live in its private memory)."""
        entry = self._entries.setdefault(key, _Entry())
        if entry.graph is None:
            ready = entry.seen >= self.warmup and all(t.grad is not None for t in needs_grad)
            entry.seen += 1
            if not ready:
                self.counts["eager"] += 1
                return fn(x, y)
            self._capture(entry, fn, x, y)
            self.counts["captured"] += 1
            return entry.outputs
        if x.shape != entry.x.shape or y.shape != entry.y.shape:  # type: ignore[union-attr]
            raise ValueError(f"pass {key!r} was captured for {tuple(entry.x.shape)} inputs, got {tuple(x.shape)}")
        entry.x.copy_(x)  # type: ignore[union-attr]
        entry.y.copy_(y)  # type: ignore[union-attr]
        if self.emulate:
            entry.outputs = entry.fn(entry.x, entry.y)  # type: ignore[misc]
        else:
            entry.graph.replay()  # type: ignore[attr-defined]
        self.counts["replayed"] += 1
        return entry.outputs

    def _capture(self, entry: _Entry, fn: Pass, x: torch.Tensor, y: torch.Tensor) -> None:
        entry.x, entry.y, entry.fn = x.clone(), y.clone(), fn
        if self.emulate:
            entry.graph = "emulated"
            entry.outputs = fn(entry.x, entry.y)
            return
        torch.cuda.synchronize(self.device)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            entry.outputs = fn(entry.x, entry.y)
        graph.replay()  # the capture itself computed nothing: this is the pass's first run
        entry.graph = graph


__all__ = ["Pass", "PassGraphs"]
