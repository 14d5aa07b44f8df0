"""The search-time image pipelines, applied to whole uint8 batches with parameters drawn beforehand.

Training transform (PROTOCOLS.md 1.2): random crop with zero padding (CIFAR 32 pad 4, ImageNet16 16 pad 2),
horizontal flip, then per-channel normalisation; test transform: normalisation only. Cutout is off in every protocol.
This is torchvision's RandomCrop(padding) -> RandomHorizontalFlip -> ToTensor -> Normalize, pixel for pixel, but
the random parameters are drawn by the loader from its seeded `torch.Generator` (`Augment.draw`) and travel with the
batch, so a batch's pixels depend only on the loader's seed and epoch, never on worker processes or torch's global
RNG.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

Triple = tuple[float, float, float]


def _per255(*values: float) -> Triple:
    return tuple(v / 255.0 for v in values)  # type: ignore[return-value]


@dataclass(frozen=True)
class Augment:
    """One dataset's pipeline: the training transform's crop/pad/flip and the normalisation both transforms share."""

    #: Side of the random crop (the network's input side).
    crop: int
    #: Zero padding on each side before the crop.
    padding: int
    #: Random horizontal flip with probability 1/2.
    flip: bool
    mean: Triple
    std: Triple

    def draw(self, n: int, image_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Crop offsets ``(n, 2)`` (row, column in the padded image) and flip flags ``(n,)`` for ``n`` images."""
        span = image_size + 2 * self.padding - self.crop
        if span < 0:
            raise ValueError(f"crop {self.crop} is larger than the padded image ({image_size} + 2*{self.padding})")
        offsets = torch.randint(0, span + 1, (n, 2), generator=generator)
        flips = torch.rand(n, generator=generator) < 0.5 if self.flip else torch.zeros(n, dtype=torch.bool)
        return offsets, flips

    def train(self, images: np.ndarray, offsets: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
        """Training transform of ``(B, H, W, 3)`` uint8 images -> normalised float ``(B, 3, crop, crop)``."""
        b, h, w, _ = images.shape
        p, c = self.padding, self.crop
        padded = np.zeros((b, h + 2 * p, w + 2 * p, 3), dtype=np.uint8)
        padded[:, p:p + h, p:p + w] = images
        out = np.empty((b, c, c, 3), dtype=np.uint8)
        # A loop of slices: single-threaded NumPy beats torch's gather when the cores are shared.
        for i, ((dy, dx), flip) in enumerate(zip(offsets.tolist(), flips.tolist(), strict=True)):
            patch = padded[i, dy:dy + c, dx:dx + c]
            out[i] = patch[:, ::-1] if flip else patch
        return self._normalise(out)

    def test(self, images: np.ndarray) -> torch.Tensor:
        """Test transform: ``(B, H, W, 3)`` uint8 -> normalised float ``(B, 3, H, W)``."""
        return self._normalise(images)

    def scale_shift(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel float32 ``(scale, shift)`` with normalised = pixel * scale - shift: ``1 / (255 std)`` and
        ``mean / std``. The host pipeline and the device data path both use these constants, which is what makes
        their batches equal bit for bit."""
        scale = np.array([1.0 / (255.0 * s) for s in self.std], dtype=np.float32)
        shift = np.array([m / s for m, s in zip(self.mean, self.std, strict=True)], dtype=np.float32)
        return scale, shift

    def _normalise(self, images: np.ndarray) -> torch.Tensor:
        """(x / 255 - mean) / std per channel, as one multiply-add, into a contiguous NCHW float32 tensor."""
        b, h, w, _ = images.shape
        out = np.empty((b, 3, h, w), dtype=np.float32)
        scale, shift = self.scale_shift()
        for ch in range(3):
            np.multiply(images[..., ch], scale[ch], out=out[:, ch], casting="unsafe")
            out[:, ch] -= shift[ch]
        return torch.from_numpy(out)


_CIFAR10 = Augment(32, 4, True, _per255(125.3, 123.0, 113.9), _per255(63.0, 62.1, 66.7))
#: Per-dataset pipelines. The normalisation constants are NAS-Bench-201's; the smoke set's are the digits' own
#: pixel mean/std (upsampled 16x16, all 1,797 images; `tests/test_data.py` recomputes them). Digits are not
#: mirror-symmetric, so the smoke set does not flip.
AUGMENT: dict[str, Augment] = {
    "cifar10": _CIFAR10,
    "cifar100": Augment(32, 4, True, _per255(129.3, 124.1, 112.4), _per255(68.2, 65.4, 70.4)),
    "ImageNet16-120": Augment(16, 2, True, _per255(122.68, 116.66, 104.01), _per255(63.22, 61.26, 65.09)),
    "cifar10-jpeg": _CIFAR10,
    "smoke": Augment(16, 2, False, _per255(78.0, 78.0, 78.0), _per255(81.2, 81.2, 81.2)),
}

__all__ = ["AUGMENT", "Augment"]
