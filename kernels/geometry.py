"""The shape arithmetic of a convolution window, worked out once per op call and handed to the kernels.

A window of ``k`` taps, ``d`` apart (the dilation), slides over a padded axis of
``size + pad_before + pad_after`` cells in steps of ``s`` (the stride).  Its span is ``d*(k-1) + 1``
cells, so it fits at ``(padded - span) // s + 1`` positions: that is the output size.

An op calls ``conv_geometry`` (images) or ``vol_geometry`` (volumes) once: it checks every argument
and works out the output size.  The kernels receive the resulting ``ConvGeometry``/``VolGeometry``
(``im2col(x, g)``, ``col2im(cols, g)``) and trust it, checking only that their array has the
shape it describes (``check_shape``).  To call a kernel from plain arguments, build the geometry
first: ``im2col(x, conv_geometry(x.shape, 3, 1, 1, 1))``.
"""

from __future__ import annotations

from numbers import Integral
from typing import NamedTuple


class ConvGeometry(NamedTuple):
    """Every number an ``im2col``/``col2im`` kernel needs for an (N, C, H, W) image batch.

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
    def x_shape(self) -> tuple[int, int, int, int]:
        """The shape of the batch the window slides over (im2col's input, col2im's output)."""
        return (self.n, self.c, self.h, self.w)

    @property
    def cols_shape(self) -> tuple[int, int]:
        """``(C*kh*kw, N*oh*ow)``: one row per (channel, tap), one column per (image, position)."""
        return (self.c * self.kh * self.kw, self.n * self.oh * self.ow)

    @property
    def volume(self) -> VolGeometry:
        """The same window on the images seen as volumes one cell deep (a depth-1 kernel, no
        depth padding): ``cols`` are the same, so a 3-D kernel can do the 2-D work."""
        return VolGeometry(self.n, self.c, 1, self.h, self.w, 1, self.kh, self.kw, 1, self.sh, self.sw,
                           1, self.dh, self.dw, 0, 0, self.pt, self.pb, self.pl, self.pr, 1, self.oh, self.ow)


class VolGeometry(NamedTuple):
    """``ConvGeometry`` with a third, leading spatial axis: the depth ``d`` of an (N, C, D, H, W)
    volume batch (vol2col).

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
    def x_shape(self) -> tuple[int, int, int, int, int]:
        """The shape of the batch the window slides over (im2col's input, col2im's output)."""
        return (self.n, self.c, self.d, self.h, self.w)

    @property
    def cols_shape(self) -> tuple[int, int]:
        """``(C*kd*kh*kw, N*od*oh*ow)``: one row per (channel, tap), one column per (volume, position)."""
        return (self.c * self.kd * self.kh * self.kw, self.n * self.od * self.oh * self.ow)

    @property
    def volume(self) -> VolGeometry:
        """Itself: ``g.volume`` is the 3-D geometry of images and volumes alike."""
        return self


# --------------------------------------------------------------------------- reading the arguments

_TUPLE_NAMES = {2: "pair", 3: "triple"}


def per_axis(value, axes: int, name: str, op: str = "") -> tuple[int, ...]:
    """One int per spatial axis: ``3 -> (3, 3)`` for two axes, ``(2, 1) -> (2, 1)``; the one place
    the conv ops, the conv layers and the kernels read such an argument (``op`` prefixes the error)."""
    if isinstance(value, Integral):
        return (int(value),) * axes
    values = tuple(value)
    if len(values) != axes or not all(isinstance(v, Integral) for v in values):
        prefix = f"{op}: " if op else ""
        raise ValueError(f"{prefix}{name} must be an int or a {_TUPLE_NAMES.get(axes, f'{axes}-tuple')} of ints, "
                         f"got {value!r}")
    return tuple(int(v) for v in values)


def pair(value, name: str, op: str = "") -> tuple[int, int]:
    """``per_axis`` for images: one value per (height, width)."""
    return per_axis(value, 2, name, op)


def triple(value, name: str, op: str = "") -> tuple[int, int, int]:
    """``per_axis`` for volumes: one value per (depth, height, width)."""
    return per_axis(value, 3, name, op)


def padding_pairs(value, axes: int) -> tuple[tuple[int, int], ...]:
    """``(before, after)`` per spatial axis from ``p`` (everywhere), one int per axis (symmetric),
    or one int or pair per axis: for images ``1``, ``(1, 2)`` or ``((0, 1), (1, 1))``.  Raises
    ValueError for any other form (negative numbers are left to the caller)."""
    if isinstance(value, Integral):
        return ((int(value), int(value)),) * axes
    if isinstance(value, str) or len(value) != axes:
        raise ValueError(f"padding must be an int, one int per axis or one (before, after) pair per axis "
                         f"({axes} axes), got {value!r}")
    return tuple(per_axis(axis, 2, "padding") for axis in value)


# --------------------------------------------------------------------------- checking and sizing


def _window_numbers(x_shape, layout: str, kernel_size, stride, padding, dilation):
    """Check a window on a batch of ``layout`` (``"NCHW"`` or ``"NCDHW"``); return, one tuple each,
    the sizes, kernel, stride, dilation, ``(before, after)`` padding and output size per axis."""
    kind = "an image" if len(layout) == 4 else "a volume"
    if len(x_shape) != len(layout):
        raise ValueError(f"expected {kind} batch of shape ({', '.join(layout)}), got shape {tuple(x_shape)}")
    axes = len(layout) - 2
    sizes = tuple(int(v) for v in x_shape[2:])
    kernel, strides, dilations = (per_axis(v, axes, name) for v, name in
                                  ((kernel_size, "kernel_size"), (stride, "stride"), (dilation, "dilation")))
    pads = padding_pairs(padding, axes)
    if min(kernel + strides + dilations) < 1 or min(sum(pads, ())) < 0:
        raise ValueError(f"kernel_size, stride and dilation must be >= 1 and padding >= 0, got kernel_size={kernel}, "
                         f"stride={strides}, dilation={dilations}, padding={pads}")
    out = tuple((size + before + after - dil * (k - 1) - 1) // s + 1
                for size, (before, after), dil, k, s in zip(sizes, pads, dilations, kernel, strides))
    if min(out) < 1:
        raise ValueError(f"a {'x'.join(map(str, kernel))} kernel with dilation {dilations} does not fit in an input "
                         f"of shape {tuple(int(v) for v in x_shape)} padded by {pads}: the output would be "
                         f"{'x'.join(map(str, out))}")
    return sizes, kernel, strides, dilations, pads, out


def conv_geometry(x_shape, kernel_size, stride, padding, dilation) -> ConvGeometry:
    """Check a window on an image batch of shape ``x_shape`` (N, C, H, W) and work out the output size.

    ``kernel_size``, ``stride`` and ``dilation`` are ``(vertical, horizontal)`` pairs (an int means
    both); ``padding`` is ``((top, bottom), (left, right))`` (``(ph, pw)`` or an int are shorthands
    for symmetric padding).  Raises ValueError, naming the shapes, if the window does not fit.
    """
    (h, w), (kh, kw), (sh, sw), (dh, dw), ((pt, pb), (pl, pr)), (oh, ow) = _window_numbers(
        x_shape, "NCHW", kernel_size, stride, padding, dilation)
    return ConvGeometry(int(x_shape[0]), int(x_shape[1]), h, w, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, oh, ow)


def vol_geometry(x_shape, kernel_size, stride, padding, dilation) -> VolGeometry:
    """``conv_geometry`` for a volume batch (N, C, D, H, W): ``(depth, vertical, horizontal)``
    triples, ``padding`` as ``((front, back), (top, bottom), (left, right))`` (a triple or an int
    are shorthands for symmetric padding)."""
    (d, h, w), (kd, kh, kw), (sd, sh, sw), (dd, dh, dw), ((pf, pk), (pt, pb), (pl, pr)), (od, oh, ow) = (
        _window_numbers(x_shape, "NCDHW", kernel_size, stride, padding, dilation))
    return VolGeometry(int(x_shape[0]), int(x_shape[1]), d, h, w, kd, kh, kw, sd, sh, sw, dd, dh, dw,
                       pf, pk, pt, pb, pl, pr, od, oh, ow)


def check_shape(array, expected, name: str, g) -> None:
    """A kernel's one check of its argument against the geometry it was given (ValueError)."""
    if tuple(array.shape) != tuple(expected):
        raise ValueError(f"{name} has shape {tuple(array.shape)}, expected {tuple(expected)} for {g}")


# Numba's on-disk cache (``cache=True`` in cpu.py) pickles these classes by module name.  Name the
# package's, however this file was imported (as ``kernels.geometry`` with a source checkout's root on
# ``sys.path``), so that a cache written by one process loads in every other.
ConvGeometry.__module__ = VolGeometry.__module__ = "tinygdl.kernels.geometry"
