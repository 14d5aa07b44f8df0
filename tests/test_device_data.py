"""The device data path (images held on the device as uint8, whole batches augmented there) and the packed JPEG set.

The device path makes its batches from the same plans as the host's NumPy pipeline, so on CPU tensors the two must
give the same batches bit for bit, for every loader (search pairs, valid, train, controller), every epoch and every
pass of ``cycle``; the augmentation itself is checked against torchvision pixel for pixel.
"""

from __future__ import annotations

import gc
import weakref
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CIFAR10_JPEG
from test_data import _set, _write_jpeg_zip

from algos import SearchContext, get_searcher
from algos.oneshot import load_search_data
from algos.oneshot_protocol import smoke
from bench.generate import job
from supernet.datasets import (
    CIFAR10_CLASSES,
    DatasetNotFoundError,
    find_jpeg_source,
    read_image_folder,
    read_jpeg_set,
    read_packed_jpeg,
)
from supernet.device_data import DATA_PATHS, DeviceCache, augment_batch, normalisation
from supernet.loaders import build_search_data, search_loaders
from supernet.splits import seeded_split
from supernet.transforms import AUGMENT

PACKED = CIFAR10_JPEG.parent / "cifar10-jpeg-packed.npz"


def _flat(batches) -> list[torch.Tensor]:
    return [t for b in batches for pair in (b if isinstance(b[0], tuple) else (b,)) for t in pair]


def _same(a, b) -> bool:
    a, b = _flat(a), _flat(b)
    return len(a) == len(b) and all(x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y)
                                    for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("dataset,size", [("cifar10", 32), ("cifar100", 32), ("ImageNet16-120", 16), ("smoke", 16)])
def test_device_path_gives_the_host_batches_bit_for_bit(dataset: str, size: int) -> None:
    """Every loader, several epochs and passes: the same tensors (values, dtype, shape) as the NumPy pipeline."""
    classes = {"cifar100": 100, "ImageNet16-120": 120}.get(dataset, 10)
    full = _set("toy", 150, size=size, classes=classes, seed=3)
    split = seeded_split("cifar10-jpeg", total=150)
    host = build_search_data(dataset, split, full, split["train"], full, split["valid"], weight_split="train",
                             arch_split="valid", batch_size=16, test_batch_size=24, seed=5)
    device = host.to("cpu")
    assert (host.data_path, device.data_path) == ("host", "device:cpu")
    assert host.describe()["data_path"] == "host" and device.describe()["data_path"] == "device:cpu"
    for epoch in (0, 3):
        for name in ("search", "valid", "train", "controller"):
            assert _same(getattr(host, name).epoch(epoch), getattr(device, name).epoch(epoch)), (name, epoch)
    a, b = host.valid.cycle(2), device.valid.cycle(2)
    assert _same([next(a) for _ in range(7)], [next(b) for _ in range(7)])  # passes 0, 1 and part of 2
    (xw, yw), (xa, ya) = next(device.search.epoch(1))
    assert xw.shape == xa.shape == (16, 3, size, size) and xw.is_contiguous() and xw.dtype == torch.float32
    assert yw.dtype == torch.int64 and len(ya) == 16
    # a fresh device-path loader resumed at epoch 3 sees the batches the first one saw (nothing to checkpoint)
    again = build_search_data(dataset, split, full, split["train"], full, split["valid"], weight_split="train",
                              arch_split="valid", batch_size=16, test_batch_size=24, seed=5).to("cpu")
    assert _same(again.search.epoch(3), device.search.epoch(3))
    assert not _same(device.search.epoch(2), device.search.epoch(3))


def test_pairing_and_sides_on_the_device_path() -> None:
    """CIFAR-10 style: each weight batch from the train half (each image once an epoch), the paired architecture
    batch of the same size from the valid half, drawn with replacement, training transform on both."""
    full = _set("toy", 100, size=32)
    split = seeded_split("cifar10-jpeg", total=100)
    data = build_search_data("cifar10", split, full, split["train"], full, split["valid"], weight_split="train",
                             arch_split="valid", batch_size=8, seed=1).to("cpu")
    labels = torch.from_numpy(full.labels)
    seen = []
    for (w_plan, a_plan), ((_, yw), (xa, ya)) in zip(data.search.plan(0), data.search.epoch(0), strict=True):
        assert torch.equal(yw, labels[w_plan.indices]) and torch.equal(ya, labels[a_plan.indices])
        assert set(a_plan.indices.tolist()) <= set(split["valid"].tolist()) and len(xa) == len(yw)
        seen += w_plan.indices.tolist()
    assert sorted(seen) == split["train"].tolist()


def test_device_augmentation_equals_torchvision_pixel_for_pixel() -> None:
    import torchvision.transforms as T
    import torchvision.transforms.functional as TF
    from PIL import Image

    for name, size in (("cifar10", 32), ("ImageNet16-120", 16)):
        aug = AUGMENT[name]
        imgs = np.random.default_rng(1).integers(0, 256, (16, size, size, 3), dtype=np.uint8)
        offsets, flips = aug.draw(16, size, torch.Generator().manual_seed(0))
        scale, shift = normalisation(aug, torch.device("cpu"))
        out = augment_batch(torch.from_numpy(imgs), aug, offsets, flips, scale, shift)
        to_tensor = T.Compose([T.ToTensor(), T.Normalize(aug.mean, aug.std)])
        ref = []
        for img, (dy, dx), flip in zip(imgs, offsets.tolist(), flips.tolist(), strict=True):
            pil = TF.crop(T.Pad(aug.padding)(Image.fromarray(img)), dy, dx, aug.crop, aug.crop)
            ref.append(to_tensor(TF.hflip(pil) if flip else pil))
        torch.testing.assert_close(out, torch.stack(ref))
        assert torch.equal(out, aug.train(imgs, offsets, flips))  # and the host pipeline's bits exactly
        assert torch.equal(augment_batch(torch.from_numpy(imgs), aug, None, None, scale, shift), aug.test(imgs))


def test_device_sets_are_held_once_and_workers_are_refused() -> None:
    full = _set("toy", 40, size=32)
    split = seeded_split("cifar10-jpeg", total=40)
    cache = DeviceCache()
    a, b = cache.get(full, torch.device("cpu")), cache.get(full, torch.device("cpu"))
    nbytes = a.images.numel() * a.images.element_size() + a.labels.numel() * a.labels.element_size()
    assert a is b and a.images.shape == (40, 32, 32, 3) and a.images.dtype == torch.uint8 and nbytes == 40 * 3072 + 320
    data = build_search_data("cifar10", split, full, split["train"], full, split["valid"], weight_split="train",
                             arch_split="valid", batch_size=8, seed=1, num_workers=2)
    with pytest.raises(ValueError, match="num_workers=2"):
        data.to("cpu")


def test_a_device_set_goes_with_its_image_set() -> None:
    """The cache holds a set's device copy only while the set lives: a process that searches many datasets does not
    keep every one of them on the device."""
    cache, cpu = DeviceCache(), torch.device("cpu")
    full, other = _set("toy", 40, size=32), _set("other", 20, size=32)
    held, kept = weakref.ref(cache.get(full, cpu)), cache.get(other, cpu)
    assert held() is cache.get(full, cpu)
    del full
    gc.collect()
    assert held() is None  # the entry went with the set
    assert cache.get(other, cpu) is kept


def test_search_option_data_path(default_bench) -> None:
    cls = get_searcher("darts-v1")
    cfg = smoke(cls.PRESETS["nb201"])

    def load(**options):
        ctx = SearchContext(bench=default_bench, dataset="cifar10", seed=1, rng=np.random.default_rng(1),
                            options=options)
        return load_search_data(cfg, ctx, torch.device("cpu"))

    assert load().data_path == "host"  # auto: the host pipeline on a CPU
    assert load(data_path="host").data_path == "host"
    device = load(data_path="device")
    assert device.data_path == "device:cpu" and _same(device.search.epoch(1), load().search.epoch(1))
    with pytest.raises(ValueError, match="unknown data_path 'gpu'; valid: auto, host, device"):
        load(data_path="gpu")
    with pytest.raises(ValueError, match="workers=2"):
        load(data_path="device", workers=2)
    # a benchmark job reads the same rule; its plan checks the values without torch, from its own copy of them
    assert job.DATA_PATHS == DATA_PATHS
    assert [job.JobOptions(data_path=p).on_device(t) for p in DATA_PATHS for t in ("cpu", "cuda")] == \
        [False, True, False, False, True, True]
    assert not job.JobOptions(data_path="auto", loader_workers=2).on_device("cuda")
    with pytest.raises(ValueError, match="loader_workers=2"):
        job.JobOptions(data_path="device", loader_workers=2)


# --- the packed JPEG set ---------------------------------------------------------------------------------------------
def _pack(archive: Path, out: Path) -> None:
    """The layout of cifar10-jpeg-packed.npz (README beside it): the files' common prefix stored once."""
    with zipfile.ZipFile(archive) as zf:
        names = sorted(n for n in zf.namelist() if not n.endswith("/"))
        raw = [zf.read(n) for n in names]
    prefix = raw[0]
    for r in raw[1:]:
        while not r.startswith(prefix):
            prefix = prefix[:-1]
    scans = [r[len(prefix):] for r in raw]
    parts = [n.split("/") for n in names]
    np.savez(out, header=np.frombuffer(prefix, np.uint8), scans=np.frombuffer(b"".join(scans), np.uint8),
             offsets=np.cumsum([0, *map(len, scans)]).astype(np.int64),
             labels=np.array([CIFAR10_CLASSES.index(p[1]) for p in parts], np.uint8),
             split=np.array([0 if p[0] == "train" else 1 for p in parts], np.uint8),
             number=np.array([int(p[2].split(".")[0]) for p in parts], np.int32), classes=np.array(CIFAR10_CLASSES))


def test_packed_set_reads_as_the_zip(tmp_path: Path) -> None:
    archive = tmp_path / "cifar10-jpeg.zip"
    _write_jpeg_zip(archive)
    packed = tmp_path / "cifar10-jpeg-packed.npz"
    _pack(archive, packed)
    for part in ("train", "test"):
        a, b = read_packed_jpeg(packed, part), read_image_folder(archive, part)
        assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels) and a.name == b.name
        c = read_packed_jpeg(packed, part, per_class=1)
        assert np.array_equal(c.labels, read_image_folder(archive, part, per_class=1).labels)
    assert find_jpeg_source(tmp_path) == packed  # the pack first when both are there
    assert find_jpeg_source(packed) == packed and read_jpeg_set(archive, "test").labels.tolist() == [0, 2, 3, 9]
    data = search_loaders("cifar10-jpeg", packed, batch_size=2, seed=0)
    assert data.train.num_samples + data.valid.num_samples == 9
    np.savez(tmp_path / "bad.npz", header=np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="not a packed JPEG set"):
        read_packed_jpeg(tmp_path / "bad.npz", "train")
    with pytest.raises(DatasetNotFoundError, match="cifar10-jpeg-packed.npz"):
        find_jpeg_source(tmp_path / "nowhere")


def test_real_packed_set_matches_the_real_zip() -> None:
    if not (PACKED.is_file() and CIFAR10_JPEG.is_file()):
        pytest.skip(f"the CIFAR-10 JPEG zip and pack are not at {CIFAR10_JPEG.parent} (../shared is absent)")
    for part in ("train", "test"):
        a, b = read_packed_jpeg(PACKED, part, per_class=3), read_image_folder(CIFAR10_JPEG, part, per_class=3)
        assert a.images.shape == (30, 32, 32, 3)
        assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
