"""The NAS-Bench-201 macro skeleton: the weight-sharing `Supernet` and the stand-alone `Network` of one cell.

Skeleton (PROTOCOLS.md 1.1): stem 3x3 conv (C) + BN; three stages of N cells with C, 2C, 4C channels; between
stages a stride-2 `ResNetBasicBlock` (shortcut: 2x2 avgpool + 1x1 conv); head BN, ReLU, global average pooling,
linear. Both classes share this code, and their parameter names agree, so `Supernet.extract` hands a stand-alone
network the supernet's weights of one architecture.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import torch
from torch import nn

from search_space import NUM_EDGES, NUM_NODES, NUM_OPS, Arch
from supernet.cell import ALL_CANDIDATES, Cell
from supernet.ops import ResNetBasicBlock
from supernet.sampling import GumbelSample, gumbel_hard

#: Forward modes of `Supernet` (see `Supernet.set_mode`).
MODES: tuple[str, ...] = ("mixture", "joint", "gdas", "gdas_v1", "path", "fixed")
_ARCH_MODES = ("path", "fixed")


#: Whether the cell convs carry a bias: 'never' (ICLR-era code, bb2f405) or 'if-not-affine' (NATS-era code, b9a5d28).
CONV_BIAS: tuple[str, ...] = ("never", "if-not-affine")


@dataclass(frozen=True, kw_only=True)
class SupernetConfig:
    """Shape, BatchNorm flags and conv-bias rule of a supernet (or of a stand-alone network).

    ``affine`` / ``track_running_stats`` apply to the ops inside the cells; ``conv_bias`` says whether their convs
    carry a bias ('never', the ICLR-era code; 'if-not-affine', the NATS-era code). The stem BN and the
    stage-transition blocks always keep PyTorch defaults; the head BN does too unless ``head_bn_follows_flags`` (the
    NATS generic supernet). The defaults are the NB201 per-algorithm supernets with BN=1.
    """

    num_classes: int
    C: int = 16
    N: int = 5
    max_nodes: int = 4
    affine: bool = False
    track_running_stats: bool = True
    head_bn_follows_flags: bool = False
    conv_bias: Literal["never", "if-not-affine"] = "never"
    #: Candidate op ids of each edge; all five everywhere in the NAS-Bench-201 space.
    candidates: tuple[tuple[int, ...], ...] = field(default=ALL_CANDIDATES)

    def __post_init__(self) -> None:
        for name in ("num_classes", "C", "N"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"SupernetConfig.{name} must be a positive integer, got {v!r}")
        if self.max_nodes != NUM_NODES:
            raise ValueError(f"SupernetConfig.max_nodes must be {NUM_NODES} (the NAS-Bench-201 cell), "
                             f"got {self.max_nodes!r}")
        for name in ("affine", "track_running_stats", "head_bn_follows_flags"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"SupernetConfig.{name} must be True or False, got {getattr(self, name)!r}")
        if self.conv_bias not in CONV_BIAS:
            raise ValueError(f"SupernetConfig.conv_bias {self.conv_bias!r} is unknown; valid: {', '.join(CONV_BIAS)}")

    @property
    def cell_conv_bias(self) -> bool:
        """Whether the convs inside the cells carry a bias under this config's rule and BN flags."""
        return self.conv_bias == "if-not-affine" and not self.affine

    @classmethod
    def standalone(cls, num_classes: int, C: int = 16, N: int = 5) -> SupernetConfig:
        """A benchmark-trained network: every BN affine and tracking (the official ``infer.tiny``)."""
        return cls(num_classes=num_classes, C=C, N=N, affine=True, track_running_stats=True)

    def replace(self, **changes: Any) -> SupernetConfig:
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def stage_layout(C: int, N: int) -> list[tuple[int, bool]]:
    """(channels, is_reduction) of each layer after the stem: N cells, block, N cells, block, N cells."""
    return ([(C, False)] * N + [(2 * C, True)] + [(2 * C, False)] * N + [(4 * C, True)]
            + [(4 * C, False)] * N)


class _Skeleton(nn.Module):
    """Stem, cells interleaved with reduction blocks, head; ``cell_fn(k, cell, x)`` runs the k-th search cell."""

    def __init__(self, config: SupernetConfig, candidates: Sequence[Sequence[int]] | Arch) -> None:
        super().__init__()
        self.config = config
        C = config.C
        self.stem = nn.Sequential(nn.Conv2d(3, C, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers: list[nn.Module] = []
        c_prev = C
        for c, reduction in stage_layout(C, config.N):
            if reduction:
                layers.append(ResNetBasicBlock(c_prev, c, 2))
            else:
                layers.append(Cell(c, candidates, config.affine, config.track_running_stats, config.cell_conv_bias))
            c_prev = c
        self.cells = nn.ModuleList(layers)
        head_flags = ({"affine": config.affine, "track_running_stats": config.track_running_stats}
                      if config.head_bn_follows_flags else {})
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev, **head_flags), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, config.num_classes)
        #: Run in channels-last memory format: measured ~3x faster on CPU (3x3 average pooling above all, see
        #: ``python -m runners.perf.supernet``); values agree with the contiguous format to float rounding.
        self.channels_last = True
        #: Run the forward under autocast to this dtype (``supernet.runtime.set_precision``: bf16); None: float32.
        self.autocast: torch.dtype | None = None

    @property
    def num_cells(self) -> int:
        """Number of search cells (3N)."""
        return 3 * self.config.N

    def _run(self, x: torch.Tensor, cell_fn: Callable[[int, Cell, torch.Tensor], torch.Tensor]) -> torch.Tensor:
        if self.autocast is not None:
            with torch.autocast(x.device.type, dtype=self.autocast):
                return self._forward(x, cell_fn).float()
        return self._forward(x, cell_fn)

    def _forward(self, x: torch.Tensor, cell_fn: Callable[[int, Cell, torch.Tensor], torch.Tensor]) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        feature = self.stem(x)
        k = 0
        for layer in self.cells:
            if isinstance(layer, Cell):
                feature = cell_fn(k, layer, feature)
                k += 1
            else:
                feature = layer(feature)
        out = self.global_pooling(self.lastact(feature))
        return self.classifier(out.flatten(1))


class Network(_Skeleton):
    """The stand-alone network of one architecture; ``forward`` returns logits."""

    def __init__(self, arch: Arch, config: SupernetConfig) -> None:
        if not isinstance(arch, Arch):
            raise ValueError(f"Network needs an Arch, got {type(arch).__name__}: {arch!r}")
        super().__init__(config, arch)
        self.arch = arch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, lambda _k, cell, f: cell.forward_path(f, self.arch))

    def extra_repr(self) -> str:
        return f"arch={self.arch}"


class Supernet(_Skeleton):
    """The weight-sharing network: every candidate op on every edge, one alpha (6 x 5) shared by all cells.

    Modes (`set_mode`): 'mixture' and 'joint' (softmax(alpha)-weighted sum of all ops; DARTS, SETN's alpha step),
    'gdas' / 'gdas_v1' (one hard Gumbel sample per forward at temperature ``tau``), 'path' (a sampled architecture:
    one Arch for all cells, or one per cell), 'fixed' (one given Arch). ``forward`` returns logits.
    """

    def __init__(self, config: SupernetConfig, alpha_init_std: float = 1e-3) -> None:
        super().__init__(config, config.candidates)
        #: Architecture parameters, row e = edge e (official string order), column = op id.
        self.alpha = nn.Parameter(alpha_init_std * torch.randn(NUM_EDGES, NUM_OPS))
        self.mode = "mixture"
        self.tau = 10.0
        #: Generator for the Gumbel noise (None: torch's global generator).
        self.generator: torch.Generator | None = None
        #: The GDAS draw of the latest 'gdas'/'gdas_v1' forward.
        self.last_sample: GumbelSample | None = None
        self._archs: tuple[Arch, ...] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # The last GDAS draw holds graph tensors, which deepcopy/pickle refuse; a copy starts without one.
        state = self.__dict__.copy()
        state["last_sample"] = None
        return state

    # --- parameter groups -------------------------------------------------------------------------
    def weights(self) -> list[nn.Parameter]:
        """Every network weight (for the weight optimizer); excludes alpha."""
        return [p for name, p in self.named_parameters() if name != "alpha"]

    def named_weights(self) -> list[tuple[str, nn.Parameter]]:
        return [(name, p) for name, p in self.named_parameters() if name != "alpha"]

    def arch_parameters(self) -> list[nn.Parameter]:
        """The architecture parameters (for the alpha optimizer)."""
        return [self.alpha]

    # --- modes ------------------------------------------------------------------------------------
    def set_mode(self, mode: str, arch: Arch | Sequence[Arch] | None = None) -> None:
        """Choose how the next forwards run; 'path' and 'fixed' need ``arch``, the other modes take none."""
        if mode not in MODES:
            raise ValueError(f"unknown supernet mode {mode!r}; valid: {', '.join(MODES)}")
        if mode in _ARCH_MODES:
            if arch is None:
                raise ValueError(f"mode {mode!r} needs an architecture (an Arch or one Arch per cell)")
            self._archs = self._check_archs(arch)
        elif arch is not None:
            raise ValueError(f"mode {mode!r} takes no architecture (only {', '.join(_ARCH_MODES)} do)")
        else:
            self._archs = None
        self.mode = mode

    def set_arch(self, arch: Arch | Sequence[Arch]) -> None:
        """Change the architecture of the current 'path' / 'fixed' mode (e.g. a new sample each step)."""
        if self.mode not in _ARCH_MODES:
            raise ValueError(f"set_arch needs mode 'path' or 'fixed', the supernet is in {self.mode!r}")
        self._archs = self._check_archs(arch)

    def set_tau(self, tau: float) -> None:
        if not tau > 0:
            raise ValueError(f"the Gumbel-softmax temperature tau must be > 0, got {tau!r}")
        self.tau = float(tau)

    @property
    def archs(self) -> tuple[Arch, ...] | None:
        """The per-cell architectures of the current 'path' / 'fixed' mode."""
        return self._archs

    def _check_archs(self, arch: Arch | Sequence[Arch]) -> tuple[Arch, ...]:
        if isinstance(arch, Arch):
            return (arch,) * self.num_cells
        archs = tuple(arch)
        if len(archs) != self.num_cells or not all(isinstance(a, Arch) for a in archs):
            raise ValueError(f"expected an Arch or a sequence of {self.num_cells} Archs (one per cell), "
                             f"got {arch!r}")
        return archs

    # --- forward ----------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mode = self.mode
        if mode in ("mixture", "joint"):
            weights = self.alpha.softmax(dim=-1)
            return self._run(x, lambda _k, cell, f: cell.forward_mixture(f, weights))
        if mode in ("gdas", "gdas_v1"):
            sample = gumbel_hard(self.alpha, self.tau, self.generator)
            self.last_sample = sample
            hardwts, index = sample.hardwts, sample.index
            if mode == "gdas":
                not_chosen = torch.ones_like(hardwts).scatter_(-1, hardwts.new_tensor(index).long()[:, None], 0.0)
                others: torch.Tensor | None = (hardwts * not_chosen).sum(dim=-1)
            else:
                others = None
            unit = sample.unit
            return self._run(x, lambda _k, cell, f: cell.forward_gdas(f, hardwts, index, others, unit))
        archs = self._archs
        assert archs is not None  # set_mode guarantees it
        return self._run(x, lambda k, cell, f: cell.forward_path(f, archs[k]))

    # --- derivation -------------------------------------------------------------------------------
    def genotype(self) -> Arch:
        """The argmax of alpha on every edge (``none`` included), as the original derives it."""
        with torch.no_grad():
            return Arch(tuple(int(i) for i in self.alpha.argmax(dim=-1).tolist()))

    def extract(self, arch: Arch) -> Network:
        """A stand-alone network of ``arch`` (same config) holding copies of this supernet's weights of its ops."""
        net = Network(arch, self.config)
        own = self.state_dict()
        net.load_state_dict({k: v.clone() for k, v in own.items() if k in net.state_dict()}, strict=True)
        return net.to(self.alpha.device)


def build_network(arch: Arch | str | int, num_classes: int, C: int = 16, N: int = 5) -> Network:
    """The network the benchmark trained for ``arch`` (every BN affine and tracking), freshly initialised."""
    return Network(Arch.parse(arch), SupernetConfig.standalone(num_classes, C, N))


def network_from_config(config: Mapping[str, Any]) -> Network:
    """Build from a benchmark-style network config: ``{'name': 'infer.tiny', 'C': 16, 'N': 5, 'arch_str': ...,
    'num_classes': 10}`` (``genotype`` is accepted in place of ``arch_str``)."""
    if not isinstance(config, Mapping):
        raise ValueError(f"a network config must be a mapping, got {type(config).__name__}")
    name = config.get("name")
    if name != "infer.tiny":
        raise ValueError(f"unsupported network name {name!r}; valid: 'infer.tiny'")
    missing = [k for k in ("C", "N", "num_classes") if k not in config]
    if missing:
        raise ValueError(f"network config lacks {', '.join(missing)}: {dict(config)!r}")
    arch = config.get("arch_str", config.get("genotype"))
    if arch is None:
        raise ValueError(f"network config needs 'arch_str' (or 'genotype'): {dict(config)!r}")
    return build_network(Arch.parse(arch), int(config["num_classes"]), int(config["C"]), int(config["N"]))
