"""The shape arithmetic of a convolution window, shared by every flavour of ``im2col``/``col2im``.

A window of ``k`` taps, ``d`` apart (the dilation), slides over a padded axis of
``size + pad_before + pad_after`` cells in steps of ``s`` (the stride).  Its span is ``d*(k-1) + 1``
cells, so it fits at ``(padded - span) // s + 1`` positions: that is the output size.
"""

from __future__ import annotations

from numbers import Integral
from typing import NamedTuple


class ConvGeometry(NamedTuple):
    """Every number an ``im2col``/``col2im`` kernel needs, in one place.

    ``n, c, h, w`` is the image batch, ``kh, kw`` the kernel, ``sh, sw`` the stride, ``dh, dw`` the
    dilation, ``pt, pb, pl, pr`` the zero padding (top, bottom, left, right) and ``oh, ow`` the
    number of window positions down and across.
    """

    n: int
    c: int
    h: int
    w: int
    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    pt: int
    pb: int
    pl: int
    pr: int
    oh: int
    ow: int

    @property
    def cols_shape(self) -> tuple[int, int]:
        """``(C*kh*kw, N*oh*ow)``: one row per (channel, tap), one column per (image, position)."""
        return (self.c * self.kh * self.kw, self.n * self.oh * self.ow)


def pair(value, name: str, op: str = "") -> tuple[int, int]:
    """``3 -> (3, 3)``, ``(2, 1) -> (2, 1)``: one value per image axis (height, width); the one
    place the conv ops and the kernels turn an argument into a pair (``op`` prefixes the error)."""
    if isinstance(value, Integral):
        return (int(value), int(value))
    values = tuple(value)
    if len(values) != 2 or not all(isinstance(v, Integral) for v in values):
        prefix = f"{op}: " if op else ""
        raise ValueError(f"{prefix}{name} must be an int or a pair of ints, got {value!r}")
    return (int(values[0]), int(values[1]))


def _padding(value) -> tuple[int, int, int, int]:
    """Accept ``p``, ``(ph, pw)`` or ``((pt, pb), (pl, pr))``; return ``(pt, pb, pl, pr)``."""
    if isinstance(value, Integral):
        return (int(value),) * 4
    rows, cols = value
    pt, pb = pair(rows, "padding")
    pl, pr = pair(cols, "padding")
    return (pt, pb, pl, pr)


def conv_geometry(x_shape, kernel_size, stride, padding, dilation) -> ConvGeometry:
    """Check the arguments of ``im2col``/``col2im`` and work out the output size.

    ``kernel_size``, ``stride`` and ``dilation`` are ``(vertical, horizontal)`` pairs (an int means
    both); ``padding`` is ``((top, bottom), (left, right))`` (``(ph, pw)`` or an int are shorthands
    for symmetric padding).
    """
    if len(x_shape) != 4:
        raise ValueError(f"expected an image batch of shape (N, C, H, W), got shape {tuple(x_shape)}")
    n, c, h, w = (int(v) for v in x_shape)
    kh, kw = pair(kernel_size, "kernel_size")
    sh, sw = pair(stride, "stride")
    dh, dw = pair(dilation, "dilation")
    pt, pb, pl, pr = _padding(padding)
    if min(kh, kw, sh, sw, dh, dw) < 1 or min(pt, pb, pl, pr) < 0:
        raise ValueError(
            f"kernel_size, stride and dilation must be >= 1 and padding >= 0, got kernel_size="
            f"{(kh, kw)}, stride={(sh, sw)}, dilation={(dh, dw)}, padding={((pt, pb), (pl, pr))}"
        )
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(
            f"a {kh}x{kw} kernel with dilation {(dh, dw)} does not fit in an input of shape "
            f"{(n, c, h, w)} padded by {((pt, pb), (pl, pr))}: the output would be {oh}x{ow}"
        )
    return ConvGeometry(n, c, h, w, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, oh, ow)


def col2im_geometry(cols_shape, x_shape, kernel_size, stride, padding, dilation) -> ConvGeometry:
    """``conv_geometry`` for ``col2im``, which also checks that ``cols`` has the matching shape."""
    g = conv_geometry(x_shape, kernel_size, stride, padding, dilation)
    if tuple(cols_shape) != g.cols_shape:
        raise ValueError(
            f"cols has shape {tuple(cols_shape)}, expected {g.cols_shape} for an image batch of shape "
            f"{tuple(x_shape)} with kernel_size={kernel_size}, stride={stride}, padding={padding}, "
            f"dilation={dilation}"
        )
    return g


# --------------------------------------------------------------------------- 3-D windows (vol2col / col2vol)


class VolGeometry(NamedTuple):
    """``ConvGeometry`` with a third, leading spatial axis: the depth ``d`` of an (N, C, D, H, W) volume.

    ``kd, sd, dd`` are the window's depth, stride and dilation along it, ``pf, pk`` the zero padding
    at the front and the back, and ``od`` the number of window positions in depth.
    """

    n: int
    c: int
    d: int
    h: int
    w: int
    kd: int
    kh: int
    kw: int
    sd: int
    sh: int
    sw: int
    dd: int
    dh: int
    dw: int
    pf: int
    pk: int
    pt: int
    pb: int
    pl: int
    pr: int
    od: int
    oh: int
    ow: int

    @property
    def cols_shape(self) -> tuple[int, int]:
        """``(C*kd*kh*kw, N*od*oh*ow)``: one row per (channel, tap), one column per (volume, position)."""
        return (self.c * self.kd * self.kh * self.kw, self.n * self.od * self.oh * self.ow)


def _triple(value, name: str) -> tuple[int, int, int]:
    """``3 -> (3, 3, 3)``; ``(2, 1, 1) -> (2, 1, 1)``."""
    if isinstance(value, Integral):
        return (int(value),) * 3
    triple = tuple(int(v) for v in value)
    if len(triple) != 3:
        raise ValueError(f"{name} must be an int or a triple of ints, got {value!r}")
    return triple


def _padding3(value) -> tuple[int, int, int, int, int, int]:
    """Accept ``p``, ``(pd, ph, pw)`` or ``((front, back), (top, bottom), (left, right))``."""
    if isinstance(value, Integral):
        return (int(value),) * 6
    axes = tuple(value)
    if len(axes) != 3:
        raise ValueError(f"padding must be an int, a triple, or three (before, after) pairs, got {value!r}")
    flat = []
    for axis in axes:
        flat += [int(axis)] * 2 if isinstance(axis, Integral) else list(pair(axis, "padding"))
    return tuple(flat)


def vol_geometry(x_shape, kernel_size, stride, padding, dilation) -> VolGeometry:
    """Check the arguments of ``vol2col``/``col2vol`` and work out the output size.

    ``kernel_size``, ``stride`` and ``dilation`` are ``(depth, vertical, horizontal)`` triples (an
    int means all three); ``padding`` is ``((front, back), (top, bottom), (left, right))`` (a
    triple or an int are shorthands for symmetric padding).
    """
    if len(x_shape) != 5:
        raise ValueError(f"expected a volume batch of shape (N, C, D, H, W), got shape {tuple(x_shape)}")
    n, c, d, h, w = (int(v) for v in x_shape)
    kd, kh, kw = _triple(kernel_size, "kernel_size")
    sd, sh, sw = _triple(stride, "stride")
    dd, dh, dw = _triple(dilation, "dilation")
    pf, pk, pt, pb, pl, pr = _padding3(padding)
    if min(kd, kh, kw, sd, sh, sw, dd, dh, dw) < 1 or min(pf, pk, pt, pb, pl, pr) < 0:
        raise ValueError(
            f"kernel_size, stride and dilation must be >= 1 and padding >= 0, got kernel_size={(kd, kh, kw)}, "
            f"stride={(sd, sh, sw)}, dilation={(dd, dh, dw)}, padding={((pf, pk), (pt, pb), (pl, pr))}"
        )
    od, oh, ow = (
        (size + before + after - dil * (k - 1) - 1) // s + 1
        for size, before, after, dil, k, s in (
            (d, pf, pk, dd, kd, sd), (h, pt, pb, dh, kh, sh), (w, pl, pr, dw, kw, sw)
        )
    )
    if min(od, oh, ow) < 1:
        raise ValueError(
            f"a {kd}x{kh}x{kw} kernel with dilation {(dd, dh, dw)} does not fit in an input of shape "
            f"{(n, c, d, h, w)} padded by {((pf, pk), (pt, pb), (pl, pr))}: the output would be {od}x{oh}x{ow}"
        )
    return VolGeometry(n, c, d, h, w, kd, kh, kw, sd, sh, sw, dd, dh, dw, pf, pk, pt, pb, pl, pr, od, oh, ow)


def col2vol_geometry(cols_shape, x_shape, kernel_size, stride, padding, dilation) -> VolGeometry:
    """``vol_geometry`` for ``col2vol``, which also checks that ``cols`` has the matching shape."""
    g = vol_geometry(x_shape, kernel_size, stride, padding, dilation)
    if tuple(cols_shape) != g.cols_shape:
        raise ValueError(
            f"cols has shape {tuple(cols_shape)}, expected {g.cols_shape} for a volume batch of shape "
            f"{tuple(x_shape)} with kernel_size={kernel_size}, stride={stride}, padding={padding}, "
            f"dilation={dilation}"
        )
    return g


# Numba's on-disk cache (``cache=True`` in cpu.py) pickles these classes by module name.  Name the
# package's, however this file was imported (as ``kernels.geometry`` with a source checkout's root on
# ``sys.path``), so that a cache written by one process loads in every other.
ConvGeometry.__module__ = VolGeometry.__module__ = "tinygdl.kernels.geometry"
