"""Parameter and FLOP counts of NAS-Bench-201 networks: measured on modules, and in closed form.

What is counted (the benchmark's convention as we read it; FLOPs are multiply-accumulates, in millions, per image):

- Conv2d: ``k_h * k_w * c_in / groups * c_out`` per output position, plus ``c_out`` per position when it has a bias;
- Linear: ``in * out`` plus ``out`` when it has a bias;
- not counted: pooling (the benchmark's counter hooks it but leaves it out of the sum), BatchNorm, ReLU, additions,
  ``none`` and ``skip_connect``.

So the ResNet-like cell (index 11472) has 78.56 MFLOPs on CIFAR-10 and the all-3x3 cell 220.12.

Input side is 32 for CIFAR and 16 for ImageNet16-120 (``image_size`` in `supernet.datasets.DATASETS`). Parameters
are every ``nn.Parameter`` of the module (BN running statistics are buffers, not parameters), as ``params_M`` counts them.
The closed forms are checked against modules built by `supernet.network` in tests/test_supernet.py.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from search_space import OPS, Arch, ops_matrix
from supernet.network import stage_layout

CONV1, CONV3 = OPS.index("nor_conv_1x1"), OPS.index("nor_conv_3x3")


# --- measured on a module ------------------------------------------------------------------------
def count_parameters(module: nn.Module, exclude: tuple[str, ...] = ("alpha",)) -> int:
    """Number of parameter entries, leaving out parameters named in ``exclude`` (a supernet's alpha)."""
    return sum(p.numel() for name, p in module.named_parameters() if name not in exclude)


def _flops_hook(counter: list[float]):
    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if isinstance(module, nn.Conv2d):
            positions = output.shape[0] * output.shape[2] * output.shape[3]
            kh, kw = module.kernel_size
            per_position = kh * kw * module.in_channels // module.groups * module.out_channels
            counter[0] += per_position * positions + (module.out_channels * positions if module.bias is not None
                                                      else 0)
        elif isinstance(module, nn.Linear):
            rows = output.numel() // module.out_features
            counter[0] += rows * (module.in_features * module.out_features
                                  + (module.out_features if module.bias is not None else 0))

    return hook


def count_flops(module: nn.Module, input_size: int, batch: int = 1) -> float:
    """MFLOPs per image of one forward of ``module`` on a random (batch, 3, side, side) input, counted by hooks.

    Runs in eval mode without gradients and restores the module's training flag. A supernet counts whatever its
    current mode executes.
    """
    counter = [0.0]
    handles = [m.register_forward_hook(_flops_hook(counter)) for m in module.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = module.training
    module.eval()
    try:
        p = next(module.parameters())
        with torch.no_grad():
            module(torch.rand(batch, 3, input_size, input_size, device=p.device, dtype=p.dtype))
    finally:
        for h in handles:
            h.remove()
        module.train(was_training)
    return counter[0] / batch / 1e6


# --- closed form ---------------------------------------------------------------------------------
def _op_counts(ops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Number of 1x1 and of 3x3 convs in each row of an (M, 6) op-id array."""
    ops = np.atleast_2d(ops)
    if ops.ndim != 2 or ops.shape[1] != 6:
        raise ValueError(f"expected an (M, 6) array of op ids, got shape {ops.shape}")
    return (ops == CONV1).sum(-1), (ops == CONV3).sum(-1)


def _skeleton_params(num_classes: int, C: int, N: int) -> int:
    """Parameters outside the cells: stem conv + BN, the two reduction blocks, head BN and linear (all affine)."""
    total = 27 * C + 2 * C
    c_prev = C
    for c, reduction in stage_layout(C, N):
        if reduction:
            total += 9 * c_prev * c + 2 * c + 9 * c * c + 2 * c + c_prev * c
        c_prev = c
    return total + 2 * c_prev + c_prev * num_classes + num_classes


def param_counts(num_classes: int, C: int = 16, N: int = 5, ops: np.ndarray | None = None) -> np.ndarray:
    """Parameters of the stand-alone network (`build_network`) of every cell, official index order (int64).

    ``ops``: an (M, 6) array of op ids to count instead of all 15,625 cells.
    """
    n1, n3 = _op_counts(ops_matrix() if ops is None else np.asarray(ops))
    n1, n3 = n1.astype(np.int64), n3.astype(np.int64)
    total = np.full(n1.shape, _skeleton_params(num_classes, C, N), dtype=np.int64)
    for c, reduction in stage_layout(C, N):
        if not reduction:  # affine BN (2c) after a bias-free conv
            total += n1 * (c * c + 2 * c) + n3 * (9 * c * c + 2 * c)
    return total


def param_count(arch: Arch, num_classes: int, C: int = 16, N: int = 5) -> int:
    """Parameters of the stand-alone network of one cell."""
    return int(param_counts(num_classes, C, N, np.asarray([arch.ops]))[0])


def flops_counts(num_classes: int, input_size: int, C: int = 16, N: int = 5,
                 ops: np.ndarray | None = None) -> np.ndarray:
    """MFLOPs per image of the stand-alone network of every cell (official index order), as `count_flops` counts."""
    n1, n3 = _op_counts(ops_matrix() if ops is None else np.asarray(ops))
    side = input_size
    total = np.full(n1.shape, 27.0 * C * side * side)  # stem conv, no bias
    c_prev = C
    for c, reduction in stage_layout(C, N):
        if reduction:
            out_side = (side - 1) // 2 + 1  # 3x3 conv, stride 2, padding 1
            pool_side = side // 2  # the shortcut's 1x1 conv runs after 2x2 average pooling
            total += (9 * c_prev * c + 9 * c * c) * out_side**2 + c_prev * c * pool_side**2
            side = out_side
        else:
            total += (n1 * c * c + n3 * 9 * c * c) * side * side
        c_prev = c
    total += c_prev * num_classes + num_classes
    return total / 1e6


def flops(arch: Arch, num_classes: int, input_size: int, C: int = 16, N: int = 5) -> float:
    """MFLOPs per image of the stand-alone network of one cell."""
    return float(flops_counts(num_classes, input_size, C, N, np.asarray([arch.ops]))[0])
