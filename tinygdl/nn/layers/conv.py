"""Convolution layers: ``Conv2d``, ``ConvTranspose2d`` and PixelCNN's ``MaskedConv2d``.

The arithmetic is in ``tinygdl/ops/conv.py`` (im2col + one matrix product); these classes hold the
weights and check their inputs.  Weight layouts are PyTorch's — ``(out, in, kh, kw)`` for a
convolution, ``(in, out, kh, kw)`` for a transposed one — so PyTorch weights copy in unchanged
(Keras's channels-last kernel ``(kh, kw, in, out)`` needs ``transpose(3, 2, 0, 1)``; a Keras
``Conv2DTranspose`` kernel ``(kh, kw, out, in)`` the same).

Defaults are Keras's, as the book's models are Keras models: a ``glorot_uniform`` kernel
(``U(±sqrt(6/(fan_in + fan_out)))`` with ``fan_in = kh·kw·C_in``, ``fan_out = kh·kw·C_out``; the
transposed convolution gets the same limit) and a zero bias.  ``init`` is an initializer or its
name (see ``tinygdl.nn.init``).  ``padding`` takes PyTorch's numbers and Keras's ``"same"`` and
``"valid"`` (see ``tinygdl.ops.conv``).
"""

from __future__ import annotations

import numpy as np

from ...backend import get_default_dtype
from ...ops.conv import _pair, conv2d, conv_transpose2d
from .. import init as initializers
from ..module import Module, Parameter

__all__ = ["Conv2d", "ConvTranspose2d", "MaskedConv2d"]


class _ConvBase(Module):
    """What the convolution layers share: the weight and bias, the input check and the printing."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride, padding, dilation,
                 bias: bool, init, weight_shape, kind: str):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size", type(self).__name__)
        self.stride = _pair(stride, "stride", type(self).__name__)
        self.dilation = _pair(dilation, "dilation", type(self).__name__)
        self.padding = padding
        self.weight = Parameter(initializers.get(init)(weight_shape, kind=kind))
        self.bias = Parameter(initializers.zeros((out_channels,))) if bias else None

    def _signature(self) -> str:
        k = self.kernel_size[0] if self.kernel_size[0] == self.kernel_size[1] else self.kernel_size
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, k={k})"

    def _check_input(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{self._signature()}: expected input (N, {self.in_channels}, H, W), got {x.shape}")

    def _run(self, op, x, weight, **options):
        """Call ``op`` with this layer's settings; errors (e.g. a kernel larger than the padded
        input) are re-raised naming the layer."""
        self._check_input(x)
        try:
            return op(x, weight, self.bias, stride=self.stride, padding=self.padding, dilation=self.dilation,
                      **options)
        except ValueError as error:
            raise ValueError(f"{self._signature()}: {error}") from None

    def extra_repr(self) -> str:
        parts = [f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}", f"stride={self.stride}"]
        if self.padding not in (0, (0, 0)):
            parts.append(f"padding={self.padding!r}")
        if self.dilation != (1, 1):
            parts.append(f"dilation={self.dilation}")
        if self.bias is None:
            parts.append("bias=False")
        return ", ".join(parts)


class Conv2d(_ConvBase):
    """2-D convolution: (N, in_channels, H, W) -> (N, out_channels, oh, ow).

    ``weight`` (out_channels, in_channels, kh, kw), ``bias`` (out_channels,).  With
    ``padding="same"`` and stride ``s`` the output is ``ceil(H/s) x ceil(W/s)`` (Keras).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 bias: bool = True, init="glorot_uniform"):
        kh, kw = _pair(kernel_size, "kernel_size", "Conv2d")
        super().__init__(in_channels, out_channels, (kh, kw), stride, padding, dilation, bias, init,
                         (out_channels, in_channels, kh, kw), "conv")

    def forward(self, x):
        return self._run(conv2d, x, self.weight)


class ConvTranspose2d(_ConvBase):
    """2-D transposed convolution: (N, in_channels, H, W) -> (N, out_channels, oh, ow).

    ``weight`` (in_channels, out_channels, kh, kw) as PyTorch.  Output size per axis:
    ``(n-1)·s - 2p + d·(k-1) + output_padding + 1`` for ``padding=p``; ``n·s`` for ``"same"``
    (Keras ``Conv2DTranspose``: a 3x3 stride-2 kernel crops one row and column at the end, which no
    PyTorch ``padding``/``output_padding`` pair reproduces); ``(n-1)·s + k`` for ``"valid"``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 dilation=1, bias: bool = True, init="glorot_uniform"):
        kh, kw = _pair(kernel_size, "kernel_size", "ConvTranspose2d")
        super().__init__(in_channels, out_channels, (kh, kw), stride, padding, dilation, bias, init,
                         (in_channels, out_channels, kh, kw), "conv_transpose")
        self.output_padding = _pair(output_padding, "output_padding", "ConvTranspose2d")

    def forward(self, x):
        return self._run(conv_transpose2d, x, self.weight, output_padding=self.output_padding)

    def extra_repr(self) -> str:
        extra = f", output_padding={self.output_padding}" if self.output_padding != (0, 0) else ""
        return super().extra_repr() + extra


def causal_mask(kernel_size, mask_type: str) -> np.ndarray:
    """PixelCNN's (kh, kw) 0/1 mask: the taps a pixel may see of the pixels before it in raster order.

    Rows above the centre are all on; in the centre row the taps left of the centre are on, and the
    centre itself for type ``"B"`` (layers after the first may see the pixel's own features) but not
    for ``"A"`` (the first layer must not see the value it predicts); everything else is off.
    """
    kh, kw = kernel_size
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"MaskedConv2d needs an odd kernel size (it has a centre), got {kernel_size}")
    if mask_type not in ("A", "B"):
        raise ValueError(f"MaskedConv2d: mask_type must be 'A' or 'B', got {mask_type!r}")
    cy, cx = kh // 2, kw // 2
    mask = np.zeros((kh, kw), dtype=get_default_dtype())
    mask[:cy] = 1        # the rows above the centre
    mask[cy, :cx] = 1    # left of the centre
    mask[cy, cx] = mask_type == "B"
    return mask


class MaskedConv2d(Conv2d):
    """PixelCNN's masked convolution (van den Oord et al. 2016): a ``Conv2d`` whose kernel is
    multiplied by ``causal_mask(kernel_size, mask_type)`` in every forward pass.

    The output at a pixel then depends only on the pixels above it and to its left (type ``"A"``)
    and also on itself (type ``"B"``).  Because the mask multiplies the weight inside the graph,
    masked weights get exactly zero gradient (only weight decay can move them, and they stay
    masked out).  The mask is a non-persistent buffer
    (a constant of the architecture, not saved in ``state_dict``).  ``padding`` defaults to
    ``"same"``, which keeps each output pixel aligned with the input pixel it predicts.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, mask_type: str = "B", stride=1,
                 padding="same", dilation=1, bias: bool = True, init="glorot_uniform"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias, init)
        self.mask_type = mask_type
        self.register_buffer("mask", causal_mask(self.kernel_size, mask_type), persistent=False)

    def forward(self, x):
        return self._run(conv2d, x, self.weight * self.mask)

    def extra_repr(self) -> str:
        return f"mask_type={self.mask_type!r}, " + super().extra_repr()
