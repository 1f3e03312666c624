"""Numba kernels for the CPU: compiled loops, parallel over the cores with ``prange``.

Where the NumPy reference makes one pass per kernel tap over whole arrays, these kernels visit each
output element once, work out where its value comes from, and write it: no temporaries, no padded
copy of the image.  ``col2im`` is a *gather*: each image pixel sums the elements of ``cols`` that
were read from it, so no two threads write the same pixel (no atomics) and every run adds in the
same order (deterministic).  Which elements those are is the same for every image plane, so it is
worked out once per call, in ``_gather_table``.

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
``NUMBA_THREADING_LAYER`` yourself to choose another layer.  With one thread
(``numba.set_num_threads(1)``) no pool is used at all: every kernel also has a serial build
(``_threaded``).
"""

from __future__ import annotations

import functools
import os
import types

import numba
import numpy as np
from numba import njit, prange

from .geometry import VolGeometry, check_shape
from .reference import adam_update as _reference_adam_update
from .registry import register

if numba.config.DISABLE_JIT:
    raise ImportError("NUMBA_DISABLE_JIT is set: the Numba kernels are switched off")

if "NUMBA_THREADING_LAYER" not in os.environ:  # see the module docstring; must precede the first parallel call
    numba.config.THREADING_LAYER = "workqueue"


def _threaded(loops):
    """``loops`` compiled twice: with ``parallel=True``, and serially (``prange`` is then ``range``),
    the serial build run whenever Numba is set to one thread.

    A parallel call hands its work to the pool's threads and waits for them even with one thread;
    that hand-over costs about 0.1 ms on an idle machine and, on a busy one, as long as the woken
    thread waits for a core (50 ms seen for one Adam step of a DCGAN).  One thread needs no pool.
    The serial twin has its own name, so that Numba's on-disk cache keeps the two builds apart.
    """
    parallel = njit(parallel=True, cache=True)(loops)
    twin = types.FunctionType(loops.__code__, loops.__globals__, loops.__name__ + "_serial", loops.__defaults__,
                              loops.__closure__)
    twin.__qualname__ = loops.__qualname__ + "_serial"
    serial = njit(cache=True, error_model="numpy")(twin)

    @functools.wraps(loops)
    def launch(*args):
        return (serial if one_thread() else parallel)(*args)

    launch.parallel, launch.serial = parallel, serial
    return launch


def one_thread() -> bool:
    """True when Numba is set to one thread: every kernel then runs its serial build."""
    return numba.get_num_threads() == 1

# --------------------------------------------------------------------------- im2col


@_threaded
def _im2col(x, g, cols):
    # One task per (row of cols, image): the row is one (channel, tap) pair and the image's
    # oh*ow positions form a contiguous stretch of that row.
    rows = g.c * g.kh * g.kw
    for task in prange(rows * g.n):
        r, n = task // g.n, task % g.n
        c, tap = r // (g.kh * g.kw), r % (g.kh * g.kw)
        ky, kx = tap // g.kw, tap % g.kw
        for oy in range(g.oh):
            iy = oy * g.sh + ky * g.dh - g.pt  # the image row read (negative or >= h: padding)
            start = (n * g.oh + oy) * g.ow
            for ox in range(g.ow):
                ix = ox * g.sw + kx * g.dw - g.pl
                if 0 <= iy < g.h and 0 <= ix < g.w:
                    cols[r, start + ox] = x[n, c, iy, ix]
                else:
                    cols[r, start + ox] = 0


@njit(inline="always")
def _inside_positions(offset, stride, positions, size):
    """The window positions ``o`` in [lo, hi) whose cell ``o*stride + offset`` lies in [0, size)."""
    lo = 0 if offset >= 0 else (-offset + stride - 1) // stride
    hi = 0 if size - 1 - offset < 0 else (size - 1 - offset) // stride + 1
    lo = min(lo, positions)
    return lo, max(min(hi, positions), lo)


@_threaded
def _vol2col(x, g, cols):
    # As _im2col, with a depth axis: one task per (row of cols, volume); the row is one
    # (channel, tap) pair and the volume's od*oh*ow positions form a contiguous stretch of it.
    # Along W the positions that read inside the volume, [lo, hi), are worked out once per task,
    # so the innermost loop is a plain strided copy from one line of the volume.
    taps = g.kd * g.kh * g.kw
    for task in prange(g.c * taps * g.n):
        r, n = task // g.n, task % g.n
        c, tap = r // taps, r % taps
        kz, ky, kx = tap // (g.kh * g.kw), (tap // g.kw) % g.kh, tap % g.kw
        offset = kx * g.dw - g.pl  # position ox reads cell ox*sw + offset of its line
        lo, hi = _inside_positions(offset, g.sw, g.ow, g.w)
        row = cols[r]
        for oz in range(g.od):
            iz = oz * g.sd + kz * g.dd - g.pf  # the cell read (outside the volume: padding)
            for oy in range(g.oh):
                iy = oy * g.sh + ky * g.dh - g.pt
                start = ((n * g.od + oz) * g.oh + oy) * g.ow
                if not (0 <= iz < g.d and 0 <= iy < g.h):
                    row[start:start + g.ow] = 0
                    continue
                line = x[n, c, iz, iy]
                row[start:start + lo] = 0
                for ox in range(lo, hi):
                    row[start + ox] = line[ox * g.sw + offset]
                row[start + hi:start + g.ow] = 0


@register("im2col", "numba")
def im2col(x, g):
    """Numba ``im2col`` of images, or of volumes for a ``VolGeometry``; same contract as
    ``reference.im2col``.  Images keep a loop of their own: run as volumes one cell deep through
    ``_vol2col`` they took 5-15% longer (one thread, the shapes of benchmarks/kernels.py)."""
    check_shape(x, g.x_shape, "x", g)
    cols = np.empty(g.cols_shape, dtype=x.dtype)
    unfold = _vol2col if isinstance(g, VolGeometry) else _im2col
    unfold(np.ascontiguousarray(x), g, cols)
    return cols


# --------------------------------------------------------------------------- col2im


@njit(inline="always")
def _window_position(i, pad, tap, dilation, stride, positions):
    """The output position whose window puts ``tap`` on index ``i`` of the input along one axis, or -1.

    Tap ``tap`` of the window at position ``o`` reads padded index ``o*stride + tap*dilation``,
    which is input index ``i`` when ``o*stride == i + pad - tap*dilation``: a position exists only
    if that number is a non-negative multiple of the stride, and below ``positions``.
    """
    t = i + pad - tap * dilation
    if t < 0 or t % stride != 0 or t // stride >= positions:
        return -1
    return t // stride


@njit(cache=True)
def _gather_table(g):
    """Where, in ``cols``, the elements read from each cell of a (volume, channel) block sit.

    Cell ``p = (iz*h + iy)*w + ix`` of block ``(n, c)`` was read by ``count[p]`` elements of
    ``cols``, at flat indices ``start + offset[p, j]``, where ``start = c*kd*kh*kw*L + n*od*oh*ow``
    and ``L = N*od*oh*ow`` is the row length.  The offsets are the same for every block, so they
    are worked out once per call, and the divisions stay out of the per-cell loop.
    """
    row_length = g.n * g.od * g.oh * g.ow
    cells = g.d * g.h * g.w
    count = np.zeros(cells, np.int64)
    offset = np.empty((cells, g.kd * g.kh * g.kw), np.int64)
    for iz in range(g.d):
        for kz in range(g.kd):
            oz = _window_position(iz, g.pf, kz, g.dd, g.sd, g.od)
            if oz < 0:
                continue
            for iy in range(g.h):
                for ky in range(g.kh):
                    oy = _window_position(iy, g.pt, ky, g.dh, g.sh, g.oh)
                    if oy < 0:
                        continue
                    for ix in range(g.w):
                        for kx in range(g.kw):
                            ox = _window_position(ix, g.pl, kx, g.dw, g.sw, g.ow)
                            if ox >= 0:
                                p = (iz * g.h + iy) * g.w + ix
                                tap = (kz * g.kh + ky) * g.kw + kx
                                offset[p, count[p]] = tap * row_length + (oz * g.oh + oy) * g.ow + ox
                                count[p] += 1
    return count, offset


@_threaded
def _gather(flat_cols, count, offset, blocks, channels, channel_stride, block_stride):
    """``blocks[n*C + c, p] = Σ_j flat_cols[c*channel_stride + n*block_stride + offset[p, j]]``:
    each cell of a (volume, channel) block sums the entries of ``cols`` that read it (one task
    per block)."""
    for block in prange(blocks.shape[0]):
        n, c = block // channels, block % channels
        start = c * channel_stride + n * block_stride
        for p in range(blocks.shape[1]):
            total = blocks.dtype.type(0)
            for j in range(count[p]):
                total += flat_cols[start + offset[p, j]]
            blocks[block, p] = total


@register("col2im", "numba")
def col2im(cols, g):
    """Numba ``col2im`` (a gather) of images, or of volumes for a ``VolGeometry``; same contract as
    ``reference.col2im``.  Images are gathered as volumes one cell deep (as fast: the table is
    small and the gather loop is the same)."""
    check_shape(cols, g.cols_shape, "cols", g)
    v = g.volume
    count, offset = _gather_table(v)
    x = np.empty(g.x_shape, dtype=cols.dtype)
    _gather(np.ascontiguousarray(cols).reshape(-1), count, offset, x.reshape(v.n * v.c, v.d * v.h * v.w), v.c,
            v.kd * v.kh * v.kw * cols.shape[1], v.od * v.oh * v.ow)
    return x


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

    The kernel walks the arrays as flat vectors, which are views only of contiguous arrays: for any
    other layout the step falls back to the reference.
    """
    if not all(a.flags.c_contiguous for a in (param, grad, m, v)):
        return _reference_adam_update(param, grad, m, v, step_size, beta1, beta2, eps, v_scale)
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
    x, gy = np.ascontiguousarray(x), np.ascontiguousarray(gy)
    out = np.empty(x.shape, dtype=gy.dtype)
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
