"""Equivalence classes of cells: architectures that compute the same function share one canonical form.

Many of the 15,625 cells are the same network written differently: an edge whose source is zero or whose target
never reaches the output contributes nothing, and isomorphic wirings (e.g. nodes 1 and 2 swapped when no edge
joins them) are one graph. Counting or de-duplicating cells needs one name per class.

Semantics (the convention behind the NAS literature's "unique architectures" count, NAS-Bench-201's
``to_unique_str(consider_zero=True)``, with its zero handling made exact):

- the input (node 0) is the symbol ``x``; a node's value is the *multiset sum* of its incoming edges' outputs;
- ``none`` outputs zero; ``skip_connect`` is the identity, so it passes its input's terms through unchanged;
- ``nor_conv_1x1``, ``nor_conv_3x3`` and ``avg_pool_3x3`` are opaque functions: ``op(v)`` is a new term. An op
  applied to a zero node is zero. That is the convention, and exact for pooling; for ReLU->Conv->BN it holds
  with batch statistics and no affine shift, while with running statistics (eval mode) or an affine BN the
  output is a constant, not zero. Such edges are treated as dead all the same;
- a node whose value is zero is the zero tensor, and a node that does not reach node 3 is irrelevant: both fall
  out of the expression of node 3, which is the cell's function.

Two cells are equivalent when node 3's expressions are equal. Like the literature's convention, an op is a fixed
function of its input: the same op on the same value through two edges is counted as that term twice (a trained
network would have two weight sets there), and the linearity of average pooling (``pool(a) + pool(b) ==
pool(a + b)``) is not exploited. Where NAS-Bench-201's own string keeps a ``#`` placeholder per zero input (so
``conv(x)`` and ``conv(x) + 0`` differ there, and a node summing several zeros is not recognised as zero), zeros
here vanish exactly.

The canonical representative of a class is its cell with the fewest non-``none`` edges (ties: smallest op tuple),
so every edge that cannot affect the output is ``none`` in it. A class id is the official index of that
representative.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from search_space.arch import EDGES, NUM_ARCHS, NUM_NODES, OPS, Arch, index_to_code

_NONE = OPS.index("none")
_SKIP = OPS.index("skip_connect")
#: Short names of the opaque ops inside expressions (only for readability of `expression`).
_SHORT = {OPS.index("nor_conv_1x1"): "c1", OPS.index("nor_conv_3x3"): "c3", OPS.index("avg_pool_3x3"): "p3"}


def _terms(ops: tuple[int, ...]) -> tuple[str, ...]:
    """The sorted multiset of terms node 3 sums; empty when the cell outputs zero."""
    nodes: list[tuple[str, ...]] = [("x",)]
    for target in range(1, NUM_NODES):
        terms: list[str] = []
        for e, (t, src) in enumerate(EDGES):
            if t != target or not nodes[src]:
                continue  # other node's edge, or a zero source: nothing flows
            op = ops[e]
            if op == _NONE:
                continue
            if op == _SKIP:
                terms.extend(nodes[src])
            else:
                terms.append(f"{_SHORT[op]}({'+'.join(nodes[src])})")
        nodes.append(tuple(sorted(terms)))
    return nodes[-1]


def expression(arch: Arch | str | int) -> str:
    """Node 3's value as a canonical expression, e.g. ``c3(x)+x``; ``0`` for a cell that outputs zero."""
    terms = _terms(Arch.parse(arch).ops)
    return "+".join(terms) if terms else "0"


def _active_edges(ops: tuple[int, ...]) -> int:
    return sum(op != _NONE for op in ops)


@lru_cache(maxsize=1)
def _classes() -> np.ndarray:
    """Class id (official index of the representative) of every cell, in official index order."""
    codes = index_to_code()
    best: dict[tuple[str, ...], tuple[int, tuple[int, ...], int]] = {}
    keys: list[tuple[str, ...]] = []
    for index in range(NUM_ARCHS):
        ops = Arch.from_code(int(codes[index])).ops
        key = _terms(ops)
        keys.append(key)
        cand = (_active_edges(ops), ops, index)
        if key not in best or cand < best[key]:
            best[key] = cand
    ids = np.fromiter((best[k][2] for k in keys), dtype=np.int32, count=NUM_ARCHS)
    ids.setflags(write=False)
    return ids


def canonical_ids() -> np.ndarray:
    """Read-only (15625,) array: the class id of every cell in official index order (computed once, cached).

    A class id is the official index of the class's canonical representative, so
    ``canonical_ids()[i] == canonical(Arch.from_index(i)).index``.
    """
    return _classes()


def canonical(arch: Arch | str | int) -> Arch:
    """The representative of ``arch``'s class: fewest non-``none`` edges, every dead edge set to ``none``."""
    return Arch.from_index(int(_classes()[Arch.parse(arch).index]))


def class_id(arch: Arch | str | int) -> int:
    return int(_classes()[Arch.parse(arch).index])


def equivalent(a: Arch | str | int, b: Arch | str | int) -> bool:
    """Whether two cells compute the same function under the convention above."""
    return class_id(a) == class_id(b)


def members(arch: Arch | str | int) -> np.ndarray:
    """Official indices of every cell in ``arch``'s class, ascending."""
    return np.flatnonzero(_classes() == class_id(arch))


def num_classes(convention: str = "exact") -> int:
    """Number of classes among the 15,625 cells: ``exact`` (distinct functions, as `canonical`) or ``nb201``
    (the benchmark paper's own unique-string convention, see `nb201_unique_key`)."""
    if convention == "exact":
        return int(np.unique(_classes()).size)
    if convention == "nb201":
        return len({nb201_unique_key(Arch.from_code(int(c))) for c in index_to_code()})
    raise ValueError(f"unknown convention {convention!r}; valid: exact, nb201")


def nb201_unique_key(arch: Arch | str | int) -> str:
    """NAS-Bench-201's own de-duplication key (its "unique string" with zeros considered), for comparison with papers.

    The input node is ``0``; each node's incoming terms are sorted and joined with ``+``; ``none`` or a ``#``
    source contributes ``#``, ``skip_connect`` passes its source's string through, other ops wrap it as
    ``(src)@op`` (NATS-Bench's ``get_unique_str`` answers the same strings). Unlike `canonical`,
    ``conv(x)`` and ``conv(x) + 0`` differ here and a node summing several zeros is not zero, which is why this
    convention counts more classes (`num_classes("nb201")`) than the exact one.
    """
    ops = Arch.parse(arch).ops
    nodes = ["0"]
    for target in range(1, NUM_NODES):
        parts = []
        for e, (t, src) in enumerate(EDGES):
            if t != target:
                continue
            if ops[e] == _NONE or nodes[src] == "#":
                parts.append("#")
            elif ops[e] == _SKIP:
                parts.append(nodes[src])
            else:
                parts.append(f"({nodes[src]})@{OPS[ops[e]]}")
        nodes.append("+".join(sorted(parts)))
    return nodes[-1]


def outputs_zero(arch: Arch | str | int) -> bool:
    """Whether the cell's output is identically zero (no path of non-``none`` edges from input to output)."""
    return not _terms(Arch.parse(arch).ops)


__all__ = ["canonical", "canonical_ids", "class_id", "equivalent", "expression", "members", "nb201_unique_key",
           "num_classes", "outputs_zero"]
