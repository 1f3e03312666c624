"""The NumPy reference kernels: the readable definitions that the faster flavours must match.

No loop here runs over pixels.  ``im2col`` and ``col2im`` loop over the ``kh*kw`` kernel taps only
(``vol2col`` and ``col2vol``, their 3-D versions, over the ``kd*kh*kw`` taps):
for one tap ``(ky, kx)`` the pixels it reads, at every output position, form a strided slice of the
padded image, so each tap is one vectorised copy (or add).  The same code runs on CuPy arrays,
because it asks ``get_array_module`` which library to use.
"""

from __future__ import annotations

from tinygdl.backend import get_array_module

from .geometry import ConvGeometry, VolGeometry, col2im_geometry, col2vol_geometry, conv_geometry, vol_geometry
from .registry import register


def _tap_window(g: ConvGeometry, ky: int, kx: int) -> tuple[slice, slice]:
    """The rows and columns of the padded image that tap ``(ky, kx)`` reads, one per output position.

    At output position ``(oy, ox)`` the tap reads padded pixel ``(oy*sh + ky*dh, ox*sw + kx*dw)``:
    a start of ``ky*dh`` and a step of ``sh``, for ``oh`` positions.
    """
    top, left = ky * g.dh, kx * g.dw
    return (
        slice(top, top + g.sh * (g.oh - 1) + 1, g.sh),
        slice(left, left + g.sw * (g.ow - 1) + 1, g.sw),
    )


@register("im2col", "numpy")
def im2col(x, kernel_size, stride, padding, dilation):
    """Unfold every kernel window of ``x`` (N, C, H, W) into a column of ``cols`` (C*kh*kw, N*oh*ow).

    ``cols[(c*kh + ky)*kw + kx, (n*oh + oy)*ow + ox] = xpad[n, c, oy*sh + ky*dh, ox*sw + kx*dw]``,
    where ``xpad`` is ``x`` with its zero padding.
    """
    xp = get_array_module(x)
    g = conv_geometry(x.shape, kernel_size, stride, padding, dilation)
    # Put the channel axis first, (C, N, H, W), so that one tap's window has the axis order of a
    # slice of ``cols`` viewed as (C, kh, kw, N, oh, ow), and pad the two image axes with zeros.
    xpad = xp.pad(x.transpose(1, 0, 2, 3), ((0, 0), (0, 0), (g.pt, g.pb), (g.pl, g.pr)))
    cols = xp.empty((g.c, g.kh, g.kw, g.n, g.oh, g.ow), dtype=x.dtype)
    for ky in range(g.kh):
        for kx in range(g.kw):
            rows, columns = _tap_window(g, ky, kx)
            cols[:, ky, kx] = xpad[:, :, rows, columns]
    return cols.reshape(g.cols_shape)


@register("col2im", "numpy")
def col2im(cols, x_shape, kernel_size, stride, padding, dilation):
    """The adjoint of ``im2col``: add every element of ``cols`` into the pixel it was read from.

    Elements read from the zero padding have no pixel and are dropped.  Returns an array of shape
    ``x_shape`` (N, C, H, W).
    """
    xp = get_array_module(cols)
    g = col2im_geometry(cols.shape, x_shape, kernel_size, stride, padding, dilation)
    cols = cols.reshape(g.c, g.kh, g.kw, g.n, g.oh, g.ow)
    # Accumulate in the padded (C, N, H, W) layout that mirrors im2col, then crop and transpose.
    xpad = xp.zeros((g.c, g.n, g.h + g.pt + g.pb, g.w + g.pl + g.pr), dtype=cols.dtype)
    for ky in range(g.kh):
        for kx in range(g.kw):
            rows, columns = _tap_window(g, ky, kx)
            # Within one tap no two output positions read the same pixel, so ``+=`` is safe here.
            xpad[:, :, rows, columns] += cols[:, ky, kx]
    x = xpad[:, :, g.pt : g.pt + g.h, g.pl : g.pl + g.w]
    return xp.ascontiguousarray(x.transpose(1, 0, 2, 3))


def _tap_box(g: VolGeometry, kz: int, ky: int, kx: int) -> tuple[slice, slice, slice]:
    """The cells of the padded volume that tap ``(kz, ky, kx)`` reads, one per output position
    (``_tap_window`` with a depth axis in front)."""
    return tuple(
        slice(tap * dilation, tap * dilation + stride * (positions - 1) + 1, stride)
        for tap, dilation, stride, positions in ((kz, g.dd, g.sd, g.od), (ky, g.dh, g.sh, g.oh), (kx, g.dw, g.sw, g.ow))
    )


def _taps(g: VolGeometry):
    return ((kz, ky, kx) for kz in range(g.kd) for ky in range(g.kh) for kx in range(g.kw))


@register("vol2col", "numpy")
def vol2col(x, kernel_size, stride, padding, dilation):
    """``im2col`` for volumes: every kernel window of ``x`` (N, C, D, H, W) becomes a column of
    ``cols`` (C*kd*kh*kw, N*od*oh*ow).

    ``cols[((c*kd + kz)*kh + ky)*kw + kx, ((n*od + oz)*oh + oy)*ow + ox]
    = xpad[n, c, oz*sd + kz*dd, oy*sh + ky*dh, ox*sw + kx*dw]``.
    """
    xp = get_array_module(x)
    g = vol_geometry(x.shape, kernel_size, stride, padding, dilation)
    xpad = xp.pad(x.transpose(1, 0, 2, 3, 4), ((0, 0), (0, 0), (g.pf, g.pk), (g.pt, g.pb), (g.pl, g.pr)))
    cols = xp.empty((g.c, g.kd, g.kh, g.kw, g.n, g.od, g.oh, g.ow), dtype=x.dtype)
    for kz, ky, kx in _taps(g):
        cols[:, kz, ky, kx] = xpad[(slice(None), slice(None)) + _tap_box(g, kz, ky, kx)]
    return cols.reshape(g.cols_shape)


@register("col2vol", "numpy")
def col2vol(cols, x_shape, kernel_size, stride, padding, dilation):
    """The adjoint of ``vol2col``: add every element of ``cols`` into the cell it was read from;
    elements read from the padding are dropped.  Returns an array of shape ``x_shape`` (N, C, D, H, W)."""
    xp = get_array_module(cols)
    g = col2vol_geometry(cols.shape, x_shape, kernel_size, stride, padding, dilation)
    cols = cols.reshape(g.c, g.kd, g.kh, g.kw, g.n, g.od, g.oh, g.ow)
    xpad = xp.zeros((g.c, g.n, g.d + g.pf + g.pk, g.h + g.pt + g.pb, g.w + g.pl + g.pr), dtype=cols.dtype)
    for kz, ky, kx in _taps(g):
        # Within one tap no two output positions read the same cell, so ``+=`` is safe here.
        xpad[(slice(None), slice(None)) + _tap_box(g, kz, ky, kx)] += cols[:, kz, ky, kx]
    x = xpad[:, :, g.pf : g.pf + g.d, g.pt : g.pt + g.h, g.pl : g.pl + g.w]
    return xp.ascontiguousarray(x.transpose(1, 0, 2, 3, 4))


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
