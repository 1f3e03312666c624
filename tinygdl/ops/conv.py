"""Convolutions, pooling, upsampling and padding on NCHW image batches.

The one idea behind all of them is **im2col**: copy every kernel window of the image into a column
of a matrix,

    cols[(c*kh + ky)*kw + kx, (n*oh + oy)*ow + ox] = xpad[n, c, oy*sh + ky*dh, ox*sw + kx*dw]

(``xpad`` is the zero-padded image, ``s`` the stride, ``d`` the dilation), so that a convolution
becomes a single matrix product ``W.reshape(OC, C*kh*kw) @ cols`` that BLAS computes at full speed.
Its adjoint, **col2im**, adds every element of a column matrix back into the pixel it was read
from.  The two are each other's gradient, so everything built from them can be differentiated
twice (a WGAN-GP critic needs the gradient of a gradient):

* ``conv2d``: ``y = W·im2col(x)``; so ``dW = dy·colsᵀ`` (another matrix product) and
  ``dx = col2im(Wᵀ·dy)``.  ``Convolution`` computes these a few images at a time, so that each
  column matrix is small enough to stay in the processor's cache (``image_chunks``).
* ``conv_transpose2d`` is the adjoint of ``conv2d``: ``y = col2im(Wᵀ·x)``, and its gradient with
  respect to ``x`` is a convolution of ``dy``.
* a stride-1 convolution to few channels (``OC <= C/2``, e.g. a decoder's output layer) runs the
  other way round: ``z = Wᵀ-by-tap · xpad`` gives every tap's product at every padded pixel
  (``OC·kh·kw`` rows instead of im2col's ``C·kh·kw``), and ``y`` is the sum over the taps of ``z``
  shifted by each tap's offset (``TapSum``; its adjoint ``TapSpread`` puts ``dy`` back at the
  shifts).  Same products, a matrix ``C/OC`` times smaller than ``cols``: the Fashion-MNIST VAE's
  32→1 output layer wrote and read a 118 MB ``cols`` per step before.
* ``groups=G`` splits the channels into G independent convolutions: the rows of ``cols`` (channel
  by channel) and of ``W`` split into G blocks, and the one GEMM becomes a batch of G smaller ones
  (``groups = channels`` is a depthwise convolution).
* ``conv1d`` / ``conv_transpose1d`` are the 2-D ops on (N, C, 1, L) images.
* ``max_pool2d`` / ``avg_pool2d`` take the max / mean of each column of ``im2col`` applied to every
  channel on its own; ``max_unpool2d`` puts the maxima back where they were.
* ``adaptive_avg_pool2d`` and bilinear ``interpolate`` are separable: a fixed matrix per image axis,
  ``y = A_h · x · A_wᵀ``; nearest ``interpolate`` is an integer-array index (or a ``repeat``),
  ``pixel_shuffle`` a reshape and a transpose.

The im2col/col2im loops themselves are kernels (``tinygdl.kernels``: NumPy reference, Numba, CuPy);
this module only arranges the matrices around them.

Padding follows two references.  Numbers are PyTorch's: ``p``, ``(ph, pw)``, or, unlike PyTorch,
``((top, bottom), (left, right))`` for uneven padding.  Strings are Keras's: ``"valid"`` (none) and
``"same"``, which for a convolution gives ``out = ceil(n / s)`` with any odd pixel of padding at the
bottom/right (PyTorch's symmetric ``padding=p`` differs when the total padding is odd: a 3x3 stride-2
"same" conv on an even size pads 0 at the top and 1 at the bottom).
"""

from __future__ import annotations

import math
import operator
from numbers import Integral
from typing import NamedTuple

import numpy as np

from .. import backend, kernels
from ..errors import ShapeError
from ..kernels.geometry import padding_pairs, pair, per_axis
from ..profiler import inner
from ..tensor import Function, Tensor, is_grad_enabled
from .elementwise import _const
from .index import check_index_range, getitem
from .linalg import matmul
from .movement import astype
from .reduce import mean, sum
from .shape import Repeat, pad, reshape, squeeze, swapaxes, transpose, unsqueeze

__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "col2im", "conv1d", "conv2d", "conv_transpose1d",
           "conv_transpose2d", "im2col", "interpolate", "max_pool2d", "max_unpool2d", "pixel_shuffle",
           "pixel_unshuffle", "upsample", "zero_pad2d"]


# --------------------------------------------------------------------------- argument handling


# The layout of a batch and the explicit padding forms a sliding-window op accepts, by spatial axes.
_BATCH = {2: "an image batch of shape (N, C, H, W)", 3: "a volume batch of shape (N, C, D, H, W)"}
_PADDING_FORMS = {2: "(ph, pw), ((top, bottom), (left, right))",
                  3: "(pd, ph, pw), ((front, back), (top, bottom), (left, right))"}


def _explicit_padding(padding, op: str, axes: int = 2) -> tuple[tuple[int, int], ...]:
    """``p``, one int per axis or one ``(before, after)`` pair per axis -> ``(before, after)`` per
    axis: for images ``p``, ``(ph, pw)`` or ``((top, bottom), (left, right))``."""
    try:
        pairs = padding_pairs(padding, axes)
    except (TypeError, ValueError):
        flat_pytorch = axes == 2 and isinstance(padding, (tuple, list)) and len(padding) == 4
        flat = " (PyTorch's flat 4-tuple is not accepted)" if flat_pytorch else ""
        raise ValueError(f"{op}: padding must be an int, {_PADDING_FORMS[axes]}, 'same' or 'valid', "
                         f"got {padding!r}{flat}") from None
    if min(min(before_after) for before_after in pairs) < 0:
        raise ValueError(f"{op}: padding must be >= 0, got {padding!r}")
    return pairs


def _same_padding(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    """Keras/TensorFlow ``"same"`` along one axis: ``out = ceil(n/s)`` windows of span ``d(k-1)+1``
    need ``P = max((out-1)·s + span - n, 0)`` cells of padding, ``floor(P/2)`` before and the rest
    (the odd one) after."""
    out = -(-n // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return (total // 2, total - total // 2)


class Window(NamedTuple):
    """How a kernel window slides over an image: every field a (vertical, horizontal) pair, and
    ``padding`` the zero padding ``((top, bottom), (left, right))`` (over a volume, (depth,
    vertical, horizontal) triples and three ``(before, after)`` pairs)."""

    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]

    def geometry(self, x_shape, op: str) -> kernels.ConvGeometry | kernels.VolGeometry:
        """The kernels' geometry of this window on a batch of shape ``x_shape``: worked out and
        checked once, then handed to every kernel call (``Im2col``, ``Col2im``).  Raises
        ValueError, naming ``op``, if the window does not fit."""
        make = kernels.conv_geometry if len(self.kernel_size) == 2 else kernels.vol_geometry
        try:
            return make(x_shape, *self)
        except ValueError as error:
            raise ValueError(f"{op}: {error}") from None


def _window(x_shape, kernel_size, stride, padding, dilation, op: str, axes: int = 2) -> Window:
    """Check the arguments of a sliding-window op on ``x_shape`` (N, C, H, W), or (N, C, D, H, W)
    for ``axes=3``, and resolve ``"same"``/``"valid"`` padding, which depends on the size."""
    if len(x_shape) != axes + 2:
        raise ValueError(f"{op}: expected {_BATCH[axes]}, got shape {tuple(x_shape)}")
    k, s, d = (per_axis(v, axes, name, op) for v, name in ((kernel_size, "kernel_size"), (stride, "stride"),
                                                           (dilation, "dilation")))
    if min(k + s + d) < 1:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be >= 1, got {k}, {s}, {d}")
    if padding == "valid":
        padding = ((0, 0),) * axes
    elif padding == "same":
        padding = tuple(_same_padding(n, *axis) for n, axis in zip(x_shape[2:], zip(k, s, d)))
    else:
        padding = _explicit_padding(padding, op, axes)
    return Window(k, s, padding, d)


def _geometry(x_shape, kernel_size, stride, padding, dilation, op: str, axes: int = 2):
    """``_window(...).geometry(x_shape, op)``: for the ops that need only the geometry."""
    return _window(x_shape, kernel_size, stride, padding, dilation, op, axes).geometry(x_shape, op)


# --------------------------------------------------------------------------- im2col and col2im


class Im2col(Function):
    """``(N, C, H, W) -> (C*kh*kw, N*oh*ow)`` for the ``ConvGeometry`` ``g`` (volumes: ``(N, C, D,
    H, W) -> (C*kd*kh*kw, N*od*oh*ow)`` for a ``VolGeometry``); its gradient is ``Col2im``."""

    def __init__(self, g):
        self.g = g

    def forward(self, x):
        return kernels.im2col(x, self.g)

    def backward(self, gcols):
        return Col2im(self.g)(gcols)


class Col2im(Function):
    """``(C*kh*kw, N*oh*ow) -> (N, C, H, W)`` (or volumes, as ``Im2col``), summing overlaps; its
    gradient is ``Im2col``."""

    def __init__(self, g):
        self.g = g

    def forward(self, cols):
        return kernels.col2im(cols, self.g)

    def backward(self, gx):
        return Im2col(self.g)(gx)


# A convolution unfolds its batch a few images at a time, into column matrices of at most this many
# bytes per CPU thread (at least one image per chunk).  A chunk's matrix is written, multiplied and
# dropped while it is still in the processor's cache, and a step never holds the whole batch's
# matrix, kh·kw/(sh·sw) times the size of the layer's input (4x for a k4 s2 layer).  On a 1 MiB L2
# cache per core, 2 MiB per thread timed best (1-16 MiB tried, one and two threads).  A GPU has the
# memory, and many small products would leave it idle: there the budget is 128 MiB.
CHUNK_COLUMNS_BYTES = 2 << 20
# ... but at least this many columns (window positions) per chunk: a layer with few positions per
# image and many weights (the DCGAN critic's 256->512 k4 layer at 8x8: 16 positions, 4096 rows)
# would otherwise multiply in slices too thin for its weight gradient's product (K x OC written
# and added per chunk).  Mean ratio to PyTorch over nine layers, one thread: 1.63x with no
# minimum, 1.54x with 512.
MIN_CHUNK_COLUMNS = 512


def image_chunks(g, itemsize: int, xp):
    """``(start, stop, geometry)`` for each chunk of the batch of ``ConvGeometry`` ``g``: as many
    images as fit in the budget (``CHUNK_COLUMNS_BYTES`` per thread), but at least one image and
    ``MIN_CHUNK_COLUMNS`` window positions."""
    budget = CHUNK_COLUMNS_BYTES * (kernels.cpu_threads() if xp is np else 64)
    per_image = g.cols_shape[0] * g.oh * g.ow * itemsize
    step = max(1, budget // max(per_image, 1), -(-MIN_CHUNK_COLUMNS // (g.oh * g.ow)))
    for start in range(0, g.n, step):
        stop = min(g.n, start + step)
        yield start, stop, g._replace(n=stop - start)


def _gemm(a, b):
    """``a @ b`` inside a convolution: a row of its own, ``GEMM``, under an active profile."""
    return inner("GEMM", operator.matmul, a, b, product=True)


def _unfold(x, g):
    return inner("im2col kernel", kernels.im2col, x, g)


def _fold_kernel(cols, g):
    return inner("col2im kernel", kernels.col2im, cols, g)


def _rows_to_images(rows, bias, out) -> None:
    """Write the product ``rows`` (OC, N·oh·ow), plus ``bias`` (OC,) or None, into the image batch
    ``out`` (N, OC, oh, ow), in one pass."""
    n, oc = out.shape[:2]
    # (OC, N, oh*ow) view of the product, read in the (N, OC, oh*ow) order of ``out``.
    batch_first = rows.reshape(oc, n, -1).transpose(1, 0, 2)
    target = out.reshape(n, oc, -1)
    if bias is None:
        target[...] = batch_first
    else:
        backend.get_array_module(out).add(batch_first, bias.reshape(oc, 1), out=target)


def _and_bias(fn: Function, grads, bias_grad):
    """The gradients of a convolution ``fn``'s weight and input, and its bias's (``bias_grad()``:
    the output gradient summed over all but the channel axis) if it has a bias that needs one."""
    if len(fn.inputs) == 2:
        return tuple(grads)
    return tuple(grads) + (bias_grad() if fn.needs_grad(2) else None,)


class Convolution(Function):
    """``conv2d`` without groups, in one Function: ``y = W2d · im2col(x)`` (+ ``bias``), moved to
    the (N, OC, oh, ow) layout, with ``W2d = weight.reshape(OC, C·kh·kw)``.

    Forward and backward run a chunk of images at a time (``image_chunks``)::

        y[chunk] = W2d · cols            dW = Σ_chunks dy_rows · colsᵀ
        dx[chunk] = col2im(W2dᵀ · dy_rows)       dbias = Σ dy over all but the channel axis

    where ``cols = im2col(x[chunk])`` is unfolded again in the backward pass and ``dy_rows`` is
    ``dy[chunk]`` as (OC, images·oh·ow).  The Function keeps only its inputs.  When the backward
    pass is itself recorded (double backward), the same formulas run with ops on the whole batch.
    """

    def __init__(self, g, out_channels: int):
        self.g, self.image_shape = g, (g.n, out_channels, g.oh, g.ow)

    def forward(self, w2d, x, bias=None):
        xp = backend.get_array_module(x)
        out = xp.empty(self.image_shape, dtype=x.dtype)
        for start, stop, g in image_chunks(self.g, x.dtype.itemsize, xp):
            product = _gemm(w2d, _unfold(x[start:stop], g))                         # (OC, images*oh*ow)
            _rows_to_images(product, bias, out[start:stop])
        return out

    def backward(self, gy):
        if is_grad_enabled():
            return self._recorded_backward(gy)
        w2d, x = (t.data for t in self.inputs[:2])
        dy, xp, oc = gy.data, backend.get_array_module(x), self.image_shape[1]
        gw = xp.zeros_like(w2d) if self.needs_grad(0) else None
        gx = xp.empty_like(x) if self.needs_grad(1) else None
        for start, stop, g in image_chunks(self.g, x.dtype.itemsize, xp):
            dy_rows = dy[start:stop].transpose(1, 0, 2, 3).reshape(oc, -1)  # a copy, (OC, images*oh*ow)
            if gw is not None:
                gw += _gemm(dy_rows, _unfold(x[start:stop], g).T)
            if gx is not None:
                gx[start:stop] = _fold_kernel(_gemm(w2d.T, dy_rows), g)
        return _and_bias(self, [None if a is None else _const(a) for a in (gw, gx)],
                         lambda: _const(dy.sum(axis=(0, 2, 3))))

    def _recorded_backward(self, gy):
        w2d, x = self.inputs[:2]
        dy_rows = reshape(transpose(gy, (1, 0, 2, 3)), (self.image_shape[1], -1))
        gw = matmul(dy_rows, transpose(Im2col(self.g)(x))) if self.needs_grad(0) else None
        gx = Col2im(self.g)(matmul(transpose(w2d), dy_rows)) if self.needs_grad(1) else None
        return _and_bias(self, (gw, gx), lambda: sum(gy, axis=(0, 2, 3)))


class FoldedProduct(Function):
    """``col2im(aᵀ·b)`` (+ ``bias``): a transposed convolution's GEMM, folded straight onto its
    output, with ``a = W.reshape(C_in, C_out*kh*kw)`` and ``b = x.reshape(C_in, N*H*W)`` (channel
    first), or for ``groups=G`` their (G, C_in/G, ...) stacks, whose G products are stacked row
    blocks of the one product; ``extra`` zero rows and columns are then added at the bottom and
    right (PyTorch's ``output_padding`` beyond the canvas), and the bias to every output cell.

    The product (``C_out·kh·kw`` rows) is made and folded a chunk of images at a time (the
    columns of ``b`` that belong to them, ``image_chunks``), and never kept: with ``g =
    im2col(dy)`` cropped to the canvas (the product's gradient, split into the G row blocks), the
    backward pass is ``da = Σ_chunks b·gᵀ``, ``db = a·g`` and ``dbias = Σ dy`` over all but the
    channel axis, also chunk by chunk.  When it is itself recorded (double backward), the same
    formulas run with ops on the whole batch.
    """

    def __init__(self, g, extra=(0, 0)):
        self.g, self.extra = g, tuple(extra)

    def _chunks(self, xp, itemsize):
        """``(images, columns of b, geometry)`` per chunk of the batch."""
        positions = self.g.oh * self.g.ow  # columns of b per image
        for start, stop, g in image_chunks(self.g, itemsize, xp):
            yield slice(start, stop), slice(start * positions, stop * positions), g

    def forward(self, a, b, bias=None):
        xp, g = backend.get_array_module(b), self.g
        make = xp.zeros if any(self.extra) else xp.empty  # the extra rows and columns stay 0
        y = make((g.n, g.c, g.h + self.extra[0], g.w + self.extra[1]), dtype=b.dtype)
        for images, columns, chunk in self._chunks(xp, b.dtype.itemsize):
            product = _gemm(a.swapaxes(-1, -2), b[..., columns]).reshape(-1, columns.stop - columns.start)
            y[images, :, :g.h, :g.w] = _fold_kernel(product, chunk)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)
        return y

    def backward(self, gy):
        if is_grad_enabled():
            return self._recorded_backward(gy)
        a, b = (t.data for t in self.inputs[:2])
        xp, dy = backend.get_array_module(b), gy.data[:, :, :self.g.h, :self.g.w]
        ga = xp.zeros_like(a) if self.needs_grad(0) else None
        gb = xp.empty_like(b) if self.needs_grad(1) else None
        for images, columns, chunk in self._chunks(xp, b.dtype.itemsize):
            gcols = _unfold(xp.ascontiguousarray(dy[images]), chunk)
            gcols = gcols.reshape(a.shape[:-2] + (a.shape[-1], -1))  # (G, C_out/G*kh*kw, columns)
            if ga is not None:
                ga += _gemm(b[..., columns], gcols.swapaxes(-1, -2))
            if gb is not None:
                gb[..., columns] = _gemm(a, gcols)
        return _and_bias(self, [None if g is None else _const(g) for g in (ga, gb)],
                         lambda: _const(gy.data.sum(axis=(0, 2, 3))))

    def _recorded_backward(self, gy):
        a, b = self.inputs[:2]
        g_canvas = gy[:, :, :self.g.h, :self.g.w] if any(self.extra) else gy
        gcols = Im2col(self.g)(g_canvas)  # (C_out*kh*kw, N*H*W), the product's gradient
        gcols = reshape(gcols, a.shape[:-2] + (a.shape[-1], -1))  # (G, C_out/G*kh*kw, N*H*W) with groups
        ga = matmul(b, swapaxes(gcols, -1, -2)) if self.needs_grad(0) else None
        gb = matmul(a, gcols) if self.needs_grad(1) else None
        return _and_bias(self, (ga, gb), lambda: sum(gy, axis=(0, 2, 3)))


def _fold(cols: Tensor, g, op: str) -> Tensor:
    """``Col2im(g)(cols)``, once ``cols`` is seen to have the shape ``g`` expects (ShapeError)."""
    if tuple(cols.shape) != g.cols_shape:
        raise ShapeError(f"{op}: cols has shape {tuple(cols.shape)}, expected {g.cols_shape} for an output of "
                         f"shape {g.x_shape} and this window")
    return Col2im(g)(cols)


def im2col(x: Tensor, kernel_size, stride=1, padding=0, dilation=1) -> Tensor:
    """The column matrix ``(C*kh*kw, N*oh*ow)`` of ``x`` (N, C, H, W), differentiable
    (``torch.nn.functional.unfold`` with the batch moved into the columns)."""
    return Im2col(_geometry(x.shape, kernel_size, stride, padding, dilation, "im2col"))(x)


def col2im(cols: Tensor, output_shape, kernel_size, stride=1, padding=0, dilation=1) -> Tensor:
    """The adjoint of ``im2col``: an image batch of ``output_shape`` (N, C, H, W) in which every
    pixel is the sum of the elements of ``cols`` read from it (``torch.nn.functional.fold``)."""
    return _fold(cols, _geometry(output_shape, kernel_size, stride, padding, dilation, "col2im"), "col2im")


# --------------------------------------------------------------------------- convolution


class GemmToImages(Function):
    """The last step of ``conv2d``: the product ``(OC, N*oh*ow)``, plus a bias per row, becomes a
    contiguous ``(N, OC, oh, ow)`` batch.

    Forward adds the bias and moves the batch axis to the front in one pass; backward is the same
    move in reverse (a transpose and reshape of the output gradient) and, for the bias, a sum over
    each row, written with Tensor ops so that it can itself be differentiated.
    """

    def __init__(self, image_shape):
        self.image_shape = image_shape  # (N, OC, oh, ow)

    def forward(self, y, bias=None):
        out = backend.get_array_module(y).empty(self.image_shape, dtype=y.dtype)
        _rows_to_images(y, bias, out)
        return out

    def backward(self, gy):
        oc = self.image_shape[1]
        gy_rows = reshape(transpose(gy, (1, 0, 2, 3)), (oc, -1))  # (OC, N*oh*ow), a copy
        if len(self.inputs) == 1:
            return gy_rows
        return gy_rows, sum(gy_rows, axis=1) if self.needs_grad(1) else None


class TapSum(Function):
    """``(OC·kh·kw, N, Hp, Wp) -> (OC, N, oh, ow)``: ``y[o, n, i, j] = Σ_{ky,kx} z[(o, ky, kx), n,
    i + ky·dh, j + kx·dw]``, the stride-1 convolution's sum over the taps of the per-tap products
    ``z`` (rows ordered output channel, then tap).  Its gradient is ``TapSpread``, its adjoint."""

    def __init__(self, kernel_size, dilation, out_size):
        self.kernel_size, self.dilation, self.out_size = kernel_size, dilation, out_size

    def taps(self, z):
        """``(ky, kx, view)``: the ``(OC, N, oh, ow)`` window of ``z`` that tap ``(ky, kx)`` adds."""
        (kh, kw), (dh, dw), (oh, ow) = self.kernel_size, self.dilation, self.out_size
        per_tap = z.reshape((z.shape[0] // (kh * kw), kh, kw) + z.shape[1:])
        for ky in range(kh):
            for kx in range(kw):
                yield per_tap[:, ky, kx, :, ky * dh:ky * dh + oh, kx * dw:kx * dw + ow]

    def forward(self, z):
        windows = self.taps(z)
        y = next(windows).copy()
        for window in windows:
            y += window
        return y

    def backward(self, gy):
        return TapSpread(self.kernel_size, self.dilation, self.out_size, self.inputs[0].shape)(gy)


class TapSpread(Function):
    """The adjoint of ``TapSum``: ``(OC, N, oh, ow) -> (OC·kh·kw, N, Hp, Wp)``, ``gy`` copied into
    every tap's window (windows of different taps are different rows: nothing overlaps)."""

    def __init__(self, kernel_size, dilation, out_size, z_shape):
        self.tap_sum, self.z_shape = TapSum(kernel_size, dilation, out_size), tuple(z_shape)

    def forward(self, gy):
        gz = backend.get_array_module(gy).zeros(self.z_shape, dtype=gy.dtype)
        for window in self.tap_sum.taps(gz):
            window[...] = gy
        return gz

    def backward(self, ggz):
        return TapSum(self.tap_sum.kernel_size, self.tap_sum.dilation, self.tap_sum.out_size)(ggz)


class TapConvolution(Function):
    """``conv2d`` at stride 1 by the tap sum (module docstring), in one Function:
    ``z = W_taps · x_rows``, with ``x_rows`` the zero-padded batch channel first, (C, N·Hp·Wp), and
    ``W_taps`` the weight as (OC·kh·kw, C); then ``y = TapSum(z)``, moved to (N, OC, oh, ow), plus
    the bias.  As separate ops the padded batch, ``x_rows`` and ``z`` were each kept as the next
    op's input; this keeps only its inputs, and makes ``x_rows`` again in the backward pass::

        gz = TapSpread(dyᵀ)    dW_taps = gz · x_rowsᵀ    dx = crop(W_tapsᵀ · gz)    dbias = Σ dy

    written with ops, so that a recorded backward pass is differentiable again.
    """

    def __init__(self, window: Window, g):
        self.window, self.g = window, g

    def _rows(self, x: Tensor) -> Tensor:
        """``x_rows``: ``x`` zero-padded and channel first, (C, N·Hp·Wp) (a copy)."""
        (top, bottom), (left, right) = self.window.padding
        xpad = pad(x, ((0, 0), (0, 0), (top, bottom), (left, right))) if top + bottom + left + right else x
        return reshape(transpose(xpad, (1, 0, 2, 3)), (x.shape[1], -1))

    def _taps(self, weight) -> TapSum:
        return TapSum(tuple(weight.shape[2:]), self.window.dilation, (self.g.oh, self.g.ow))

    def _z_shape(self, weight) -> tuple:
        (top, bottom), (left, right) = self.window.padding
        g = self.g
        return (math.prod(weight.shape) // g.c, g.n, g.h + top + bottom, g.w + left + right)

    def forward(self, weight, x, bias=None):
        out_channels, in_channels = weight.shape[:2]
        w_taps = weight.transpose(0, 2, 3, 1).reshape(-1, in_channels)       # (OC*kh*kw, C)
        z = (w_taps @ self._rows(_const(x)).data).reshape(self._z_shape(weight))
        y = self._taps(weight).forward(z)                                       # (OC, N, oh, ow)
        to_images = GemmToImages((self.g.n, out_channels, self.g.oh, self.g.ow))
        return to_images.forward(y.reshape(out_channels, -1), bias)

    def backward(self, gy):
        weight, x = self.inputs[:2]
        out_channels, in_channels, kh, kw = weight.shape
        tap_sum = self._taps(weight)
        gz = TapSpread(tap_sum.kernel_size, tap_sum.dilation, tap_sum.out_size, self._z_shape(weight))(
            transpose(gy, (1, 0, 2, 3)))
        gz_rows = reshape(gz, (out_channels * kh * kw, -1))                    # (OC*kh*kw, N*Hp*Wp)
        gw = gx = None
        if self.needs_grad(0):
            gw_taps = matmul(gz_rows, transpose(self._rows(x)))                # (OC*kh*kw, C)
            gw = transpose(reshape(gw_taps, (out_channels, kh, kw, in_channels)), (0, 3, 1, 2))
        if self.needs_grad(1):
            w_taps = reshape(transpose(weight, (0, 2, 3, 1)), (-1, in_channels))
            g_rows = reshape(matmul(transpose(w_taps), gz_rows), (in_channels,) + self._z_shape(weight)[1:])
            (top, bottom), (left, right) = self.window.padding
            gx = pad(transpose(g_rows, (1, 0, 2, 3)), ((0, 0), (0, 0), (-top, -bottom), (-left, -right)))
        return _and_bias(self, (gw, gx), lambda: sum(gy, axis=(0, 2, 3)))


def _by_taps(weight: Tensor, window: Window, groups: int) -> bool:
    """Whether ``conv2d`` takes the tap-sum route: stride 1, no groups, a kernel larger than 1×1 and
    at most half as many output channels as input ones (then ``z`` is smaller than ``cols``)."""
    out_channels, in_channels = weight.shape[:2]
    return (groups == 1 and window.stride == (1, 1) and window.kernel_size != (1, 1)
            and 2 * out_channels <= in_channels)


def _check_channels(op: str, x: Tensor, weight: Tensor, groups: int, transposed: bool, ndim: int = 4):
    """Check the shapes of a convolution's input and weight for ``groups`` (raises ShapeError).

    A convolution's weight is (OC, C/groups, *kernel), a transposed one's (C, OC/groups, *kernel):
    each group of ``C/groups`` input channels makes its own ``OC/groups`` output channels.
    """
    spatial = ("kh", "kw") if ndim == 4 else ("k",)
    channels = ("in_channels", "out_channels/groups") if transposed else ("out_channels", "in_channels/groups")
    layout = "(" + ", ".join(channels + spatial) + ")"
    if weight.ndim != ndim:
        raise ShapeError(f"{op}: weight must have shape {layout}, got shape {weight.shape}")
    if x.ndim != ndim:
        expected = "(N, C, H, W)" if ndim == 4 else "(N, C, L)"
        raise ShapeError(f"{op}: expected an input of shape {expected}, got shape {x.shape}")
    if not isinstance(groups, Integral) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    in_channels = weight.shape[0] if transposed else weight.shape[1] * groups
    grouped = weight.shape[0] if not transposed else in_channels
    if x.shape[1] != in_channels or grouped % groups:
        raise ShapeError(f"{op}: the input of shape {x.shape} has {x.shape[1]} channels, but the weight of shape "
                         f"{weight.shape} {layout} with groups={groups} expects {in_channels}"
                         + (f" (and {grouped} must be divisible by groups)" if grouped % groups else ""))


def _check_bias(op: str, bias, channels: int):
    if bias is not None and tuple(bias.shape) != (channels,):
        raise ShapeError(f"{op}: bias must have shape ({channels},), got {tuple(bias.shape)}")


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as every framework computes it).

    ``x`` (N, C, H, W); ``weight`` (OC, C/groups, kh, kw) as PyTorch; ``bias`` (OC,) or None.
    ``y[n, o, i, j] = bias[o] + Σ_{c,ky,kx} weight[o, c, ky, kx] · xpad[n, c, i*sh + ky*dh, j*sw + kx*dw]``,
    where with ``groups=G`` output channel ``o`` sees only the input channels of its group
    (``c`` runs over group ``o // (OC/G)``'s ``C/G`` channels).
    ``padding``: see the module docstring (``"same"`` is Keras's).  Returns (N, OC, oh, ow) with
    ``oh = (H + top + bottom - dh*(kh-1) - 1) // sh + 1``.
    """
    _check_channels("conv2d", x, weight, groups, transposed=False)
    out_channels = weight.shape[0]
    _check_bias("conv2d", bias, out_channels)
    window = _window(x.shape, weight.shape[2:], stride, padding, dilation, "conv2d")
    g = window.geometry(x.shape, "conv2d")
    if groups == 1:
        by_taps = _by_taps(weight, window, groups)
        convolution = TapConvolution(window, g) if by_taps else Convolution(g, out_channels)
        w = weight if by_taps else reshape(weight, (out_channels, -1))
        return convolution(w, x) if bias is None else convolution(w, x, bias)
    # The rows of cols come channel by channel, so group k's rows are the k-th of G equal blocks.
    w_groups = reshape(weight, (groups, out_channels // groups, -1))    # (G, OC/G, C/G*kh*kw)
    cols_groups = reshape(Im2col(g)(x), (groups, w_groups.shape[2], -1))  # (G, C/G*kh*kw, N*oh*ow)
    product = reshape(matmul(w_groups, cols_groups), (out_channels, -1))  # G GEMMs, stacked
    to_images = GemmToImages((g.n, out_channels, g.oh, g.ow))
    return to_images(product) if bias is None else to_images(product, bias)


def _transposed_crop(n: int, k: int, s: int, d: int, padding, output_padding: int) -> tuple[int, int]:
    """Where ``conv_transpose2d`` crops its full output along one axis: ``(start, end)``.

    The full output of a transposed convolution has ``(n-1)·s + span`` cells (``span = d(k-1)+1``):
    input cell ``i`` with tap ``t`` writes cell ``i·s + t·d``.

    * ``(p_start, p_end)`` (PyTorch's ``p`` is ``(p, p)``): crop ``p_start`` at the start and
      ``p_end - output_padding`` at the end, so ``out = (n-1)·s - 2p + span + output_padding``;
    * ``"same"`` (Keras): ``out = n·s``.  It is the adjoint of a "same" conv from ``n·s`` cells to
      ``n``, so it crops that conv's padding: ``floor(max(span-s, 0)/2)`` at the start, the rest at
      the end (a 3x3 stride-2 kernel crops 0 at the start and 1 at the end);
    * ``"valid"`` (Keras): ``out = n·s + max(span - s, 0)``, i.e. ``(n-1)·s + span`` when ``k >= s``.

    A negative end crop (a kernel shorter than its stride, or ``output_padding > p``) stands for
    cells past the full output that no input writes to: they are zeros.
    """
    span = d * (k - 1) + 1
    full = (n - 1) * s + span
    if padding == "same":
        return max(span - s, 0) // 2, full - n * s - max(span - s, 0) // 2
    if padding == "valid":
        return 0, full - n * s - max(span - s, 0)
    return padding[0], padding[1] - output_padding


def _transposed_window(x_shape, k, s, d, padding, output_padding, op: str):
    """The col2im window of ``conv_transpose2d`` and the zeros to append: ``(window, canvas, extra)``.

    col2im writes the full output less the crops (``canvas``, (H, W)); where an end crop is
    negative, ``extra`` (rows, columns) of zeros are appended afterwards.
    """
    output_padding = pair(output_padding, "output_padding", op)
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{op}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
        if output_padding != (0, 0):
            raise ValueError(f"{op}: output_padding goes with numeric padding only, not {padding!r}")
        padding = (padding, padding)
    else:
        padding = _explicit_padding(padding, op)
        if not all(0 <= o < max(s_, d_) for o, s_, d_ in zip(output_padding, s, d)):
            raise ValueError(f"{op}: output_padding must be >= 0 and smaller than the stride or the "
                             f"dilation, got output_padding={output_padding}, stride={s}, dilation={d}")
    crops, canvas, extra = [], [], []
    for n, k_, s_, d_, p, o in zip(x_shape[2:], k, s, d, padding, output_padding):
        start, end = _transposed_crop(n, k_, s_, d_, p, o)
        full = (n - 1) * s_ + d_ * (k_ - 1) + 1
        if full - start - end < 1:
            raise ValueError(f"{op}: padding {p!r} crops all {full} cells of the full output "
                             f"(input size {n}, kernel {k_}, stride {s_}, dilation {d_})")
        crops.append((start, max(end, 0)))
        canvas.append(full - start - max(end, 0))
        extra.append(max(-end, 0))
    return Window(k, s, tuple(crops), d), tuple(canvas), tuple(extra)


def conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, dilation=1, groups: int = 1) -> Tensor:
    """Transposed convolution (the gradient of ``conv2d`` with respect to its input).

    ``x`` (N, C_in, H, W); ``weight`` (C_in, C_out/groups, kh, kw) as PyTorch; ``bias`` (C_out,)
    or None.  Every input pixel adds ``x[n, c, i, j] · weight[c]`` into the output window at
    ``(i*sh, j*sw)`` (with ``groups=G``, into the output channels of ``c``'s group); the result is
    then cropped by ``padding``.  Output size per axis:

    * ``padding=p`` (PyTorch): ``(n-1)·s - 2p + d·(k-1) + output_padding + 1``;
    * ``"same"`` (Keras ``Conv2DTranspose``): ``n·s``;
    * ``"valid"`` (Keras): ``n·s + max(d·(k-1) + 1 - s, 0)``.

    Computed as one GEMM, ``cols = W.reshape(C_in, C_out*kh*kw)ᵀ @ x.reshape(C_in, N*H*W)`` (G of
    them for ``groups=G``), and a col2im of ``cols`` onto the output (``FoldedProduct``, which
    does not keep ``cols``).  ``groups`` comes last, after
    ``dilation`` (PyTorch puts it before): pass it by name.
    """
    op = "conv_transpose2d"
    _check_channels(op, x, weight, groups, transposed=True)
    n, in_channels = x.shape[:2]
    out_channels = weight.shape[1] * groups
    _check_bias(op, bias, out_channels)
    k, s, d = (pair(v, name, op) for v, name in ((weight.shape[2:], "kernel_size"), (stride, "stride"),
                                                  (dilation, "dilation")))
    if min(s + d) < 1:
        raise ValueError(f"{op}: stride and dilation must be >= 1, got {s}, {d}")
    window, canvas, extra = _transposed_window(x.shape, k, s, d, padding, output_padding, op)

    x_rows = reshape(transpose(x, (1, 0, 2, 3)), (in_channels, -1))  # (C_in, N*H*W), a copy
    g = window.geometry((n, out_channels) + canvas, op)
    if groups == 1:
        w_rows = reshape(weight, (in_channels, -1))                 # (C_in, C_out*kh*kw): one GEMM
    else:
        # G GEMMs; group k's (C_out/G)*kh*kw rows are the k-th block of col2im's channel-major rows.
        w_rows = reshape(weight, (groups, in_channels // groups, -1))  # (G, C_in/G, C_out/G*kh*kw)
        x_rows = reshape(x_rows, (groups, in_channels // groups, -1))  # (G, C_in/G, N*H*W)
    folded = FoldedProduct(g, extra)                                # the GEMM(s), folded by col2im
    return folded(w_rows, x_rows) if bias is None else folded(w_rows, x_rows, bias)


def _along_width(value, name: str, op: str, fill: int):
    """A 1-D op's ``value`` (an int, a 1-tuple, or for padding ``"same"``/``"valid"``) as the 2-D
    ops' (height, width) pair, with ``fill`` for the height of the (N, C, 1, L) image."""
    if isinstance(value, str):
        return value
    if isinstance(value, Integral):
        return (fill, int(value))
    if len(value) == 1 and isinstance(value[0], Integral):
        return (fill, int(value[0]))
    raise ValueError(f"{op}: {name} must be an int or a 1-tuple, got {value!r}")


def conv1d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """1-D convolution of (N, C, L) sequences with a (OC, C/groups, k) weight: ``conv2d`` on
    (N, C, 1, L) images with (OC, C/groups, 1, k) kernels.  Returns (N, OC, ol)."""
    op = "conv1d"
    _check_channels(op, x, weight, groups, transposed=False, ndim=3)
    y = conv2d(unsqueeze(x, 2), unsqueeze(weight, 2), bias, _along_width(stride, "stride", op, 1),
               _along_width(padding, "padding", op, 0), _along_width(dilation, "dilation", op, 1), groups)
    return squeeze(y, 2)


def conv_transpose1d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, dilation=1, groups: int = 1) -> Tensor:
    """1-D transposed convolution of (N, C_in, L) sequences with a (C_in, C_out/groups, k) weight:
    ``conv_transpose2d`` on (N, C_in, 1, L) images.  ``groups`` by name, as for the 2-D op."""
    op = "conv_transpose1d"
    _check_channels(op, x, weight, groups, transposed=True, ndim=3)
    y = conv_transpose2d(unsqueeze(x, 2), unsqueeze(weight, 2), bias, _along_width(stride, "stride", op, 1),
                         _along_width(padding, "padding", op, 0),
                         _along_width(output_padding, "output_padding", op, 0),
                         _along_width(dilation, "dilation", op, 1), groups)
    return squeeze(y, 2)


# --------------------------------------------------------------------------- pooling


def _ceil_extra(n: int, k: int, s: int, d: int, padding: tuple[int, int]) -> int:
    """The cells ``ceil_mode=True`` adds after the end padding of one axis (PyTorch's rule).

    Rounding up, ``out = ceil((n + pads - span)/s) + 1`` windows (``span = d(k-1)+1``), less one
    if the last window would start past the input and the start padding (it would see only end
    padding).  The extra cells hold the pad value: they never win a max or count in a mean.
    """
    span, padded = d * (k - 1) + 1, n + padding[0] + padding[1]
    out = -(-(padded - span) // s) + 1
    if (out - 1) * s >= n + padding[0]:
        out -= 1
    return max((out - 1) * s + span - padded, 0)


class PoolWindows(NamedTuple):
    """Every window of every channel of an (N, C, H, W) batch, as the columns of ``cols``
    ``(kh*kw, N*C*oh*ow)``; ``shape`` is the output's (N, C, oh, ow), ``window`` the resolved
    window (its padding the numeric ``((top, bottom), (left, right))``) and ``extra`` the cells
    ``ceil_mode`` added after the bottom and right padding."""

    cols: Tensor
    shape: tuple
    window: Window
    extra: tuple[int, int]


def _pool_windows(x: Tensor, kernel_size, stride, padding, dilation, ceil_mode: bool, op: str,
                  pad_value) -> PoolWindows:
    """The windows of every channel on its own, for the pooling ops.

    The channels are folded into the batch, ``(N*C, 1, H, W)``, so each column of im2col is one
    window of one channel.  Padding (and ``ceil_mode``'s extra cells) is done here with
    ``pad_value`` (max pooling pads with -inf, or the smallest integer for integer tensors, so a
    padded cell never wins), and im2col itself pads nothing.
    """
    stride = kernel_size if stride is None else stride
    window = _window(x.shape, kernel_size, stride, padding, dilation, op)
    extra = (0, 0)
    if ceil_mode:
        per_axis = zip(x.shape[2:], window.kernel_size, window.stride, window.dilation, window.padding)
        extra = tuple(_ceil_extra(*axis) for axis in per_axis)
    (top, bottom), (left, right) = window.padding
    if top + bottom + left + right + extra[0] + extra[1]:
        x = pad(x, ((0, 0), (0, 0), (top, bottom + extra[0]), (left, right + extra[1])), value=pad_value)
    unpadded = window._replace(padding=((0, 0), (0, 0)))
    n, c, h, w = x.shape
    g = unpadded.geometry((n * c, 1, h, w), op)
    return PoolWindows(Im2col(g)(reshape(x, (n * c, 1, h, w))), (n, c, g.oh, g.ow), window, extra)


def _as_float(x: Tensor) -> Tensor:
    """Integer images in the default float dtype, for the ops that average or interpolate (PyTorch
    refuses them; an integer mean would be truncated)."""
    return x if x.dtype.kind == "f" else astype(x, backend.get_default_dtype())


def _lowest(dtype):
    """The pad value that never wins a maximum: -inf, or the smallest integer of an integer dtype."""
    return -math.inf if np.dtype(dtype).kind == "f" else np.iinfo(dtype).min


def _winner_positions(winner, pool: PoolWindows, width: int, xp):
    """PyTorch's ``return_indices``: where in its (H, W) channel each maximum was read,
    ``row·W + col``, from ``winner``, the tap ``ky·kw + kx`` of each window that won."""
    n, c, oh, ow = pool.shape
    (kh, kw), (sh, sw), ((top, _), (left, _)), (dh, dw) = pool.window
    winner = winner.reshape(n * c, oh, ow)
    rows = xp.arange(oh).reshape(1, oh, 1) * sh + (winner // kw) * dh - top
    cols = xp.arange(ow).reshape(1, 1, ow) * sw + (winner % kw) * dw - left
    return (rows * width + cols).astype(xp.int64).reshape(pool.shape)


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """The largest value in each ``kernel_size`` window (``stride`` defaults to the kernel size).

    ``padding`` as for ``conv2d``, but padded cells never win (as PyTorch and Keras); ``dilation``
    spreads the window's taps; ``ceil_mode`` rounds the output size up (see ``_ceil_extra``).
    The gradient goes only to the window's maximum; where several cells tie, to the first in
    row-major order (PyTorch's choice), so each output's gradient is counted once.  Integer
    tensors work too (padded with the dtype's smallest value).

    ``return_indices=True`` also returns, for each output, the flat position ``row·W + col`` of
    its maximum in its (H, W) channel, as PyTorch does (the input ``max_unpool2d`` needs).
    """
    pool = _pool_windows(x, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d", _lowest(x.dtype))
    cols = pool.cols
    xp = backend.get_array_module(cols.data)
    winner = cols.data.argmax(axis=0)  # the first maximum of each column
    y = reshape(getitem(cols, (winner, xp.arange(cols.shape[1]))), pool.shape)
    if not return_indices:
        return y
    return y, Tensor._wrap(_winner_positions(winner, pool, x.shape[3], xp))


class MaxUnpool(Function):
    """Put each value of ``x`` at its flat position ``indices`` of a zero (N, C, H*W) canvas (an
    assignment, as PyTorch's: a position given twice holds one value).  The gradient of ``x`` is
    the output gradient read back at the same positions."""

    def __init__(self, positions, out_shape):
        self.positions, self.out_shape = positions, out_shape  # positions: flat, into the whole output

    def forward(self, x):
        xp = backend.get_array_module(x)
        out = xp.zeros(self.out_shape, dtype=x.dtype)
        out.reshape(-1)[self.positions] = x.reshape(-1)
        return out

    def backward(self, gy):
        return reshape(getitem(reshape(gy, (-1,)), self.positions), self.inputs[0].shape)


def max_unpool2d(x: Tensor, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """The partial inverse of ``max_pool2d``: an image with each value of ``x`` (N, C, oh, ow) at
    the position ``indices`` says (``max_pool2d(..., return_indices=True)``) and zeros elsewhere.

    The output is (N, C, H, W) with ``H = (oh-1)·sh - 2·ph + kh`` (``padding`` numeric), or
    ``output_size`` ((H, W), or a shape ending in them) where several input sizes pool alike.
    """
    op = "max_unpool2d"
    indices = indices.data if isinstance(indices, Tensor) else backend.get_array_module(indices).asarray(indices)
    if x.ndim != 4 or tuple(indices.shape) != x.shape:
        raise ShapeError(f"{op}: expected an input (N, C, oh, ow) and indices of the same shape, got "
                         f"{x.shape} and {tuple(indices.shape)}")
    k = pair(kernel_size, "kernel_size", op)
    s = k if stride is None else pair(stride, "stride", op)
    p = pair(padding, "padding", op)
    if output_size is None:
        output_size = tuple((n - 1) * s_ - 2 * p_ + k_ for n, s_, p_, k_ in zip(x.shape[2:], s, p, k))
    h, w = (int(v) for v in tuple(output_size)[-2:])
    # host indices are checked (before they move to x's device), device ones with TINYGDL_DEBUG=1
    check_index_range(indices, h * w, f"{op}: indices", ShapeError, f" for an output of {h}x{w}")
    indices = backend.to_device(indices, x.device)
    n, c = x.shape[:2]
    xp = backend.get_array_module(indices)
    positions = (xp.arange(n * c).reshape(n, c, 1, 1) * (h * w) + indices).reshape(-1)
    return MaxUnpool(positions, (n, c, h, w))(x)


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0, count_include_pad: bool | None = None,
               ceil_mode: bool = False) -> Tensor:
    """The mean of each ``kernel_size`` window (``stride`` defaults to the kernel size; Keras's
    ``AveragePooling2D(2)`` is ``avg_pool2d(x, 2)``).

    Padded zeros are counted in the mean for numeric padding (PyTorch's ``count_include_pad=True``)
    and left out for ``"same"`` (Keras); ``count_include_pad`` overrides either default.  The
    cells ``ceil_mode`` adds past the padding are never counted (PyTorch's rule).  Integer images
    are averaged in the default float dtype.
    """
    if count_include_pad is None:
        count_include_pad = padding != "same"
    x = _as_float(x)
    pool = _pool_windows(x, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d", 0)
    if count_include_pad and not any(pool.extra):
        return reshape(mean(pool.cols, axis=0), pool.shape)
    return reshape(sum(pool.cols, axis=0), pool.shape) / Tensor._wrap(_window_counts(x, pool, count_include_pad))


def _window_counts(x: Tensor, pool: PoolWindows, count_include_pad: bool):
    """How many cells each window of ``avg_pool2d`` averages, (oh, ow): the window sums of a mask
    that is 1 on the image (and on its padding, if counted) and 0 on the rest."""
    xp = backend.get_array_module(x.data)
    ((top, bottom), (left, right)), (eh, ew) = pool.window.padding, pool.extra
    h, w = x.shape[2:]
    mask = xp.zeros((1, 1, top + h + bottom + eh, left + w + right + ew), dtype=x.dtype)
    if count_include_pad:
        mask[..., :top + h + bottom, :left + w + right] = 1
    else:
        mask[..., top:top + h, left:left + w] = 1
    window = pool.window._replace(padding=((0, 0), (0, 0)))
    return kernels.im2col(mask, window.geometry(mask.shape, "avg_pool2d")).sum(axis=0).reshape(pool.shape[2:])


def _output_pair(value, name: str, op: str, like) -> tuple:
    """An int or a pair (``None`` in a pair keeps that size of ``like``, as PyTorch's adaptive pools)."""
    pair = (value, value) if isinstance(value, Integral) or value is None else tuple(value)
    if len(pair) != 2:
        raise ValueError(f"{op}: {name} must be an int or a pair, got {value!r}")
    pair = tuple(n if v is None else int(v) for v, n in zip(pair, like))
    if min(pair) < 1:
        raise ValueError(f"{op}: {name} must be positive, got {value!r}")
    return pair


def _adaptive_weights(n: int, out: int, like: Tensor) -> Tensor:
    """The (out, n) averaging matrix of adaptive pooling along one axis: output cell ``i``
    averages input cells ``floor(i·n/out)`` to ``ceil((i+1)·n/out) - 1`` (PyTorch's bins, which
    overlap when ``out`` does not divide ``n``)."""
    weights = np.zeros((out, n))
    for i in range(out):
        start, end = (i * n) // out, -(-((i + 1) * n) // out)
        weights[i, start:end] = 1.0 / (end - start)
    return Tensor._wrap(backend.to_device(weights.astype(like.dtype), like.device))


def adaptive_avg_pool2d(x: Tensor, output_size) -> Tensor:
    """Average (N, C, H, W) down (or up) to ``output_size`` (an int, or (oh, ow) with None for
    "keep"), whatever H and W: each output cell averages its bin of rows and columns.  The
    averaging is separable, ``y = A_h · x · A_wᵀ``, so it is two matrix products (and so is its
    gradient).  ``adaptive_avg_pool2d(x, 1)`` is global average pooling."""
    if x.ndim != 4:
        raise ShapeError(f"adaptive_avg_pool2d: expected an image batch of shape (N, C, H, W), got shape {x.shape}")
    (h, w), (oh, ow) = x.shape[2:], _output_pair(output_size, "output_size", "adaptive_avg_pool2d", x.shape[2:])
    x = _as_float(x)
    return matmul(matmul(_adaptive_weights(h, oh, x), x), transpose(_adaptive_weights(w, ow, x)))


# --------------------------------------------------------------------------- resampling


def _source_scale(n: int, out: int, scale_factor, align_corners: bool) -> float:
    """How far apart, in input cells, two neighbouring output cells sample (PyTorch's
    ``area_pixel_compute_scale``): ``(n-1)/(out-1)`` with aligned corners, else ``1/scale_factor``
    when a scale factor was given and ``n/out`` when a size was."""
    if align_corners:
        return (n - 1) / (out - 1) if out > 1 else 0.0
    return 1.0 / scale_factor if scale_factor is not None else n / out


def _nearest_positions(n: int, out: int, scale_factor) -> np.ndarray:
    """The input cell each output cell copies in ``"nearest"`` mode: ``floor(i·scale)``, computed
    in float32 as PyTorch's CPU kernel does (so that the rare cases on a boundary agree), and as it
    ``i`` for an unchanged size and ``i // 2`` for a doubled one whatever the scale factor (a factor
    of 1.4 keeps 2 cells as they are; ``floor(1/1.4)`` would copy cell 0 twice).  A host array: it
    depends on the sizes and the scale only."""
    if out in (n, 2 * n):
        return np.arange(out) // (out // n)
    scale = np.float32(_source_scale(n, out, scale_factor, False))
    positions = np.floor(np.arange(out, dtype=np.float32) * scale).astype(np.int64)
    return np.minimum(positions, n - 1)


def _repeats(n: int, positions: np.ndarray) -> int:
    """``r`` when the nearest ``positions`` copy each of the ``n`` input cells ``r`` times in a row
    (``positions[i] = i // r``), else 0.  In practice: an integer scale factor ``r``, a size ``r·n``,
    or any size of a one-cell axis (tests/ops/test_interpolate_repeats.py checks this against
    PyTorch).  Compared on the host (the positions are host arrays), so deciding costs a GPU run
    no read-back."""
    r = len(positions) // n
    return r if r * n == len(positions) and np.array_equal(positions, np.arange(len(positions)) // r) else 0


def _linear_weights(n: int, out: int, scale_factor, align_corners: bool, like: Tensor) -> Tensor:
    """The ``(out, n)`` matrix of 1-D linear interpolation.

    Output cell ``i`` samples the input at ``src = i·scale`` (``align_corners=True``: the corner
    cells of input and output coincide) or ``src = (i + 0.5)·scale - 0.5`` (half-pixel centres,
    PyTorch ``align_corners=False`` and Keras ``UpSampling2D(interpolation="bilinear")``), clamped
    to ``[0, n-1]``, between cells ``i0 = floor(src)`` and ``i0 + 1`` with weights ``1 - f`` and
    ``f = src - i0``.
    """
    scale = _source_scale(n, out, scale_factor, align_corners)
    rows = np.arange(out)
    src = rows * scale if align_corners else (rows + 0.5) * scale - 0.5
    src = np.clip(src, 0, n - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, n - 1)
    frac = src - i0
    weights = np.zeros((out, n))
    weights[rows, i0] += 1 - frac
    weights[rows, i1] += frac
    return Tensor._wrap(backend.to_device(weights.astype(like.dtype), like.device))


def interpolate(x: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None
                ) -> Tensor:
    """Resize (N, C, H, W) images to ``size`` ((oh, ow) or an int) or by ``scale_factor`` (a
    number or a pair, any positive value: ``oh = floor(H·scale)``), as PyTorch's ``interpolate``.

    * ``"nearest"``: output cell ``i`` copies input cell ``floor(i·H/oh)`` (``floor(i/scale)`` when
      a scale factor is given), an integer-array index, so its gradient is a scatter-add; an
      integer enlargement is a ``repeat`` of every pixel (Keras ``UpSampling2D``);
    * ``"bilinear"``: linear interpolation along each axis (``_linear_weights``), with half-pixel
      centres (``align_corners=False``, the default) or corner-aligned grids (``True``).
      Bilinear interpolation is separable: ``y = A_h · x · A_wᵀ``, two matrix products, and so
      is its gradient.  There is no antialiasing when shrinking (PyTorch's default).

    Sequences (N, C, L) take ``"nearest"`` or ``"linear"`` and an int ``size``/``scale_factor``:
    they are resized as (N, C, 1, L) images.
    """
    op = "interpolate"
    if x.ndim == 3:
        return _interpolate_sequences(x, size, scale_factor, mode, align_corners)
    if x.ndim != 4:
        raise ShapeError(f"{op}: expected images (N, C, H, W) or sequences (N, C, L), got shape {x.shape}")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor, got size={size!r}, "
                         f"scale_factor={scale_factor!r}")
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"{op}: mode must be 'nearest' or 'bilinear', got {mode!r}")
    if align_corners is not None and mode == "nearest":
        raise ValueError(f"{op}: align_corners goes with mode='bilinear' only")
    if scale_factor is not None:
        scales = (scale_factor,) * 2 if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
        if len(scales) != 2 or min(scales) <= 0:
            raise ValueError(f"{op}: scale_factor must be a positive number or a pair, got {scale_factor!r}")
        size = tuple(int(math.floor(n * s)) for n, s in zip(x.shape[2:], scales))
    else:
        scales = (None, None)
    out = _output_pair(size, "size", op, x.shape[2:])
    h, w = x.shape[2:]
    if mode == "bilinear":
        x = _as_float(x)
        a_h, a_w = (_linear_weights(n, o, s, bool(align_corners), x) for n, o, s in zip((h, w), out, scales))
        return matmul(matmul(a_h, x), transpose(a_w))
    rows, cols = (_nearest_positions(n, o, s) for n, o, s in zip((h, w), out, scales))
    rh, rw = _repeats(h, rows), _repeats(w, cols)
    if rh and rw:
        return Repeat(rw, 3)(Repeat(rh, 2)(x))  # every pixel r times: cheaper than indexing
    rows, cols = (backend.to_device(p, x.device) for p in (rows, cols))
    return getitem(x, (slice(None), slice(None), rows.reshape(-1, 1), cols.reshape(1, -1)))


def _interpolate_sequences(x: Tensor, size, scale_factor, mode: str, align_corners) -> Tensor:
    """``interpolate`` of (N, C, L) sequences: ``"nearest"`` or ``"linear"`` along L of (N, C, 1, L)."""
    if mode not in ("nearest", "linear"):
        raise ValueError(f"interpolate: mode must be 'nearest' or 'linear' for sequences (N, C, L), got {mode!r}")
    def with_height_one(value):  # an int or a 1-tuple -> (1, value) for the (N, C, 1, L) image
        return None if value is None else (1, value[0] if isinstance(value, (tuple, list)) else value)

    image = interpolate(unsqueeze(x, 2), with_height_one(size), with_height_one(scale_factor),
                        "bilinear" if mode == "linear" else mode, align_corners)
    return squeeze(image, 2)


def upsample(x: Tensor, scale_factor=2, mode: str = "nearest") -> Tensor:
    """Enlarge (N, C, H, W) by an integer ``scale_factor`` (int or (sh, sw)): ``interpolate`` with
    ``"nearest"`` (Keras ``UpSampling2D``) or ``"bilinear"`` with half-pixel centres."""
    sh, sw = pair(scale_factor, "scale_factor", "upsample")
    if min(sh, sw) < 1:
        raise ValueError(f"upsample: scale_factor must be a positive integer, got {scale_factor!r}")
    return interpolate(x, scale_factor=(sh, sw), mode=mode)


def pixel_shuffle(x: Tensor, upscale_factor: int) -> Tensor:
    """(N, C·r², H, W) -> (N, C, H·r, W·r): each group of r² channels becomes an r x r block of
    pixels (the sub-pixel convolution of Shi et al. 2016):
    ``y[n, c, h·r + i, w·r + j] = x[n, c·r² + i·r + j, h, w]``.  A reshape and a transpose."""
    r = int(upscale_factor)
    if x.ndim != 4 or r < 1 or x.shape[1] % (r * r):
        raise ShapeError(f"pixel_shuffle: expected (N, C·r², H, W) with r={upscale_factor}, got shape {x.shape}")
    n, c, h, w = x.shape
    blocks = reshape(x, (n, c // (r * r), r, r, h, w))                 # (n, c, i, j, h, w)
    return reshape(transpose(blocks, (0, 1, 4, 2, 5, 3)), (n, c // (r * r), h * r, w * r))  # (n, c, h, i, w, j)


def pixel_unshuffle(x: Tensor, downscale_factor: int) -> Tensor:
    """The inverse of ``pixel_shuffle``: (N, C, H·r, W·r) -> (N, C·r², H, W)."""
    r = int(downscale_factor)
    if x.ndim != 4 or r < 1 or x.shape[2] % r or x.shape[3] % r:
        raise ShapeError(f"pixel_unshuffle: expected (N, C, H·r, W·r) with r={downscale_factor}, "
                         f"got shape {x.shape}")
    n, c, h, w = x.shape
    blocks = reshape(x, (n, c, h // r, r, w // r, r))                  # (n, c, h, i, w, j)
    return reshape(transpose(blocks, (0, 1, 3, 5, 2, 4)), (n, c * r * r, h // r, w // r))  # (n, c, i, j, h, w)


def zero_pad2d(x: Tensor, padding) -> Tensor:
    """Pad the two image axes of (N, C, H, W) with zeros (Keras ``ZeroPadding2D``).

    ``padding``: ``p``, ``(ph, pw)`` or ``((top, bottom), (left, right))`` — Keras's order, not
    PyTorch's flat ``(left, right, top, bottom)``.
    """
    if x.ndim != 4:
        raise ValueError(f"zero_pad2d: expected an image batch of shape (N, C, H, W), got shape {x.shape}")
    rows, cols = _explicit_padding(padding, "zero_pad2d")
    return pad(x, ((0, 0), (0, 0), rows, cols))
