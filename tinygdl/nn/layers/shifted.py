"""Shifted convolutions (PixelCNN++): a convolution, or a transposed one, that only uses the
top-left block of its kernel taps.

PixelCNN++ (Salimans et al. 2017) keeps its feature maps causal — a pixel's features depend only
on the pixels above it (the *vertical* stack) or above it and to its left (the *horizontal*
stack) — by giving each convolution a fixed 0/1 mask on the kernel's (row, column) taps.  Every
mask that network needs is a rectangle anchored at the kernel's top-left corner: the first
``rows`` rows and the first ``cols`` columns are on, everything else off.  With ``"same"``
padding a stride-1 ``k x k`` kernel reads input offsets ``−k//2 .. +k//2``, so

* ``rows = k//2 + 1`` (the centre row and those above) and all columns: Δrow ∈ {−k//2 .. 0};
* ``rows = k//2 + 1, cols = k//2 + 1``: also Δcol ≤ 0 (up and to the left);
* ``rows = k//2`` (above the centre only): Δrow < 0, a strict shift down.

As in ``MaskedConv2d``, the mask multiplies the weight inside the graph (masked taps get exactly
zero gradient) and is a non-persistent buffer; the full kernel is stored and counted as parameters,
as Keras counts it.
"""

from __future__ import annotations

import numpy as np

from ...backend import get_default_dtype
from ...ops.conv import conv2d, conv_transpose2d
from .conv import Conv2d, ConvTranspose2d

__all__ = ["ShiftedConv2d", "ShiftedConvTranspose2d", "corner_mask"]


def corner_mask(kernel_size, rows: int | None = None, cols: int | None = None, layer: str = "ShiftedConv2d"):
    """The (kh, kw) 0/1 mask whose first ``rows`` rows and first ``cols`` columns are on
    (``None``: all of them)."""
    kh, kw = kernel_size
    rows, cols = kh if rows is None else rows, kw if cols is None else cols
    if not (1 <= rows <= kh and 1 <= cols <= kw):
        raise ValueError(f"{layer}: rows={rows}, cols={cols} must lie in 1..{kh} and 1..{kw} for a "
                         f"{kh}x{kw} kernel")
    mask = np.zeros((kh, kw), dtype=get_default_dtype())
    mask[:rows, :cols] = 1
    return mask


class _CornerMasked:
    """What both shifted layers add to their convolution: the mask buffer and its printout."""

    def _set_mask(self, rows, cols):
        self.rows, self.cols = rows, cols
        self.register_buffer("mask", corner_mask(self.kernel_size, rows, cols, type(self).__name__),
                             persistent=False)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", rows={self.rows}, cols={self.cols}"


class ShiftedConv2d(_CornerMasked, Conv2d):
    """A ``Conv2d`` whose kernel is multiplied by ``corner_mask(kernel_size, rows, cols)``.
    ``padding`` defaults to ``"same"``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, rows: int | None = None,
                 cols: int | None = None, stride=1, padding="same", bias: bool = True, init="glorot_uniform"):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias, init=init)
        self._set_mask(rows, cols)

    def forward(self, x):
        self._check_input(x)
        return conv2d(x, self.weight * self.mask, self.bias, stride=self.stride, padding=self.padding)


class ShiftedConvTranspose2d(_CornerMasked, ConvTranspose2d):
    """A ``ConvTranspose2d`` whose kernel taps (the last two weight axes) are multiplied by
    ``corner_mask(kernel_size, rows, cols)``.  ``padding`` defaults to ``"same"`` (output
    ``n·stride``; see ``tinygdl.ops.conv`` for which rows and columns Keras crops)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, rows: int | None = None,
                 cols: int | None = None, stride=1, padding="same", bias: bool = True, init="glorot_uniform"):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias, init=init)
        self._set_mask(rows, cols)

    def forward(self, x):
        self._check_input(x)
        return conv_transpose2d(x, self.weight * self.mask, self.bias, stride=self.stride, padding=self.padding)
