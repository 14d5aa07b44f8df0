"""The images of one split setting: a training loader and one evaluation loader per split.

Built on `supernet.datasets` (reading), `supernet.splits` (the official NB201 index lists, or seeded ones for the
stand-ins) and `supernet.loaders.Loader` (batches whose order and augmentation are a pure function of the seed and
the epoch, so a resumed run sees the batches the uninterrupted one would have). Which images each setting uses:

=================  ===========================================  ==============================================
setting            weights (training transform)                 evaluation (test transform)
=================  ===========================================  ==============================================
cifar10-valid      train half of the training set (25k)         x-valid: valid half (25k); ori-test: test set
cifar10            whole training set (50k)                     ori-test: test set (10k)
cifar100           whole training set (50k)                     x-valid / x-test: halves of the test set (5k)
ImageNet16-120     whole training set (151.7k)                  x-valid / x-test: halves of the val set (3k)
=================  ===========================================  ==============================================

Stand-ins: ``cifar10-jpeg`` (same layout, seeded split: the official indices do not map onto its files) and
``smoke`` (scikit-learn digits: its seeded train/valid/test parts play the training set's halves and the test set;
the test part is halved, seeded, for x-valid / x-test). ``subset`` / ``eval_subset`` cap the sizes (a seeded
choice) for CPU runs; everything used is recorded by `SettingData.describe`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.generate.protocol import Setting, check_source
from supernet.datasets import DATASETS, DatasetSpec, ImageSet, read_dataset
from supernet.device_data import data_path_label
from supernet.loaders import Loader
from supernet.splits import SPLIT_SEED, Split, dataset_split
from supernet.transforms import AUGMENT


@dataclass(frozen=True, eq=False)
class SettingData:
    """Loaders of one setting on one data source, and what a result must say about them."""

    setting: Setting
    spec: DatasetSpec
    split: Split
    train: Loader
    evals: dict[str, Loader]
    subset: int | None
    eval_subset: int | None
    data_dir: str | None

    @property
    def num_classes(self) -> int:
        return self.spec.num_classes

    @property
    def image_size(self) -> int:
        return self.train.augment.crop

    def describe(self) -> dict[str, Any]:
        return {"data": self.spec.name, "data_note": self.spec.note, "data_exact": self.spec.exact,
                "smoke": self.spec.is_smoke, **self.split.describe(), "num_train": self.train.num_samples,
                **{f"num_{k}": v.num_samples for k, v in self.evals.items()}, "subset": self.subset,
                "eval_subset": self.eval_subset, "data_dir": self.data_dir,
                "data_path": data_path_label(self.train.device)}


def setting_data(sett: Setting, data: str, *, data_dir: str | Path | None = None,
                 splits_dir: str | Path | None = None, seed: int, batch_size: int, eval_batch_size: int,
                 subset: int | None = None, eval_subset: int | None = None, split_seed: int = SPLIT_SEED,
                 download: bool = True, num_workers: int = 0, device: Any = None) -> SettingData:
    """Read ``data`` and build ``sett``'s loaders; ``seed`` drives batch order and augmentation (whatever
    ``num_workers`` is: the batches are planned before any worker reads them). ``device``: make the batches there
    (the device data path, `supernet.device_data`; the same batches)."""
    check_source(sett, data)
    spec = DATASETS[data]
    if spec.is_smoke:
        train_set, test_set, train_idx, valid_idx, test_idx, split = _smoke_parts(sett, split_seed)
    else:
        train_set = read_dataset(data, data_dir, "train", download=download)
        test_set = read_dataset(data, data_dir, "test", download=download)
        official = splits_dir if data == sett.family else None  # stand-ins never take the official indices
        if sett.family == "cifar10":
            split = dataset_split(data, official, split_seed, total=len(train_set))
            train_idx, valid_idx = split["train"], split["valid"]
        else:
            split = dataset_split(data, official, split_seed, total=len(test_set))
            train_idx, valid_idx = np.arange(len(train_set)), None
        test_idx = np.arange(len(test_set))

    if sett.weights == "train-half":
        weights = train_idx
    elif spec.is_smoke:  # the digits' train + valid parts play the whole training set
        weights = np.union1d(train_idx, valid_idx)
    else:
        weights = np.arange(len(train_set))
    evals_idx: dict[str, tuple[ImageSet, np.ndarray]] = {}
    for name in sett.evals:
        if name == "ori-test":
            evals_idx[name] = (test_set, test_idx)
        elif sett.family == "cifar10":  # x-valid: the valid half of the training set
            evals_idx[name] = (train_set, valid_idx)
        else:
            evals_idx[name] = (test_set, split["xvalid" if name == "x-valid" else "xtest"])
    weights = _cap(weights, subset, split_seed, "train")
    augment = AUGMENT[data]
    train = Loader(train_set, weights, batch_size, augment, name="train", seed=seed, train_transform=True,
                   shuffle=True, drop_last=False, num_workers=num_workers)
    evals = {name: Loader(images, _cap(idx, eval_subset, split_seed, name), eval_batch_size, augment, name=name,
                          seed=seed, train_transform=False, shuffle=False, num_workers=num_workers)
             for name, (images, idx) in evals_idx.items()}
    if device is not None:
        train = train.to(device)
        evals = {name: loader.to(device) for name, loader in evals.items()}
    return SettingData(sett, spec, split, train, evals, subset, eval_subset,
                       None if data_dir is None or spec.is_smoke else str(data_dir))


def _smoke_parts(sett: Setting, split_seed: int) -> tuple[ImageSet, ImageSet, np.ndarray, np.ndarray, np.ndarray,
                                                          Split]:
    """The digits' seeded train/valid/test parts; for x-valid/x-test settings the test part is halved (seeded)."""
    digits = read_dataset("smoke")
    split = dataset_split("smoke", None, split_seed, total=len(digits))
    test = split["test"]
    if sett.family != "cifar10":
        perm = np.random.default_rng([split_seed, 1]).permutation(test)
        half = len(perm) // 2
        split = Split("smoke", {**split.parts, "xvalid": np.sort(perm[:half]), "xtest": np.sort(perm[half:])},
                      "seeded", None, split_seed)
    return digits, digits, split["train"], split["valid"], test, split


def _cap(indices: np.ndarray, cap: int | None, split_seed: int, stream: str) -> np.ndarray:
    """At most ``cap`` of ``indices``, a seeded choice (the same for every seed and cell)."""
    if cap is None or cap >= len(indices):
        return np.asarray(indices)
    if cap < 1:
        raise ValueError(f"a subset must hold at least one image, got {cap}")
    rng = np.random.default_rng([split_seed, cap, *stream.encode()])
    return np.sort(rng.choice(indices, size=cap, replace=False))


__all__ = ["SettingData", "setting_data"]
