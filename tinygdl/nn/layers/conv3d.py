"""``Conv3d``: the 3-D convolution layer (MuseGAN's critic reads 4-track piano rolls with it).

The arithmetic is ``tinygdl.ops.conv3d`` (vol2col + one matrix product).  The weight layout is
PyTorch's ``(out, in, kd, kh, kw)``; defaults are Keras's (a ``glorot_uniform`` kernel with fans
``C·kd·kh·kw``, a zero bias); ``padding`` takes PyTorch's numbers, explicit
``((front, back), (top, bottom), (left, right))`` pairs and Keras's ``"same"`` / ``"valid"``.
"""

from __future__ import annotations

from ...ops.conv3d import _triple, conv3d
from .. import init as initializers
from ..module import Module, Parameter

__all__ = ["Conv3d"]


class Conv3d(Module):
    """3-D convolution: (N, in_channels, D, H, W) -> (N, out_channels, od, oh, ow).

    ``weight`` (out_channels, in_channels, kd, kh, kw), ``bias`` (out_channels,).  With
    ``padding="same"`` and stride ``s`` each axis becomes ``ceil(n/s)`` (Keras's ``Conv3D``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 bias: bool = True, init="glorot_uniform"):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _triple(kernel_size, "kernel_size", "Conv3d")
        self.stride = _triple(stride, "stride", "Conv3d")
        self.dilation = _triple(dilation, "dilation", "Conv3d")
        self.padding = padding
        shape = (out_channels, in_channels) + self.kernel_size
        self.weight = Parameter(initializers.get(init)(shape, kind="conv"))
        self.bias = Parameter(initializers.zeros((out_channels,))) if bias else None

    def forward(self, x):
        if x.ndim != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f"{self!r}: expected input (N, {self.in_channels}, D, H, W), got {x.shape}")
        try:
            return conv3d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)
        except ValueError as error:
            raise ValueError(f"{self!r}: {error}") from None

    def extra_repr(self) -> str:
        parts = [f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}", f"stride={self.stride}"]
        if self.padding not in (0, (0, 0, 0)):
            parts.append(f"padding={self.padding!r}")
        if self.dilation != (1, 1, 1):
            parts.append(f"dilation={self.dilation}")
        if self.bias is None:
            parts.append("bias=False")
        return ", ".join(parts)
