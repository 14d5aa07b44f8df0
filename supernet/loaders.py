"""The search loaders of PROTOCOLS.md 1.2 as one call, `search_loaders(...) -> SearchData`, deterministic per epoch.

What each weight-sharing searcher reads from `SearchData`:

- ``search``: one pass per epoch of pairs ``((x_w, y_w), (x_a, y_a))``: a weight batch from the weight split
  (shuffled, training transform) and an architecture batch of the same size drawn uniformly **with replacement**
  from the architecture split (training transform). DARTS-V1/V2, GDAS, SETN, RANDOM-NAS.
- ``valid``: the architecture split with the **test** transform, shuffled, ``test_batch_size``: the per-epoch valid
  pass and candidate scoring (SETN / RANDOM-NAS take one batch per candidate from ``valid.cycle(epoch)``).
- ``train``: the weight split alone, shuffled, training transform: ENAS' shared-CNN steps.
- ``controller``: the architecture split with the **training** transform, shuffled: ENAS' controller rewards.

Splits: CIFAR-10 (and the JPEG and smoke stand-ins) use the 25k ``train`` half for weights and the 25k ``valid`` half
for the architecture; CIFAR-100 / ImageNet16-120 use the whole training set for weights and the ``xvalid`` half of
the test set (ImageNet16's validation set) for the architecture. Search never reads the other half or CIFAR-10's test.

Determinism and resuming: a loader holds no RNG state. Epoch ``e`` of a loader is a pure function of (``seed``, the
loader's name, ``e``): its order and augmentation come from a `torch.Generator` seeded from those, so a run resumed at
epoch ``k`` sees exactly the batches the uninterrupted run would have, without replaying epochs ``0..k-1``, whatever
``num_workers`` is, and torch's global RNG is never touched. ``loader.cycle(e)`` is an endless stream for epoch ``e``
(passes ``(e, 0), (e, 1), ...``), for searchers that draw single batches. Nothing to checkpoint but the epoch number.

    data = search_loaders("cifar10", data_dir, splits_dir, batch_size=64, test_batch_size=512, seed=seed)
    for epoch in range(start_epoch, epochs):
        for (x_w, y_w), (x_a, y_a) in data.search.epoch(epoch):
            ...                                   # weight step on (x_w, y_w), architecture step on (x_a, y_a)
        valid = data.valid.cycle(epoch)           # SETN / RANDOM-NAS: one batch per candidate
        scores = [score(arch, *next(valid)) for arch in candidates]
    result.info.update(data.describe())           # which data, split source, smoke or not

The device data path: ``data.to(device)`` holds the image sets on ``device`` as uint8 and makes every loader's
batches there from the same plans (`supernet.device_data`): the same batches bit for bit, without the host pipeline.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from supernet.datasets import DATASETS, DatasetSpec, ImageSet, dataset_name, read_dataset
from supernet.device_data import DeviceFetch, data_path_label
from supernet.splits import SPLIT_SEED, Split, dataset_split, split_file
from supernet.transforms import AUGMENT, Augment

Batch = tuple[torch.Tensor, torch.Tensor]


def epoch_generator(seed: int, stream: str, epoch: int, rep: int = 0) -> torch.Generator:
    """The generator of pass ``rep`` of epoch ``epoch`` of the loader named ``stream`` (streams are independent)."""
    if epoch < 0 or rep < 0:
        raise ValueError(f"epoch and pass must be >= 0, got epoch={epoch}, pass={rep}")
    key = np.random.SeedSequence([seed, zlib.crc32(stream.encode()), epoch, rep])
    return torch.Generator().manual_seed(int(key.generate_state(1, np.uint64)[0] >> np.uint64(1)))


@dataclass(frozen=True)
class BatchPlan:
    """One batch decided before any pixel is read: indices into image set ``source`` and the augmentation draw
    (``offsets`` / ``flips`` None = test transform)."""

    source: int
    indices: torch.Tensor
    offsets: torch.Tensor | None = None
    flips: torch.Tensor | None = None


class _Fetch(Dataset):
    """Turns a `BatchPlan` (or a tuple of them) into tensors; runs in worker processes when there are any."""

    def __init__(self, sets: tuple[ImageSet, ...], augment: Augment) -> None:
        self.sets = sets
        self.augment = augment

    def __getitem__(self, plan: BatchPlan | tuple[BatchPlan, ...]) -> Batch | tuple[Batch, ...]:
        if isinstance(plan, tuple):
            return tuple(self._one(p) for p in plan)
        return self._one(plan)

    def _one(self, plan: BatchPlan) -> Batch:
        data = self.sets[plan.source]
        idx = plan.indices.numpy()
        images = data.images[idx]
        if plan.offsets is None:
            x = self.augment.test(images)
        else:
            x = self.augment.train(images, plan.offsets, plan.flips)
        return x, torch.from_numpy(data.labels[idx])


def _keep(batch: Any) -> Any:
    """Collate for already-formed batches (module level so worker processes can pickle it)."""
    return batch


def _pin(batch: Any) -> Any:
    if isinstance(batch, tuple):
        return tuple(_pin(b) for b in batch)
    return batch.pin_memory()


class _EpochLoader:
    """Shared plumbing: plans per (epoch, pass) and fetching them, in-process or with workers."""

    name: str

    def __init__(self, sets: tuple[ImageSet, ...], augment: Augment, *, seed: int, num_workers: int,
                 pin_memory: bool) -> None:
        if not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"loader seed must be a non-negative int, got {seed!r}")
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {num_workers}")
        self.seed = int(seed)
        self.augment = augment
        self.num_workers = num_workers
        self.pin_memory = pin_memory and torch.cuda.is_available()
        self._sets = sets
        self._fetch = _Fetch(sets, augment)
        #: Set by `to`: batches are made on this device from the images held there (the device data path).
        self._device: DeviceFetch | None = None

    @property
    def device(self) -> torch.device | None:
        """Where the batches are made (None: on the host, by the NumPy pipeline)."""
        return None if self._device is None else self._device.device

    def to(self, device: torch.device | str) -> _EpochLoader:
        """A copy of this loader whose batches are made on ``device`` (its image sets held there as uint8): the same
        batches, bit for bit (`supernet.device_data`)."""
        if self.num_workers:
            raise ValueError(f"the device data path makes batches on the device, in this process; the {self.name} "
                             f"loader has num_workers={self.num_workers} (use 0)")
        moved = copy.copy(self)
        moved._device = DeviceFetch(self._sets, self.augment, torch.device(device))
        return moved

    def plan(self, epoch: int, rep: int = 0) -> list[Any]:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def epoch(self, epoch: int) -> Iterator[Any]:
        """The batches of epoch ``epoch`` (0-based), one pass."""
        return self._run(self.plan(epoch), epoch)

    def cycle(self, epoch: int) -> Iterator[Any]:
        """Endless batches for epoch ``epoch``: pass 0, then pass 1, ... (each reshuffled, all reproducible)."""
        if len(self) == 0:
            raise ValueError(f"{self.name} loader has no batches to cycle over")
        rep = 0
        while True:
            yield from self._run(self.plan(epoch, rep), epoch, rep)
            rep += 1

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(f"iterate the {self.name} loader per epoch: loader.epoch(epoch), or loader.cycle(epoch) for "
                        f"an endless stream, so that a resumed run sees the same batches")

    def _run(self, plan: list[Any], epoch: int, rep: int = 0) -> Iterator[Any]:
        if self._device is not None:
            yield from self._device.run(plan)
            return
        if self.num_workers == 0:
            for item in plan:
                batch = self._fetch[item]
                yield _pin(batch) if self.pin_memory else batch
            return
        # The DataLoader draws its workers' base seed from `generator`; a derived one keeps torch's global RNG intact.
        base = epoch_generator(self.seed, self.name + "/workers", epoch, rep)
        yield from DataLoader(self._fetch, batch_size=None, sampler=plan, num_workers=self.num_workers,
                              collate_fn=_keep, pin_memory=self.pin_memory, generator=base)


def _chunks(indices: torch.Tensor, batch_size: int, drop_last: bool) -> list[torch.Tensor]:
    chunks = list(indices.split(batch_size))
    if drop_last and chunks and len(chunks[-1]) < batch_size:
        chunks.pop()
    return chunks


def _num_batches(n: int, batch_size: int, drop_last: bool) -> int:
    return n // batch_size if drop_last else -(-n // batch_size)


class Loader(_EpochLoader):
    """Batches ``(x, y)`` of one index set of one image set, with the training or the test transform."""

    def __init__(self, data: ImageSet, indices: np.ndarray, batch_size: int, augment: Augment, *, name: str,
                 seed: int, train_transform: bool, shuffle: bool = True, drop_last: bool = False,
                 num_workers: int = 0, pin_memory: bool = False) -> None:
        super().__init__((data,), augment, seed=seed, num_workers=num_workers, pin_memory=pin_memory)
        self.name = name
        self.data = data
        self.indices = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        self.batch_size = _positive("batch_size", batch_size)
        self.train_transform = train_transform
        self.shuffle = shuffle
        self.drop_last = drop_last

    @property
    def num_samples(self) -> int:
        return len(self.indices)

    def __len__(self) -> int:
        return _num_batches(len(self.indices), self.batch_size, self.drop_last)

    def plan(self, epoch: int, rep: int = 0) -> list[BatchPlan]:
        """Epoch ``epoch``'s batches as plans (indices + augmentation draw), without reading images."""
        g = epoch_generator(self.seed, self.name, epoch, rep)
        order = self.indices[torch.randperm(len(self.indices), generator=g)] if self.shuffle else self.indices
        plans = []
        for chunk in _chunks(order, self.batch_size, self.drop_last):
            draw = self.augment.draw(len(chunk), self.data.image_size, g) if self.train_transform else (None, None)
            plans.append(BatchPlan(0, chunk, *draw))
        return plans


class SearchLoader(_EpochLoader):
    """Pairs ``((x_w, y_w), (x_a, y_a))``: a shuffled weight batch and an architecture batch of the same size drawn
    uniformly with replacement from the architecture split, both with the training transform (PROTOCOLS.md 1.2)."""

    def __init__(self, weight_set: ImageSet, weight_indices: np.ndarray, arch_set: ImageSet,
                 arch_indices: np.ndarray, batch_size: int, augment: Augment, *, seed: int, name: str = "search",
                 drop_last: bool = False, num_workers: int = 0, pin_memory: bool = False) -> None:
        super().__init__((weight_set, arch_set), augment, seed=seed, num_workers=num_workers, pin_memory=pin_memory)
        self.name = name
        self.weight_set, self.arch_set = weight_set, arch_set
        self.weight_indices = torch.as_tensor(np.asarray(weight_indices, dtype=np.int64))
        self.arch_indices = torch.as_tensor(np.asarray(arch_indices, dtype=np.int64))
        if len(self.arch_indices) == 0:
            raise ValueError("the architecture split is empty")
        self.batch_size = _positive("batch_size", batch_size)
        self.drop_last = drop_last

    def __len__(self) -> int:
        return _num_batches(len(self.weight_indices), self.batch_size, self.drop_last)

    def plan(self, epoch: int, rep: int = 0) -> list[tuple[BatchPlan, BatchPlan]]:
        """Epoch ``epoch``'s (weight, architecture) batch plans, without reading images."""
        g = epoch_generator(self.seed, self.name, epoch, rep)
        order = self.weight_indices[torch.randperm(len(self.weight_indices), generator=g)]
        chunks = _chunks(order, self.batch_size, self.drop_last)
        used = sum(len(c) for c in chunks)
        arch = self.arch_indices[torch.randint(0, len(self.arch_indices), (used,), generator=g)]
        plans, start = [], 0
        for chunk in chunks:
            a = arch[start:start + len(chunk)]
            start += len(chunk)
            w_plan = BatchPlan(0, chunk, *self.augment.draw(len(chunk), self.weight_set.image_size, g))
            a_plan = BatchPlan(1, a, *self.augment.draw(len(a), self.arch_set.image_size, g))
            plans.append((w_plan, a_plan))
        return plans


@dataclass(frozen=True, eq=False)
class SearchData:
    """Everything a weight-sharing search reads, and what its results must say about the data."""

    spec: DatasetSpec
    split: Split
    augment: Augment
    #: Pairs (weight batch, architecture batch), training transform on both.
    search: SearchLoader
    #: Architecture split, test transform, ``test_batch_size``: per-epoch valid pass and candidate scoring.
    valid: Loader
    #: Weight split alone, training transform (ENAS shared CNN).
    train: Loader
    #: Architecture split, training transform, ``batch_size`` (ENAS controller).
    controller: Loader
    #: Part names the two sides come from, e.g. ("train", "valid") for CIFAR-10, ("train", "xvalid") for CIFAR-100.
    weight_split: str
    arch_split: str
    seed: int
    #: Cap on each side's size (a seeded subset of the split), or None for the whole split.
    subset: int | None = None
    data_dir: str | None = None

    @property
    def dataset(self) -> str:
        return self.spec.name

    @property
    def num_classes(self) -> int:
        return self.spec.num_classes

    @property
    def image_size(self) -> int:
        """Side of the network's input."""
        return self.augment.crop

    @property
    def is_smoke(self) -> bool:
        return self.spec.is_smoke

    @property
    def split_source(self) -> str:
        return self.split.source

    @property
    def bench_dataset(self) -> str:
        """The benchmark dataset the derived cell is scored on (approximate for the stand-ins: see ``label``)."""
        return self.spec.bench_dataset

    @property
    def label(self) -> str:
        """One line for tables and logs, e.g. 'CIFAR-10 (official python batches); official split'."""
        split = f"{self.split.source} split" + (f" (seed {self.split.seed})" if self.split.seed is not None else "")
        sub = f"; subset of {self.subset} a side" if self.subset is not None else ""
        return f"{self.spec.note}; {split}{sub}"

    @property
    def data_path(self) -> str:
        """``host`` (the NumPy pipeline) or ``device:<device>`` (`to`); the batches are the same either way."""
        return data_path_label(self.search.device)

    def to(self, device: torch.device | str) -> SearchData:
        """The same data with every loader's batches made on ``device`` (the device data path); each image set is
        copied there once."""
        return replace(self, search=self.search.to(device), valid=self.valid.to(device), train=self.train.to(device),
                       controller=self.controller.to(device))

    def describe(self) -> dict[str, Any]:
        """Plain values for `SearchResult.info` and checkpoints: which data, which split, which sizes."""
        return {"data": self.dataset, "data_label": self.label, "data_exact": self.spec.exact,
                "data_path": self.data_path,
                "smoke": self.is_smoke, "bench_dataset": self.bench_dataset, **self.split.describe(),
                "weight_split": self.weight_split, "arch_split": self.arch_split,
                "num_weight": self.train.num_samples, "num_arch": self.valid.num_samples, "subset": self.subset,
                "loader_seed": self.seed, "batch_size": self.search.batch_size,
                "test_batch_size": self.valid.batch_size, "data_dir": self.data_dir}


def search_loaders(dataset: str, data_dir: str | Path | None = None, splits_dir: str | Path | None = None,
                   batch_size: int = 64, test_batch_size: int | None = None, seed: int = 0, *,
                   split_seed: int = SPLIT_SEED, subset: int | None = None, num_workers: int = 0,
                   pin_memory: bool = False, drop_last: bool = False, download: bool = True) -> SearchData:
    """Read ``dataset`` and build its search loaders (see the module docstring for what each one is).

    ``data_dir``: where the data lives ($TORCH_HOME by default; for ``cifar10-jpeg`` the zip or its folder; unused
    by ``smoke``). ``splits_dir``: None = the official lists shipped with the project, a folder = the official JSON
    files there, ``'seeded'`` = a seeded split (recorded); see `supernet.splits.dataset_split`.
    ``test_batch_size`` defaults to ``batch_size``. ``seed`` drives batch order and augmentation; ``split_seed``
    the seeded split and ``subset``, so all search seeds share one split. ``subset`` caps each side's size (CPU runs).
    """
    name = dataset_name(dataset)
    layout = split_file(name)
    if layout.of == "train":  # CIFAR-10 style: both sides are halves of the training set
        train_set = read_dataset(name, data_dir, "train", download=download)
        split = dataset_split(name, splits_dir, split_seed, total=len(train_set))
        weight_set, arch_set = train_set, train_set
        weight_part, arch_part = layout.parts[0], layout.parts[1]
        weight_idx, arch_idx = split[weight_part], split[arch_part]
    else:  # CIFAR-100 / ImageNet16-120: all of train for weights, the xvalid half of test for the architecture
        weight_set = read_dataset(name, data_dir, "train", download=download)
        arch_set = read_dataset(name, data_dir, "test", download=download)
        split = dataset_split(name, splits_dir, split_seed, total=len(arch_set))
        weight_part, arch_part = "train", layout.parts[0]
        weight_idx, arch_idx = np.arange(len(weight_set)), split[arch_part]
    return build_search_data(name, split, weight_set, weight_idx, arch_set, arch_idx, weight_split=weight_part,
                             arch_split=arch_part, batch_size=batch_size, test_batch_size=test_batch_size, seed=seed,
                             split_seed=split_seed, subset=subset, num_workers=num_workers, pin_memory=pin_memory,
                             drop_last=drop_last,
                             data_dir=None if data_dir is None or DATASETS[name].is_smoke else str(data_dir))


def build_search_data(dataset: str, split: Split, weight_set: ImageSet, weight_indices: np.ndarray,
                      arch_set: ImageSet, arch_indices: np.ndarray, *, weight_split: str, arch_split: str,
                      batch_size: int = 64, test_batch_size: int | None = None, seed: int = 0,
                      split_seed: int = SPLIT_SEED, subset: int | None = None, num_workers: int = 0,
                      pin_memory: bool = False, drop_last: bool = False, augment: Augment | None = None,
                      data_dir: str | None = None) -> SearchData:
    """`SearchData` over image sets already in memory (what `search_loaders` does after reading)."""
    name = dataset_name(dataset)
    augment = AUGMENT[name] if augment is None else augment
    for data in (weight_set, arch_set):
        if data.image_size != augment.crop:  # else valid batches would not have the search batches' shape
            raise ValueError(f"{data.name} has {data.image_size}x{data.image_size} images but {name}'s pipeline crops "
                             f"{augment.crop}; pass an Augment for this size")
    batch_size = _positive("batch_size", batch_size)
    test_batch_size = batch_size if test_batch_size is None else _positive("test_batch_size", test_batch_size)
    if subset is not None:
        _positive("subset", subset)
        rng = np.random.default_rng([split_seed, subset])
        weight_indices, arch_indices = (np.sort(rng.choice(idx, size=min(subset, len(idx)), replace=False))
                                        for idx in (weight_indices, arch_indices))
    common = dict(seed=seed, num_workers=num_workers, pin_memory=pin_memory)
    return SearchData(
        spec=DATASETS[name], split=split, augment=augment,
        search=SearchLoader(weight_set, weight_indices, arch_set, arch_indices, batch_size, augment,
                            drop_last=drop_last, **common),
        valid=Loader(arch_set, arch_indices, test_batch_size, augment, name="valid", train_transform=False,
                     **common),
        train=Loader(weight_set, weight_indices, batch_size, augment, name="train", train_transform=True,
                     drop_last=drop_last, **common),
        controller=Loader(arch_set, arch_indices, batch_size, augment, name="controller", train_transform=True,
                          **common),
        weight_split=weight_split, arch_split=arch_split, seed=seed, subset=subset, data_dir=data_dir)


def _positive(what: str, value: int) -> int:
    if not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{what} must be a positive int, got {value!r}")
    return int(value)


__all__ = ["BatchPlan", "Loader", "SearchData", "SearchLoader", "build_search_data", "epoch_generator",
           "search_loaders"]
