"""The image datasets a supernet searches on, read into memory as ``(N, H, W, 3)`` uint8 arrays with int64 labels.

- ``cifar10`` / ``cifar100``: torchvision's layout (``cifar-10-batches-py/``, ``cifar-100-python/``) under a data
  directory (``$TORCH_HOME`` by default), downloaded with torchvision when missing and a network exists; otherwise a
  `DatasetNotFoundError` says where to put which files.
- ``ImageNet16-120``: the official downsampled-ImageNet 16x16 pickled batches (``train_data_batch_1..10``,
  ``val_data``; ``data`` (N, 3072) uint8 channel-planar, ``labels`` 1-based), keeping classes with label <= 120.
- ``cifar10-jpeg``: CIFAR-10 re-encoded as JPEG files (``train/<class>/NNNN.jpg``, ``test/<class>/NNNN.jpg``), read
  straight from the zip, from an extracted folder, or from ``cifar10-jpeg-packed.npz`` (the same files byte for
  byte, their shared JPEG header stored once: 19.5 MB, made to travel; read first when present, it decodes to the
  same pixels and loads faster). Not bit-identical to CIFAR-10: results on it are labelled so.
- ``smoke``: scikit-learn's bundled digits (1,797 8x8 images) upsampled to 16x16 RGB, so searches and tests run
  offline on a CPU. Results on it are smoke runs, never comparable to the benchmark's figures.

Holding whole sets as arrays (all fit in memory: ImageNet16-120's train set is 116 MB) lets `supernet.transforms`
augment whole batches with parameters drawn from a seeded generator. Arrays are read-only and cached per process,
so the six searchers of one batch run read a dataset once.
"""

from __future__ import annotations

import functools
import io
import os
import pickle
import socket
import urllib.parse
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

Part = Literal["train", "test"]

#: CIFAR-10's label order (the JPEG set's class folders map onto it).
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
#: Subfolder some NAS-Bench-201 setups keep the data in (``$TORCH_HOME/cifar.python/...``); looked in as well.
NB201_SUBDIR = "cifar.python"
IMAGENET16_TRAIN_FILES = tuple(f"train_data_batch_{i}" for i in range(1, 11))
IMAGENET16_VAL_FILE = "val_data"
JPEG_ARCHIVE = "cifar10-jpeg.zip"
#: The same files packed (``header``, ``scans``, ``offsets``, ``labels``, ``split``, ``number``, ``classes``).
JPEG_PACKED = "cifar10-jpeg-packed.npz"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_PIL_FORMATS = ("JPEG", "PNG")
#: Seconds to wait for the download host before declaring there is no network.
NETWORK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class DatasetSpec:
    """What a search needs to know about a dataset before reading it."""

    name: str
    num_classes: int
    #: Side of the (square) images.
    image_size: int
    #: A smoke dataset: runs on it check the machinery, their accuracies mean nothing for the benchmark.
    is_smoke: bool
    #: The official data (True) or a stand-in whose figures are close to, not equal to, the benchmark's.
    exact: bool
    #: The benchmark dataset whose figures the derived cell is scored on (`bench.oracle.REPORTED` key).
    bench_dataset: str
    #: One line for the record of every result made on it.
    note: str


DATASETS: dict[str, DatasetSpec] = {
    "cifar10": DatasetSpec("cifar10", 10, 32, False, True, "cifar10", "CIFAR-10 (official python batches)"),
    "cifar100": DatasetSpec("cifar100", 100, 32, False, True, "cifar100", "CIFAR-100 (official python batches)"),
    "ImageNet16-120": DatasetSpec("ImageNet16-120", 120, 16, False, True, "ImageNet16-120",
                                  "ImageNet16-120 (downsampled ImageNet 16x16, classes 1..120)"),
    "cifar10-jpeg": DatasetSpec("cifar10-jpeg", 10, 32, False, False, "cifar10",
                                "CIFAR-10 as JPEG re-encodings (not bit-identical to CIFAR-10; seeded split)"),
    "smoke": DatasetSpec("smoke", 10, 16, True, False, "cifar10",
                         "SMOKE RUN on scikit-learn digits upsampled to 16x16 (not a benchmark dataset)"),
}


class DatasetNotFoundError(FileNotFoundError):
    """The files of a dataset are not where they were looked for (the message says where to put which files)."""


@dataclass(frozen=True, eq=False)
class ImageSet:
    """Images ``(N, H, W, 3)`` uint8 and labels ``(N,)`` int64 in ``[0, num_classes)``; both read-only."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    num_classes: int

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[3] != 3 or self.images.dtype != np.uint8:
            raise ValueError(f"{self.name}: images must be (N, H, W, 3) uint8, got {self.images.shape} "
                             f"{self.images.dtype}")
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"{self.name}: {len(self.labels)} labels for {len(self.images)} images")
        if len(self.labels) and not (0 <= self.labels.min() and self.labels.max() < self.num_classes):
            raise ValueError(f"{self.name}: labels outside [0, {self.num_classes})")
        self.images.flags.writeable = False
        self.labels.flags.writeable = False

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_size(self) -> int:
        return int(self.images.shape[1])


def dataset_name(name: str) -> str:
    """The canonical name of ``name`` (case-insensitive); an unknown one names the valid choices."""
    for known in DATASETS:
        if name.lower() == known.lower():
            return known
    raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")


def default_data_dir() -> Path:
    """``$TORCH_HOME``, else torch's own default (``$XDG_CACHE_HOME/torch``, i.e. ``~/.cache/torch``)."""
    if os.environ.get("TORCH_HOME"):
        return Path(os.environ["TORCH_HOME"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "torch"


def read_dataset(dataset: str, data_dir: str | Path | None = None, part: Part = "train", *,
                 download: bool = True) -> ImageSet:
    """The ``train`` or ``test`` part of ``dataset`` (ImageNet16-120's ``test`` is its official ``val_data``).

    ``smoke`` returns all 1,797 digits (its train/valid/test split is made by `supernet.splits`)."""
    name = dataset_name(dataset)
    if part not in ("train", "test"):
        raise ValueError(f"unknown part {part!r}; valid: train, test")
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    if name == "cifar10-jpeg":
        return read_jpeg_set(find_jpeg_source(root), part)
    if name == "smoke":
        return read_digits()
    return _read_official(name, str(root.resolve()), part, download)


@functools.lru_cache(maxsize=4)
def _read_official(name: str, root: str, part: str, download: bool) -> ImageSet:
    """The official sets, read once per process (the runner may search several times in one)."""
    if name == "ImageNet16-120":
        return read_imagenet16(root, train=part == "train")
    return read_cifar(name, root, train=part == "train", download=download)  # type: ignore[arg-type]


# --- CIFAR ---------------------------------------------------------------------------------------------------------
def _cifar_class(name: str):  # noqa: ANN202 - a torchvision dataset class
    from torchvision import datasets

    return {"cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]


def read_cifar(name: Literal["cifar10", "cifar100"], data_dir: str | Path, *, train: bool,
               download: bool = True) -> ImageSet:
    """CIFAR-10/100 from torchvision's layout under ``data_dir`` (or ``data_dir/cifar.python``).

    Missing files are downloaded with torchvision when ``download`` and the host answers; an archive already in
    ``data_dir`` is verified and extracted without a network. Anything else raises `DatasetNotFoundError`."""
    cls = _cifar_class(name)
    root = Path(data_dir).expanduser()
    candidates = [root, root / NB201_SUBDIR]
    for where in candidates:
        if (where / cls.base_folder).is_dir():
            try:
                ds = cls(str(where), train=train, download=False)
            except RuntimeError as exc:  # torchvision: "Dataset not found or corrupted"
                raise DatasetNotFoundError(
                    f"{name}: {where / cls.base_folder} exists but its files are incomplete or fail torchvision's "
                    f"checksum ({exc}). {_cifar_hint(name, root)}") from exc
            return _from_torchvision(name, ds)
    archive_present = (root / cls.filename).is_file()
    if not (download or archive_present):
        raise DatasetNotFoundError(f"{name} not found in {' or '.join(map(str, candidates))} and download=False. "
                                   f"{_cifar_hint(name, root)}")
    if not archive_present:
        problem = network_problem(cls.url)
        if problem is not None:
            raise DatasetNotFoundError(f"{name} not found in {' or '.join(map(str, candidates))} and it cannot be "
                                       f"downloaded: no network ({problem}). {_cifar_hint(name, root)}")
    try:
        root.mkdir(parents=True, exist_ok=True)
        ds = cls(str(root), train=train, download=True)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError; torchvision raises RuntimeError on bad md5
        raise DatasetNotFoundError(f"{name}: getting {cls.url} into {root} failed ({exc}). "
                                   f"{_cifar_hint(name, root)}") from exc
    return _from_torchvision(name, ds)


def _from_torchvision(name: str, ds) -> ImageSet:  # noqa: ANN001 - a torchvision CIFAR dataset
    return ImageSet(name, np.ascontiguousarray(ds.data, dtype=np.uint8), np.asarray(ds.targets, dtype=np.int64),
                    len(ds.classes))


def _cifar_hint(name: str, root: Path) -> str:
    cls = _cifar_class(name)
    batches = ("data_batch_1..5, test_batch, batches.meta" if name == "cifar10" else "train, test, meta")
    return (f"Put {cls.filename} (from {cls.url}) in {root}, or its extracted folder {cls.base_folder}/ ({batches}) "
            f"there; or point data_dir (make DATA=...) at the folder that holds them.")


def network_problem(url: str, timeout: float = NETWORK_TIMEOUT_S) -> str | None:
    """None when ``url``'s host accepts a connection, else why not (so an offline run fails fast, not on a hang)."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"{parts.hostname}:{port} unreachable: {exc}"


# --- ImageNet16-120 ------------------------------------------------------------------------------------------------
def find_imagenet16_dir(data_dir: str | Path, train: bool) -> Path:
    """The folder holding the ImageNet16 batches: ``data_dir/ImageNet16``, ``data_dir/cifar.python/ImageNet16``
    or ``data_dir`` itself."""
    root = Path(data_dir).expanduser()
    wanted = IMAGENET16_TRAIN_FILES if train else (IMAGENET16_VAL_FILE,)
    candidates = [root / "ImageNet16", root / NB201_SUBDIR / "ImageNet16", root]
    for where in candidates:
        if all((where / f).is_file() for f in wanted):
            return where
    raise DatasetNotFoundError(
        f"ImageNet16-120 {'training batches' if train else 'validation batch'} not found in any of "
        f"{', '.join(map(str, candidates))}: need {'train_data_batch_1 .. train_data_batch_10' if train else 'val_data'}"
        f". They are the 16x16 downsampled ImageNet (Imagenet16_train.zip / Imagenet16_val.zip from image-net.org, "
        f"login required; no automatic download). Extract them into {root / 'ImageNet16'}, or point data_dir "
        f"(make DATA=...) at the folder that holds them or its parent.")


def read_imagenet16(data_dir: str | Path, *, train: bool, num_classes: int = 120) -> ImageSet:
    """ImageNet16-``num_classes``: the official batches under ``data_dir``, classes with label <= num_classes."""
    where = find_imagenet16_dir(data_dir, train)
    files = IMAGENET16_TRAIN_FILES if train else (IMAGENET16_VAL_FILE,)
    return read_imagenet16_files([where / f for f in files], num_classes, name=f"ImageNet16-{num_classes}")


def read_imagenet16_files(paths: list[Path], num_classes: int, name: str = "ImageNet16") -> ImageSet:
    """Read downsampled-ImageNet pickles (dicts with ``data`` (N, 3*S*S) uint8 channel-planar and 1-based
    ``labels``), keep labels <= ``num_classes`` and shift them to 0-based. Filtering per file keeps the peak memory
    at one batch (~400 MB for the full 1,000-class files). The files are pickles: read only ones you trust."""
    images, labels = [], []
    for path in paths:
        with open(path, "rb") as fh:
            entry = pickle.load(fh, encoding="latin1")
        if not isinstance(entry, dict) or "data" not in entry or "labels" not in entry:
            raise ValueError(f"{path}: not a downsampled-ImageNet batch (expected a dict with 'data' and 'labels')")
        data = np.asarray(entry["data"])
        lab = np.asarray(entry["labels"], dtype=np.int64)
        side = int(round((data.shape[1] / 3) ** 0.5)) if data.ndim == 2 else 0
        if data.dtype != np.uint8 or side * side * 3 != data.shape[1] or len(lab) != len(data):
            raise ValueError(f"{path}: expected 'data' (N, 3*S*S) uint8 and N labels, got {data.shape} {data.dtype} "
                             f"and {len(lab)} labels")
        if len(lab) and lab.min() < 1:
            raise ValueError(f"{path}: labels must be 1-based, found {lab.min()}")
        keep = lab <= num_classes
        images.append(data[keep].reshape(-1, 3, side, side).transpose(0, 2, 3, 1))
        labels.append(lab[keep] - 1)
    return ImageSet(name, np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels), num_classes)


# --- CIFAR-10 as JPEG files ----------------------------------------------------------------------------------------
def find_jpeg_source(data_dir: str | Path) -> Path:
    """The JPEG set under ``data_dir``: the packed npz, the zip, a folder with ``train/`` and ``test/``, or
    ``cifar10-jpeg-packed.npz`` / ``cifar10-jpeg.zip`` / ``cifar10-jpeg/`` inside ``data_dir`` (the packed file
    first: the same pixels, read faster)."""
    root = Path(data_dir).expanduser()
    candidates = [root, root / JPEG_PACKED, root / JPEG_ARCHIVE, root / "cifar10-jpeg",
                  root / "cifar10-jpeg" / JPEG_PACKED, root / "cifar10-jpeg" / JPEG_ARCHIVE]
    for where in candidates:
        if where.is_file() and where.suffix == ".npz":
            return where
        if where.is_file() and zipfile.is_zipfile(where):
            return where
        if where.is_dir() and (where / "train").is_dir() and (where / "test").is_dir():
            return where
    raise DatasetNotFoundError(
        f"cifar10-jpeg not found: looked for {JPEG_PACKED}, a zip or a folder with train/<class>/*.jpg and "
        f"test/<class>/*.jpg at {', '.join(map(str, candidates))}. Point data_dir (make DATA=...) at {JPEG_PACKED}, "
        f"{JPEG_ARCHIVE} or its extracted folder.")


def read_jpeg_set(source: str | Path, part: Part, classes: tuple[str, ...] = CIFAR10_CLASSES,
                  per_class: int | None = None) -> ImageSet:
    """``part`` of a JPEG set found by `find_jpeg_source`: the packed npz, a zip or a folder (same result)."""
    source = Path(source)
    if source.suffix == ".npz":
        return read_packed_jpeg(source, part, classes, per_class)
    return read_image_folder(source, part, classes, per_class)


def read_packed_jpeg(source: str | Path, part: Part, classes: tuple[str, ...] = CIFAR10_CLASSES,
                     per_class: int | None = None) -> ImageSet:
    """`read_image_folder` of the zip the pack was made from, from the pack: file k is ``header +
    scans[offsets[k]:offsets[k + 1]]``; images in (label, file number) order, ``per_class`` the first of each."""
    return _read_packed_jpeg(*_file_key(source), part, classes, per_class)


@functools.lru_cache(maxsize=4)
def _read_packed_jpeg(source: str, _mtime: int, _size: int, part: str, classes: tuple[str, ...],
                      per_class: int | None) -> ImageSet:
    if part not in ("train", "test"):
        raise ValueError(f"unknown part {part!r}; valid: train, test")
    with np.load(source) as pack:
        missing = sorted({"header", "scans", "offsets", "labels", "split", "number", "classes"} - set(pack.files))
        if missing:
            raise ValueError(f"{source}: not a packed JPEG set (missing {', '.join(missing)}; see "
                             f"../shared/data/cifar10-jpeg/README.md for the layout)")
        header, scans, offsets = pack["header"].tobytes(), pack["scans"], pack["offsets"]
        labels, split, number = pack["labels"].astype(np.int64), pack["split"], pack["number"]
        packed_classes = tuple(str(c) for c in pack["classes"])
    if len(offsets) != len(labels) + 1 or offsets[-1] != len(scans):
        raise ValueError(f"{source}: offsets ({len(offsets)}, ending at {offsets[-1]}) do not index {len(labels)} "
                         f"files in {len(scans)} scan bytes")
    unknown = sorted(set(packed_classes) - set(classes))
    if unknown:
        raise ValueError(f"{source}: unknown class(es) {', '.join(unknown)}; valid: {', '.join(classes)}")
    ours = np.array([classes.index(c) for c in packed_classes], dtype=np.int64)[labels]
    wanted = np.flatnonzero(split == (0 if part == "train" else 1))
    wanted = wanted[np.lexsort((number[wanted], ours[wanted]))]
    if per_class is not None:
        wanted = np.concatenate([wanted[ours[wanted] == c][:per_class] for c in range(len(classes))])
    if not len(wanted):
        raise DatasetNotFoundError(f"{source}: no {part} images")
    images = np.stack([_decode(header + scans[offsets[k]:offsets[k + 1]].tobytes()) for k in wanted])
    return ImageSet(f"cifar10-jpeg/{part}", images, ours[wanted], len(classes))


def _decode(raw: bytes) -> np.ndarray:
    """One image file's bytes -> (H, W, 3) uint8 RGB (PIL, as the zip and folder reader)."""
    from PIL import Image

    with Image.open(io.BytesIO(raw), formats=_PIL_FORMATS) as im:
        im.load()
        return np.asarray(im if im.mode == "RGB" else im.convert("RGB"), dtype=np.uint8)


def read_image_folder(source: str | Path, part: Part, classes: tuple[str, ...] = CIFAR10_CLASSES,
                      per_class: int | None = None) -> ImageSet:
    """Images ``part/<class>/<file>`` from a zip or a folder, labelled by ``classes``' order, in (label, file name)
    order; ``per_class`` reads only the first that many files of each class (quick looks, tests)."""
    return _read_image_folder(*_file_key(source), part, classes, per_class)


def _file_key(source: str | Path) -> tuple[str, int, int]:
    """(resolved path, mtime, size): the per-process caches read a file again when it changes."""
    path = Path(source).expanduser()
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=4)
def _read_image_folder(source: str, _mtime: int, _size: int, part: str, classes: tuple[str, ...],
                       per_class: int | None) -> ImageSet:
    path = Path(source)
    archive = zipfile.ZipFile(path) if path.is_file() else None
    try:
        names = archive.namelist() if archive is not None else [p.relative_to(path).as_posix()
                                                                for p in (path / part).rglob("*") if p.is_file()]
        entries: dict[str, list[str]] = {}
        for name in names:
            parts = name.split("/")  # zip names always use "/"; str.split is 10x cheaper than PurePosixPath here
            if len(parts) < 3 or parts[-3] != part or not parts[-1].lower().endswith(IMAGE_SUFFIXES):
                continue
            entries.setdefault(parts[-2], []).append(name)
        if not entries:
            raise DatasetNotFoundError(f"{source}: no images under {part}/<class>/ (suffixes {', '.join(IMAGE_SUFFIXES)})")
        unknown = sorted(set(entries) - set(classes))
        if unknown:
            raise ValueError(f"{source}: unknown class folder(s) {', '.join(unknown)} under {part}/; valid: "
                             f"{', '.join(classes)}")
        chosen = [(label, name) for label, cls in enumerate(classes)
                  for name in sorted(entries.get(cls, []), key=lambda n: n.rsplit("/", 1)[-1])[:per_class]]
        images, shape = [], None
        for _, name in chosen:
            raw = archive.read(name) if archive is not None else (path / name).read_bytes()
            arr = _decode(raw)
            if shape is None:
                shape = arr.shape
            elif arr.shape != shape:
                raise ValueError(f"{source}: {name} is {arr.shape[1]}x{arr.shape[0]}, the others {shape[1]}x{shape[0]}")
            images.append(arr)
    finally:
        if archive is not None:
            archive.close()
    labels = np.array([label for label, _ in chosen], dtype=np.int64)
    return ImageSet(f"cifar10-jpeg/{part}", np.stack(images), labels, len(classes))


# --- smoke: scikit-learn's digits ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def read_digits(size: int = 16) -> ImageSet:
    """All 1,797 digits: grey levels 0..16 scaled to 0..255, bilinear upsampled from 8x8 to ``size``, grey in RGB."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError("the smoke dataset needs scikit-learn (pip install scikit-learn); it ships the digits "
                          "with the package, no download") from exc
    import torch
    import torch.nn.functional as F

    digits = load_digits()
    x = torch.from_numpy(digits.images.astype(np.float32) * (255.0 / 16.0)).unsqueeze(1)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    x = x.round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).permute(0, 2, 3, 1).contiguous().numpy()
    return ImageSet("smoke", x, np.asarray(digits.target, dtype=np.int64), 10)


__all__ = ["CIFAR10_CLASSES", "DATASETS", "DatasetNotFoundError", "DatasetSpec", "ImageSet", "dataset_name",
           "default_data_dir", "find_imagenet16_dir", "find_jpeg_source", "network_problem", "read_cifar",
           "read_dataset", "read_digits", "read_image_folder", "read_imagenet16", "read_imagenet16_files",
           "read_jpeg_set", "read_packed_jpeg"]
