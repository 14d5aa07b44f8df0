"""The search splits: the official NAS-Bench-201 index lists by default, seeded ones only when asked for.

The official lists ship with the project (`SHIPPED`, ``supernet/official_splits/*.npz``; provenance in its README):

- ``cifar10-valid``: ``train`` / ``valid``, 25,000 indices each into the CIFAR-10 training set;
- ``cifar100-test``: ``xvalid`` / ``xtest``, 5,000 each into the CIFAR-100 test set;
- ``ImageNet16-120-test``: ``xvalid`` / ``xtest``, 3,000 each into the ImageNet16-120 validation set.

`dataset_split`'s ``splits_dir`` (the runner option ``splits_dir``, ``SPLITS=`` of the Makefile) picks the source:
None (the default) = the shipped lists; a folder = the same lists as JSON files there (``cifar10-valid.json`` ...,
e.g. a copy of NAS-Bench-201's ``configs/nas-benchmark`` lists); ``'seeded'`` (`SEEDED`) = a seeded split of the same
sizes, which the `Split` records as ``source='seeded'`` with its seed, so every result says so. A folder that lacks
the file is an error, never a silent fallback. The JPEG and smoke sets have no official split (indices of the
official lists do not map onto them): theirs is always seeded. The split seed is separate from the search seed, so
every search sees the same seeded split, as with the official lists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from supernet.datasets import dataset_name

#: The default seed of seeded splits (fixed, so all searches share one split).
SPLIT_SEED = 0
#: The ``splits_dir`` value that asks for a seeded split instead of the official lists.
SEEDED = "seeded"
#: The folder of the official lists shipped with the project.
SHIPPED = Path(__file__).resolve().with_name("official_splits")


@dataclass(frozen=True)
class SplitFile:
    """Where a dataset's official split lives and what it halves."""

    #: The JSON file's name in a user's folder; the shipped copy is the same name with ``.npz``.
    file: str
    #: Part names in the file, in order.
    parts: tuple[str, ...]
    #: Which part of the dataset they index: ``train`` (CIFAR-10) or ``test`` (CIFAR-100 test, ImageNet16 val).
    of: Literal["train", "test"]
    #: Size of that part.
    total: int
    #: Sizes of the parts in the official file (the seeded fallback uses these).
    sizes: tuple[int, ...]


OFFICIAL: dict[str, SplitFile] = {
    "cifar10": SplitFile("cifar10-valid.json", ("train", "valid"), "train", 50_000, (25_000, 25_000)),
    "cifar100": SplitFile("cifar100-test.json", ("xvalid", "xtest"), "test", 10_000, (5_000, 5_000)),
    "ImageNet16-120": SplitFile("ImageNet16-120-test.json", ("xvalid", "xtest"), "test", 6_000, (3_000, 3_000)),
}
#: Seeded-only splits of the stand-in datasets (same shape as CIFAR-10's; smoke also keeps a test part).
SEEDED_ONLY: dict[str, SplitFile] = {
    "cifar10-jpeg": SplitFile("", ("train", "valid"), "train", 50_000, (25_000, 25_000)),
    "smoke": SplitFile("", ("train", "valid", "test"), "train", 1_797, (750, 750, 297)),
}


@dataclass(frozen=True, eq=False)
class Split:
    """Disjoint sorted index arrays by part name, and where they came from (recorded with every result)."""

    dataset: str
    parts: dict[str, np.ndarray]
    #: ``official`` (read from ``path``: the shipped lists or a user's folder) or ``seeded`` (made with ``seed``).
    source: Literal["official", "seeded"]
    path: str | None = None
    seed: int | None = None

    def __getitem__(self, part: str) -> np.ndarray:
        if part not in self.parts:
            raise KeyError(f"{self.dataset} split has no part {part!r}; it has: {', '.join(self.parts)}")
        return self.parts[part]

    def sizes(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.parts.items()}

    def describe(self) -> dict[str, object]:
        return {"split_source": self.source, "split_file": self.path, "split_seed": self.seed,
                **{f"split_{k}": len(v) for k, v in self.parts.items()}}


def split_file(dataset: str) -> SplitFile:
    """The split layout of ``dataset`` (official or seeded-only)."""
    name = dataset_name(dataset)
    return OFFICIAL.get(name) or SEEDED_ONLY[name]


def read_split(dataset: str, splits_dir: str | Path | None = None) -> Split:
    """The official split of ``dataset``: the shipped lists (``splits_dir`` None) or the JSON file in ``splits_dir``;
    checked to be in range and disjoint."""
    name = dataset_name(dataset)
    if name not in OFFICIAL:
        raise ValueError(f"{name} has no official split (its images are not the official files); official splits "
                         f"exist for: {', '.join(OFFICIAL)}")
    layout = OFFICIAL[name]
    if splits_dir is None:
        path = SHIPPED / Path(layout.file).with_suffix(".npz").name
        if not path.is_file():
            raise FileNotFoundError(f"the shipped official split of {name} is missing: {path} (a broken install; "
                                    f"reinstall, or pass a folder with {layout.file})")
        with np.load(path) as archive:
            raw = {p: archive[p] for p in archive.files}
    else:
        path = Path(splits_dir).expanduser() / layout.file
        if not path.is_file():
            raise FileNotFoundError(f"official split for {name} not found: {path}. Put {layout.file} (JSON with "
                                    f"{' and '.join(map(repr, layout.parts))} index lists) there, leave the splits "
                                    f"folder unset for the shipped official lists, or pass {SEEDED!r} for a seeded "
                                    f"split of sizes {'/'.join(map(str, layout.sizes))}.")
        with open(path) as fh:
            raw = json.load(fh)
    missing = [p for p in layout.parts if p not in raw]
    if missing:
        raise ValueError(f"{path}: missing part(s) {', '.join(missing)}; it has {', '.join(raw)}")
    parts = {p: np.asarray(raw[p], dtype=np.int64) for p in layout.parts}
    _check(parts, layout.total, str(path))
    return Split(name, {p: np.sort(v) for p, v in parts.items()}, "official", str(path), None)


def seeded_split(dataset: str, seed: int = SPLIT_SEED, total: int | None = None) -> Split:
    """A random split of the official sizes (a permutation cut into consecutive parts, each sorted).

    ``total`` (the size of the set actually read, when it differs from the official one, e.g. a partial JPEG
    folder) scales the sizes proportionally; the last part takes the remainder."""
    layout = split_file(dataset)
    if seed < 0:
        raise ValueError(f"split seed must be >= 0, got {seed}")
    total = layout.total if total is None else total
    sizes = list(layout.sizes)
    if total != layout.total:
        sizes = [s * total // layout.total for s in layout.sizes]
        sizes[-1] = total - sum(sizes[:-1])
    if min(sizes) < 1:
        raise ValueError(f"{dataset}: {total} images are too few for a {'/'.join(layout.parts)} split")
    perm = np.random.default_rng(seed).permutation(total)
    bounds = np.cumsum([0, *sizes])
    parts = {p: np.sort(perm[a:b]) for p, a, b in zip(layout.parts, bounds[:-1], bounds[1:], strict=True)}
    return Split(dataset_name(dataset), parts, "seeded", None, seed)


def dataset_split(dataset: str, splits_dir: str | Path | None = None, seed: int = SPLIT_SEED,
                  total: int | None = None) -> Split:
    """The official split (shipped, or from the folder ``splits_dir``) of a dataset that has one; a seeded split
    (marked so) when ``splits_dir`` is ``'seeded'`` or the dataset has no official one.

    ``total``: the size of the part the split indexes, as read; an official split must fit it exactly."""
    name = dataset_name(dataset)
    if name not in OFFICIAL or str(splits_dir) == SEEDED:
        return seeded_split(name, seed, total)
    split = read_split(name, splits_dir)
    if total is not None and total != OFFICIAL[name].total:
        raise ValueError(f"{name}: the official split indexes {OFFICIAL[name].total} images but the data read has "
                         f"{total}; the data files are not the official ones (splits_dir={SEEDED!r}, SPLITS={SEEDED}, "
                         f"makes a seeded split of the data read)")
    return split


def _check(parts: dict[str, np.ndarray], total: int, where: str) -> None:
    seen: set[int] = set()
    for name, idx in parts.items():
        if idx.ndim != 1 or len(idx) == 0:
            raise ValueError(f"{where}: part {name!r} must be a non-empty list of indices")
        if idx.min() < 0 or idx.max() >= total:
            raise ValueError(f"{where}: part {name!r} has indices outside [0, {total})")
        unique = set(idx.tolist())
        if len(unique) != len(idx):
            raise ValueError(f"{where}: part {name!r} repeats indices")
        if seen & unique:
            raise ValueError(f"{where}: parts overlap")
        seen |= unique


__all__ = ["OFFICIAL", "SEEDED", "SEEDED_ONLY", "SHIPPED", "SPLIT_SEED", "Split", "SplitFile", "dataset_split",
           "read_split", "seeded_split", "split_file"]
