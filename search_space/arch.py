"""The NAS-Bench-201 cell: 4 nodes, 6 edges, 5 candidate operations per edge.

An `Arch` is six operation ids in the order the official string lists its edges:
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` i.e. (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2).
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import numpy as np

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NUM_OPS = len(OPS)
NUM_NODES = 4
#: (target node, source node) of each edge, in official string order.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_EDGES = len(EDGES)
NUM_ARCHS = NUM_OPS**NUM_EDGES  # 15,625

#: Seed the original benchmark used to shuffle the enumeration into its index order.
OFFICIAL_SHUFFLE_SEED = 88

_OP_ID = {name: i for i, name in enumerate(OPS)}
_TOKEN = re.compile(r"^(?P<op>[A-Za-z0-9_]+)~(?P<src>\d+)$")


@dataclass(frozen=True, slots=True, order=True)
class Arch:
    """One cell of the space: the op id on each of the six edges (string order)."""

    ops: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.ops) != NUM_EDGES:
            raise ValueError(f"an Arch has {NUM_EDGES} edges, got {len(self.ops)}: {self.ops!r}")
        for op in self.ops:
            if not isinstance(op, (int, np.integer)) or not 0 <= int(op) < NUM_OPS:
                raise ValueError(f"op id {op!r} is not in 0..{NUM_OPS - 1} ({', '.join(OPS)})")
        object.__setattr__(self, "ops", tuple(int(o) for o in self.ops))

    # --- strings ---------------------------------------------------------------------------
    @classmethod
    def from_str(cls, text: str) -> Arch:
        """Parse the official string; a malformed one raises ValueError naming the bad token."""
        if not isinstance(text, str):
            raise ValueError(f"an architecture string is expected, got {type(text).__name__}: {text!r}")
        s = text.strip()
        nodes = s.split("+")
        if len(nodes) != NUM_NODES - 1:
            raise ValueError(
                f"{text!r} has {len(nodes)} node groups separated by '+', expected {NUM_NODES - 1}"
            )
        ops: list[int] = []
        for target, group in enumerate(nodes, start=1):
            if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
                raise ValueError(f"node group {group!r} in {text!r} must be written '|op~src|...|'")
            tokens = group[1:-1].split("|")
            if len(tokens) != target:
                raise ValueError(
                    f"node {target} in {text!r} has {len(tokens)} incoming edges ({group!r}), expected {target}"
                )
            for expected_src, token in enumerate(tokens):
                m = _TOKEN.match(token)
                if m is None:
                    raise ValueError(f"malformed edge token {token!r} in {text!r}; expected 'op~src'")
                op, src = m.group("op"), int(m.group("src"))
                if op not in _OP_ID:
                    raise ValueError(f"unknown op {op!r} in token {token!r}; valid ops: {', '.join(OPS)}")
                if src != expected_src:
                    raise ValueError(
                        f"edge token {token!r} of node {target} has source node {src}, expected {expected_src}"
                    )
                ops.append(_OP_ID[op])
        return cls(tuple(ops))

    def __str__(self) -> str:
        parts = []
        k = 0
        for target in range(1, NUM_NODES):
            tokens = [f"{OPS[self.ops[k + src]]}~{src}" for src in range(target)]
            k += target
            parts.append("|" + "|".join(tokens) + "|")
        return "+".join(parts)

    @property
    def op_names(self) -> tuple[str, ...]:
        return tuple(OPS[o] for o in self.ops)

    # --- indices ---------------------------------------------------------------------------
    @property
    def index(self) -> int:
        """Index in the official NAS-Bench-201 order."""
        return int(_code_to_index()[self.code])

    @classmethod
    def from_index(cls, index: int) -> Arch:
        return cls.from_code(int(_index_to_code()[check_index(index)]))

    @property
    def code(self) -> int:
        """Base-5 number of the ops, first edge most significant (the pre-shuffle enumeration order)."""
        c = 0
        for o in self.ops:
            c = c * NUM_OPS + o
        return c

    @classmethod
    def from_code(cls, code: int) -> Arch:
        ops = []
        for _ in range(NUM_EDGES):
            code, o = divmod(code, NUM_OPS)
            ops.append(o)
        return cls(tuple(reversed(ops)))

    @classmethod
    def parse(cls, value: str | int | Arch) -> Arch:
        """An Arch from a string, an official index, or an Arch (command lines accept any)."""
        if isinstance(value, Arch):
            return value
        if isinstance(value, bool):  # an int to Python, never a cell
            raise ValueError(f"{value!r} is not an architecture; give an index 0..{NUM_ARCHS - 1} or a string")
        if isinstance(value, (int, np.integer)):
            return cls.from_index(int(value))
        text = str(value).strip()
        if text.lstrip("-").isdigit():
            return cls.from_index(int(text))
        return cls.from_str(text)

    # --- moves -----------------------------------------------------------------------------
    def mutate(self, rng: np.random.Generator) -> Arch:
        """Change one uniformly chosen edge to a different, uniformly chosen op (R-EA's mutation)."""
        edge = int(rng.integers(NUM_EDGES))
        new = int(rng.integers(NUM_OPS - 1))
        if new >= self.ops[edge]:
            new += 1
        ops = list(self.ops)
        ops[edge] = new
        return Arch(tuple(ops))

    def neighbours(self) -> list[Arch]:
        """All 24 cells that differ from this one on exactly one edge."""
        out = []
        for e in range(NUM_EDGES):
            for o in range(NUM_OPS):
                if o != self.ops[e]:
                    ops = list(self.ops)
                    ops[e] = o
                    out.append(Arch(tuple(ops)))
        return out

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Arch:
        """A uniformly random cell (each edge's op uniform and independent)."""
        return cls(tuple(int(o) for o in rng.integers(NUM_OPS, size=NUM_EDGES)))


def is_integer(value: object) -> bool:
    """An int or a numpy integer, never a bool (an int to Python, never an index or a count)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_index(index: Any) -> int:
    """``index`` as an official index; anything but an integer in 0..15624 (a float, a bool, a string) is a
    ValueError naming the range."""
    if is_integer(index) and 0 <= index < NUM_ARCHS:
        return int(index)
    shown = int(index) if is_integer(index) else repr(index)
    raise ValueError(f"architecture index {shown} is out of range 0..{NUM_ARCHS - 1}")


@lru_cache(maxsize=1)
def _index_to_code() -> np.ndarray:
    """The official order: the product enumeration shuffled by Python's `random` seeded with 88."""
    codes = list(range(NUM_ARCHS))  # itertools.product order over string-ordered edges
    rnd = random.Random(OFFICIAL_SHUFFLE_SEED)
    rnd.shuffle(codes)
    arr = np.asarray(codes, dtype=np.int32)
    arr.setflags(write=False)
    return arr


@lru_cache(maxsize=1)
def _code_to_index() -> np.ndarray:
    inv = np.empty(NUM_ARCHS, dtype=np.int32)
    inv[_index_to_code()] = np.arange(NUM_ARCHS, dtype=np.int32)
    inv.setflags(write=False)
    return inv


def index_to_code() -> np.ndarray:
    """Read-only array: official index -> base-5 op code."""
    return _index_to_code()


def code_to_index() -> np.ndarray:
    """Read-only array: base-5 op code -> official index."""
    return _code_to_index()


def arch_strings() -> tuple[str, ...]:
    """The official string of every cell, in official index order (computed once)."""
    return _strings()[0]


def string_to_index() -> Mapping[str, int]:
    """Read-only official string -> official index of every cell (computed once; copy it to change it)."""
    return _strings()[1]


@lru_cache(maxsize=1)
def _strings() -> tuple[tuple[str, ...], Mapping[str, int]]:
    """Each string filled into one template (15,625 `Arch` objects take 0.2 s)."""
    parts = str(Arch((0,) * NUM_EDGES)).split(f"{OPS[0]}~")  # the edges in string order, as Arch.ops
    template = "".join(part + (f"{{{edge}}}~" if edge < NUM_EDGES else "") for edge, part in enumerate(parts))
    by_code = [template.format(*ops) for ops in itertools.product(OPS, repeat=NUM_EDGES)]  # base-5 code order
    strings = tuple(by_code[code] for code in _index_to_code().tolist())
    return strings, MappingProxyType({s: i for i, s in enumerate(strings)})


def ops_matrix() -> np.ndarray:
    """(15625, 6) int8 array: the ops of every cell, rows in official index order."""
    codes = _index_to_code().astype(np.int64)
    out = np.empty((NUM_ARCHS, NUM_EDGES), dtype=np.int8)
    for e in range(NUM_EDGES - 1, -1, -1):
        codes, out[:, e] = np.divmod(codes, NUM_OPS)
    return out


def all_archs() -> Iterator[Arch]:
    """Every cell, in official index order."""
    for code in _index_to_code():
        yield Arch.from_code(int(code))


def product_order() -> Iterator[Arch]:
    """Every cell in the pre-shuffle enumeration order (node 1 slowest, node 3 fastest)."""
    for ops in itertools.product(range(NUM_OPS), repeat=NUM_EDGES):
        yield Arch(ops)


def indices_of(archs: Sequence[Arch]) -> np.ndarray:
    """Official indices of many cells at once."""
    codes = np.fromiter((a.code for a in archs), dtype=np.int64, count=len(archs))
    return _code_to_index()[codes]
