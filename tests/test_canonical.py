"""Equivalence classes of cells, checked against an independent numeric fingerprint of each cell's function."""

from __future__ import annotations

import numpy as np
import pytest

from search_space import EDGES, NUM_ARCHS, NUM_NODES, OPS, Arch, ops_matrix
from search_space.canonical import (
    canonical,
    canonical_ids,
    class_id,
    equivalent,
    expression,
    members,
    num_classes,
    outputs_zero,
)

PRIME = 1_000_003  # products of two residues stay far below 2**63
DIM = 8


def _fingerprints(seed: int) -> np.ndarray:
    """Evaluate every cell on a random input in (Z_p)^DIM with each op a fixed random non-linear map.

    Exact modular arithmetic: sums are associative, so equal functions give equal fingerprints with no rounding
    noise. Each opaque op is ``v -> (A v)**3`` with its own random matrix: zero maps to zero (the convention's
    "op of a zero node is zero"), and the cube makes ``op(a) + op(b) != op(a + b)`` so no accidental linearity
    merges classes. skip is the identity and none is zero, as in the network.
    """
    rng = np.random.default_rng(seed)
    mats = {op: rng.integers(0, PRIME, size=(DIM, DIM)) for op in range(len(OPS)) if OPS[op] not in
            ("none", "skip_connect")}
    x = rng.integers(0, PRIME, size=DIM)
    ops = ops_matrix().astype(np.int64)  # (N, 6) in official index order
    nodes = [np.broadcast_to(x, (NUM_ARCHS, DIM))]

    def apply(op: int, v: np.ndarray) -> np.ndarray:
        if OPS[op] == "none":
            return np.zeros_like(v)
        if OPS[op] == "skip_connect":
            return v
        y = (v @ mats[op].T) % PRIME
        return (y * y % PRIME) * y % PRIME

    for target in range(1, NUM_NODES):
        acc = np.zeros((NUM_ARCHS, DIM), dtype=np.int64)
        for e, (t, src) in enumerate(EDGES):
            if t != target:
                continue
            out = np.zeros((NUM_ARCHS, DIM), dtype=np.int64)
            for op in range(len(OPS)):
                rows = ops[:, e] == op
                out[rows] = apply(op, nodes[src][rows])
            acc = (acc + out) % PRIME
        nodes.append(acc)
    return nodes[-1]


def _partition(labels: np.ndarray) -> np.ndarray:
    """Relabel so two labelings of the same partition become equal arrays (first-occurrence order)."""
    _, first, inverse = np.unique(labels, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse.reshape(-1)]


@pytest.mark.parametrize("seed", [0, 1])
def test_classes_agree_with_numeric_fingerprint(seed: int) -> None:
    fp = _fingerprints(seed)
    assert np.array_equal(_partition(fp), _partition(canonical_ids()))
    assert len(np.unique(fp, axis=0)) == num_classes()


def test_class_count_is_between_trivial_bounds() -> None:
    n = num_classes()
    assert 1 < n < NUM_ARCHS
    assert n == len(set(canonical_ids().tolist()))


def test_class_id_is_representatives_index() -> None:
    ids = canonical_ids()
    reps = np.unique(ids)
    assert np.array_equal(ids[reps], reps)  # a representative is its own class
    for i in (0, 11472, 6111, NUM_ARCHS - 1):
        assert ids[i] == canonical(i).index == class_id(Arch.from_index(i))


def test_canonical_is_idempotent_and_minimal() -> None:
    ids = canonical_ids()
    active = (ops_matrix() != OPS.index("none")).sum(axis=1)
    rng = np.random.default_rng(3)
    for i in rng.choice(NUM_ARCHS, size=200, replace=False):
        rep = canonical(int(i))
        assert canonical(rep) == rep
        assert expression(rep) == expression(int(i))
        assert active[rep.index] == active[members(int(i))].min()
        # no edge of the representative can be dropped without changing the function
        for e in range(len(EDGES)):
            if rep.ops[e] != OPS.index("none"):
                dropped = Arch(rep.ops[:e] + (0,) + rep.ops[e + 1:])
                assert ids[dropped.index] != ids[rep.index]


def test_swapping_unconnected_intermediate_nodes() -> None:
    a = Arch.from_str("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|skip_connect~1|avg_pool_3x3~2|")
    b = Arch.from_str("|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|none~0|avg_pool_3x3~1|skip_connect~2|")
    assert equivalent(a, b)
    # with the edge 2<-1 present the nodes are ordered and swapping changes the function
    c = Arch.from_str("|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|none~0|skip_connect~1|avg_pool_3x3~2|")
    d = Arch.from_str("|nor_conv_1x1~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|skip_connect~2|")
    assert not equivalent(c, d)


def test_dead_edges_and_zero_nodes() -> None:
    # node 1 receives only `none`, so everything leaving it is dead
    a = Arch.from_str("|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|")
    b = Arch.from_str("|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    assert equivalent(a, b) and canonical(a) == b
    # node 2 does not reach node 3: its inputs are irrelevant
    c = Arch.from_str("|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|")
    d = Arch.from_str("|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|")
    assert equivalent(c, d)
    # a node summing only zeros is zero, even with several inputs
    e = Arch.from_str("|none~0|+|none~0|skip_connect~1|+|none~0|nor_conv_1x1~1|nor_conv_3x3~2|")
    assert outputs_zero(e) and expression(e) == "0" and equivalent(e, Arch((0,) * 6))


def test_skip_is_identity_but_ops_are_not() -> None:
    a = Arch.from_str("|skip_connect~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|")
    b = Arch.from_str("|none~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|skip_connect~2|")
    assert equivalent(a, b)
    # the same op twice is not the op once, and pooling's linearity is not used
    c = Arch.from_str("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")
    d = Arch.from_str("|nor_conv_3x3~0|+|none~0|none~1|+|nor_conv_3x3~0|skip_connect~1|none~2|")
    assert not equivalent(c, d)
    assert expression(d) == "c3(x)+c3(x)"


def test_resnet_class() -> None:
    resnet = Arch.from_index(11472)
    assert expression(resnet) == "c3(c3(x))+x"
    rep = canonical(resnet)
    assert sum(op != 0 for op in rep.ops) == 3
    assert 11472 in members(resnet)


def test_ids_are_read_only_and_cached() -> None:
    ids = canonical_ids()
    assert ids is canonical_ids()
    with pytest.raises(ValueError):
        ids[0] = 1


def test_nb201_convention_refines_the_exact_classes() -> None:
    """NAS-Bench-201's own unique strings split some functions in two, never merge two functions."""
    from search_space.canonical import nb201_unique_key

    ids = canonical_ids()
    by_key: dict[str, set[int]] = {}
    for i in range(NUM_ARCHS):
        by_key.setdefault(nb201_unique_key(i), set()).add(int(ids[i]))
    assert all(len(v) == 1 for v in by_key.values())
    assert len(by_key) == num_classes("nb201") > num_classes()
    assert num_classes("nb201") == 6466  # the count the NAS-Bench-201 paper reports
    with pytest.raises(ValueError, match="valid: exact, nb201"):
        num_classes("isomorphic")
