"""The cell search space: official index order, string round trips, parse errors, sampling and moves."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from search_space import (
    EDGES,
    NUM_ARCHS,
    NUM_EDGES,
    NUM_OPS,
    OPS,
    Arch,
    all_archs,
    arch_strings,
    check_index,
    indices_of,
    is_integer,
    ops_matrix,
    string_to_index,
)


def test_index_order_matches_published_csv(csv_path: Path) -> None:
    import csv

    with gzip.open(csv_path, "rt", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        i_idx, i_arch = header.index("index"), header.index("arch")
        rows = [(int(r[i_idx]), r[i_arch]) for r in reader]
    assert len(rows) == NUM_ARCHS
    rows.sort()
    assert [i for i, _ in rows] == list(range(NUM_ARCHS))
    ours = [str(a) for a in all_archs()]
    mismatches = [i for (i, s), o in zip(rows, ours, strict=True) if s != o]
    assert mismatches == []


def test_round_trips_for_every_cell() -> None:
    mat = ops_matrix()
    for i, arch in enumerate(all_archs()):
        assert arch.index == i
        assert Arch.from_str(str(arch)) == arch
        assert Arch.from_index(i) == arch
        assert Arch.from_code(arch.code) == arch
        assert arch.ops == tuple(mat[i])
    archs = [Arch.from_index(i) for i in (5, 0, 15624, 11472)]
    assert indices_of(archs).tolist() == [5, 0, 15624, 11472]


def test_an_index_is_an_integer_in_range() -> None:
    assert is_integer(3) and is_integer(np.int16(3)) and not is_integer(True) and not is_integer(np.bool_(True))
    assert not is_integer(3.0) and not is_integer("3")
    assert check_index(np.int64(15624)) == 15624 and type(check_index(np.int64(5))) is int
    for bad, shown in ((15625, "15625"), (np.int64(-1), "-1"), (3.0, "3.0"), (True, "True"), ("7", "'7'")):
        with pytest.raises(ValueError, match=rf"^architecture index {shown} is out of range 0\.\.15624$"):
            check_index(bad)


def test_cached_strings_are_the_cells_in_index_order() -> None:
    strings, index = arch_strings(), string_to_index()
    assert strings == tuple(str(a) for a in all_archs())
    assert len(index) == NUM_ARCHS and all(index[s] == i for i, s in enumerate(strings))
    assert arch_strings() is strings and string_to_index() is index  # built once
    with pytest.raises(TypeError):
        index[strings[0]] = 1  # type: ignore[index]  # shared by every caller: read-only


def test_parse_accepts_str_index_and_arch() -> None:
    resnet = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
    a = Arch.from_str(resnet)
    assert a.index == 11472
    assert Arch.parse(resnet) == Arch.parse(11472) == Arch.parse("11472") == Arch.parse(a) == a
    assert str(a) == resnet
    assert a.op_names == ("nor_conv_3x3", "none", "nor_conv_3x3", "skip_connect", "none", "skip_connect")


GOOD = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


@pytest.mark.parametrize(
    ("text", "token"),
    [
        (GOOD.replace("nor_conv_3x3~1", "conv_5x5~1"), "conv_5x5"),  # unknown op
        (GOOD.replace("|none~0|nor_conv_3x3~1|", "|none~0|"), "|none~0|"),  # wrong edge count on node 2
        (GOOD.replace("|skip_connect~0|none~1|skip_connect~2|", "|skip_connect~0|none~1|"), "|skip_connect~0|none~1|"),
        (GOOD.replace("skip_connect~2", "skip_connect~1"), "skip_connect~1"),  # wrong source node
        (GOOD.replace("none~0", "none~3", 1), "none~3"),
        (GOOD.replace("nor_conv_3x3~0", "nor_conv_3x3 ~0"), "nor_conv_3x3 ~0"),  # stray characters
        (GOOD + "junk", "junk"),
        (GOOD.replace("+", "+x", 1), "x|none~0"),
        (GOOD.replace("~1|", "~1$|", 1), "nor_conv_3x3~1$"),
        (GOOD + "+|none~0|", "4 node groups"),  # too many nodes
    ],
)
def test_malformed_strings_name_the_offending_token(text: str, token: str) -> None:
    with pytest.raises(ValueError) as info:
        Arch.from_str(text)
    assert token in str(info.value)


def test_bad_ids_and_indices() -> None:
    with pytest.raises(ValueError, match="out of range"):
        Arch.from_index(NUM_ARCHS)
    with pytest.raises(ValueError, match="out of range"):
        Arch.from_index(-1)
    with pytest.raises(ValueError, match="6 edges"):
        Arch((0, 1, 2))
    with pytest.raises(ValueError, match="op id 5"):
        Arch((0, 0, 0, 0, 0, 5))
    with pytest.raises(ValueError, match="expected"):
        Arch.from_str(12)  # type: ignore[arg-type]


def test_sample_is_uniform() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    ops = np.array([Arch.sample(rng).ops for _ in range(n)])
    # each edge's op: chi-square against uniform; a fixed seed keeps this deterministic
    for e in range(NUM_EDGES):
        counts = np.bincount(ops[:, e], minlength=NUM_OPS)
        assert stats.chisquare(counts).pvalue > 1e-4
    # edges are independent: the joint distribution of two edges is uniform over 25 pairs
    pairs = np.bincount(ops[:, 0] * NUM_OPS + ops[:, 5], minlength=NUM_OPS**2)
    assert stats.chisquare(pairs).pvalue > 1e-4
    # cells themselves: many distinct ones, none wildly over-represented
    codes = ops @ (NUM_OPS ** np.arange(NUM_EDGES - 1, -1, -1))
    assert len(np.unique(codes)) > 11_000
    assert np.bincount(codes).max() < 10


def test_mutate_changes_exactly_one_edge() -> None:
    rng = np.random.default_rng(1)
    arch = Arch.sample(rng)
    seen_edges = set()
    for _ in range(500):
        child = arch.mutate(rng)
        diff = [e for e in range(NUM_EDGES) if child.ops[e] != arch.ops[e]]
        assert len(diff) == 1
        seen_edges.add(diff[0])
        arch = child
    assert seen_edges == set(range(NUM_EDGES))


def test_neighbours_are_24_distinct_one_edge_changes() -> None:
    for i in (0, 11472, NUM_ARCHS - 1):
        arch = Arch.from_index(i)
        nbrs = arch.neighbours()
        assert len(nbrs) == NUM_EDGES * (NUM_OPS - 1) == 24
        assert len(set(nbrs)) == 24 and arch not in nbrs
        for n in nbrs:
            assert sum(a != b for a, b in zip(n.ops, arch.ops, strict=True)) == 1


def test_space_constants() -> None:
    assert OPS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    assert EDGES == ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
    assert NUM_ARCHS == 15625 == len(set(all_archs()))
