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

The loops live in ``tinygdl.kernels``: ``im2col``/``col2im`` given a ``VolGeometry`` (NumPy
reference, Numba, CuPy), wrapped by the same ``Im2col``/``Col2im`` functions as the 2-D ops.

Padding: PyTorch's numbers (``p``, ``(pd, ph, pw)``), explicit uneven pairs
``((front, back), (top, bottom), (left, right))``, or Keras's strings ``"valid"`` and ``"same"``
(``out = ceil(n/s)`` per axis, the odd cell of padding after).  MuseGAN's critic uses ``"same"`` on
anisotropic kernels: k(1,1,12) s(1,1,12) pads nothing, k(1,4,1) s(1,2,1) pads 1/1 in H and
k(1,3,1) s(1,2,1) pads 0/1, which PyTorch's symmetric ``padding`` cannot express.
"""

from __future__ import annotations

from ..kernels.geometry import triple as _triple  # noqa: F401  (nn/layers/conv3d.py imports it from here)
from ..tensor import Tensor
from .conv import GemmToImages, Im2col, _check_bias, _fold, _geometry
from .linalg import matmul
from .shape import reshape

__all__ = ["col2vol", "conv3d", "vol2col"]


def vol2col(x: Tensor, kernel_size, stride=1, padding=0, dilation=1) -> Tensor:
    """The column matrix ``(C*kd*kh*kw, N*od*oh*ow)`` of ``x`` (N, C, D, H, W), differentiable."""
    return Im2col(_geometry(x.shape, kernel_size, stride, padding, dilation, "vol2col", axes=3))(x)


def col2vol(cols: Tensor, output_shape, kernel_size, stride=1, padding=0, dilation=1) -> Tensor:
    """The adjoint of ``vol2col``: a volume batch of ``output_shape`` in which every cell is the sum
    of the elements of ``cols`` read from it."""
    g = _geometry(output_shape, kernel_size, stride, padding, dilation, "col2vol", axes=3)
    return _fold(cols, g, "col2vol")


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
    g = _geometry(x.shape, weight.shape[2:], stride, padding, dilation, op, axes=3)
    cols = Im2col(g)(x)                                             # (C*kd*kh*kw, N*od*oh*ow)
    product = matmul(reshape(weight, (out_channels, -1)), cols)     # the one GEMM: (OC, N*od*oh*ow)
    # GemmToImages moves the batch axis to the front (and adds the bias) on a 4-D view whose
    # third axis is od*oh; the 5-D result is a free reshape of it.
    to_images = GemmToImages((g.n, out_channels, g.od * g.oh, g.ow))
    y = to_images(product) if bias is None else to_images(product, bias)
    return reshape(y, (g.n, out_channels, g.od, g.oh, g.ow))
