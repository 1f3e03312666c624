"""3-D convolution on NCDHW volume batches, as MuseGAN's critic needs it.

The 2-D idea (``tinygdl.ops.conv``) with one more axis: **vol2col** copies every kernel window of
the volume into a column,

    cols[((c*kd + kz)*kh + ky)*kw + kx, ((n*od + oz)*oh + oy)*ow + ox]
        = xpad[n, c, oz*sd + kz*dd, oy*sh + ky*dh, ox*sw + kx*dw]

so that the convolution is the single matrix product ``W.reshape(OC, C*kd*kh*kw) @ cols``, and
**col2vol**, its adjoint, sums a column matrix back into the cells it was read from.  Each is the
other's gradient, so ``conv3d`` can be differentiated any number of times (the critic of a
WGAN-GP is differentiated twice: once for the gradient penalty, once more to train on it):

    y = W·vol2col(x)      dW = dy·colsᵀ      dx = col2vol(Wᵀ·dy)

The loops live in ``tinygdl.kernels`` (``vol2col``/``col2vol``: NumPy reference, Numba, CuPy).

Padding: PyTorch's numbers (``p``, ``(pd, ph, pw)``), explicit uneven pairs
``((front, back), (top, bottom), (left, right))``, or Keras's strings ``"valid"`` and ``"same"``
(``out = ceil(n/s)`` per axis, the odd cell of padding after).  MuseGAN's critic uses ``"same"`` on
anisotropic kernels: k(1,1,12) s(1,1,12) pads nothing, k(1,4,1) s(1,2,1) pads 1/1 in H and
k(1,3,1) s(1,2,1) pads 0/1, which PyTorch's symmetric ``padding`` cannot express.
"""

from __future__ import annotations

from numbers import Integral
from typing import NamedTuple

from .. import kernels
from ..tensor import Function, Tensor
from .conv import GemmToImages, _check_bias, _same_padding
from .linalg import matmul
from .shape import reshape

__all__ = ["col2vol", "conv3d", "vol2col"]


def _triple(value, name: str, op: str) -> tuple[int, int, int]:
    """``3 -> (3, 3, 3)``, ``(2, 1, 1) -> (2, 1, 1)``: one value per volume axis (depth, height, width)."""
    if isinstance(value, Integral):
        return (int(value),) * 3
    triple = tuple(value)
    if len(triple) != 3 or not all(isinstance(v, Integral) for v in triple):
        raise ValueError(f"{op}: {name} must be an int or a triple of ints, got {value!r}")
    return tuple(int(v) for v in triple)


def _explicit_padding(padding, op: str) -> tuple:
    """``p``, ``(pd, ph, pw)`` or three ``(before, after)`` pairs -> three ``(before, after)`` pairs."""
    if isinstance(padding, Integral):
        padding = (padding,) * 3
    if not isinstance(padding, (tuple, list)) or len(padding) != 3:
        raise ValueError(f"{op}: padding must be an int, (pd, ph, pw), ((front, back), (top, bottom), "
                         f"(left, right)), 'same' or 'valid', got {padding!r}")
    pairs = []
    for axis in padding:
        pair = (axis, axis) if isinstance(axis, Integral) else tuple(axis)
        if len(pair) != 2 or not all(isinstance(v, Integral) and v >= 0 for v in pair):
            raise ValueError(f"{op}: padding must be non-negative ints, got {padding!r}")
        pairs.append((int(pair[0]), int(pair[1])))
    return tuple(pairs)


class Window3d(NamedTuple):
    """How a kernel slides over a volume: (depth, height, width) triples, and ``padding`` the zero
    padding ``((front, back), (top, bottom), (left, right))``."""

    kernel_size: tuple
    stride: tuple
    padding: tuple
    dilation: tuple

    def geometry(self, x_shape, op: str) -> kernels.VolGeometry:
        try:
            return kernels.vol_geometry(x_shape, *self)
        except ValueError as error:
            raise ValueError(f"{op}: {error}") from None


def _window(x_shape, kernel_size, stride, padding, dilation, op: str) -> Window3d:
    """Check the arguments on ``x_shape`` (N, C, D, H, W) and resolve ``"same"``/``"valid"``."""
    if len(x_shape) != 5:
        raise ValueError(f"{op}: expected a volume batch of shape (N, C, D, H, W), got shape {tuple(x_shape)}")
    k, s, d = (_triple(v, name, op) for v, name in ((kernel_size, "kernel_size"), (stride, "stride"),
                                                    (dilation, "dilation")))
    if min(k + s + d) < 1:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be >= 1, got {k}, {s}, {d}")
    if padding == "valid":
        padding = ((0, 0),) * 3
    elif padding == "same":
        padding = tuple(_same_padding(n, *axis) for n, axis in zip(x_shape[2:], zip(k, s, d)))
    else:
        padding = _explicit_padding(padding, op)
    return Window3d(k, s, padding, d)


class Vol2col(Function):
    """``(N, C, D, H, W) -> (C*kd*kh*kw, N*od*oh*ow)``; its gradient is ``Col2vol`` of the output gradient."""

    def __init__(self, window: Window3d):
        self.window = window

    def forward(self, x):
        return kernels.vol2col(x, *self.window)

    def backward(self, gcols):
        return Col2vol(self.window, self.inputs[0].shape)(gcols)


class Col2vol(Function):
    """``(C*kd*kh*kw, N*od*oh*ow) -> (N, C, D, H, W)``, summing overlaps; its gradient is ``Vol2col``."""

    def __init__(self, window: Window3d, x_shape):
        self.window, self.x_shape = window, tuple(x_shape)

    def forward(self, cols):
        return kernels.col2vol(cols, self.x_shape, *self.window)

    def backward(self, gx):
        return Vol2col(self.window)(gx)


def vol2col(x: Tensor, kernel_size, stride=1, padding=0, dilation=1) -> Tensor:
    """The column matrix ``(C*kd*kh*kw, N*od*oh*ow)`` of ``x`` (N, C, D, H, W), differentiable."""
    return Vol2col(_window(x.shape, kernel_size, stride, padding, dilation, "vol2col"))(x)


def col2vol(cols: Tensor, output_shape, kernel_size, stride=1, padding=0, dilation=1) -> Tensor:
    """The adjoint of ``vol2col``: a volume batch of ``output_shape`` in which every cell is the sum
    of the elements of ``cols`` read from it."""
    return Col2vol(_window(output_shape, kernel_size, stride, padding, dilation, "col2vol"), output_shape)(cols)


def conv3d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1) -> Tensor:
    """3-D convolution (cross-correlation, as every framework computes it).

    ``x`` (N, C, D, H, W); ``weight`` (OC, C, kd, kh, kw) as PyTorch (a Keras ``Conv3D`` kernel
    ``(kd, kh, kw, in, out)`` is ``transpose(4, 3, 0, 1, 2)``); ``bias`` (OC,) or None.
    ``y[n, o, i, j, l] = bias[o] + Σ_{c,kz,ky,kx} weight[o, c, kz, ky, kx] ·
    xpad[n, c, i*sd + kz*dd, j*sh + ky*dh, l*sw + kx*dw]``.  Returns (N, OC, od, oh, ow).
    """
    op = "conv3d"
    if weight.ndim != 5:
        raise ValueError(f"{op}: weight must have shape (out_channels, in_channels, kd, kh, kw), got {weight.shape}")
    if x.ndim != 5 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"{op}: expected an input of shape (N, {weight.shape[1]}, D, H, W) for the weight of "
                         f"shape {weight.shape}, got {x.shape}")
    out_channels = weight.shape[0]
    _check_bias(op, bias, out_channels)
    window = _window(x.shape, weight.shape[2:], stride, padding, dilation, op)
    g = window.geometry(x.shape, op)
    cols = Vol2col(window)(x)                                       # (C*kd*kh*kw, N*od*oh*ow)
    product = matmul(reshape(weight, (out_channels, -1)), cols)     # the one GEMM: (OC, N*od*oh*ow)
    # GemmToImages moves the batch axis to the front (and adds the bias) on a 4-D view whose
    # third axis is od*oh; the 5-D result is a free reshape of it.
    to_images = GemmToImages((g.n, out_channels, g.od * g.oh, g.ow))
    y = to_images(product) if bias is None else to_images(product, bias)
    return reshape(y, (g.n, out_channels, g.od, g.oh, g.ow))
