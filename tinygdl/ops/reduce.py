"""Reductions over axes: sum, mean, var, std, max, min, logsumexp, cumulative sums and products.

``axis`` is None (all axes), an int, or a tuple of ints; ``keepdims`` keeps reduced axes with size 1.
The backward of a reduction broadcasts the gradient back over the axes that were reduced.
"""

from __future__ import annotations

import math

from .. import backend
from .. import tensor as _autograd
from ..errors import ConfigError, ShapeError
from ..tensor import Function, Tensor
from .elementwise import _const, _floating, exp, log, sqrt, where
from .index import getitem
from .movement import astype
from .select import ValuesIndices, gather
from .shape import broadcast_to, concatenate, flip, movedim, reshape, transpose, unsqueeze

_xp = backend.get_array_module  # numpy, or cupy for GPU arrays


def _normalize_axes(axis, ndim: int, op: str):
    """``axis`` as a sorted tuple of non-negative ints (all axes for None).  A 0-d tensor accepts
    axis 0 or -1 and has no axis to reduce (as in PyTorch: ``sum(x, 0)`` of a 0-d x is x)."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    n = ndim or 1
    for a in axes:
        if not -n <= a < n:
            raise ShapeError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(a % ndim for a in axes)) if ndim else ()


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


def sum(x: Tensor, axis=None, keepdims: bool = False, dtype=None) -> Tensor:
    """Sum over ``axis``; ``dtype``: cast first (``sum(dtype=float32)`` of an int tensor)."""
    x = x if dtype is None else astype(x, dtype)
    return Sum(_normalize_axes(axis, x.ndim, "sum"), keepdims)(x)


def mean(x: Tensor, axis=None, keepdims: bool = False, dtype=None) -> Tensor:
    """Mean over ``axis``; the mean of an int tensor is in the default float dtype (or ``dtype``)."""
    if dtype is not None or x.data.dtype.kind not in "fc":
        x = _floating(x) if dtype is None else astype(x, dtype)
    axes = _normalize_axes(axis, x.ndim, "mean")
    count = _count(x.shape, axes)
    return Sum(axes, keepdims)(x) * (1.0 / count if count else float("nan"))  # the mean of nothing is NaN


def _correction(op: str, ddof, correction, unbiased) -> int:
    """The number subtracted from n in var/std: one of three spellings, default 0 (NumPy's ddof=0)."""
    given = [v for v in (ddof, correction, unbiased) if v is not None]
    if len(given) > 1:
        raise ConfigError(f"{op}: give at most one of ddof, correction and unbiased")
    if unbiased is not None:
        return int(bool(unbiased))
    return given[0] if given else 0


def var(x: Tensor, axis=None, keepdims: bool = False, ddof=None, *, correction=None, unbiased=None) -> Tensor:
    """Variance, dividing by n − correction.  The default is NumPy's (n, the maximum-likelihood
    estimate); PyTorch's default is n − 1: pass ``correction=1``, ``ddof=1`` or ``unbiased=True``."""
    x = _floating(x)
    axes = _normalize_axes(axis, x.ndim, "var")
    centered = x - mean(x, axes, keepdims=True)
    dof = _count(x.shape, axes) - _correction("var", ddof, correction, unbiased)
    # dof <= 0: NaN (or inf), as NumPy and PyTorch, not ZeroDivisionError
    return sum(centered * centered, axes, keepdims) * (1.0 / dof if dof > 0 else math.inf)


def std(x: Tensor, axis=None, keepdims: bool = False, ddof=None, *, correction=None, unbiased=None) -> Tensor:
    """Standard deviation, ``sqrt(var(...))``: the same arguments and the same default (n, not n − 1)."""
    return sqrt(var(x, axis, keepdims, ddof, correction=correction, unbiased=unbiased))


def var_mean(x: Tensor, axis=None, keepdims: bool = False, ddof=None, *, correction=None, unbiased=None):
    """``(var, mean)`` in one call, as ``torch.var_mean`` (same default as :func:`var`)."""
    return var(x, axis, keepdims, ddof, correction=correction, unbiased=unbiased), mean(x, axis, keepdims)


def std_mean(x: Tensor, axis=None, keepdims: bool = False, ddof=None, *, correction=None, unbiased=None):
    """``(std, mean)`` in one call, as ``torch.std_mean``."""
    return std(x, axis, keepdims, ddof, correction=correction, unbiased=unbiased), mean(x, axis, keepdims)


class Prod(Function):
    """Product over axes.  ∂y/∂x_i is the product of the *other* elements: the product of everything
    before x_i times everything after it, two exclusive cumulative products (Tensor ops, so twice
    differentiable).  Unlike ``y / x_i`` it holds where some x are zero, so no branch has to read
    back from a GPU whether any is (and it does not lose digits to the division)."""

    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, a):
        return a.prod(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        x = self.inputs[0]
        return _expand_back(gy, x.shape, self.axes) * _product_of_others(x, self.axes)


def _product_of_others(x: Tensor, axes) -> Tensor:
    kept = [i for i in range(x.ndim) if i not in axes]
    order = kept + list(axes)
    moved = transpose(x, tuple(order)) if x.ndim else x
    flat = reshape(moved, moved.shape[:len(kept)] + (-1,))
    one = _const(_xp(x.data).ones(flat.shape[:-1] + (1,), dtype=x.dtype))
    before = cumprod(concatenate([one, flat[..., :-1]], -1), -1)  # x_0 ··· x_(i−1)
    after = flip(cumprod(flip(concatenate([flat[..., 1:], one], -1), -1), -1), -1)  # x_(i+1) ··· x_(n−1)
    others = reshape(before * after, moved.shape)
    return transpose(others, tuple(order.index(i) for i in range(x.ndim))) if x.ndim else others


def prod(x: Tensor, axis=None, keepdims: bool = False, dtype=None) -> Tensor:
    """Product over ``axis``; differentiable, also where some elements are zero."""
    x = x if dtype is None else astype(x, dtype)
    return Prod(_normalize_axes(axis, x.ndim, "prod"), keepdims)(x)


def any(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001  (PyTorch's name)
    """True where some element along ``axis`` is nonzero (a constant bool tensor)."""
    return _const(x.data.any(axis=_normalize_axes(axis, x.ndim, "any"), keepdims=keepdims))


def all(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """True where every element along ``axis`` is nonzero (a constant bool tensor)."""
    return _const(x.data.all(axis=_normalize_axes(axis, x.ndim, "all"), keepdims=keepdims))


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
    """Index of the largest element (int64; not differentiable).  ``axis=None``: the index into the
    flattened tensor (with ``keepdims``, shaped (1, ..., 1), as NumPy and PyTorch)."""
    return _arg_extreme(x, axis, keepdims, "argmax")


def argmin(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the smallest element (see :func:`argmax`)."""
    return _arg_extreme(x, axis, keepdims, "argmin")


def _arg_extreme(x: Tensor, axis, keepdims, name):
    if axis is not None:
        axis = _normalize_axes(axis, x.ndim, name)
        axis = axis[0] if axis else None  # a 0-d tensor: its one element
    return _const(getattr(_xp(x.data), name)(x.data, axis=axis, keepdims=keepdims))


# --------------------------------------------------------------------------- cumulative ops


class Cumsum(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, a):
        return a.cumsum(axis=self.axis)

    def backward(self, gy):
        # y_j = sum_{i<=j} x_i, so dL/dx_i = sum_{j>=i} dL/dy_j: a cumsum running backwards.
        return _reverse_cumsum(gy, self.axis)


class Cumprod(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, a):
        return a.cumprod(axis=self.axis)

    def backward(self, gy):
        # y_j = Π_{k≤j} x_k, so ∂L/∂x_i = Σ_{j≥i} g_j·Π_{k≤j, k≠i} x_k.  Neither form below asks the
        # data whether some x is zero (which would read it back from a GPU); which one runs depends on
        # whether this gradient will itself be differentiated (create_graph: grad mode is on).
        x = self.inputs[0]
        if _autograd.is_grad_enabled():
            return _cumprod_grad_exact(x, gy, self.axis)
        return _cumprod_grad(x, gy, self.output(), self.axis)


def _cumprod_grad(x: Tensor, gy: Tensor, y: Tensor, axis: int) -> Tensor:
    """The gradient of ``cumprod`` in O(n), zeros included.  With z the first zero of a line:

        i < z:  Σ_{j≥i} g_j·y_j / x_i   (y_j = 0 from z on, so the sum stops at z by itself)
        i = z:  Π_{k<z} x_k · Σ_{j≥z} g_j·Π_{z<k≤j} x_k
        i > z:  0                       (every product holds x_z = 0)

    Right in value, but not as a function of x: past z it is 0, whose derivative in x_z is not; so it
    serves first-order gradients only."""
    zeros = x.data == 0
    seen = zeros.cumsum(axis=axis)  # the zeros up to and including i
    before, first = seen == 0, zeros & (seen == 1)
    x_before = where(before, x, 1.0)  # x_i before the first zero, 1 from it on
    x_after = where(before | first, 1.0, x)  # x_i after the first zero, 1 up to it
    at_before = _reverse_cumsum(gy * y, axis) / x_before
    at_first = cumprod(x_before, axis) * _reverse_cumsum(gy * cumprod(x_after, axis), axis)
    return where(before, at_before, 0.0) + where(first, at_first, 0.0)


def _cumprod_grad_exact(x: Tensor, gy: Tensor, axis: int) -> Tensor:
    """The gradient of ``cumprod`` as a function of x that can be differentiated again, zeros
    included: for each position i, the cumulative product with x_i replaced by 1 (the product of the
    other factors), O(n²); for gradients of gradients only."""
    xp, n = _xp(x.data), x.shape[axis]
    columns = []
    for i in range(n):
        is_i = xp.zeros((n,) + (1,) * (x.ndim - axis - 1), dtype=bool)
        is_i[i] = True
        others = cumprod(where(is_i, 1.0, x), axis)  # Π_{k≤j, k≠i} x_k
        tail = (slice(None),) * axis + (slice(i, None),)
        columns.append(sum(getitem(gy, tail) * getitem(others, tail), axis, keepdims=True))
    return concatenate(columns, axis)


def _reverse_cumsum(x: Tensor, axis: int) -> Tensor:
    """``Σ_{j≥i} x_j`` along ``axis``: a cumsum running backwards."""
    return flip(cumsum(flip(x, axis), axis), axis)


def cumsum(x: Tensor, axis: int | None = 0) -> Tensor:
    """Running sum along ``axis`` (``None``: over the flattened tensor, as NumPy; a 0-d tensor stays 0-d)."""
    if axis is None:
        return cumsum(reshape(x, (-1,)), 0)
    axes = _normalize_axes(axis, x.ndim, "cumsum")
    return Cumsum(axes[0])(x) if axes else reshape(x, ())


def cumprod(x: Tensor, axis: int | None = 0) -> Tensor:
    """Running product along ``axis`` (``None``: over the flattened tensor, as NumPy)."""
    if axis is None:
        return cumprod(reshape(x, (-1,)), 0)
    axes = _normalize_axes(axis, x.ndim, "cumprod")
    return Cumprod(axes[0])(x) if axes else reshape(x, ())


def logcumsumexp(x: Tensor, axis: int = 0) -> Tensor:
    """``y_j = log Σ_{i<=j} e^{x_i}`` along ``axis``, stable.

    Built from ops: arrange each slice as an n×n matrix whose row j holds x_0..x_j and −inf after
    (the lower triangle), then take ``logsumexp`` of every row.  Exact, overflow-free and twice
    differentiable, at the price of n² memory per slice (fine for sequence lengths, not for 10^5)."""
    x = _floating(x)
    axes = _normalize_axes(axis, x.ndim, "logcumsumexp")
    if not axes:
        return x
    moved = movedim(x, axes[0], -1)
    xp, n = _xp(x.data), moved.shape[-1]
    lower = xp.tril(xp.ones((n, n), dtype=bool))  # row j keeps columns i <= j
    rows = where(lower, unsqueeze(moved, -2), -math.inf)
    return movedim(logsumexp(rows, axis=-1), -1, axes[0])


def cummax(x: Tensor, axis: int):
    """Running maximum along ``axis``: ``(values, indices)``, each index the position of the
    (latest) maximum so far, as ``torch.cummax``.  The gradient goes to those positions."""
    return _running_extreme(x, axis, "maximum", "cummax")


def cummin(x: Tensor, axis: int):
    """Running minimum along ``axis``: ``(values, indices)``, as ``torch.cummin``."""
    return _running_extreme(x, axis, "minimum", "cummin")


def _running_extreme(x: Tensor, axis, ufunc, op):
    axes = _normalize_axes(axis, x.ndim, op)
    xp = _xp(x.data)
    if not axes:
        return ValuesIndices(reshape(x, ()), _const(xp.zeros((), dtype=xp.int64)))
    axis, a = axes[0], x.data
    running = _scan(getattr(xp, ufunc), a, axis)
    positions = xp.arange(a.shape[axis]).reshape((-1,) + (1,) * (a.ndim - axis - 1))
    # the latest position i <= j at which a_i was the running extreme (ties: the later one)
    indices = _scan(xp.maximum, xp.where(a == running, positions, 0), axis)
    return ValuesIndices(gather(x, axis, indices), _const(indices))


def _scan(binary, a, axis: int):
    """``binary.accumulate(a, axis)`` for an associative ufunc such as ``maximum`` (CuPy's ufuncs
    accumulate only ``add`` and ``multiply``).  Hillis–Steele doubling: after the step with shift s,
    element j holds ``binary`` over the 2s elements ending at j, so ⌈log₂ n⌉ vectorised steps suffice."""
    xp = _xp(a)
    out = xp.moveaxis(a, axis, -1)
    shift, n = 1, out.shape[-1]
    while shift < n:
        out = xp.concatenate([out[..., :shift], binary(out[..., shift:], out[..., :-shift])], axis=-1)
        shift *= 2
    return xp.moveaxis(out, -1, axis)
