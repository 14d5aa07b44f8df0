"""The search data: official and seeded splits, readers (CIFAR error paths, ImageNet16 batches, JPEG zip/folder,
digits), the transforms against torchvision, and the search loaders' pairing, transforms and determinism."""

from __future__ import annotations

import io
import json
import pickle
import socket
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CIFAR10_JPEG, SPLITS_DIR
from PIL import Image

from supernet.datasets import (
    CIFAR10_CLASSES,
    DatasetNotFoundError,
    ImageSet,
    dataset_name,
    find_jpeg_source,
    read_cifar,
    read_digits,
    read_image_folder,
    read_imagenet16,
)
from supernet.loaders import BatchPlan, build_search_data, search_loaders
from supernet.splits import OFFICIAL, SEEDED, SHIPPED, dataset_split, read_split, seeded_split
from supernet.transforms import AUGMENT


@pytest.fixture(scope="module")
def splits_dir() -> Path:
    if not SPLITS_DIR.is_dir():
        pytest.skip(f"the official split files are not at {SPLITS_DIR} (../shared is absent on this machine)")
    return SPLITS_DIR


def _images(n: int, size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _set(name: str, n: int, size: int = 8, classes: int = 10, seed: int = 0) -> ImageSet:
    return ImageSet(name, _images(n, size, seed), np.arange(n, dtype=np.int64) % classes, classes)


# --- splits ---------------------------------------------------------------------------------------------------------
def test_official_splits_come_from_the_json_files(splits_dir: Path) -> None:
    for dataset, layout in OFFICIAL.items():
        split = read_split(dataset, splits_dir)
        raw = json.loads((splits_dir / layout.file).read_text())
        assert split.source == "official" and split.path == str(splits_dir / layout.file) and split.seed is None
        assert tuple(split.sizes().values()) == layout.sizes
        for part in layout.parts:
            assert np.array_equal(split[part], np.sort(raw[part]))
        first, second = (set(split[p].tolist()) for p in layout.parts)
        assert not first & second and len(first | second) == layout.total
    assert read_split("cifar10", splits_dir).sizes() == {"train": 25_000, "valid": 25_000}
    assert read_split("cifar100", splits_dir).sizes() == {"xvalid": 5_000, "xtest": 5_000}
    assert read_split("ImageNet16-120", splits_dir).sizes() == {"xvalid": 3_000, "xtest": 3_000}


def test_the_shipped_official_splits_are_the_default() -> None:
    """The lists shipped in supernet/official_splits: used without a splits folder, checked whatever the machine."""
    for dataset, layout in OFFICIAL.items():
        split = dataset_split(dataset)
        path = SHIPPED / layout.file.replace(".json", ".npz")
        assert split.source == "official" and split.path == str(path) and split.seed is None
        assert tuple(split.sizes().values()) == layout.sizes and tuple(split.parts) == layout.parts
        first, second = (set(split[p].tolist()) for p in layout.parts)
        assert not first & second and first | second == set(range(layout.total))
        assert dataset_split(dataset, total=layout.total).describe() == split.describe()
    assert dataset_split("cifar10").describe()["split_source"] == "official"
    assert sum(f.stat().st_size for f in SHIPPED.glob("*.npz")) < 150_000  # small enough to ship


def test_the_shipped_splits_equal_the_official_lists_exactly(splits_dir: Path) -> None:
    for dataset, layout in OFFICIAL.items():
        raw = json.loads((splits_dir / layout.file).read_text())
        shipped = dataset_split(dataset)
        with np.load(SHIPPED / layout.file.replace(".json", ".npz")) as archive:
            assert archive.files == list(raw)
            for part in raw:  # every index, in the file's own order
                assert archive[part].tolist() == raw[part]
                assert np.array_equal(shipped[part], read_split(dataset, splits_dir)[part])


def test_seeded_split_only_when_asked_has_the_official_sizes_and_says_so() -> None:
    for dataset, layout in OFFICIAL.items():
        split = dataset_split(dataset, SEEDED, seed=5)
        assert split.source == "seeded" and split.seed == 5 and split.path is None
        assert tuple(split.sizes().values()) == layout.sizes
        parts = [set(split[p].tolist()) for p in layout.parts]
        assert not parts[0] & parts[1] and len(parts[0] | parts[1]) == layout.total
        assert np.array_equal(split[layout.parts[0]], seeded_split(dataset, 5)[layout.parts[0]])
        assert not np.array_equal(split[layout.parts[0]], seeded_split(dataset, 6)[layout.parts[0]])
    assert dataset_split("cifar10", SEEDED).describe()["split_source"] == "seeded"
    # stand-ins are always seeded, scaled to the images actually read
    assert seeded_split("cifar10-jpeg", total=10).sizes() == {"train": 5, "valid": 5}
    assert seeded_split("smoke").sizes() == {"train": 750, "valid": 750, "test": 297}


def test_split_file_errors_are_clear(tmp_path: Path, splits_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match="cifar10-valid.json.*'seeded'"):
        dataset_split("cifar10", tmp_path)  # a splits_dir without the file is not silently replaced
    (tmp_path / "cifar100-test.json").write_text(json.dumps({"xvalid": [0, 1, 2], "xtest": [2, 3]}))
    with pytest.raises(ValueError, match="overlap"):
        read_split("cifar100", tmp_path)
    (tmp_path / "cifar100-test.json").write_text(json.dumps({"xvalid": [0, 1]}))
    with pytest.raises(ValueError, match="missing part"):
        read_split("cifar100", tmp_path)
    with pytest.raises(ValueError, match="not the official ones.*seeded"):
        dataset_split("cifar100", splits_dir, total=500)
    with pytest.raises(ValueError, match="not the official ones"):
        dataset_split("cifar100", total=500)  # the shipped lists too
    assert dataset_split("cifar100", SEEDED, total=500).sizes() == {"xvalid": 250, "xtest": 250}
    with pytest.raises(ValueError, match="no official split"):
        read_split("cifar10-jpeg", splits_dir)


def _zero_memory_set(name: str, n: int, classes: int) -> ImageSet:
    """A full-sized set without the memory: every image is one broadcast 32x32 picture."""
    picture = _images(1, 32, 3)[0]
    return ImageSet(name, np.broadcast_to(picture, (n, 32, 32, 3)), np.arange(n, dtype=np.int64) % classes, classes)


def test_search_loaders_take_their_sides_from_the_official_files(splits_dir: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = {("cifar10", "train"): 50_000, ("cifar100", "train"): 50_000, ("cifar100", "test"): 10_000}
    monkeypatch.setattr("supernet.loaders.read_dataset", lambda name, data_dir, part, download=True:
                        _zero_memory_set(f"{name}/{part}", sizes[name, part], 10 if name == "cifar10" else 100))
    c10 = search_loaders("cifar10", "unused", splits_dir, batch_size=256, test_batch_size=512, seed=0)
    raw = json.loads((splits_dir / "cifar10-valid.json").read_text())
    assert (c10.split_source, c10.weight_split, c10.arch_split) == ("official", "train", "valid")
    assert c10.train.indices.tolist() == sorted(raw["train"]) and c10.valid.indices.tolist() == sorted(raw["valid"])
    assert c10.search.weight_indices.tolist() == sorted(raw["train"]) and len(c10.search) == 98
    assert c10.describe()["split_file"].endswith("cifar10-valid.json")
    default = search_loaders("cifar10", "unused", batch_size=256, seed=0)  # no splits folder: the shipped lists
    assert default.split_source == "official" and default.describe()["split_file"].endswith("cifar10-valid.npz")
    assert default.train.indices.tolist() == sorted(raw["train"]) and len(default.search) == 98
    (xw, yw), (xa, ya) = next(c10.search.epoch(0))
    assert xw.shape == xa.shape == (256, 3, 32, 32) and yw.dtype == ya.dtype == torch.int64
    c100 = search_loaders("cifar100", "unused", splits_dir, batch_size=256, seed=0)
    raw = json.loads((splits_dir / "cifar100-test.json").read_text())
    assert (c100.split_source, c100.weight_split, c100.arch_split) == ("official", "train", "xvalid")
    assert c100.train.num_samples == 50_000 and c100.valid.indices.tolist() == sorted(raw["xvalid"])
    assert c100.search.arch_set.name == "cifar100/test" and c100.controller.indices.tolist() == sorted(raw["xvalid"])


def test_dataset_names() -> None:
    assert dataset_name("imagenet16-120") == "ImageNet16-120"
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar11'; valid: cifar10, cifar100, ImageNet16-120"):
        dataset_name("cifar11")


# --- transforms -------------------------------------------------------------------------------------------------------
def test_transforms_equal_torchvision_pixel_for_pixel() -> None:
    import torchvision.transforms as T
    import torchvision.transforms.functional as TF

    for name, size in (("cifar10", 32), ("ImageNet16-120", 16)):
        aug = AUGMENT[name]
        imgs = _images(16, size, 1)
        offsets, flips = aug.draw(16, size, torch.Generator().manual_seed(0))
        assert offsets.min() >= 0 and offsets.max() <= 2 * aug.padding and flips.any() and not flips.all()
        to_tensor = T.Compose([T.ToTensor(), T.Normalize(aug.mean, aug.std)])
        ref = []
        for img, (dy, dx), flip in zip(imgs, offsets.tolist(), flips.tolist(), strict=True):
            pil = TF.crop(T.Pad(aug.padding)(Image.fromarray(img)), dy, dx, aug.crop, aug.crop)
            ref.append(to_tensor(TF.hflip(pil) if flip else pil))
        torch.testing.assert_close(aug.train(imgs, offsets, flips), torch.stack(ref))
        torch.testing.assert_close(aug.test(imgs), torch.stack([to_tensor(Image.fromarray(i)) for i in imgs]))
    assert (AUGMENT["cifar10"].crop, AUGMENT["cifar10"].padding) == (32, 4)
    assert (AUGMENT["ImageNet16-120"].crop, AUGMENT["ImageNet16-120"].padding) == (16, 2)


# --- search loaders ---------------------------------------------------------------------------------------------------
def _fetch_expected(data, plan: BatchPlan) -> tuple[torch.Tensor, torch.Tensor]:
    aug = data.augment
    sets = (data.search.weight_set, data.search.arch_set)
    idx = plan.indices.numpy()
    images = sets[plan.source].images[idx]
    x = aug.test(images) if plan.offsets is None else aug.train(images, plan.offsets, plan.flips)
    return x, torch.from_numpy(sets[plan.source].labels[idx])


def test_search_pairs_cifar10_style() -> None:
    """Weights: the train half, shuffled, each index once; architecture: the valid half, with replacement."""
    full = _set("toy", 100, size=32)
    split = seeded_split("cifar10-jpeg", total=100)
    data = build_search_data("cifar10", split, full, split["train"], full, split["valid"], weight_split="train",
                             arch_split="valid", batch_size=8, test_batch_size=16, seed=1)
    plans = data.search.plan(0)
    batches = list(data.search.epoch(0))
    assert len(batches) == len(plans) == len(data.search) == 7  # 50 = 6 * 8 + 2, last batch kept as the scripts do
    seen = []
    for (w_plan, a_plan), ((xw, yw), (xa, ya)) in zip(plans, batches, strict=True):
        assert w_plan.source == 0 and a_plan.source == 1 and len(xw) == len(xa)
        assert set(a_plan.indices.tolist()) <= set(split["valid"].tolist())
        assert w_plan.offsets is not None and a_plan.offsets is not None  # training transform on both sides
        for plan, (x, y) in ((w_plan, (xw, yw)), (a_plan, (xa, ya))):
            ex, ey = _fetch_expected(data, plan)
            torch.testing.assert_close(x, ex)
            assert torch.equal(y, ey) and x.shape[1:] == (3, 32, 32)
        seen += w_plan.indices.tolist()
    assert sorted(seen) == split["train"].tolist()
    valid = data.valid.plan(0)
    assert all(p.offsets is None for p in valid) and len(valid[0].indices) == 16
    assert sorted(i for p in valid for i in p.indices.tolist()) == split["valid"].tolist()
    assert all(p.offsets is not None for p in data.controller.plan(0) + data.train.plan(0))
    assert sorted(i for p in data.train.plan(0) for i in p.indices.tolist()) == split["train"].tolist()


def test_search_pairs_cifar100_style_arch_from_test_set_with_training_transform() -> None:
    train, test = _set("train", 40, size=32, classes=100, seed=1), _set("test", 20, size=32, classes=100, seed=2)
    split = seeded_split("cifar100", total=20)
    data = build_search_data("cifar100", split, train, np.arange(40), test, split["xvalid"], weight_split="train",
                             arch_split="xvalid", batch_size=16, seed=0)
    assert data.augment == AUGMENT["cifar100"] and len(split["xvalid"]) == 10
    weights = []
    for (w_plan, a_plan), ((_, yw), (xa, ya)) in zip(data.search.plan(3), data.search.epoch(3), strict=True):
        weights += w_plan.indices.tolist()
        assert set(a_plan.indices.tolist()) <= set(split["xvalid"].tolist())
        assert torch.equal(yw, torch.from_numpy(train.labels[w_plan.indices.numpy()]))
        assert torch.equal(ya, torch.from_numpy(test.labels[a_plan.indices.numpy()]))
        torch.testing.assert_close(xa, _fetch_expected(data, a_plan)[0])
    assert sorted(weights) == list(range(40))  # the whole training set for the weights
    x, y = next(data.valid.epoch(0))  # test transform on the same xvalid images
    plan = data.valid.plan(0)[0]
    torch.testing.assert_close(x, AUGMENT["cifar100"].test(test.images[plan.indices.numpy()]))
    assert data.controller.plan(0)[0].offsets is not None  # ENAS' controller: training transform


def test_arch_batches_are_drawn_with_replacement() -> None:
    full = _set("toy", 105, size=16)
    split = seeded_split("cifar10-jpeg", total=10)
    data = build_search_data("smoke", split, full, np.arange(5, 105), full, np.arange(5), weight_split="train",
                             arch_split="valid", batch_size=20, seed=0)
    arch = [p.indices for _, p in data.search.plan(0)]
    assert all(len(a) == 20 and set(a.tolist()) <= set(range(5)) for a in arch)  # 20 draws from 5: repeats


def test_batches_are_deterministic_and_resumable_at_any_epoch() -> None:
    def make(workers: int = 0):
        return search_loaders("smoke", batch_size=64, test_batch_size=100, seed=7, subset=200, num_workers=workers)

    def flat(it):
        return [t for batch in it for pair in (batch if isinstance(batch[0], tuple) else (batch,)) for t in pair]

    first, second = make(), make()
    torch.manual_seed(123)
    before = torch.get_rng_state()
    for epoch in range(3):  # the uninterrupted run
        run = list(first.search.epoch(epoch))
    assert torch.equal(torch.get_rng_state(), before)  # torch's global RNG is never touched
    resumed = list(second.search.epoch(2))  # a fresh process resuming at epoch 2
    assert all(torch.equal(a, b) for a, b in zip(flat(run), flat(resumed), strict=True))
    assert not torch.equal(flat(first.search.epoch(1))[0], flat(resumed)[0])
    for name in ("valid", "train", "controller"):
        a, b = getattr(first, name), getattr(second, name)
        assert all(torch.equal(x, y) for x, y in zip(flat(a.epoch(4)), flat(b.epoch(4)), strict=True))
    stream = second.valid.cycle(1)
    endless = [next(stream) for _ in range(len(second.valid) * 2 + 1)]
    assert all(torch.equal(x, y) for x, y in zip(flat(endless[:len(second.valid)]), flat(first.valid.epoch(1)),
                                                  strict=True))
    other = search_loaders("smoke", batch_size=64, seed=8, subset=200)
    assert not torch.equal(flat(other.search.epoch(2))[0], flat(resumed)[0])
    with_workers = make(workers=2)
    assert all(torch.equal(a, b) for a, b in zip(flat(with_workers.search.epoch(2)), flat(resumed), strict=True))
    with pytest.raises(TypeError, match=r"loader.epoch\(epoch\)"):
        iter(first.valid)


def test_smoke_dataset_is_labelled_and_small() -> None:
    data = search_loaders("smoke", batch_size=32, seed=0)
    assert data.is_smoke and "SMOKE" in data.label and data.describe()["smoke"] is True
    assert data.split_source == "seeded" and (data.num_classes, data.image_size) == (10, 16)
    assert (data.train.num_samples, data.valid.num_samples) == (750, 750)
    (xw, yw), (xa, _) = next(data.search.epoch(0))
    assert xw.shape == (32, 3, 16, 16) and xa.shape == xw.shape and yw.dtype == torch.int64
    digits = read_digits()
    assert len(digits) == 1797 and digits.images.shape[1:] == (16, 16, 3)
    assert np.bincount(digits.labels).min() > 150
    aug = AUGMENT["smoke"]  # its normalisation is the digits' own statistics
    assert abs(digits.images.mean() - aug.mean[0] * 255) < 0.5 and abs(digits.images.std() - aug.std[0] * 255) < 0.5
    capped = search_loaders("smoke", batch_size=32, seed=1, subset=100)
    assert capped.train.num_samples == 100 and capped.describe()["subset"] == 100 and "subset" in capped.label
    assert torch.equal(capped.train.indices, search_loaders("smoke", seed=2, subset=100).train.indices)


def test_bad_arguments_name_the_problem() -> None:
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        search_loaders("smoke", batch_size=0)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        search_loaders("smoke", seed=-1)
    with pytest.raises(ValueError, match="unknown dataset"):
        search_loaders("mnist")
    toy = _set("toy", 10, size=8)
    with pytest.raises(ValueError, match="8x8 images but cifar10's pipeline crops 32"):
        build_search_data("cifar10", seeded_split("cifar10-jpeg", total=10), toy, np.arange(5), toy, np.arange(5, 10),
                          weight_split="train", arch_split="valid")


# --- CIFAR: missing files and no network ------------------------------------------------------------------------------
def _no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    attempts: list[str] = []

    def refuse(address, *args, **kwargs):
        attempts.append(address[0])
        raise OSError("network is unreachable (test)")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def test_missing_cifar_without_download_says_where_to_put_which_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as err:
        read_cifar("cifar10", tmp_path, train=True, download=False)
    msg = str(err.value)
    assert str(tmp_path) in msg and "cifar-10-python.tar.gz" in msg and "cifar-10-batches-py/" in msg
    assert "data_batch_1..5" in msg and "DATA=" in msg
    with pytest.raises(DatasetNotFoundError, match="cifar-100-python.tar.gz"):
        search_loaders("cifar100", tmp_path, download=False)


def test_missing_cifar_offline_fails_fast_and_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = _no_network(monkeypatch)
    with pytest.raises(DatasetNotFoundError, match="no network") as err:
        read_cifar("cifar10", tmp_path / "data", train=False, download=True)
    assert attempts == ["www.cs.toronto.edu"] and "cifar-10-python.tar.gz" in str(err.value)
    assert not (tmp_path / "data").exists()  # nothing half-written


def test_failed_download_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("supernet.datasets.network_problem", lambda url, timeout=0: None)

    def fail(*args, **kwargs):
        raise urllib.error.URLError("connection reset (test)")

    monkeypatch.setattr(urllib.request, "urlopen", fail)
    with pytest.raises(DatasetNotFoundError, match="failed") as err:
        read_cifar("cifar100", tmp_path, train=True, download=True)
    assert "connection reset (test)" in str(err.value) and "cifar-100-python.tar.gz" in str(err.value)


def test_corrupt_cifar_folder_is_reported(tmp_path: Path) -> None:
    (tmp_path / "cifar.python" / "cifar-10-batches-py").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match="incomplete or fail"):
        read_cifar("cifar10", tmp_path, train=True, download=False)


# --- ImageNet16-120 ---------------------------------------------------------------------------------------------------
def _write_imagenet16(folder: Path, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Batches in the official format: 'data' (N, 3072) uint8 channel-planar, 'labels' 1-based over 1000 classes."""
    folder.mkdir(parents=True)
    written = {}
    for i, name in enumerate([f"train_data_batch_{k}" for k in range(1, 11)] + ["val_data"]):
        imgs = rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
        labels = [1, 120, 121, 1000] if i % 2 else [5, 999, 60, 119]
        with open(folder / name, "wb") as fh:
            pickle.dump({"data": imgs.transpose(0, 3, 1, 2).reshape(4, -1), "labels": labels, "mean": 0.0}, fh)
        written[name] = (imgs, np.array(labels))
    return written


def test_imagenet16_reader_on_a_fixture(tmp_path: Path) -> None:
    written = _write_imagenet16(tmp_path / "cifar.python" / "ImageNet16", np.random.default_rng(0))
    train = read_imagenet16(tmp_path, train=True)
    val = read_imagenet16(tmp_path, train=False)
    want_imgs = np.concatenate([w[0][w[1] <= 120] for k, w in written.items() if k != "val_data"])
    want_labels = np.concatenate([w[1][w[1] <= 120] - 1 for k, w in written.items() if k != "val_data"])
    assert np.array_equal(train.images, want_imgs) and np.array_equal(train.labels, want_labels)
    assert len(train) == 5 * 2 + 5 * 3 and train.num_classes == 120 and train.labels.max() == 119
    assert np.array_equal(val.labels, [4, 59, 118]) and val.images.shape == (3, 16, 16, 3)
    data = search_loaders("ImageNet16-120", tmp_path, SEEDED, batch_size=4, seed=0)  # 6 toy images: not official
    assert (data.weight_split, data.arch_split, data.split_source) == ("train", "xvalid", "seeded")
    assert data.train.num_samples == 25 and data.valid.num_samples == 1  # the xvalid half of the 3 val images
    (xw, _), (xa, _) = next(data.search.epoch(0))
    assert xw.shape == (4, 3, 16, 16) and xa.shape == (4, 3, 16, 16)
    with pytest.raises(DatasetNotFoundError, match="train_data_batch_1"):
        read_imagenet16(tmp_path / "elsewhere", train=True)


# --- CIFAR-10 as JPEG files -------------------------------------------------------------------------------------------
def _encode(img: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _write_jpeg_zip(path: Path, extract_to: Path | None = None) -> dict[str, list[tuple[int, np.ndarray]]]:
    rng = np.random.default_rng(0)
    expected: dict[str, list[tuple[int, np.ndarray]]] = {"train": [], "test": []}
    with zipfile.ZipFile(path, "w") as zf:
        for part, count in (("train", 3), ("test", 1)):
            for cls in ("truck", "airplane", "bird"):  # written out of label order on purpose
                for k in reversed(range(count)):
                    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                    zf.writestr(f"{part}/{cls}/{k:04d}.png", _encode(img, "PNG"))
                    expected[part].append((CIFAR10_CLASSES.index(cls), k, img))
        flat = np.full((32, 32, 3), (200, 40, 90), dtype=np.uint8)  # a JPEG of a flat colour decodes nearly exactly
        zf.writestr("test/cat/0000.jpg", _encode(flat, "JPEG"))
        expected["test"].append((CIFAR10_CLASSES.index("cat"), 0, flat))
    if extract_to is not None:
        with zipfile.ZipFile(path) as zf:
            zf.extractall(extract_to)
    return {p: [(label, img) for label, _, img in sorted(v, key=lambda t: (t[0], t[1]))] for p, v in expected.items()}


def test_jpeg_reader_from_zip_and_folder(tmp_path: Path) -> None:
    archive = tmp_path / "cifar10-jpeg.zip"
    expected = _write_jpeg_zip(archive, extract_to=tmp_path / "extracted")
    for source in (archive, tmp_path / "extracted"):
        train = read_image_folder(source, "train")
        assert np.array_equal(train.labels, [label for label, _ in expected["train"]])
        assert np.array_equal(train.images, np.stack([img for _, img in expected["train"]]))
        test = read_image_folder(source, "test")
        assert test.labels.tolist() == [0, 2, 3, 9]
        assert np.abs(test.images[2].astype(int) - (200, 40, 90)).max() <= 3  # the JPEG one, class cat
    assert read_image_folder(archive, "train", per_class=1).labels.tolist() == [0, 2, 9]
    assert find_jpeg_source(tmp_path) == archive
    data = search_loaders("cifar10-jpeg", tmp_path / "extracted", SPLITS_DIR, batch_size=2, seed=0)
    assert data.split_source == "seeded" and "not bit-identical" in data.label and not data.describe()["data_exact"]
    assert data.train.num_samples + data.valid.num_samples == 9
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        zf.writestr("train/dragon/0000.png", _encode(np.zeros((32, 32, 3), np.uint8), "PNG"))
    with pytest.raises(ValueError, match="unknown class folder.*dragon.*valid: airplane"):
        read_image_folder(tmp_path / "bad.zip", "train")
    with pytest.raises(DatasetNotFoundError, match="cifar10-jpeg not found"):
        find_jpeg_source(tmp_path / "nowhere")


def test_real_jpeg_zip_first_files() -> None:
    if not CIFAR10_JPEG.is_file():
        pytest.skip(f"the CIFAR-10 JPEG zip is not at {CIFAR10_JPEG} (../shared is absent on this machine)")
    test = read_image_folder(CIFAR10_JPEG, "test", per_class=2)
    assert test.images.shape == (20, 32, 32, 3) and test.labels.tolist() == [c for c in range(10) for _ in (0, 1)]
    assert 20 < test.images.mean() < 235
