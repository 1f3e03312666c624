"""Convolution layers: ``Conv2d``, ``ConvTranspose2d`` and their 1-D versions ``Conv1d`` and
``ConvTranspose1d``.  (PixelCNN's masked and shifted convolutions, built on them, live with their
model in ``tinygdl/models/pixelcnn.py``.)

The arithmetic is in ``tinygdl/ops/conv.py`` (im2col + one matrix product); these classes hold the
weights and check their inputs.  Weight layouts are PyTorch's — ``(out, in, kh, kw)`` for a
convolution, ``(in, out, kh, kw)`` for a transposed one — so PyTorch weights copy in unchanged
(Keras's channels-last kernel ``(kh, kw, in, out)`` needs ``transpose(3, 2, 0, 1)``; a Keras
``Conv2DTranspose`` kernel ``(kh, kw, out, in)`` the same).

Defaults are Keras's, as the book's models are Keras models: a ``glorot_uniform`` kernel
(``U(±sqrt(6/(fan_in + fan_out)))`` with ``fan_in = kh·kw·C_in``, ``fan_out = kh·kw·C_out``; the
transposed convolution gets the same limit) and a zero bias.  ``init`` is an initializer or its
name (see ``tinygdl.nn.init``).  ``padding`` takes PyTorch's numbers and Keras's ``"same"`` and
``"valid"`` (see ``tinygdl.ops.conv``).  ``groups=G`` splits the channels into G independent
convolutions (``groups=in_channels`` is a depthwise convolution); the weight then has
``in_channels/G`` (or, transposed, ``out_channels/G``) channels on its second axis, as PyTorch's.
"""

from __future__ import annotations

from ...errors import ShapeError
from ...kernels.geometry import pair
from ...ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from .. import init as initializers
from ..module import Module, Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]


class _ConvBase(Module):
    """What the convolution layers share: the weight and bias, the input check and the printing.

    Each subclass names its ``op`` and weight layout ``kind`` and its number of image axes,
    ``spatial`` (2, or 1 for sequences); the settings are kept as tuples of that length.
    """

    op = staticmethod(conv2d)
    kind = "conv"
    spatial = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride, padding, dilation,
                 bias: bool, init, groups: int):
        super().__init__()
        name = type(self).__name__
        if not isinstance(groups, int) or groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups={groups!r} must be a positive int dividing in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = self._tuple(kernel_size, "kernel_size")
        self.stride = self._tuple(stride, "stride")
        self.dilation = self._tuple(dilation, "dilation")
        self.padding = padding
        if self.kind == "conv":
            weight_shape = (out_channels, in_channels // groups) + self.kernel_size
        else:
            weight_shape = (in_channels, out_channels // groups) + self.kernel_size
        self.weight = Parameter(initializers.get(init)(weight_shape, kind=self.kind))
        self.bias = Parameter(initializers.zeros((out_channels,))) if bias else None

    def _tuple(self, value, name: str) -> tuple:
        """An int or a tuple of one per image axis -> a tuple of one per image axis."""
        if self.spatial == 2:
            return pair(value, name, type(self).__name__)
        value = (value,) if isinstance(value, int) else tuple(value)
        if len(value) != 1 or not isinstance(value[0], int):
            raise ValueError(f"{type(self).__name__}: {name} must be an int or a 1-tuple, got {value!r}")
        return value

    def _signature(self) -> str:
        k = self.kernel_size[0] if len(set(self.kernel_size)) == 1 else self.kernel_size
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, k={k})"

    def _check_input(self, x):
        if x.ndim != 2 + self.spatial or x.shape[1] != self.in_channels:
            expected = "H, W" if self.spatial == 2 else "L"
            raise ShapeError(f"{self._signature()}: expected input (N, {self.in_channels}, {expected}), "
                             f"got {x.shape}")

    def _run(self, op, x, weight, **options):
        """Call ``op`` with this layer's settings; errors (e.g. a kernel larger than the padded
        input) are re-raised naming the layer."""
        self._check_input(x)
        try:
            return op(x, weight, self.bias, stride=self.stride, padding=self.padding, dilation=self.dilation,
                           groups=self.groups, **options)
        except ValueError as error:
            raise type(error)(f"{self._signature()}: {error}") from None

    def forward(self, x):
        return self._run(self.op, x, self.weight)

    def extra_repr(self) -> str:
        parts = [f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}", f"stride={self.stride}"]
        if self.padding not in (0, (0, 0), (0,)):
            parts.append(f"padding={self.padding!r}")
        if set(self.dilation) != {1}:
            parts.append(f"dilation={self.dilation}")
        if self.groups != 1:
            parts.append(f"groups={self.groups}")
        if self.bias is None:
            parts.append("bias=False")
        return ", ".join(parts)


class Conv2d(_ConvBase):
    """2-D convolution: (N, in_channels, H, W) -> (N, out_channels, oh, ow).

    ``weight`` (out_channels, in_channels/groups, kh, kw), ``bias`` (out_channels,).  With
    ``padding="same"`` and stride ``s`` the output is ``ceil(H/s) x ceil(W/s)`` (Keras).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 bias: bool = True, init="glorot_uniform", groups: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias, init, groups)


class Conv1d(Conv2d):
    """1-D convolution of sequences: (N, in_channels, L) -> (N, out_channels, ol); ``weight``
    (out_channels, in_channels/groups, k).  Computed as ``Conv2d`` on (N, C, 1, L) images."""

    op = staticmethod(conv1d)
    spatial = 1


class ConvTranspose2d(_ConvBase):
    """2-D transposed convolution: (N, in_channels, H, W) -> (N, out_channels, oh, ow).

    ``weight`` (in_channels, out_channels/groups, kh, kw) as PyTorch.  Output size per axis:
    ``(n-1)·s - 2p + d·(k-1) + output_padding + 1`` for ``padding=p``; ``n·s`` for ``"same"``
    (Keras ``Conv2DTranspose``: a 3x3 stride-2 kernel crops one row and column at the end, which no
    PyTorch ``padding``/``output_padding`` pair reproduces); ``(n-1)·s + k`` for ``"valid"``.
    """

    op = staticmethod(conv_transpose2d)
    kind = "conv_transpose"

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 dilation=1, bias: bool = True, init="glorot_uniform", groups: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias, init, groups)
        self.output_padding = self._tuple(output_padding, "output_padding")

    def forward(self, x):
        return self._run(self.op, x, self.weight, output_padding=self.output_padding)

    def extra_repr(self) -> str:
        extra = f", output_padding={self.output_padding}" if set(self.output_padding) != {0} else ""
        return super().extra_repr() + extra


class ConvTranspose1d(ConvTranspose2d):
    """1-D transposed convolution: (N, in_channels, L) -> (N, out_channels, ol); ``weight``
    (in_channels, out_channels/groups, k); ``ol = (L-1)·s - 2p + d·(k-1) + output_padding + 1``."""

    op = staticmethod(conv_transpose1d)
    spatial = 1
