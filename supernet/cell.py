"""The NAS-Bench-201 cell with every forward mode the weight-sharing searchers need.

One class serves the supernet (all five candidate ops on each of the six edges) and the stand-alone network of one
architecture (one op per edge), so a stand-alone network's parameters are named exactly like the supernet's
parameters of the same ops (``edges.<edge>.<op name>.*``). Node 0 is the cell input, a node is the sum of its
incoming edges, and the cell outputs node 3. Edge ``e`` is `search_space.EDGES[e]` (official string order), which
is also row ``e`` of the architecture parameters.

Forward modes (all produce the same tensor shape):

- `forward_mixture`: sum over ops of ``weights[e, op] * op(x)`` (DARTS; SETN's "joint" alpha step).
- `forward_gdas`: only the sampled op runs, scaled by its straight-through weight; the other ops' weights are added
  as scalars (numerically ~0) so their gradients still reach alpha (GDAS). ``others=None`` gives NATS' ``gdas_v1``
  (only the chosen op, times its weight).
- `forward_path`: one architecture, each edge runs only its op (SETN weight step, RANDOM-NAS, ENAS, evaluation).

``none`` is never executed in the mixture and path modes: its output is exactly zero and so is its gradient, so
leaving it out changes neither values nor gradients (a node whose edges are all ``none`` is a zero tensor). One
bookkeeping difference remains: an op whose node only ``none`` edges read gets no gradient here, where the original
(which multiplies by 0) gives it a zero one; the optimizer then starts its weight decay and momentum at its first
real gradient instead, which only matters in a run's first steps (tests/test_xautodl_reference.py).
The ReLU of the conv ops reading one node is computed once per forward (`_SharedReLU`: each op keeps its own
backward node, so every gradient is the one separate ReLUs give, bit for bit).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from search_space import EDGES, NUM_EDGES, NUM_NODES, NUM_OPS, OPS, Arch
from supernet.ops import ReLUConvBN, make_op, op_id

NONE = OPS.index("none")
#: For each node 1..3, the (edge index, source node) pairs of its incoming edges.
INCOMING: tuple[tuple[tuple[int, int], ...], ...] = tuple(
    tuple((e, src) for e, (dst, src) in enumerate(EDGES) if dst == node) for node in range(1, NUM_NODES)
)
ALL_CANDIDATES: tuple[tuple[int, ...], ...] = (tuple(range(NUM_OPS)),) * NUM_EDGES


class Cell(nn.Module):
    """A cell of ``c`` channels (stride 1) whose edge ``e`` holds the ops ``candidates[e]`` (op ids); ``bias``: its
    convs carry one (see `supernet.ops`)."""

    def __init__(self, c: int, candidates: Sequence[Sequence[int | str]] | Arch = ALL_CANDIDATES,
                 affine: bool = False, track_running_stats: bool = True, bias: bool = False) -> None:
        super().__init__()
        if isinstance(candidates, Arch):
            candidates = tuple((o,) for o in candidates.ops)
        if len(candidates) != NUM_EDGES:
            raise ValueError(f"a cell has {NUM_EDGES} edges; got candidates for {len(candidates)}")
        cands = tuple(tuple(sorted({op_id(o) for o in ops})) for ops in candidates)
        for e, ops in enumerate(cands):
            if not ops:
                raise ValueError(f"edge {e} ({EDGES[e][1]}->{EDGES[e][0]}) has no candidate op")
        self.c = c
        self.candidates = cands
        #: The architecture of a stand-alone cell (one op per edge), else None.
        self.arch: Arch | None = Arch(tuple(ops[0] for ops in cands)) if all(len(ops) == 1 for ops in cands) else None
        self.edges = nn.ModuleList(
            nn.ModuleDict({OPS[o]: make_op(o, c, c, 1, affine, track_running_stats, bias) for o in ops})
            for ops in cands
        )

    def extra_repr(self) -> str:
        return f"c={self.c}"

    def _op(self, e: int, o: int) -> nn.Module:
        try:
            return self.edges[e][OPS[o]]
        except KeyError:
            raise ValueError(f"op {OPS[o]!r} is not a candidate on edge {e} of this cell; candidates: "
                             f"{', '.join(OPS[k] for k in self.candidates[e])}") from None

    # --- forward modes ----------------------------------------------------------------------------
    def forward_mixture(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Weighted sum of every candidate op on every edge; ``weights`` is (6, 5), rows summing to 1 in DARTS."""
        nodes = [x]
        relus: dict[int, torch.Tensor] = {}
        for incoming in INCOMING:
            terms = []
            for e, src in incoming:
                w = weights[e]
                for o, op in zip(self.candidates[e], self.edges[e].values(), strict=True):
                    if o != NONE:
                        terms.append(_run_op(op, nodes[src], relus) * w[o])
            nodes.append(_node_sum(terms, x))
        return nodes[-1]

    def forward_gdas(self, x: torch.Tensor, hardwts: torch.Tensor, index: Sequence[int],
                     others: torch.Tensor | None, unit: bool = False) -> torch.Tensor:
        """Run only op ``index[e]`` per edge, times ``hardwts[e, index[e]]``, plus ``others[e]`` (the summed weights
        of the ops not run; None for NATS' gdas_v1).

        ``unit``: every chosen weight is exactly 1.0 and every ``others[e]`` exactly 0 (what a straight-through
        draw gives, `supernet.sampling.GumbelSample.unit`). Each node is then one `_UnitGdasNode`: the same values
        and gradients without the multiplications by 1, the additions of 0 and ``none``'s multiplication by 0."""
        nodes = [x]
        relus: dict[int, torch.Tensor] = {}
        for incoming in INCOMING:
            if unit:
                terms, zero_inputs, weights, rest, has_term = [], [], [], [], []
                for e, src in incoming:
                    o = index[e]
                    if o != NONE:
                        terms.append(_run_op(self._op(e, o), nodes[src], relus))
                    else:
                        zero_inputs.append(nodes[src])
                    has_term.append(o != NONE)
                    weights.append(hardwts[e, o])
                    if others is not None:
                        rest.append(others[e])
                nodes.append(_UnitGdasNode.apply(tuple(has_term), *terms, *zero_inputs, *weights, *rest))
                continue
            terms = []
            for e, src in incoming:
                o = index[e]
                out = _run_op(self._op(e, o), nodes[src], relus) * hardwts[e, o]
                terms.append(out if others is None else out + others[e])
            nodes.append(_node_sum(terms, x))
        return nodes[-1]

    def forward_path(self, x: torch.Tensor, arch: Arch) -> torch.Tensor:
        """Run one architecture: each edge executes only its op."""
        ops = arch.ops
        nodes = [x]
        relus: dict[int, torch.Tensor] = {}
        for incoming in INCOMING:
            terms = [_run_op(self._op(e, ops[e]), nodes[src], relus) for e, src in incoming if ops[e] != NONE]
            nodes.append(_node_sum(terms, x))
        return nodes[-1]

    def forward(self, x: torch.Tensor, arch: Arch | None = None) -> torch.Tensor:
        """Path mode; without ``arch`` the cell must hold exactly one op per edge (a stand-alone cell)."""
        if arch is None:
            if self.arch is None:
                raise ValueError("this cell holds several candidate ops per edge: pass an Arch or use a forward mode")
            arch = self.arch
        return self.forward_path(x, arch)


def _run_op(op: nn.Module, x: torch.Tensor, relus: dict[int, torch.Tensor]) -> torch.Tensor:
    """``op(x)``, a ReLU -> Conv -> BN taking its ReLU from ``relus`` (computed once per input, `_SharedReLU`);
    called as a module (its own ReLU) when a hook watches it or its ReLU, so that the hook sees the call."""
    if not isinstance(op, ReLUConvBN) or _hooked(op) or _hooked(op[0]):
        return op(x)
    r = relus.get(id(x))
    if r is None:
        with torch.no_grad():
            r = relus[id(x)] = torch.relu(x)
    return op[2](op[1](_SharedReLU.apply(x, r)))


def _hooked(module: nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks or module._backward_hooks
                or module._backward_pre_hooks or nn.modules.module._global_forward_hooks
                or nn.modules.module._global_forward_pre_hooks)


class _SharedReLU(torch.autograd.Function):
    """``relu(x)`` for one consumer, its value ``r`` computed once for all the consumers of ``x`` (the input of
    several conv ops of a cell): the forward returns a view of ``r``, the backward is ReLU's own (``g`` where ``r``
    is positive, `threshold_backward`), one node per consumer where the separate ReLUs were, so the gradients of
    ``x`` are accumulated in the same order."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:  # noqa: ANN001 - autograd's ctx
        ctx.save_for_backward(r)
        return r.view_as(r)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: ANN001 - autograd's ctx
        (r,) = ctx.saved_tensors
        return torch.ops.aten.threshold_backward(grad, r, 0), None


class _UnitGdasNode(torch.autograd.Function):
    """A GDAS node, the sum over its edges of ``op_e(x_e) * h_e + o_e``, when every ``h_e`` is exactly 1.0 and
    every ``o_e`` exactly 0: the forward is the sum of the ops' outputs in edge order (``t * 1.0`` and ``t + 0.0``
    are ``t``; ``none``'s ``x * 0`` is 0), the backward gives each op output the node's gradient (``g * 1.0``), the
    input of each ``none`` edge zeros (what ``g * 0`` gives, so the layers below get the (zero) gradients the full
    graph gives them), each ``h_e`` ``sum(g * t_e)`` (nothing for ``none``: 0) and each ``o_e`` ``sum(g)``, computed
    as the separate ops compute them; the graph keeps their order, so they are accumulated in the same order.
    Arguments: which edges ran an op, the op outputs, the inputs of the ``none`` edges, the ``h_e`` and (gdas, not
    gdas_v1) the ``o_e``."""

    @staticmethod
    def forward(ctx, has_term: tuple[bool, ...], *inputs: torch.Tensor) -> torch.Tensor:  # noqa: ANN001 - ctx
        m = len(has_term)
        k = sum(has_term)
        terms, zero_inputs = inputs[:k], inputs[k:m]
        ctx.has_term, ctx.k, ctx.m, ctx.n_rest = has_term, k, m, len(inputs) - 2 * m
        if any(ctx.needs_input_grad[1 + m:1 + 2 * m]):
            ctx.save_for_backward(*terms)
        if not terms:
            return torch.zeros_like(zero_inputs[0])
        if k == 1:
            return terms[0].view_as(terms[0])
        out = terms[0] + terms[1]
        for t in terms[2:]:
            out = out + t
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # noqa: ANN001 - autograd's ctx
        k, m = ctx.k, ctx.m
        needs = ctx.needs_input_grad[1:]
        to_terms = [grad if need else None for need in needs[:k]]
        zeros = torch.zeros_like(grad) if any(needs[k:m]) else None
        to_zero_inputs = [zeros if need else None for need in needs[k:m]]
        weights: list[torch.Tensor | None] = [None] * m
        if any(needs[m:2 * m]):
            terms, j = ctx.saved_tensors, 0
            for i, ran in enumerate(ctx.has_term):
                if ran:
                    if needs[m + i]:
                        weights[i] = (grad * terms[j]).sum()
                    j += 1
        rest: list[torch.Tensor | None] = [None] * ctx.n_rest
        if any(needs[2 * m:]):
            total = grad.sum()
            rest = [total if need else None for need in needs[2 * m:]]
        return (None, *to_terms, *to_zero_inputs, *weights, *rest)


def _node_sum(terms: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """Sum of a node's incoming terms; a node fed only by ``none`` is zero (as the op would have made it)."""
    if not terms:
        return torch.zeros_like(like)
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out
