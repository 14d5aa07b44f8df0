"""The NAS-Bench-201 cell search space: architectures, their official indices and equivalence classes."""

from search_space.arch import (
    EDGES,
    NUM_ARCHS,
    NUM_EDGES,
    NUM_NODES,
    NUM_OPS,
    OPS,
    Arch,
    all_archs,
    arch_strings,
    code_to_index,
    index_to_code,
    indices_of,
    ops_matrix,
    product_order,
    string_to_index,
)
from search_space.canonical import canonical, canonical_ids, num_classes

__all__ = [
    "EDGES",
    "NUM_ARCHS",
    "NUM_EDGES",
    "NUM_NODES",
    "NUM_OPS",
    "OPS",
    "Arch",
    "all_archs",
    "arch_strings",
    "canonical",
    "canonical_ids",
    "code_to_index",
    "index_to_code",
    "indices_of",
    "num_classes",
    "ops_matrix",
    "product_order",
    "string_to_index",
]
