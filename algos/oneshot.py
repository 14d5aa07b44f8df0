"""The one-shot search loop, written once; each weight-sharing searcher only supplies its per-step rule.

API (stable; SETN, ENAS and RANDOM-NAS build on it exactly as DARTS-V1/V2 and GDAS do)
-----------------------------------------------------------------------------------
A searcher module defines ``class X(OneShotSearcher)`` with ``name``, ``Config`` (a frozen dataclass subclassing
`algos.oneshot_protocol.OneShotConfig`, adding only the algorithm's own fields), ``PRESETS = {p: Config(
**protocol_settings(name, p)) for p in ("nb201", "nats")}`` and ``SEARCHER = X``. It overrides some of these hooks
(``run`` is the live `OneShotRun`; ``epoch`` is 0-based):

``setup(run)``                        build extra trained parts: ``run.add_module("controller", m, optimizer)``
                                      (checkpointed and restored with the supernet); plain values that must
                                      survive a resume go in the dict ``run.state``. Set ``uses_alpha = False`` on
                                      the class when there are no architecture parameters (RANDOM-NAS, ENAS): no
                                      Adam on alpha is built and the ``arch_*`` config fields are free for, e.g.,
                                      the controller's Adam.
``begin_epoch(run, epoch) -> dict``   per-epoch settings (GDAS: tau); the dict's entries go into the trace row.
``step(run, base, arch)``             one step on a pair of device batches ``base = (x, y)`` (weights) and
                                      ``arch = (x, y)`` (architecture); call ``run.weight_step(fn, x, y)`` and/or
                                      ``run.arch_step(fn, x, y)`` with ``fn = lambda x: run.logits(x, mode, archs)``.
``train_epoch(run, epoch)``           default: ``step`` over ``run.search_batches()`` with progress reports.
                                      ENAS overrides it: ``run.epoch_batches(run.data.train)`` for the shared CNN,
                                      then controller steps on ``run.data.controller.cycle(epoch)`` batches,
                                      ``run.report_progress(done_epochs)`` as it goes.
``select(run, epoch) -> (Arch, dict)``  the cell derived after the epoch (default: argmax of alpha per edge,
                                      ``none`` included); extra entries (e.g. ``select_acc``) go into the trace row.
                                      SETN / RANDOM-NAS / ENAS score candidates here with
                                      ``run.score_candidates(archs)``.
``valid_logits(run, x, arch)``        forward of the per-epoch valid pass (default: the derived cell's path;
                                      DARTS: the mixture; GDAS: a Gumbel draw).
``finish(run) -> (Arch, dict)``       the final pick (default: the last epoch's derived cell); the dict goes into
                                      ``SearchResult.info``. Runs again (same result) when a finished run is re-run.

`OneShotRun` fields: ``config``, ``ctx`` (``ctx.rng`` is the searcher's numpy Generator: checkpointed; use it for
uniform samples, e.g. ``Arch.sample(run.ctx.rng)`` or ``supernet.sampling.urs_arch``), ``device``, ``network``
(`supernet.network.Supernet`), ``w_optimizer`` (SGD Nesterov; LR set per epoch), ``a_optimizer`` (Adam on alpha or
None), ``data`` (`supernet.loaders.SearchData`: ``search``, ``valid``, ``train``, ``controller`` loaders, read per
epoch with ``.epoch(e)`` / ``.cycle(e)``), ``criterion``, ``epoch``, ``lr``, ``state``, ``modules``,
``optimizers``, ``trace``, ``best``, ``meters`` (this epoch's `Meter`s; ``run.meter(name)`` adds one, recorded as
``{name}_loss`` / ``{name}_acc``), ``torch_generator`` (checkpointed; the supernet's Gumbel noise uses it),
``named_weights`` (the supernet's weights by name, listed once per run).
Helpers: ``logits(x, mode, archs=None)``, ``weight_step(fn, x, y)`` (zero grads, CE, backward, clip weights to
``config.grad_clip`` unless None, SGD step; meter 'train'), ``arch_step(fn, x, y)`` (Adam step of alpha; meter
'arch'); ``fn`` is a forward or the name of a mode without an architecture ('mixture', 'joint', 'gdas'), which
lets a mixture/joint pass be a CUDA graph; both backward only into the gradients their update reads
(`backward_to`). ``search_batches()``, ``epoch_batches(loader)``, ``steps_per_epoch(loader=None)``, ``evaluate(fn, batches,
max_batches)`` -> (loss, top-1 %) in eval mode, ``score_candidates(archs, batches=None)`` -> top-1 % of each path,
each on the next batch of ``data.valid.cycle(epoch)`` (the original SETN / RANDOM-NAS selection), ``alpha()``,
``weights()``, ``add_module``, ``report_progress(done_epochs)``. ``network.genotype()`` derives DARTS' cell.

Runner options read (``ctx.options``): ``device``, the data's (`load_search_data`: ``data``, ``data_dir``,
``splits_dir``, ``subset``, ``workers``, ``data_path``) and the execution's (`Execution`: ``precision``,
``channels_last``, ``cuda_graphs``), all recorded in ``SearchResult.info``.

The loop (`OneShotSearcher.search`): seed everything (python/numpy/torch, cuDNN deterministic), pick the device
(CUDA when present; ``ctx.options['device']`` overrides), build data, supernet and optimizers, resume from
``ctx.run_dir/checkpoint.pt`` when present, then per epoch: set the cosine LR, ``begin_epoch``, ``train_epoch``,
``select``, valid pass, benchmark figures of the derived cell on all three datasets (`Benchmark.reported`: the
200-epoch trial means; None where the source lacks them), one trace row, "best" bookkeeping (best supernet valid
accuracy; stored, never the reported pick), and an atomic checkpoint holding everything needed to continue
bit-for-bit (weights, alpha, BN buffers, optimizer states, the gradient tensors the parameters hold, the epoch,
python/numpy/torch RNGs, ctx.rng and the sampling generator, the trace, best; the loaders need nothing: epoch e's
batches are a function of the seed and e). A run killed at any point and started again with the same command
ends with exactly the same result on CPU (same torch thread count). Bookkeeping: ``info['resumed_from_epoch']``.

Trace row columns: epoch, arch, arch_index, lr, [tau ...], train_loss, train_acc, arch_loss, arch_acc, valid_loss,
valid_acc, ``{dataset}_valid`` / ``{dataset}_test`` for cifar10, cifar100, ImageNet16-120, search_seconds,
epoch_seconds (only the two *_seconds columns differ between a resumed and an uninterrupted run).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, ClassVar

import torch
from torch import nn

from algos.base import SearchContext, Searcher, SearchResult, Trace, parse_flag
from algos.oneshot_protocol import OneShotConfig
from bench.oracle import SEARCH_DATASETS
from search_space import Arch
from supernet.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint
from supernet.device_data import DATA_PATHS, batches_on_device
from supernet.graphs import PassGraphs
from supernet.loaders import SearchData, search_loaders
from supernet.network import Supernet, SupernetConfig
from supernet.runtime import (
    Meter,
    capture_rng,
    check_precision,
    describe_device,
    pick_device,
    restore_rng,
    seed_everything,
    set_precision,
)

Batch = tuple[torch.Tensor, torch.Tensor]
LogitsFn = Callable[[torch.Tensor], torch.Tensor]
#: Trace columns that measure time; they are the only ones allowed to differ between runs of the same command.
TIMING_COLUMNS = ("search_seconds", "epoch_seconds")
#: Forward modes whose kernels do not depend on the data or a draw: their passes can be CUDA graphs.
GRAPH_MODES = ("mixture", "joint")


@dataclass(frozen=True)
class Execution:
    """How a search runs on its device: the runner options ``precision``, ``channels_last`` and ``cuda_graphs``
    (``data_path`` is `load_search_data`'s). Recorded with every result. Only ``precision`` changes what is
    computed (it is part of a checkpoint's identity when not fp32); the others change how fast, and at most the
    rounding (channels-last convolutions sum in another order)."""

    precision: str = "fp32"
    channels_last: bool = True
    #: Capture the mixture/joint passes as CUDA graphs (`supernet.graphs`); CUDA only.
    cuda_graphs: bool = False

    @classmethod
    def from_options(cls, options: dict[str, Any], device: torch.device) -> Execution:
        """The execution of ``options`` (`SearchContext.options`: parsed by the runner, or built by hand, so they
        are read with the same checks `parse_runner_options` applies)."""
        out = cls(precision=check_precision(str(options.get("precision", "fp32"))),
                  channels_last=parse_flag("option channels_last", options.get("channels_last", 1)),
                  cuda_graphs=parse_flag("option cuda_graphs", options.get("cuda_graphs", 0)))
        if out.cuda_graphs and device.type != "cuda":
            raise ValueError(f"cuda_graphs=1 needs a CUDA device; this search runs on {device}")
        return out

    def describe(self) -> dict[str, Any]:
        return {"precision": self.precision, "channels_last": self.channels_last, "cuda_graphs": self.cuda_graphs}


@dataclass
class OneShotRun:
    """The live state of one weight-sharing search (everything a step needs, everything a checkpoint holds)."""

    searcher: OneShotSearcher
    config: OneShotConfig
    ctx: SearchContext
    device: torch.device
    data: SearchData
    network: nn.Module
    w_optimizer: torch.optim.Optimizer
    a_optimizer: torch.optim.Optimizer | None
    criterion: nn.Module
    torch_generator: torch.Generator
    epoch: int = 0
    lr: float = 0.0
    trace: Trace = field(default_factory=Trace)
    best: dict[str, Any] | None = None
    state: dict[str, Any] = field(default_factory=dict)
    modules: dict[str, nn.Module] = field(default_factory=dict)
    optimizers: dict[str, torch.optim.Optimizer] = field(default_factory=dict)
    meters: dict[str, Meter] = field(default_factory=dict)
    resumed_from: int | None = None
    #: What resuming found wrong with the checkpoints (a damaged one, a fall-back, a fresh start), for the record.
    checkpoint_notes: list[str] = field(default_factory=list)
    execution: Execution = field(default_factory=Execution)
    #: The captured passes when ``execution.cuda_graphs`` (None: every pass eager).
    graphs: PassGraphs | None = None

    def __post_init__(self) -> None:
        # The supernet's parameters never change after it is built: list them once, in the module order the steps
        # used (the clip's norm sums in that order), instead of walking the module tree a few times a step.
        self.named_weights: dict[str, nn.Parameter] = dict(self.network.named_weights())
        self._weights = list(self.named_weights.values())
        self._parameters = list(self.network.parameters())

    # --- extra trained parts (ENAS' controller) ---------------------------------------------------------------
    def add_module(self, name: str, module: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Register a module (and its optimizer) so it is checkpointed and restored with the supernet."""
        if name in self.modules:
            raise ValueError(f"module {name!r} is already registered; registered: {', '.join(self.modules)}")
        self.modules[name] = module.to(self.device)
        if optimizer is not None:
            self.optimizers[name] = optimizer

    # --- data ------------------------------------------------------------------------------------------------
    def batch_to_device(self, batch: Sequence[torch.Tensor]) -> Batch:
        x, y = batch[0], batch[1]
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def search_batches(self) -> Iterator[tuple[Batch, Batch]]:
        """This epoch's (weight batch, architecture batch) pairs on the device, capped at ``config.steps_per_epoch``."""
        for base, arch in islice(self.data.search.epoch(self.epoch), self.config.steps_per_epoch):
            yield self.batch_to_device(base), self.batch_to_device(arch)

    def epoch_batches(self, loader: Any) -> Iterator[Batch]:
        """This epoch's batches of a plain loader (e.g. ``data.train``) on the device, capped like the search."""
        for batch in islice(loader.epoch(self.epoch), self.config.steps_per_epoch):
            yield self.batch_to_device(batch)

    def meter(self, name: str) -> Meter:
        """This epoch's meter ``name`` (created on first use; recorded as ``{name}_loss`` / ``{name}_acc``)."""
        return self.meters.setdefault(name, Meter())

    def report_progress(self, done_epochs: float) -> None:
        """Tell the runner how far the search is, in epochs (fractions allowed)."""
        if self.ctx.progress is not None:
            self.ctx.progress(done_epochs, self.config.epochs)

    def steps_per_epoch(self, loader: Any = None) -> int:
        """Steps of one epoch over ``loader`` (default: the search loader), after the ``steps_per_epoch`` cap."""
        n = len(self.data.search if loader is None else loader)
        cap = self.config.steps_per_epoch
        return n if cap is None else min(n, cap)

    def logits(self, x: torch.Tensor, mode: str, arch: Arch | Sequence[Arch] | None = None) -> torch.Tensor:
        """Supernet forward in ``mode`` ('mixture', 'joint', 'gdas', 'gdas_v1', 'path', 'fixed'). A no-gradient
        forward of a `GRAPH_MODES` mode is a CUDA graph under ``cuda_graphs`` (read the result before the next one)."""
        self.network.set_mode(mode, arch)
        if self.graphs is not None and mode in GRAPH_MODES and not torch.is_grad_enabled():
            key = ("forward", mode, self.network.training, tuple(x.shape))
            return self.graphs.run(key, lambda xs, _ys: (self.network(xs),), x, x.new_empty(0))[0]
        return self.network(x)

    # --- the two updates -------------------------------------------------------------------------------------
    def weight_step(self, logits_fn: LogitsFn | str, x: torch.Tensor, y: torch.Tensor,
                    meter: str = "train") -> torch.Tensor:
        """One SGD step of the supernet weights on (x, y), the grad norm clipped to ``config.grad_clip``.

        ``logits_fn``: the forward, ``lambda x: run.logits(x, mode, arch)``, or a mode name without an architecture
        ('mixture', 'joint', 'gdas', 'gdas_v1'; the mixture and joint passes can then be CUDA graphs).
        Grads are zeroed, not dropped: as in the original (PyTorch 1.x ``zero_grad``), the weights of ops a sampled
        path or a GDAS draw did not run still get weight decay and momentum once they have had a gradient. The clip
        runs over every parameter holding a gradient, alpha's included, as the NB201 scripts'
        ``clip_grad_norm_(network.parameters(), 5)``: alpha's gradient (the last alpha step's plus this pass's) counts
        in the norm though only the weights step, so with a clip this pass backpropagates into alpha too. Without a
        clip only the weights' gradients are computed (`backward_to`): alpha's would be zeroed before the alpha step
        reads it, so leaving it out changes no value."""
        self.network.train()
        self.w_optimizer.zero_grad(set_to_none=False)
        weights = self._weights
        if self.config.grad_clip is None:
            with frozen([self.network.alpha]):  # the forward then records nothing for alpha's gradient either
                loss, logits = self._pass("weight", logits_fn, x, y, weights)
        else:
            loss, logits = self._pass("weight", logits_fn, x, y, [*weights, self.network.alpha])
        if self.config.grad_clip is not None:
            nn.utils.clip_grad_norm_(self._parameters, self.config.grad_clip)
        self.w_optimizer.step()
        self.meter(meter).update(loss, logits, y)
        return loss.detach()

    def arch_step(self, logits_fn: LogitsFn | str, x: torch.Tensor, y: torch.Tensor,
                  meter: str = "arch") -> torch.Tensor:
        """One Adam step of alpha on (x, y) (first-order: the gradient at the current weights); ``logits_fn`` as
        for `weight_step`.

        Only alpha's gradient is computed, plus the weights' for weights that hold no gradient yet (`backward_to`):
        the weights' gradients of this pass are zeroed before the next weight step reads them, and only whether a
        weight HAS a gradient matters to it (SGD then decays it), exactly as after the original's full backward."""
        if self.a_optimizer is None:
            raise RuntimeError(f"{self.searcher.name} has no architecture optimizer (uses_alpha is False)")
        self.network.train()
        self.a_optimizer.zero_grad(set_to_none=False)
        inputs = [self.network.alpha, *(p for p in self._weights if p.grad is None)]
        loss, logits = self._pass("arch", logits_fn, x, y, inputs)
        self.a_optimizer.step()
        self.meter(meter).update(loss, logits, y)
        return loss.detach()

    def _pass(self, kind: str, logits_fn: LogitsFn | str, x: torch.Tensor, y: torch.Tensor,
              inputs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward, loss and backward into ``inputs``' grads; a CUDA graph for a `GRAPH_MODES` mode name."""
        if isinstance(logits_fn, str):
            mode = logits_fn
            self.network.set_mode(mode)
            fn: LogitsFn = self.network
        else:
            mode, fn = None, logits_fn

        def forward_backward(xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            logits = fn(xs)
            loss = self.criterion(logits, ys)
            backward_to(loss, inputs)
            return loss, logits

        if self.graphs is not None and mode in GRAPH_MODES:
            loss, logits = self.graphs.run((kind, mode, tuple(x.shape)), forward_backward, x, y, needs_grad=inputs)
            return loss, logits
        return forward_backward(x, y)

    def weights(self) -> list[nn.Parameter]:
        """The supernet's weights (every parameter but alpha), in module order."""
        return list(self._weights)

    def alpha(self) -> torch.Tensor:
        return self.network.alpha

    # --- evaluation ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, logits_fn: LogitsFn, batches: Iterable[Batch],
                 max_batches: int | None = None) -> tuple[float, float]:
        """(mean loss, top-1 %) of ``logits_fn`` over ``batches`` (e.g. ``run.data.valid.epoch(run.epoch)``) in
        eval mode, as the scripts' ``valid_func``."""
        self.network.eval()
        meter = Meter()
        for batch in islice(batches, max_batches):  # None: every batch
            x, y = self.batch_to_device(batch)
            logits = logits_fn(x)
            meter.update(self.criterion(logits, y), logits, y)
        if not meter.count:
            raise RuntimeError("the valid loader yielded no batch")
        return float(meter.loss), float(meter.acc)  # type: ignore[arg-type]

    @torch.no_grad()
    def score_candidates(self, archs: Sequence[Arch], batches: Iterator[Batch] | None = None) -> list[float]:
        """Top-1 % of each candidate path, each on the NEXT batch of ``batches`` (default: the valid loader's endless
        stream of this epoch, ``run.data.valid.cycle(run.epoch)``), in eval mode, as the original SETN / RANDOM-NAS
        selection does (one valid batch per candidate, the loader restarted when exhausted)."""
        self.network.eval()
        stream = self.data.valid.cycle(self.epoch) if batches is None else batches
        hits: list[torch.Tensor] = []  # each candidate's float32 fraction correct, read back in one transfer
        for arch in archs:
            x, y = self.batch_to_device(next(stream))
            logits = self.logits(x, "path", arch)
            hits.append((logits.argmax(dim=-1) == y).float().mean())
        return [100.0 * h for h in torch.stack(hits).tolist()] if hits else []

    # --- checkpoint ------------------------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        """What must match for a checkpoint to be resumed by this run."""
        out = {"algorithm": self.searcher.name, "config": self.config.as_dict(), "seed": self.ctx.seed,
               "dataset": self.ctx.dataset}
        if self.execution.precision != "fp32":  # fp32 runs keep the identity they always had
            out["precision"] = self.execution.precision
        return out

    def _trained(self) -> dict[str, nn.Module]:
        return {"network": self.network, **{f"module:{k}": m for k, m in self.modules.items()}}

    def generators(self) -> dict[str, torch.Generator]:
        # the loaders hold no RNG state (epoch e's batches are a function of the seed and e), so only ours
        return {"sampling": self.torch_generator}

    def save(self) -> None:
        if self.ctx.run_dir is None:
            return
        optim = {"weights": self.w_optimizer.state_dict(), **{k: o.state_dict() for k, o in self.optimizers.items()}}
        if self.a_optimizer is not None:
            optim["alpha"] = self.a_optimizer.state_dict()
        save_checkpoint(checkpoint_path(self.ctx.run_dir), {
            **self.identity(),
            "epoch": self.epoch,
            "network": self.network.state_dict(),
            "modules": {k: m.state_dict() for k, m in self.modules.items()},
            "grads": {k: _grads(m) for k, m in self._trained().items()},
            "optimizers": optim,
            "state": self.state,
            "rng": capture_rng(self.ctx.rng, self.generators()),
            "trace": self.trace.rows,
            "best": self.best,
        })

    def _checkpoint_note(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)
        self.checkpoint_notes.append(message)

    def restore(self) -> bool:
        """Continue from the run folder's checkpoint if there is one; True when it did."""
        if self.ctx.run_dir is None:
            return False
        path = checkpoint_path(self.ctx.run_dir)
        saved = load_checkpoint(path, self.identity(), report=self._checkpoint_note)
        if saved is None:
            return False
        if saved.get("precision", "fp32") != self.execution.precision:  # fp32 runs record no precision
            raise ValueError(f"{path} was written by a run with precision={saved.get('precision', 'fp32')!r}, this "
                             f"run has precision={self.execution.precision!r}; use another run folder or delete the "
                             "checkpoint to start afresh")
        self.network.load_state_dict(saved["network"])
        for k, m in self.modules.items():
            m.load_state_dict(saved["modules"][k])
        self.w_optimizer.load_state_dict(saved["optimizers"]["weights"])
        if self.a_optimizer is not None:
            self.a_optimizer.load_state_dict(saved["optimizers"]["alpha"])
        for k, o in self.optimizers.items():
            o.load_state_dict(saved["optimizers"][k])
        for k, m in self._trained().items():
            _set_grads(m, saved["grads"][k])
        self.state = saved["state"]
        self.trace = Trace(list(saved["trace"]))
        self.best = saved["best"]
        self.epoch = int(saved["epoch"])
        self.resumed_from = self.epoch
        restore_rng(saved["rng"], self.ctx.rng, self.generators())
        return True


class OneShotSearcher(Searcher):
    """Base of the six weight-sharing searchers: the epoch loop; subclasses supply the per-step rule."""

    kind: ClassVar[str] = "weight-sharing"
    #: False for searchers without architecture parameters (RANDOM-NAS, ENAS): no Adam on alpha is built.
    uses_alpha: ClassVar[bool] = True

    config: OneShotConfig

    # --- hooks -----------------------------------------------------------------------------------------------
    def setup(self, run: OneShotRun) -> None:
        """Build extra trained parts (register them with ``run.add_module``); nothing by default."""

    def begin_epoch(self, run: OneShotRun, epoch: int) -> dict[str, Any]:
        """Per-epoch settings besides the LR (returned values are recorded in the trace row)."""
        return {}

    def step(self, run: OneShotRun, base: Batch, arch: Batch) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define step() or override train_epoch()")

    def train_epoch(self, run: OneShotRun, epoch: int) -> None:
        """One pass over the search loader, calling `step` on each (weight batch, architecture batch) pair."""
        total = run.steps_per_epoch()
        for i, (base, arch) in enumerate(run.search_batches()):
            self.step(run, base, arch)
            run.report_progress(epoch + (i + 1) / total)

    def select(self, run: OneShotRun, epoch: int) -> tuple[Arch, dict[str, Any]]:
        """The cell this epoch derives: argmax of alpha per edge."""
        return run.network.genotype(), {}

    def valid_logits(self, run: OneShotRun, x: torch.Tensor, arch: Arch) -> torch.Tensor:
        """Forward of the per-epoch valid pass; default: the derived cell's path."""
        return run.logits(x, "path", arch)

    def finish(self, run: OneShotRun) -> tuple[Arch, dict[str, Any]]:
        """The final pick; default: the cell derived at the last epoch."""
        last = run.trace.rows[-1]
        return Arch.from_str(last["arch"]), {}

    # --- the loop --------------------------------------------------------------------------------------------
    def search(self, ctx: SearchContext) -> SearchResult:
        run = self._start(ctx)
        cfg = self.config
        run.report_progress(run.epoch)
        while run.epoch < cfg.epochs:
            epoch = run.epoch
            t0 = time.perf_counter()
            run.lr = cfg.lr_at(epoch)
            for group in run.w_optimizer.param_groups:
                group["lr"] = run.lr
            extra = self.begin_epoch(run, epoch)
            run.meters = {"train": Meter(), "arch": Meter()}
            self.train_epoch(run, epoch)
            t_search = time.perf_counter() - t0
            arch, chosen = self.select(run, epoch)
            valid_loss, valid_acc = run.evaluate(lambda x, a=arch: self.valid_logits(run, x, a),
                                                 run.data.valid.epoch(epoch), cfg.valid_batches)
            row: dict[str, Any] = {"epoch": epoch, "arch": str(arch), "arch_index": arch.index, "lr": run.lr,
                                   **extra,
                                   **meter_columns(run.meters),
                                   "valid_loss": valid_loss, "valid_acc": valid_acc, **chosen,
                                   **benchmark_figures(ctx, arch),
                                   "search_seconds": t_search, "epoch_seconds": time.perf_counter() - t0}
            run.trace.append(**row)
            if run.best is None or valid_acc > run.best["valid_acc"]:
                run.best = {"epoch": epoch, "arch": str(arch), "arch_index": arch.index, "valid_acc": valid_acc}
            run.epoch = epoch + 1
            run.save()
            run.report_progress(run.epoch)
        arch, final = self.finish(run)
        info = {
            "protocol": cfg.protocol, "size": cfg.size, "config": cfg.as_dict(), "bn": int(cfg.track_running_stats),
            "device": describe_device(run.device), **run.execution.describe(), "seed": ctx.seed, "dataset": ctx.dataset,
            **run.data.describe(), "epochs_run": len(run.trace), "resumed_from_epoch": run.resumed_from,
            "checkpoint_notes": run.checkpoint_notes,
            "best_valid_epoch": run.best, "alpha": None if not self.uses_alpha else run.alpha().detach().cpu().tolist(),
            **final,
        }
        return SearchResult(arch, run.trace, info)

    # --- internals -------------------------------------------------------------------------------------------
    def _start(self, ctx: SearchContext) -> OneShotRun:
        seed_everything(ctx.seed)
        device = pick_device(ctx.options.get("device"))
        run = self.build_run(ctx, load_search_data(self.config, ctx, device), device)
        run.restore()
        return run

    def build_run(self, ctx: SearchContext, data: SearchData, device: torch.device) -> OneShotRun:
        """Supernet, optimizers and the searcher's own parts on ``device`` (no seeding, no resume; benchmarks use
        it with synthetic batches)."""
        cfg = self.config
        execution = Execution.from_options(ctx.options, device)
        network = Supernet(supernet_config(cfg, data.num_classes)).to(device)
        network.channels_last = execution.channels_last
        network.autocast = set_precision(execution.precision)
        gen = torch.Generator(device=device)
        gen.manual_seed(ctx.seed)
        network.generator = gen  # GDAS' Gumbel noise comes from a generator the checkpoint holds
        # foreach: the per-tensor kernels of the plain loop, run from C++ (the same numbers; ~400 tensors a step)
        w_optimizer = torch.optim.SGD(network.weights(), lr=cfg.lr, momentum=cfg.momentum,
                                      weight_decay=cfg.weight_decay, nesterov=cfg.nesterov, foreach=True)
        a_optimizer = (torch.optim.Adam(network.arch_parameters(), lr=cfg.arch_lr, betas=cfg.arch_betas,
                                        weight_decay=cfg.arch_weight_decay, eps=cfg.arch_eps)
                       if self.uses_alpha else None)
        run = OneShotRun(searcher=self, config=cfg, ctx=ctx, device=device, data=data, network=network,
                         w_optimizer=w_optimizer, a_optimizer=a_optimizer, criterion=nn.CrossEntropyLoss(),
                         torch_generator=gen, execution=execution,
                         graphs=PassGraphs(device) if execution.cuda_graphs else None)
        self.setup(run)
        return run


@contextmanager
def frozen(params: Sequence[torch.Tensor]) -> Iterator[None]:
    """``params`` do not require grad inside the block: a forward there records nothing for their gradients (the
    same values; for a pass whose update does not read those gradients)."""
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)


def backward_to(loss: torch.Tensor, inputs: Sequence[torch.Tensor]) -> None:
    """``loss.backward()`` accumulating into the ``.grad`` of ``inputs`` only: autograd then skips the work no
    requested gradient needs (a conv's weight gradient on the alpha step, the mixture weights' on the weight step).
    Every gradient it does compute is the one the full backward computes, bit for bit; inputs the loss does not
    depend on are left as they are."""
    torch.autograd.backward(loss, inputs=list(inputs))


def _grads(module: nn.Module) -> dict[str, torch.Tensor]:
    """The gradient tensors a module holds. Which parameters HAVE one matters after a resume: the optimizers zero
    grads instead of dropping them, and SGD applies decay and momentum to every parameter holding a (zero) grad."""
    return {n: p.grad.detach().clone() for n, p in module.named_parameters() if p.grad is not None}


def _set_grads(module: nn.Module, grads: dict[str, torch.Tensor]) -> None:
    for n, p in module.named_parameters():
        p.grad = grads[n].to(p.device).clone() if n in grads else None


def load_search_data(cfg: OneShotConfig, ctx: SearchContext, device: torch.device) -> SearchData:
    """The search loaders: ``ctx.options['data']`` if given (e.g. ``cifar10-jpeg``), else the offline ``smoke``
    digits for a smoke-sized config, else the search dataset itself. Options read: data, data_dir, splits_dir,
    subset, workers, data_path (``auto``: on the device when it is a GPU and no loader workers are asked for,
    ``host``: the NumPy pipeline, ``device``: `supernet.device_data` on whatever device the search runs)."""
    opts = ctx.options
    name = opts.get("data") or ("smoke" if cfg.size == "smoke" else ctx.dataset)
    workers = int(opts.get("workers", 0))
    on_device = batches_on_device(opts.get("data_path", "auto"), device.type, workers)
    data = search_loaders(name, opts.get("data_dir"), opts.get("splits_dir"), batch_size=cfg.batch_size,
                          test_batch_size=cfg.test_batch_size, seed=ctx.seed, subset=opts.get("subset"),
                          num_workers=workers, pin_memory=device.type == "cuda")
    if not data.is_smoke and data.bench_dataset != ctx.dataset:
        raise ValueError(f"data {name!r} stands for the benchmark's {data.bench_dataset!r}, but the search is scored "
                         f"on {ctx.dataset!r}; pick data for {ctx.dataset!r} or search dataset {data.bench_dataset!r}")
    return data.to(device) if on_device else data


def supernet_config(cfg: OneShotConfig, num_classes: int) -> SupernetConfig:
    """The supernet of a protocol: NB201's per-algorithm nets keep the head BN default, NATS' follows the flags; the
    cell convs' bias follows ``cfg.conv_bias``."""
    return SupernetConfig(num_classes=num_classes, C=cfg.channels, N=cfg.cells, max_nodes=cfg.max_nodes,
                          affine=cfg.affine, track_running_stats=cfg.track_running_stats,
                          head_bn_follows_flags=cfg.protocol == "nats", conv_bias=cfg.conv_bias)


def benchmark_figures(ctx: SearchContext, arch: Arch) -> dict[str, float | None]:
    """The benchmark's reported (200-epoch, trial-mean) valid/test accuracy of ``arch`` on all three datasets.

    NB201 searched on CIFAR-10 and reported the found cell on all three; NATS reports each dataset's own search,
    which is the column named after ``ctx.dataset``. None where the loaded source lacks a figure."""
    out: dict[str, float | None] = {}
    for ds in SEARCH_DATASETS:
        rep = ctx.bench.reported(arch, ds)
        out[f"{ds}_valid"] = rep["valid"]
        out[f"{ds}_test"] = rep["test"]
    return out


def comparable_rows(trace: Trace) -> list[dict[str, Any]]:
    """Trace rows without the timing columns (what two runs of the same command must agree on exactly)."""
    return [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in trace.rows]


def meter_columns(meters: dict[str, Meter]) -> dict[str, float | None]:
    """``{name}_loss`` and ``{name}_acc`` of every meter of the epoch (train, arch, and any a searcher adds)."""
    out: dict[str, float | None] = {}
    for name, m in meters.items():
        out[f"{name}_loss"] = m.loss
        out[f"{name}_acc"] = m.acc
    return out


__all__ = ["DATA_PATHS", "GRAPH_MODES", "TIMING_COLUMNS", "Execution", "Meter", "OneShotRun", "OneShotSearcher",
           "backward_to", "benchmark_figures", "comparable_rows", "frozen", "meter_columns"]
