"""The official helpers that read an architecture string: as lists of (op, input node), or as a matrix of op ids.

``str2lists('|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|')`` gives one tuple per node after the
input, ``(('nor_conv_1x1', 0),)``, ``(('none', 0), ('none', 1))``, ...; ``str2matrix`` the 4x4 float matrix whose
entry [node, input] is the op's id in ``search_space`` (NAS-Bench-201's op order by default; an edge of ``none``
is 0, as officially, so two inputs of one node from the same node would overwrite each other).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from search_space import OPS


def _nodes(arch_str: str) -> list[list[tuple[str, int]]]:
    nodes = []
    for node in arch_str.split("+"):
        inputs = []
        for item in filter(None, node.split("|")):
            parts = item.split("~")
            if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                raise ValueError(f"invalid input {item!r} in {arch_str!r}: expected OP~NODE, e.g. nor_conv_3x3~0")
            inputs.append((parts[0], int(parts[1])))
        nodes.append(inputs)
    return nodes


def str2lists(arch_str: str) -> list[tuple[tuple[str, int], ...]]:
    """One tuple of ``(op, input node)`` per node after the input, as the official ``str2lists``."""
    return [tuple(node) for node in _nodes(arch_str)]


def str2matrix(arch_str: str, search_space: Sequence[str] = OPS) -> np.ndarray:
    """The (nodes x nodes) matrix of op ids (float, as officially): row = node, column = its input."""
    nodes = _nodes(arch_str)
    matrix = np.zeros((len(nodes) + 1, len(nodes) + 1))
    ops = list(search_space)
    for target, inputs in enumerate(nodes, start=1):
        for op, source in inputs:
            if op not in ops:
                raise ValueError(f"this op ({op}) is not in {ops}")
            matrix[target, source] = ops.index(op)
    return matrix


__all__ = ["str2lists", "str2matrix"]
