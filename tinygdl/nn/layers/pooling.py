"""Layers without weights that change the image size: pooling, unpooling, resampling, pixel
(un)shuffling, zero padding.

Each wraps one function of ``tinygdl/ops/conv.py`` (read the arithmetic there), except
``GlobalAvgPool2d``, a mean over the image axes.
"""

from __future__ import annotations

from ...errors import ShapeError
from ...ops.conv import (
    adaptive_avg_pool2d,
    avg_pool2d,
    interpolate,
    max_pool2d,
    max_unpool2d,
    pixel_shuffle,
    pixel_unshuffle,
    zero_pad2d,
)
from ..module import Module

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "GlobalAvgPool2d", "MaxPool2d", "MaxUnpool2d", "PixelShuffle",
           "PixelUnshuffle", "UpSampling2D", "Upsample", "ZeroPad2d"]


def _check_images(layer: Module, x):
    if x.ndim != 4:
        raise ShapeError(f"{type(layer).__name__}({layer.extra_repr()}): expected input (N, C, H, W), got {x.shape}")


class _Pool2d(Module):
    """A window of ``kernel_size`` moved by ``stride`` (the kernel size by default) over each channel;
    ``ceil_mode`` rounds the output size up instead of down."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size, self.padding, self.ceil_mode = kernel_size, padding, ceil_mode
        self.stride = kernel_size if stride is None else stride

    def extra_repr(self) -> str:
        ceil = ", ceil_mode=True" if self.ceil_mode else ""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding!r}{ceil}"


class MaxPool2d(_Pool2d):
    """The maximum of each window (PyTorch ``MaxPool2d``, Keras ``MaxPooling2D``); with
    ``return_indices=True`` also where each maximum was (for ``MaxUnpool2d``)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation, self.return_indices = dilation, return_indices

    def forward(self, x):
        _check_images(self, x)
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices)


class MaxUnpool2d(Module):
    """Put pooled maxima back where ``MaxPool2d(..., return_indices=True)`` found them, zeros
    elsewhere: ``unpool(y, indices, output_size=None)``."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x, indices, output_size=None):
        _check_images(self, x)
        return max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding!r}"


class AvgPool2d(_Pool2d):
    """The mean of each window; Keras's ``AveragePooling2D(2)`` is ``AvgPool2d(2)``.

    ``count_include_pad`` as ``tinygdl.ops.conv.avg_pool2d``: by default padded zeros count for
    numeric padding (PyTorch) and not for ``"same"`` (Keras).
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool | None = None):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad

    def forward(self, x):
        _check_images(self, x)
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.count_include_pad, self.ceil_mode)


class AdaptiveAvgPool2d(Module):
    """Average any (N, C, H, W) down to ``output_size`` (PyTorch ``AdaptiveAvgPool2d``);
    ``AdaptiveAvgPool2d(1)`` is global average pooling with the image axes kept."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        _check_images(self, x)
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size!r}"


class GlobalAvgPool2d(Module):
    """Keras's ``GlobalAveragePooling2D``: the mean of each channel, (N, C, H, W) -> (N, C)
    (``AdaptiveAvgPool2d(1)`` without the two image axes)."""

    def forward(self, x):
        _check_images(self, x)
        return x.mean(axis=(2, 3))


class Upsample(Module):
    """Resize images: by ``scale_factor`` or to ``size`` (``tinygdl.ops.conv.interpolate``);
    ``"nearest"`` copies pixels, ``"bilinear"`` interpolates (half-pixel centres unless
    ``align_corners=True``).  ``Upsample(2)`` doubles the height and width."""

    def __init__(self, scale_factor=2, mode: str = "nearest", size=None, align_corners: bool | None = None):
        super().__init__()
        self.scale_factor = None if size is not None else scale_factor
        self.size, self.mode, self.align_corners = size, mode, align_corners

    def forward(self, x):
        _check_images(self, x)
        return interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self) -> str:
        what = f"size={self.size!r}" if self.size is not None else f"scale_factor={self.scale_factor}"
        corners = f", align_corners={self.align_corners}" if self.align_corners is not None else ""
        return f"{what}, mode={self.mode!r}{corners}"


class PixelShuffle(Module):
    """(N, C·r², H, W) -> (N, C, H·r, W·r): channels become r x r pixel blocks (``pixel_shuffle``)."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x):
        return pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(N, C, H·r, W·r) -> (N, C·r², H, W), the inverse of ``PixelShuffle``."""

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, x):
        return pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class UpSampling2D(Upsample):
    """Keras's spelling of ``Upsample``: ``UpSampling2D(size=2, interpolation="bilinear")``."""

    def __init__(self, size=2, interpolation: str = "nearest"):
        super().__init__(size, interpolation)


class ZeroPad2d(Module):
    """Zero padding of the image axes (Keras ``ZeroPadding2D``): ``p``, ``(ph, pw)`` or
    ``((top, bottom), (left, right))`` — not PyTorch's flat ``(left, right, top, bottom)``."""

    def __init__(self, padding):
        super().__init__()
        self.padding = padding

    def forward(self, x):
        _check_images(self, x)
        return zero_pad2d(x, self.padding)

    def extra_repr(self) -> str:
        return f"padding={self.padding!r}"
