"""Layers without weights that change the image size: pooling, upsampling, zero padding.

Each wraps one function of ``tinygdl/ops/conv.py``; read the arithmetic there.
"""

from __future__ import annotations

from ...ops.conv import avg_pool2d, max_pool2d, upsample, zero_pad2d
from ..module import Module

__all__ = ["AvgPool2d", "MaxPool2d", "UpSampling2D", "Upsample", "ZeroPad2d"]


def _check_images(layer: Module, x):
    if x.ndim != 4:
        raise ValueError(f"{type(layer).__name__}({layer.extra_repr()}): expected input (N, C, H, W), got {x.shape}")


class _Pool2d(Module):
    """A window of ``kernel_size`` moved by ``stride`` (the kernel size by default) over each channel."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding!r}"


class MaxPool2d(_Pool2d):
    """The maximum of each window (PyTorch ``MaxPool2d``, Keras ``MaxPooling2D``)."""

    def forward(self, x):
        _check_images(self, x)
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """The mean of each window; Keras's ``AveragePooling2D(2)`` is ``AvgPool2d(2)``.

    ``count_include_pad`` as ``tinygdl.ops.conv.avg_pool2d``: by default padded zeros count for
    numeric padding (PyTorch) and not for ``"same"`` (Keras).
    """

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad: bool | None = None):
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = count_include_pad

    def forward(self, x):
        _check_images(self, x)
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.count_include_pad)


class Upsample(Module):
    """Enlarge images by an integer ``scale_factor``: ``"nearest"`` repeats pixels, ``"bilinear"``
    interpolates with half-pixel centres (PyTorch ``Upsample(..., align_corners=False)``)."""

    def __init__(self, scale_factor=2, mode: str = "nearest"):
        super().__init__()
        self.scale_factor, self.mode = scale_factor, mode

    def forward(self, x):
        _check_images(self, x)
        return upsample(x, self.scale_factor, self.mode)

    def extra_repr(self) -> str:
        return f"scale_factor={self.scale_factor}, mode={self.mode!r}"


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
