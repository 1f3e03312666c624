"""Reductions over axes: sum, mean, var, std, max, min, logsumexp, cumulative sums and products.

``axis`` is None (all axes), an int, or a tuple of ints; ``keepdims`` keeps reduced axes with size 1.
The backward of a reduction broadcasts the gradient back over the axes that were reduced.
"""

from __future__ import annotations

import builtins
import math

from .. import backend
from ..tensor import Function, Tensor, _tensors
from .elementwise import _const, exp, log, sqrt
from .shape import broadcast_to, flip, reshape

_xp = backend.get_array_module  # numpy, or cupy for GPU arrays


def _normalize_axes(axis, ndim: int, op: str):
    """``axis`` as a sorted tuple of non-negative ints (all axes for None)."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(a % builtins.max(ndim, 1) for a in axes))


def _keepdims_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _expand_back(gy: Tensor, x_shape, axes) -> Tensor:
    """Reshape a reduced gradient to keepdims form and broadcast it over the input's shape."""
    return broadcast_to(reshape(gy, _keepdims_shape(x_shape, axes)), x_shape)


def _count(shape, axes) -> int:
    n = 1
    for a in axes:
        n *= shape[a]
    return n


class Sum(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, a):
        return a.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        return _expand_back(gy, self.inputs[0].shape, self.axes)


class MaxMin(Function):
    """max or min over axes.  Where several elements tie for the extreme, they share the gradient
    equally (as ``torch.amax``), so the gradient still sums to the output's gradient."""

    def __init__(self, axes, keepdims, kind):
        self.axes, self.keepdims, self.kind = axes, keepdims, kind

    def forward(self, a):
        extreme = getattr(a, self.kind)(axis=self.axes, keepdims=True)
        winners = (a == extreme).astype(a.dtype)
        self.share = winners / winners.sum(axis=self.axes, keepdims=True)
        return extreme if self.keepdims else extreme.reshape(
            tuple(s for i, s in enumerate(a.shape) if i not in self.axes))

    def backward(self, gy):
        return _expand_back(gy, self.inputs[0].shape, self.axes) * _const(self.share)


def sum(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return Sum(_normalize_axes(axis, x.ndim, "sum"), keepdims)(x)


def mean(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    axes = _normalize_axes(axis, x.ndim, "mean")
    count = _count(x.shape, axes)
    return Sum(axes, keepdims)(x) * (1.0 / count if count else float("nan"))  # the mean of nothing is NaN


def var(x: Tensor, axis=None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance; ``ddof=0`` (NumPy's default) divides by n, ``ddof=1`` by n-1 (PyTorch's default)."""
    axes = _normalize_axes(axis, x.ndim, "var")
    centered = x - mean(x, axes, keepdims=True)
    dof = _count(x.shape, axes) - ddof  # <= 0: NaN (or inf), as NumPy and PyTorch, not ZeroDivisionError
    return sum(centered * centered, axes, keepdims) * (1.0 / dof if dof > 0 else math.inf)


def std(x: Tensor, axis=None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    return sqrt(var(x, axis, keepdims, ddof))


def max(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return MaxMin(_normalize_axes(axis, x.ndim, "max"), keepdims, "max")(x)


def min(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return MaxMin(_normalize_axes(axis, x.ndim, "min"), keepdims, "min")(x)


def logsumexp(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` without overflow: the max is subtracted first and added back
    (it is a constant shift, so it is detached; the gradient is softmax(x) either way)."""
    axes = _normalize_axes(axis, x.ndim, "logsumexp")
    xp = _xp(x.data)
    shift = x.data.max(axis=axes, keepdims=True)
    shift = _const(xp.where(xp.isfinite(shift), shift, 0))
    out = log(sum(exp(x - shift), axes, keepdims=True)) + shift
    return out if keepdims else reshape(out, tuple(s for i, s in enumerate(x.shape) if i not in axes))


def argmax(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the largest element (int64; not differentiable)."""
    return _const(_xp(x.data).argmax(x.data, axis=axis, keepdims=keepdims))


def argmin(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return _const(_xp(x.data).argmin(x.data, axis=axis, keepdims=keepdims))


# --------------------------------------------------------------------------- cumulative ops


class Cumsum(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, a):
        return a.cumsum(axis=self.axis)

    def backward(self, gy):
        # y_j = sum_{i<=j} x_i, so dL/dx_i = sum_{j>=i} dL/dy_j: a cumsum running backwards.
        return flip(cumsum(flip(gy, self.axis), self.axis), self.axis)


class Cumprod(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, a):
        return a.cumprod(axis=self.axis)

    def backward(self, gy):
        # y_j = prod_{k<=j} x_k, so dL/dx_i = sum_{j>=i} dL/dy_j * y_j / x_i when no x is zero.
        x = self.inputs[0]
        if bool((x.data != 0).all()):
            y = self.output()
            return flip(cumsum(flip(gy * y, self.axis), self.axis), self.axis) / x
        return _cumprod_grad_with_zeros(x, gy, self.axis)


def _cumprod_grad_with_zeros(x: Tensor, gy: Tensor, axis: int) -> Tensor:
    """Exact gradient when some x are zero: for each position i, recompute the cumulative product
    with x_i replaced by 1 (the product of the other factors) — O(n²), used only in this case."""
    from .index import getitem
    from .shape import concatenate

    xp, n = _xp(x.data), x.shape[axis]
    columns = []
    for i in range(n):
        is_i = xp.zeros((n,) + (1,) * (x.ndim - axis - 1), dtype=bool)
        is_i[i] = True
        others = cumprod(_where_const(is_i, 1.0, x), axis)  # prod_{k<=j, k!=i} x_k
        tail = (slice(None),) * axis + (slice(i, None),)
        columns.append(sum(getitem(gy, tail) * getitem(others, tail), axis, keepdims=True))
    return concatenate(columns, axis)


def _where_const(mask, value, x: Tensor) -> Tensor:
    from .elementwise import where

    return where(mask, _tensors((value, x))[0], x)


def cumsum(x: Tensor, axis: int | None = 0) -> Tensor:
    """Running sum along ``axis`` (``None``: over the flattened tensor, as NumPy)."""
    if axis is None:
        return cumsum(reshape(x, (-1,)), 0)
    return Cumsum(_normalize_axes(axis, x.ndim, "cumsum")[0])(x)


def cumprod(x: Tensor, axis: int | None = 0) -> Tensor:
    """Running product along ``axis`` (``None``: over the flattened tensor, as NumPy)."""
    if axis is None:
        return cumprod(reshape(x, (-1,)), 0)
    return Cumprod(_normalize_axes(axis, x.ndim, "cumprod")[0])(x)
