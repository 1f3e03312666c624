"""The NumPy reference kernels: the readable definitions that the faster flavours must match.

No loop here runs over pixels.  ``im2col`` and ``col2im`` loop over the kernel taps only: for one
tap ``(kz, ky, kx)`` the cells it reads, at every output position, form a strided slice of the
padded volume, so each tap is one vectorised copy (or add).  An image batch is a batch of volumes
one cell deep (``ConvGeometry.volume``), so one definition serves images and volumes.  The same
code runs on CuPy arrays, because it asks ``get_array_module`` which library to use.
"""

from __future__ import annotations

from itertools import product

from tinygdl.backend import get_array_module

from .geometry import VolGeometry, check_shape
from .registry import register

_EVERY_CHANNEL_AND_VOLUME = (slice(None), slice(None))


def _tap_box(g: VolGeometry, tap: tuple[int, int, int]) -> tuple[slice, slice, slice]:
    """The cells of the padded volume that ``tap = (kz, ky, kx)`` reads, one per output position.

    At output position ``(oz, oy, ox)`` the tap reads padded cell ``(oz*sd + kz*dd, oy*sh + ky*dh,
    ox*sw + kx*dw)``: along each axis a start of ``tap*dilation`` and a step of ``stride``.
    """
    return tuple(
        slice(t * dilation, t * dilation + stride * (positions - 1) + 1, stride)
        for t, dilation, stride, positions in zip(tap, (g.dd, g.dh, g.dw), (g.sd, g.sh, g.sw), (g.od, g.oh, g.ow))
    )


def _taps(g: VolGeometry):
    return product(range(g.kd), range(g.kh), range(g.kw))


@register("im2col", "numpy")
def im2col(x, g):
    """Unfold every kernel window of ``x`` into a column of ``cols`` (``g.cols_shape``).

    Images (N, C, H, W) with a ``ConvGeometry``:
    ``cols[(c*kh + ky)*kw + kx, (n*oh + oy)*ow + ox] = xpad[n, c, oy*sh + ky*dh, ox*sw + kx*dw]``;
    volumes (N, C, D, H, W) with a ``VolGeometry`` (vol2col):
    ``cols[((c*kd + kz)*kh + ky)*kw + kx, ((n*od + oz)*oh + oy)*ow + ox]
    = xpad[n, c, oz*sd + kz*dd, oy*sh + ky*dh, ox*sw + kx*dw]``, where ``xpad`` is ``x`` with its
    zero padding.
    """
    check_shape(x, g.x_shape, "x", g)
    xp, v = get_array_module(x), g.volume
    # Put the channel axis first, (C, N, D, H, W), so that one tap's window has the axis order of a
    # slice of ``cols`` viewed as (C, kd, kh, kw, N, od, oh, ow), and pad the spatial axes with zeros.
    volumes = x.reshape(v.x_shape).transpose(1, 0, 2, 3, 4)
    xpad = xp.pad(volumes, ((0, 0), (0, 0), (v.pf, v.pk), (v.pt, v.pb), (v.pl, v.pr)))
    cols = xp.empty((v.c, v.kd, v.kh, v.kw, v.n, v.od, v.oh, v.ow), dtype=x.dtype)
    for tap in _taps(v):
        cols[(slice(None),) + tap] = xpad[_EVERY_CHANNEL_AND_VOLUME + _tap_box(v, tap)]
    return cols.reshape(g.cols_shape)


@register("col2im", "numpy")
def col2im(cols, g):
    """The adjoint of ``im2col``: add every element of ``cols`` into the cell it was read from.

    Elements read from the zero padding have no cell and are dropped.  Returns an array of shape
    ``g.x_shape``: (N, C, H, W) images for a ``ConvGeometry``, (N, C, D, H, W) volumes for a
    ``VolGeometry`` (col2vol).
    """
    check_shape(cols, g.cols_shape, "cols", g)
    xp, v = get_array_module(cols), g.volume
    cols = cols.reshape(v.c, v.kd, v.kh, v.kw, v.n, v.od, v.oh, v.ow)
    # Accumulate in the padded (C, N, D, H, W) layout that mirrors im2col, then crop and transpose.
    xpad = xp.zeros((v.c, v.n, v.d + v.pf + v.pk, v.h + v.pt + v.pb, v.w + v.pl + v.pr), dtype=cols.dtype)
    for tap in _taps(v):
        # Within one tap no two output positions read the same cell, so ``+=`` is safe here.
        xpad[_EVERY_CHANNEL_AND_VOLUME + _tap_box(v, tap)] += cols[(slice(None),) + tap]
    x = xpad[:, :, v.pf : v.pf + v.d, v.pt : v.pt + v.h, v.pl : v.pl + v.w]
    return xp.ascontiguousarray(x.transpose(1, 0, 2, 3, 4)).reshape(g.x_shape)


@register("adam_update", "numpy")
def adam_update(param, grad, m, v, step_size, beta1, beta2, eps, v_scale):
    """One Adam step, in place on ``param``, ``m`` and ``v``; one temporary array.

    ``m = b1*m + (1-b1)*g``, ``v = b2*v + (1-b2)*g*g``,
    ``param -= step_size * m / (sqrt(v)*v_scale + eps)``.
    """
    xp = get_array_module(param)
    # Python floats keep the arrays' dtype (a NumPy float64 scalar would promote float32 to float64).
    step_size, beta1, beta2, eps, v_scale = (float(s) for s in (step_size, beta1, beta2, eps, v_scale))
    tmp = xp.multiply(grad, 1.0 - beta1, out=xp.empty_like(grad))  # out=: an array even for 0-d inputs
    m *= beta1
    m += tmp
    xp.multiply(grad, grad, out=tmp)
    tmp *= 1.0 - beta2
    v *= beta2
    v += tmp
    xp.sqrt(v, out=tmp)
    tmp *= v_scale
    tmp += eps
    xp.divide(m, tmp, out=tmp)
    tmp *= step_size
    param -= tmp


@register("leaky_relu", "numpy")
def leaky_relu(x, slope):
    """``x`` where ``x > 0``, else ``slope * x``."""
    xp = get_array_module(x)
    return xp.where(x > 0, x, x * float(slope))


@register("leaky_relu_grad", "numpy")
def leaky_relu_grad(x, gy, slope):
    """The gradient of ``leaky_relu`` at ``x`` times ``gy``: ``gy`` where ``x > 0``, else ``slope * gy``."""
    xp = get_array_module(x)
    return xp.where(x > 0, gy, gy * float(slope))


# --------------------------------------------------------------------------- batch norm (training mode)


def _channel_axes(x):
    """The axes of an (N, C, ...) array that a channel's statistics run over, and the (1, C, 1, ...)
    shape that broadcasts one value per channel."""
    return (0,) + tuple(range(2, x.ndim)), (1, x.shape[1]) + (1,) * (x.ndim - 2)


@register("batch_norm", "numpy")
def batch_norm(x, weight, bias, eps):
    """Batch norm of ``x`` (N, C, ...) with this batch's statistics: ``(y, mean, var)``, where
    ``mean`` and ``var`` (biased) are the (C,) statistics of each channel and
    ``y = (x − mean)·weight/sqrt(var + eps) + bias``.  The variance is the mean of the squared
    deviations from the mean (two passes), not E[x²] − E[x]², which cancels badly in float32.
    """
    xp = get_array_module(x)
    axes, shape = _channel_axes(x)
    mean = x.mean(axis=axes, keepdims=True)
    y = x - mean  # the one full-size array: centred, then scaled and shifted in place
    var = (y * y).mean(axis=axes, keepdims=True)
    y *= weight.reshape(shape) / xp.sqrt(var + eps)
    y += bias.reshape(shape)
    return y, mean.reshape(-1), var.reshape(-1)


@register("batch_norm_grad", "numpy")
def batch_norm_grad(x, gy, weight, mean, inv_std):
    """The gradients ``(gx, gweight, gbias)`` of ``batch_norm`` given ``gy``, from its saved
    ``mean`` and ``inv_std = 1/sqrt(var + eps)`` (C,).  With ``x̂ = (x − mean)·inv_std``, sums over
    every axis but the channel's and m values per channel::

        gbias = Σ gy,   gweight = Σ gy·x̂,   gx = weight·inv_std · (gy − gbias/m − x̂·gweight/m)
    """
    xp = get_array_module(x)
    axes, shape = _channel_axes(x)
    m = x.size // x.shape[1]
    mean, inv_std = mean.reshape(shape), inv_std.reshape(shape)
    centered = x - mean
    gx = gy * centered
    sum_gy_centered = gx.sum(axis=axes, keepdims=True)  # Σ gy·(x − mean) = gweight/inv_std
    gbias = gy.sum(axis=axes, keepdims=True)
    scale = weight.reshape(shape) * inv_std
    xp.multiply(gy, scale, out=gx)
    centered *= scale * inv_std * inv_std * sum_gy_centered / m  # x̂ · (weight·inv_std) · gweight/m
    gx -= centered
    gx -= scale * gbias / m
    return gx, (sum_gy_centered * inv_std).reshape(-1), gbias.reshape(-1)
