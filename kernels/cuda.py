"""CuPy kernels for the GPU, one CUDA thread per output element.

Each kernel is a ``cupy.ElementwiseKernel``: CuPy launches one thread per element of the output
array and hands it the element's flat index ``i``; the CUDA snippet below decodes ``i`` into
coordinates and computes that one element.  The kernels are generic in the float type ``T`` (CuPy
compiles one version per dtype on first use and caches it); the Python objects are built once, on
first call, by the ``lru_cache`` factories.

Without CuPy this module still imports (so the registry lists its functions), but nothing here runs:
the dispatcher only sends CuPy arrays to these functions.
"""

from __future__ import annotations

from functools import lru_cache

from . import reference
from .geometry import VolGeometry, check_shape
from .registry import register

try:
    import cupy
except Exception:  # not installed, or the CUDA libraries fail to load
    cupy = None


# --------------------------------------------------------------------------- im2col / col2im

# The geometry, passed to both kernels as plain ints (``n`` and ``i`` are reserved by CuPy, hence
# ``batch``, ``channels``, ``height`` and ``width``).
_GEOMETRY_PARAMS = (
    "int32 batch, int32 channels, int32 height, int32 width, int32 kh, int32 kw, "
    "int32 sh, int32 sw, int32 dh, int32 dw, int32 pt, int32 pl, int32 oh, int32 ow"
)

_IM2COL = """
    // i indexes cols viewed as (c, kh, kw, n, oh, ow): peel the coordinates off, fastest first.
    ptrdiff_t rest = i;
    const int ox = rest % ow; rest /= ow;
    const int oy = rest % oh; rest /= oh;
    const int img = rest % batch; rest /= batch;
    const int kx = rest % kw; rest /= kw;
    const int ky = rest % kh;
    const int ch = rest / kh;
    const int iy = oy * sh + ky * dh - pt;  // the pixel read; outside the image means padding
    const int ix = ox * sw + kx * dw - pl;
    if (iy >= 0 && iy < height && ix >= 0 && ix < width) {
        col = x[((ptrdiff_t)(img * channels + ch) * height + iy) * width + ix];
    } else {
        col = (T)0;
    }
"""

# window_position(index, pad, tap, dilation, stride, positions): the output position whose window
# puts ``tap`` on image index ``index`` along one axis, or -1.  Tap ``tap`` of the window at position
# ``o`` reads padded index ``o*stride + tap*dilation``; it is image index ``index`` when
# ``o*stride == index + pad - tap*dilation``, which needs a non-negative multiple of the stride.
_WINDOW_POSITION = """
__device__ int window_position(int index, int pad, int tap, int dilation, int stride, int positions) {
    const int t = index + pad - tap * dilation;
    if (t < 0 || t % stride != 0 || t / stride >= positions) return -1;
    return t / stride;
}
"""

_COL2IM = """
    // i indexes the image batch (n, c, h, w); this thread gathers every tap that read pixel i.
    ptrdiff_t rest = i;
    const int ix = rest % width; rest /= width;
    const int iy = rest % height; rest /= height;
    const int ch = rest % channels;
    const int img = rest / channels;
    const ptrdiff_t columns = (ptrdiff_t)batch * oh * ow;  // the row length of cols
    T total = 0;
    for (int ky = 0; ky < kh; ++ky) {
        const int oy = window_position(iy, pt, ky, dh, sh, oh);
        if (oy < 0) continue;
        for (int kx = 0; kx < kw; ++kx) {
            const int ox = window_position(ix, pl, kx, dw, sw, ow);
            if (ox < 0) continue;
            const ptrdiff_t row = (ch * kh + ky) * kw + kx;
            total += cols[row * columns + ((ptrdiff_t)img * oh + oy) * ow + ox];
        }
    }
    x = total;
"""


@lru_cache(maxsize=None)
def _im2col_kernel():
    return cupy.ElementwiseKernel(f"raw T x, {_GEOMETRY_PARAMS}", "T col", _IM2COL, "tinygdl_im2col")


@lru_cache(maxsize=None)
def _col2im_kernel():
    return cupy.ElementwiseKernel(
        f"raw T cols, {_GEOMETRY_PARAMS}", "T x", _COL2IM, "tinygdl_col2im", preamble=_WINDOW_POSITION
    )


def _geometry_args(g):
    return (g.n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl, g.oh, g.ow)


# --------------------------------------------------------------------------- the same for volumes (N, C, D, H, W)

_VOL_GEOMETRY_PARAMS = (
    "int32 batch, int32 channels, int32 depth, int32 height, int32 width, int32 kd, int32 kh, int32 kw, "
    "int32 sd, int32 sh, int32 sw, int32 dd, int32 dh, int32 dw, int32 pf, int32 pt, int32 pl, "
    "int32 od, int32 oh, int32 ow"
)

_VOL2COL = """
    // i indexes cols viewed as (c, kd, kh, kw, n, od, oh, ow): peel the coordinates off, fastest first.
    ptrdiff_t rest = i;
    const int ox = rest % ow; rest /= ow;
    const int oy = rest % oh; rest /= oh;
    const int oz = rest % od; rest /= od;
    const int img = rest % batch; rest /= batch;
    const int kx = rest % kw; rest /= kw;
    const int ky = rest % kh; rest /= kh;
    const int kz = rest % kd;
    const int ch = rest / kd;
    const int iz = oz * sd + kz * dd - pf;  // the cell read; outside the volume means padding
    const int iy = oy * sh + ky * dh - pt;
    const int ix = ox * sw + kx * dw - pl;
    if (iz >= 0 && iz < depth && iy >= 0 && iy < height && ix >= 0 && ix < width) {
        col = x[(((ptrdiff_t)(img * channels + ch) * depth + iz) * height + iy) * width + ix];
    } else {
        col = (T)0;
    }
"""

_COL2VOL = """
    // i indexes the volume batch (n, c, d, h, w); this thread gathers every tap that read cell i.
    ptrdiff_t rest = i;
    const int ix = rest % width; rest /= width;
    const int iy = rest % height; rest /= height;
    const int iz = rest % depth; rest /= depth;
    const int ch = rest % channels;
    const int img = rest / channels;
    const ptrdiff_t columns = (ptrdiff_t)batch * od * oh * ow;  // the row length of cols
    T total = 0;
    for (int kz = 0; kz < kd; ++kz) {
        const int oz = window_position(iz, pf, kz, dd, sd, od);
        if (oz < 0) continue;
        for (int ky = 0; ky < kh; ++ky) {
            const int oy = window_position(iy, pt, ky, dh, sh, oh);
            if (oy < 0) continue;
            for (int kx = 0; kx < kw; ++kx) {
                const int ox = window_position(ix, pl, kx, dw, sw, ow);
                if (ox < 0) continue;
                const ptrdiff_t row = ((ch * kd + kz) * kh + ky) * kw + kx;
                total += cols[row * columns + (((ptrdiff_t)img * od + oz) * oh + oy) * ow + ox];
            }
        }
    }
    x = total;
"""


@lru_cache(maxsize=None)
def _vol2col_kernel():
    return cupy.ElementwiseKernel(f"raw T x, {_VOL_GEOMETRY_PARAMS}", "T col", _VOL2COL, "tinygdl_vol2col")


@lru_cache(maxsize=None)
def _col2vol_kernel():
    return cupy.ElementwiseKernel(
        f"raw T cols, {_VOL_GEOMETRY_PARAMS}", "T x", _COL2VOL, "tinygdl_col2vol", preamble=_WINDOW_POSITION
    )


def _vol_geometry_args(g):
    return (g.n, g.c, g.d, g.h, g.w, g.kd, g.kh, g.kw, g.sd, g.sh, g.sw, g.dd, g.dh, g.dw, g.pf, g.pt, g.pl,
            g.od, g.oh, g.ow)


# --------------------------------------------------------------------------- the registered kernels


def _launch(g, image_kernel, volume_kernel):
    """The kernel for ``g`` (images or volumes) and its geometry arguments.  Images keep kernels of
    their own rather than run as volumes one cell deep, which would cost every thread two more
    integer divisions (the CPU's 2-D loop was 5-15% faster than the 3-D one on images)."""
    if isinstance(g, VolGeometry):
        return volume_kernel(), _vol_geometry_args(g)
    return image_kernel(), _geometry_args(g)


@register("im2col", "cupy")
def im2col(x, g):
    """CuPy ``im2col`` of images, or of volumes for a ``VolGeometry`` (one thread per element of
    ``cols``); same contract as ``reference.im2col``."""
    check_shape(x, g.x_shape, "x", g)
    cols = cupy.empty(g.cols_shape, dtype=x.dtype)
    kernel, args = _launch(g, _im2col_kernel, _vol2col_kernel)
    kernel(cupy.ascontiguousarray(x), *args, cols)
    return cols


@register("col2im", "cupy")
def col2im(cols, g):
    """CuPy ``col2im`` of images, or of volumes for a ``VolGeometry``: a gather with one thread per
    cell of the result; same contract as ``reference.col2im``."""
    check_shape(cols, g.cols_shape, "cols", g)
    x = cupy.empty(g.x_shape, dtype=cols.dtype)
    kernel, args = _launch(g, _col2im_kernel, _col2vol_kernel)
    kernel(cupy.ascontiguousarray(cols), *args, x)
    return x


# --------------------------------------------------------------------------- fused element-wise kernels


@lru_cache(maxsize=None)
def _adam_kernel():
    # param, m and v are outputs that are also read: CuPy updates them in place.
    return cupy.ElementwiseKernel(
        "T grad, T step_size, T beta1, T beta2, T eps, T v_scale",
        "T param, T m, T v",
        """
        m = beta1 * m + (1 - beta1) * grad;
        v = beta2 * v + (1 - beta2) * grad * grad;
        param -= step_size * m / (sqrt(v) * v_scale + eps);
        """,
        "tinygdl_adam_update",
    )


@lru_cache(maxsize=None)
def _leaky_relu_grad_kernel():
    # The forward pass is this kernel with gy = x.
    return cupy.ElementwiseKernel(
        "T x, T gy, T slope", "T out", "out = x > 0 ? gy : gy * slope", "tinygdl_leaky_relu"
    )


@register("adam_update", "cupy")
def adam_update(param, grad, m, v, step_size, beta1, beta2, eps, v_scale):
    """CuPy Adam step, in place on ``param``, ``m`` and ``v``; same contract as ``reference.adam_update``."""
    scalars = (param.dtype.type(s) for s in (step_size, beta1, beta2, eps, v_scale))
    _adam_kernel()(grad, *scalars, param, m, v)


@register("leaky_relu", "cupy")
def leaky_relu(x, slope):
    """CuPy ``leaky_relu``; same contract as ``reference.leaky_relu``."""
    return _leaky_relu_grad_kernel()(x, x, x.dtype.type(slope))


@register("leaky_relu_grad", "cupy")
def leaky_relu_grad(x, gy, slope):
    """CuPy ``leaky_relu_grad``; same contract as ``reference.leaky_relu_grad``."""
    return _leaky_relu_grad_kernel()(x, gy, gy.dtype.type(slope))


# Batch norm: the reference's reductions and element-wise passes already run as CuPy's own kernels.
register("batch_norm", "cupy")(reference.batch_norm)
register("batch_norm_grad", "cupy")(reference.batch_norm_grad)
