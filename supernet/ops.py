"""The NAS-Bench-201 candidate operations and the stride-2 residual block between stages.

Behaviour follows PROTOCOLS.md 1.1: a conv op is ReLU -> Conv -> BN; average pooling gets a 1x1 pre-projection only
when the channel count changes; ``none`` multiplies its input by zero. `make_op` builds an op from its name or its id
in `search_space.OPS`.

Whether a cell conv carries a bias is the era's choice, made by the caller (``bias``): the ICLR-era code (bb2f405)
never gives it one; the NATS-era code (from b9a5d28) gives it one when the BN after it is not affine
(`supernet.network.SupernetConfig.conv_bias`). The benchmark's stand-alone networks have affine BNs, so no bias in
either era.
"""

from __future__ import annotations

import torch
from torch import nn

from search_space import OPS


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv -> BN; ``bias``: the conv carries one (NATS-era code, standing in for a non-affine BN's shift)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool,
                 track_running_stats: bool, bias: bool = False) -> None:
        super().__init__(
            nn.ReLU(inplace=False),  # the input node feeds several edges: never overwrite it
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=bias),
            nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track_running_stats),
        )


class Pooling(nn.Module):
    """3x3 average pooling (padding excluded from the average), projected by 1x1 ReLUConvBN only if channels change."""

    def __init__(self, c_in: int, c_out: int, stride: int, affine: bool, track_running_stats: bool,
                 bias: bool = False) -> None:
        super().__init__()
        self.preprocess = (None if c_in == c_out
                           else ReLUConvBN(c_in, c_out, 1, 1, 0, affine, track_running_stats, bias))
        self.pool = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x if self.preprocess is None else self.preprocess(x))


class Zero(nn.Module):
    """The ``none`` op: the input times zero (so shapes, dtype and device follow the input)."""

    is_zero = True

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.c_in == self.c_out:
            return x.mul(0.0)
        shape = list(x.shape)
        shape[1] = self.c_out
        return x.new_zeros(shape)

    def extra_repr(self) -> str:
        return f"c_in={self.c_in}, c_out={self.c_out}, stride={self.stride}"


class Identity(nn.Module):
    """``skip_connect`` inside a cell: the input itself."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def op_id(op: int | str) -> int:
    """The id of an op given by name or id; unknown ones raise ValueError naming the valid ops."""
    if isinstance(op, str):
        if op not in OPS:
            raise ValueError(f"unknown op {op!r}; valid ops: {', '.join(OPS)}")
        return OPS.index(op)
    if isinstance(op, bool) or not isinstance(op, int) or not 0 <= op < len(OPS):
        raise ValueError(f"op id {op!r} is not in 0..{len(OPS) - 1} ({', '.join(OPS)})")
    return op


def make_op(op: int | str, c_in: int, c_out: int, stride: int, affine: bool,
            track_running_stats: bool, bias: bool = False) -> nn.Module:
    """Build one candidate operation of the NAS-Bench-201 space (``bias``: its convs carry one)."""
    name = OPS[op_id(op)]
    if name == "none":
        return Zero(c_in, c_out, stride)
    if name == "skip_connect":
        if stride != 1 or c_in != c_out:
            raise ValueError(f"skip_connect is the identity in NAS-Bench-201 cells; got stride={stride}, "
                             f"c_in={c_in}, c_out={c_out} (a reduction skip is not part of this space)")
        return Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(c_in, c_out, 1, stride, 0, affine, track_running_stats, bias)
    if name == "nor_conv_3x3":
        return ReLUConvBN(c_in, c_out, 3, stride, 1, affine, track_running_stats, bias)
    return Pooling(c_in, c_out, stride, affine, track_running_stats, bias)


class ResNetBasicBlock(nn.Module):
    """The stage transition: two 3x3 ReLUConvBN (the first with the stride) plus a shortcut.

    The shortcut of a stride-2 block is 2x2 average pooling then a bias-free 1x1 conv; the supernets keep this block's
    BN at PyTorch defaults (affine, tracking), as the protocol says, so its convs have no bias in either era.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 2, affine: bool = True,
                 track_running_stats: bool = True) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"ResNetBasicBlock stride must be 1 or 2, got {stride!r}")
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride, 1, affine, track_running_stats)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, affine, track_running_stats)
        self.downsample: nn.Module | None
        if stride == 2:
            self.downsample = nn.Sequential(nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
                                            nn.Conv2d(c_in, c_out, 1, bias=False))
        elif c_in != c_out:
            self.downsample = ReLUConvBN(c_in, c_out, 1, 1, 0, affine, track_running_stats)
        else:
            self.downsample = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return residual + self.conv_b(self.conv_a(x))
