"""The device data path: image sets held on the device as uint8, whole batches augmented there.

On a GPU the CPU pipeline (gather, pad, crop, flip, normalise per batch in NumPy, then a host-to-device copy) is what
the original code waited on. Here each image set is copied to the device once, as ``(N, H, W, 3)`` uint8 (CIFAR-10's
60k images are 184 MB), and a loader's batches are made there from the SAME batch plans the CPU path makes
(`supernet.loaders.BatchPlan`: indices, crop offsets, flip flags, drawn on the host from the loader's seeded
generator for the epoch). So the two paths give the same batches, pixel for pixel and bit for bit, on any device:
a search means the same thing whichever path fed it, and a run may resume on the other path.

Per epoch (or per pass of ``cycle``) the whole plan goes to the device in one copy; per batch there is then no
host work but slicing it and launching a handful of kernels: a gather of the batch's images, zero padding, the crop
with the flip folded into its column index, and the normalisation ``x / 255 - mean) / std`` computed as the CPU path
does (one float32 multiply by ``1 / (255 std)``, one subtraction of ``mean / std``), so the values are identical.

Use: ``data = search_loaders(...).to(device)`` (`supernet.loaders.SearchData.to`) or ``loader.to(device)``.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from supernet.datasets import ImageSet
from supernet.transforms import Augment

Batch = tuple[torch.Tensor, torch.Tensor]


#: Where batches are made (the ``data_path`` runner option, `bench.generate.job.JobOptions.data_path`): ``host``
#: (the NumPy pipeline), ``device`` (here, on whatever device the run uses) or ``auto`` (the device when it is a GPU
#: and no loader worker processes are asked for). The batches are the same either way.
DATA_PATHS = ("auto", "host", "device")


def batches_on_device(path: str, device_type: str, workers: int, workers_option: str = "workers") -> bool:
    """Whether a run on a ``device_type`` device with ``workers`` loader processes makes its batches on the device
    under data path ``path``; an unknown path, or ``device`` with loader processes (named ``workers_option`` in the
    error), is a ValueError."""
    if path not in DATA_PATHS:
        raise ValueError(f"unknown data_path {path!r}; valid: {', '.join(DATA_PATHS)}")
    if path == "device" and workers:
        raise ValueError(f"data_path=device makes the batches on the device in this process; {workers_option}="
                         f"{workers} asks for loader processes (use {workers_option}=0, or data_path=host)")
    return path == "device" or (path == "auto" and device_type == "cuda" and not workers)


def data_path_label(device: torch.device | None) -> str:
    """Where a loader's batches are made, for the record: ``host`` or ``device:<device>``."""
    return "host" if device is None else f"device:{device}"


@dataclass(frozen=True, eq=False)
class DeviceImages:
    """One `ImageSet` on a device: ``images`` (N, H, W, 3) uint8 and ``labels`` (N,) int64."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor

    @classmethod
    def of(cls, data: ImageSet, device: torch.device) -> DeviceImages:
        with warnings.catch_warnings():  # the sets are read-only arrays; nothing here ever writes to them
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            return cls(data.name, torch.from_numpy(data.images).to(device), torch.from_numpy(data.labels).to(device))


class DeviceCache:
    """The image sets already on each device, so the loaders of one `SearchData` (and the searches of one process)
    hold each set once. An entry lives as long as its `ImageSet`: the cache holds the set weakly and drops the
    device copy when the set is freed, so a process that searches many datasets does not keep them all."""

    def __init__(self) -> None:
        self._sets: dict[tuple[int, str], tuple[weakref.ref[ImageSet], DeviceImages]] = {}

    def get(self, data: ImageSet, device: torch.device) -> DeviceImages:
        key = (id(data), str(device))
        held = self._sets.get(key)
        if held is None or held[0]() is not data:  # (an entry goes when its set is freed, before its id is reused)
            held = (weakref.ref(data), DeviceImages.of(data, device))
            self._sets[key] = held
            weakref.finalize(data, self._sets.pop, key, None)
        return held[1]


#: The process-wide cache `SearchData.to` and `Loader.to` use.
DEVICE_SETS = DeviceCache()


def normalisation(augment: Augment, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel float32 (scale, shift) with x = pixel * scale - shift on ``device``: the CPU path's constants
    (`Augment.scale_shift`)."""
    return tuple(torch.from_numpy(c).to(device) for c in augment.scale_shift())  # type: ignore[return-value]


def augment_batch(images: torch.Tensor, augment: Augment, offsets: torch.Tensor | None, flips: torch.Tensor | None,
                  scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """``(B, H, W, 3)`` uint8 on any device -> normalised float32 ``(B, 3, crop, crop)`` (contiguous NCHW, as the CPU
    path gives): the training transform when ``offsets`` is given (rows/columns of the crop's top-left corner in the
    padded image, ``flips`` mirroring the crop), else the test transform (normalisation only)."""
    if offsets is not None:
        if flips is None:
            raise ValueError("a training-transform batch needs flips with its offsets")
        p, c = augment.padding, augment.crop
        padded = F.pad(images, (0, 0, p, p, p, p)) if p else images  # zero padding of H and W
        b, hp, wp, channels = padded.shape
        span = torch.arange(c, device=images.device)
        rows = offsets[:, 0, None] + span  # (B, c)
        cols = offsets[:, 1, None] + span
        cols = torch.where(flips[:, None], cols.flip(1), cols)  # the flip mirrors the crop's columns
        # one gather of pixels by flat index (cheaper than three broadcast index tensors)
        pixel = (torch.arange(b, device=images.device)[:, None, None] * hp + rows[:, :, None]) * wp + cols[:, None, :]
        images = padded.reshape(-1, channels).index_select(0, pixel.reshape(-1)).view(b, c, c, channels)
    x = images.to(torch.float32).mul_(scale).sub_(shift)
    return x.permute(0, 3, 1, 2).contiguous()


class DeviceFetch:
    """Turns a loader's batch plans into batches on ``device``: the plan of a whole pass goes over in one copy."""

    def __init__(self, sets: Sequence[ImageSet], augment: Augment, device: torch.device,
                 cache: DeviceCache = DEVICE_SETS) -> None:
        self.device = torch.device(device)
        self.augment = augment
        self.sets = tuple(cache.get(s, self.device) for s in sets)
        self.scale, self.shift = normalisation(augment, self.device)

    def run(self, plan: Sequence[object]) -> Iterator[Batch | tuple[Batch, ...]]:
        """The batches of ``plan`` (a list of `BatchPlan`, or of tuples of them, e.g. (weight, architecture)), in
        order."""
        if not plan:
            return
        paired = isinstance(plan[0], tuple)
        columns = list(zip(*plan, strict=True)) if paired else [plan]
        moved = [self._to_device(col) for col in columns]
        for i in range(len(plan)):
            batches = tuple(self._batch(col[i].source, parts, i) for col, parts in zip(columns, moved, strict=True))
            yield batches if paired else batches[0]

    def _to_device(self, plans: Sequence[object]) -> dict[str, list[torch.Tensor] | None]:
        """One host-to-device copy per field (indices, offsets, flips) for the whole pass, split into per-batch
        views."""
        sizes = [len(p.indices) for p in plans]  # type: ignore[attr-defined]
        out: dict[str, list[torch.Tensor] | None] = {}
        for name in ("indices", "offsets", "flips"):
            values = [getattr(p, name) for p in plans]
            if all(v is None for v in values):
                out[name] = None
                continue
            if any(v is None for v in values):
                raise ValueError(f"a pass mixes batches with and without {name}")
            flat = torch.cat(values)
            if self.device.type == "cuda":
                flat = flat.pin_memory().to(self.device, non_blocking=True)
            else:
                flat = flat.to(self.device)
            out[name] = list(flat.split(sizes))
        return out

    def _batch(self, source: int, parts: Mapping[str, list[torch.Tensor] | None], i: int) -> Batch:
        data = self.sets[source]
        idx = parts["indices"][i]  # type: ignore[index]
        offsets = None if parts["offsets"] is None else parts["offsets"][i]
        flips = None if parts["flips"] is None else parts["flips"][i]
        x = augment_batch(data.images[idx], self.augment, offsets, flips, self.scale, self.shift)
        return x, data.labels[idx]


__all__ = ["DATA_PATHS", "DEVICE_SETS", "DeviceCache", "DeviceFetch", "DeviceImages", "augment_batch",
           "batches_on_device", "data_path_label", "normalisation"]
