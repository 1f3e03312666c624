"""Numba kernels for the CPU: compiled loops, parallel over the cores with ``prange``.

Where the NumPy reference makes one pass per kernel tap over whole arrays, these kernels visit each
element once, work out where its value comes from or goes, and write it: no temporaries, no padded
copy of the image.  ``im2col`` and ``col2im`` treat images as volumes one cell deep, and come in two
loop structures.  Along the lines of a stride-1 window, the innermost loops are plain copies (or
additions) along one line of the image, with unsigned indices so that LLVM vectorises them
(``_at``).  A strided window reads every other cell, and a small image has short lines whose
bookkeeping costs more than their copies: there the kernels walk a table of the cell each window
position reads (``_source_cells``, one row per tap), 1.2-2.6x faster than the lines on the
DCGAN's k4 s2 layers.  Either way ``col2im`` runs one task per (image, channel) block of its
output, so no two threads write the same pixel (no atomics) and every run adds in the same order
(deterministic).

``cache=True`` stores the compiled machine code next to this file, so only the first run on a
machine pays the compilation (a few seconds per dtype).  This module is imported only when Numba
works; importing it raises ImportError when ``NUMBA_DISABLE_JIT=1``, because these loops would then
run as plain Python, far slower than the reference.

A parallel loop ends when its slowest thread does.  With Numba's default OpenMP threading layer,
a thread that has finished its share *spins* on its core for a while, waiting for more work.
Between two Numba calls the engine runs NumPy's matrix products on OpenBLAS's own threads, which
spin the same way, and the two pools take the cores from each other: a DCGAN step on 2 cores took
0.35 s instead of 0.13 s (and whenever other programs kept the cores busy, every Numba call took
about 8 ms, whatever its size).  OpenMP's remedy, ``OMP_WAIT_POLICY=PASSIVE``, is read by every
OpenMP library in the process (PyTorch shares the same runtime) and would slow those down.  So
this module asks Numba for its own ``workqueue`` threading layer, whose idle threads sleep: about
0.1 ms to wake them per call, no spinning, nothing shared with OpenMP.  Set
``NUMBA_THREADING_LAYER`` yourself to choose another layer.  By default no pool is used at all:
every kernel also has a serial build (``_threaded``), which runs in the calling thread unless the
parallel builds are asked for (``set_parallel``, below, where the reason is measured).
"""

from __future__ import annotations

import functools
import os
import types

import numba
import numpy as np
from numba import njit, prange

from .geometry import check_shape
from .reference import adam_update as _reference_adam_update
from .registry import register

if numba.config.DISABLE_JIT:
    raise ImportError("NUMBA_DISABLE_JIT is set: the Numba kernels are switched off")

if "NUMBA_THREADING_LAYER" not in os.environ:  # see the module docstring; must precede the first parallel call
    numba.config.THREADING_LAYER = "workqueue"


def _threaded(loops=None, *, fastmath=False):
    """``loops`` compiled twice: with ``parallel=True``, and serially (``prange`` is then ``range``),
    the serial build run whenever Numba is set to one thread.

    A parallel call hands its work to the pool's threads and waits for them even with one thread;
    that hand-over costs about 0.1 ms on an idle machine and, on a busy one, as long as the woken
    thread waits for a core (50 ms seen for one Adam step of a DCGAN).  One thread needs no pool.
    The serial twin has its own name, so that Numba's on-disk cache keeps the two builds apart.
    """
    if loops is None:  # used as @_threaded(fastmath=...)
        return functools.partial(_threaded, fastmath=fastmath)
    parallel = njit(parallel=True, cache=True, fastmath=fastmath)(loops)
    twin = types.FunctionType(loops.__code__, loops.__globals__, loops.__name__ + "_serial", loops.__defaults__,
                              loops.__closure__)
    twin.__qualname__ = loops.__qualname__ + "_serial"
    serial_build = njit(cache=True, error_model="numpy", fastmath=fastmath)(twin)

    @functools.wraps(loops)
    def launch(*args):
        return (serial_build if serial() else parallel)(*args)

    launch.parallel, launch.serial = parallel, serial_build
    return launch


# Whether the kernels may run their parallel builds (``set_parallel``, or
# TINYGDL_PARALLEL_KERNELS=1 in the environment).  Off by default.  On the 2-core benchmark
# machine, with two threads for every library, the parallel im2col took 524 ms of a cgan profile
# where the serial one took 282 ms; with serial builds the CIFAR CNN step went from 1.07x to 0.74x
# PyTorch's time, and cgan from 1.41x to 1.21x.  These kernels are memory-bound, and they run
# between matrix products whose OpenBLAS threads keep spinning on every core for a while after
# each product: a woken Numba thread waits for a core.
_parallel = os.environ.get("TINYGDL_PARALLEL_KERNELS", "") == "1"


def set_parallel(flag: bool) -> None:
    """Let the kernels use Numba's threads (True), or run them in the calling thread (False)."""
    global _parallel
    _parallel = bool(flag)


def serial() -> bool:
    """True when every kernel runs its serial build: the parallel builds are off
    (``set_parallel``), or Numba is set to one thread."""
    return not _parallel or numba.get_num_threads() == 1


# --------------------------------------------------------------------------- im2col and col2im


@njit(inline="always")
def _at(i):
    """``i`` as an unsigned index.  Numba checks every signed index for a negative value (Python's
    wrap-around), and that check keeps LLVM from vectorising a copy loop; these indices are never
    negative, and unsigned ones are used as they are (2-4x faster loops below)."""
    return np.uint64(i)


@njit(inline="always")
def _inside_positions(offset, stride, positions, size):
    """The window positions ``o`` in [lo, hi) whose cell ``o*stride + offset`` lies in [0, size)."""
    lo = 0 if offset >= 0 else (-offset + stride - 1) // stride
    hi = 0 if size - 1 - offset < 0 else (size - 1 - offset) // stride + 1
    lo = min(lo, positions)
    return lo, max(min(hi, positions), lo)


@njit(cache=True)
def _line_ranges(g):
    """``[lo, hi)`` for each kernel column ``kx``: the window positions along a line whose tap
    ``kx`` reads inside the image (``_inside_positions``), worked out once per call."""
    ranges = np.empty((g.kw, 2), np.int64)
    for kx in range(g.kw):
        ranges[kx, 0], ranges[kx, 1] = _inside_positions(kx * g.dw - g.pl, g.sw, g.ow, g.w)
    return ranges


@_threaded
def _im2col(x, g, ranges, cols):
    # x and cols flat; g a VolGeometry (images are volumes one cell deep) with stride 1 along the
    # lines (sw == 1; other windows take _im2col_by_table).  One task per (volume, channel) block
    # of x: it fills that channel's kd*kh*kw rows of cols, one per tap, in the stretch of the
    # block's volume (its od*oh*ow window positions, one line of ow positions at a time).  Along a
    # line the positions [lo, hi) read inside the volume; the others read padding and get 0.
    length = g.n * g.od * g.oh * g.ow  # of a row of cols
    cells = g.d * g.h * g.w  # of a (volume, channel) block of x
    for block in prange(g.n * g.c):
        n, c = block // g.c, block % g.c
        r = c * g.kd * g.kh * g.kw  # the row of the first tap
        for kz in range(g.kd):
            for ky in range(g.kh):
                for kx in range(g.kw):
                    offset = kx * g.dw - g.pl  # position ox reads cell ox + offset of its line
                    for oz in range(g.od):
                        iz = oz * g.sd + kz * g.dd - g.pf  # the line read (outside the volume: padding)
                        for oy in range(g.oh):
                            iy = oy * g.sh + ky * g.dh - g.pt
                            out = r * length + ((n * g.od + oz) * g.oh + oy) * g.ow
                            inside = 0 <= iz < g.d and 0 <= iy < g.h
                            lo, hi = (ranges[kx, 0], ranges[kx, 1]) if inside else (0, 0)
                            line = block * cells + (iz * g.h + iy) * g.w + offset
                            for ox in range(lo):
                                cols[_at(out + ox)] = 0
                            for ox in range(lo, hi):  # a plain copy, vectorised
                                cols[_at(out + ox)] = x[_at(line + ox)]
                            for ox in range(hi, g.ow):
                                cols[_at(out + ox)] = 0
                    r += 1


@_threaded
def _im2col_by_planes(x, g, ranges, cols):
    # _im2col when output lines are as long as image lines (ow == w, "same" padding) and the
    # window moves one line at a time (sh == 1): consecutive output lines of a tap then read
    # consecutive image lines, so a tap's whole plane is one shifted copy, long enough to vectorise
    # well.  The copy carries the cells next to each line's ends into the padding columns, which
    # are zeroed after it; lines that read padding rows are zeroed whole.
    length = g.n * g.od * g.oh * g.ow
    cells = g.d * g.h * g.w
    plane = g.oh * g.ow
    for block in prange(g.n * g.c):
        n, c = block // g.c, block % g.c
        r = c * g.kd * g.kh * g.kw
        for kz in range(g.kd):
            for ky in range(g.kh):
                row_offset = ky * g.dh - g.pt  # output line oy reads image line oy + row_offset
                first, last = _inside_positions(row_offset, 1, g.oh, g.h)
                for kx in range(g.kw):
                    offset = kx * g.dw - g.pl
                    lo, hi = ranges[kx, 0], ranges[kx, 1]
                    for oz in range(g.od):
                        iz = oz * g.sd + kz * g.dd - g.pf
                        out = r * length + (n * g.od + oz) * plane
                        top, bottom = (first, last) if 0 <= iz < g.d and lo < hi else (0, 0)
                        for i in range(top * g.ow):
                            cols[_at(out + i)] = 0
                        if top < bottom:
                            # cell i of the plane reads cell i + shift of the block's volume
                            shift = block * cells + (iz * g.h + row_offset) * g.w + offset
                            for i in range(top * g.ow + lo, (bottom - 1) * g.ow + hi):
                                cols[_at(out + i)] = x[_at(shift + i)]
                            for oy in range(top, bottom):
                                for ox in range(lo):
                                    cols[_at(out + oy * g.ow + ox)] = 0
                                for ox in range(hi, g.ow):
                                    cols[_at(out + oy * g.ow + ox)] = 0
                        for i in range(bottom * g.ow, plane):
                            cols[_at(out + i)] = 0
                    r += 1


@_threaded
def _col2im(cols, g, ranges, x):
    # The adjoint of _im2col, with the same loops: every element of cols is added back into the
    # cell it was read from.  Only the task of a (volume, channel) block writes into it, so no
    # two threads write the same cell (no atomics), and each cell adds its terms in tap order,
    # the same on every run.
    length = g.n * g.od * g.oh * g.ow
    cells = g.d * g.h * g.w
    for block in prange(g.n * g.c):
        n, c = block // g.c, block % g.c
        for cell in range(cells):
            x[_at(block * cells + cell)] = 0
        r = c * g.kd * g.kh * g.kw
        for kz in range(g.kd):
            for ky in range(g.kh):
                for kx in range(g.kw):
                    offset = kx * g.dw - g.pl
                    lo, hi = ranges[kx, 0], ranges[kx, 1]
                    for oz in range(g.od):
                        iz = oz * g.sd + kz * g.dd - g.pf
                        for oy in range(g.oh):
                            iy = oy * g.sh + ky * g.dh - g.pt
                            if not (0 <= iz < g.d and 0 <= iy < g.h):
                                continue
                            src = r * length + ((n * g.od + oz) * g.oh + oy) * g.ow
                            line = block * cells + (iz * g.h + iy) * g.w + offset
                            for ox in range(lo, hi):
                                x[_at(line + ox)] += cols[_at(src + ox)]
                    r += 1


@njit(cache=True)
def _source_cells(g):
    """``cells[tap, position]``: the cell of a (volume, channel) block that window position
    ``(oz, oy, ox)`` (flattened) reads for tap ``(kz, ky, kx)`` (flattened), or -1 for padding."""
    cells = np.empty((g.kd * g.kh * g.kw, g.od * g.oh * g.ow), np.int64)
    tap = 0
    for kz in range(g.kd):
        for ky in range(g.kh):
            for kx in range(g.kw):
                position = 0
                for oz in range(g.od):
                    iz = oz * g.sd + kz * g.dd - g.pf
                    for oy in range(g.oh):
                        iy = oy * g.sh + ky * g.dh - g.pt
                        for ox in range(g.ow):
                            ix = ox * g.sw + kx * g.dw - g.pl
                            inside = 0 <= iz < g.d and 0 <= iy < g.h and 0 <= ix < g.w
                            cells[tap, position] = (iz * g.h + iy) * g.w + ix if inside else -1
                            position += 1
                tap += 1
    return cells


@_threaded
def _im2col_by_table(x, g, cells, cols):
    # _im2col's blocks and rows, each row filled from the table of source cells (_source_cells).
    length = g.n * g.od * g.oh * g.ow
    block_cells = g.d * g.h * g.w
    taps, positions = cells.shape
    for block in prange(g.n * g.c):
        n, c = block // g.c, block % g.c
        start = block * block_cells
        for tap in range(taps):
            out = (c * taps + tap) * length + n * positions
            for position in range(positions):
                cell = cells[tap, position]
                if cell >= 0:
                    cols[_at(out + position)] = x[_at(start + cell)]
                else:
                    cols[_at(out + position)] = 0


@_threaded
def _col2im_by_table(cols, g, cells, x):
    # The adjoint of _im2col_by_table: within one tap no two positions read the same cell.
    length = g.n * g.od * g.oh * g.ow
    block_cells = g.d * g.h * g.w
    taps, positions = cells.shape
    for block in prange(g.n * g.c):
        n, c = block // g.c, block % g.c
        start = block * block_cells
        for cell in range(block_cells):
            x[_at(start + cell)] = 0
        for tap in range(taps):
            src = (c * taps + tap) * length + n * positions
            for position in range(positions):
                cell = cells[tap, position]
                if cell >= 0:
                    x[_at(start + cell)] += cols[_at(src + position)]


# Stride-1 windows whose lines have at least this many positions are copied line by line; the
# others use the table (see the module docstring).
MIN_LINE = 8


def _by_lines(v) -> bool:
    return v.sw == 1 and v.ow >= MIN_LINE


@register("im2col", "numba")
def im2col(x, g):
    """Numba ``im2col`` of images, or of volumes for a ``VolGeometry``; same contract as
    ``reference.im2col``.  Images run as volumes one cell deep."""
    check_shape(x, g.x_shape, "x", g)
    cols = np.empty(g.cols_shape, dtype=x.dtype)
    v, flat = g.volume, np.ascontiguousarray(x).reshape(-1)  # images as volumes one cell deep
    if _by_lines(v) and v.sh == 1 and v.ow == v.w:
        _im2col_by_planes(flat, v, _line_ranges(v), cols.reshape(-1))
    elif _by_lines(v):
        _im2col(flat, v, _line_ranges(v), cols.reshape(-1))
    else:
        _im2col_by_table(flat, v, _source_cells(v), cols.reshape(-1))
    return cols


@register("col2im", "numba")
def col2im(cols, g):
    """Numba ``col2im`` of images, or of volumes for a ``VolGeometry``; same contract as
    ``reference.col2im``."""
    check_shape(cols, g.cols_shape, "cols", g)
    x = np.empty(g.x_shape, dtype=cols.dtype)
    v, flat = g.volume, np.ascontiguousarray(cols).reshape(-1)  # images as volumes one cell deep
    if _by_lines(v):
        _col2im(flat, v, _line_ranges(v), x.reshape(-1))
    else:
        _col2im_by_table(flat, v, _source_cells(v), x.reshape(-1))
    return x


# --------------------------------------------------------------------------- batch norm (training mode)

# The per-channel sums run in float64 and may be reassociated ("reassoc": LLVM then keeps several
# partial sums in vector registers); that is the only fast-math freedom given.
_SUMS = {"reassoc"}


@_threaded(fastmath=_SUMS)
def _batch_norm(x, weight, bias, eps, y, mean, var):
    # x and y (N, C, S): one task per channel, three passes over it as in the reference: the mean,
    # the mean squared deviation from it, then y.
    n, channels, size = x.shape
    count = n * size
    for c in prange(channels):
        total = 0.0
        for i in range(n):
            for s in range(size):
                total += x[i, c, s]
        mu = total / count
        squares = 0.0
        for i in range(n):
            for s in range(size):
                d = x[i, c, s] - mu
                squares += d * d
        v = squares / count
        scale = weight[c] / np.sqrt(v + eps)
        for i in range(n):
            for s in range(size):
                y[i, c, s] = (x[i, c, s] - mu) * scale + bias[c]
        mean[c], var[c] = mu, v


@_threaded(fastmath=_SUMS)
def _batch_norm_grad(x, gy, weight, mean, inv_std, gx, gweight, gbias):
    # One task per channel, two passes: the two sums, then gx (the formula of reference.batch_norm_grad).
    n, channels, size = x.shape
    count = n * size
    for c in prange(channels):
        mu = mean[c]
        sum_gy, sum_gy_centered = 0.0, 0.0
        for i in range(n):
            for s in range(size):
                g = gy[i, c, s]
                sum_gy += g
                sum_gy_centered += g * (x[i, c, s] - mu)
        scale = weight[c] * inv_std[c]
        per_centered = scale * inv_std[c] * inv_std[c] * sum_gy_centered / count
        shift = scale * sum_gy / count
        for i in range(n):
            for s in range(size):
                gx[i, c, s] = gy[i, c, s] * scale - (x[i, c, s] - mu) * per_centered - shift
        gweight[c], gbias[c] = sum_gy_centered * inv_std[c], sum_gy


def _as_nc_s(a):
    """(N, C, ...) -> a contiguous (N, C, S) view or copy."""
    return np.ascontiguousarray(a).reshape(a.shape[0], a.shape[1], -1)


@register("batch_norm", "numba")
def batch_norm(x, weight, bias, eps):
    """Numba ``batch_norm``; same contract as ``reference.batch_norm``."""
    y = np.empty(x.shape, dtype=x.dtype)
    mean, var = (np.empty(x.shape[1], dtype=x.dtype) for _ in range(2))
    _batch_norm(_as_nc_s(x), np.ascontiguousarray(weight), np.ascontiguousarray(bias), x.dtype.type(eps),
                y.reshape(_as_nc_s(x).shape), mean, var)
    return y, mean, var


@register("batch_norm_grad", "numba")
def batch_norm_grad(x, gy, weight, mean, inv_std):
    """Numba ``batch_norm_grad``; same contract as ``reference.batch_norm_grad``."""
    gx = np.empty(x.shape, dtype=gy.dtype)
    gweight, gbias = (np.empty(x.shape[1], dtype=gy.dtype) for _ in range(2))
    _batch_norm_grad(_as_nc_s(x), _as_nc_s(gy), np.ascontiguousarray(weight), np.ascontiguousarray(mean),
                     np.ascontiguousarray(inv_std), gx.reshape(_as_nc_s(x).shape), gweight, gbias)
    return gx, gweight, gbias


# --------------------------------------------------------------------------- fused element-wise kernels


@_threaded
def _adam_update(param, grad, m, v, step_size, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, v_scale):
    for i in prange(param.size):
        g = grad[i]
        m[i] = beta1 * m[i] + one_minus_beta1 * g
        v[i] = beta2 * v[i] + one_minus_beta2 * g * g
        param[i] -= step_size * m[i] / (np.sqrt(v[i]) * v_scale + eps)


@register("adam_update", "numba")
def adam_update(param, grad, m, v, step_size, beta1, beta2, eps, v_scale):
    """Numba Adam step, in place; same contract as ``reference.adam_update``.

    The kernel walks the arrays as flat vectors, which are views only of contiguous arrays.  A
    gradient in another layout (the gradient of a weight used transposed) is copied first, one
    pass; a parameter or moment that is not contiguous (never, for tinygdl's optimizers) falls
    back to the reference.
    """
    if not all(a.flags.c_contiguous for a in (param, m, v)):
        return _reference_adam_update(param, grad, m, v, step_size, beta1, beta2, eps, v_scale)
    grad = np.ascontiguousarray(grad)
    # Scalars in the arrays' dtype keep float32 arithmetic in float32, as in the reference.
    scalars = (step_size, beta1, 1.0 - beta1, beta2, 1.0 - beta2, eps, v_scale)
    scalars = (param.dtype.type(s) for s in scalars)
    _adam_update(param.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1), *scalars)


@_threaded
def _leaky_relu(x, gy, slope, out):
    # One loop for both directions: the forward pass is the gradient with gy = x.
    for i in prange(x.size):
        out[i] = gy[i] if x[i] > 0 else gy[i] * slope


def _leaky(x, gy, slope):
    out = np.empty(x.shape, dtype=gy.dtype)  # before ascontiguousarray, which makes a 0-d array 1-d
    x, gy = np.ascontiguousarray(x), np.ascontiguousarray(gy)
    _leaky_relu(x.reshape(-1), gy.reshape(-1), gy.dtype.type(slope), out.reshape(-1))
    return out


@register("leaky_relu", "numba")
def leaky_relu(x, slope):
    """Numba ``leaky_relu``; same contract as ``reference.leaky_relu``."""
    return _leaky(x, x, slope)


@register("leaky_relu_grad", "numba")
def leaky_relu_grad(x, gy, slope):
    """Numba ``leaky_relu_grad``; same contract as ``reference.leaky_relu_grad``."""
    return _leaky(x, gy, slope)
