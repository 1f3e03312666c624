"""Selection and scatter: sort, argsort, topk, gather and the scatters (PyTorch's indexing along one
axis), index_select, masked_fill, masked_select and nonzero.

``gather`` is ordinary advanced indexing in disguise.  ``gather(x, axis, index)[p]`` is ``x[p']``
where ``p'`` is the position ``p`` with its coordinate along ``axis`` replaced by ``index[p]``.  So it
is ``getitem`` with an "open grid" index (``_along``), and its gradient is getitem's: a scatter-add
that sums positions picked twice.  ``sort``, ``topk``, ``cummax`` return their values through
``gather``, so their gradients come for free; the scatters reuse the same positions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import backend
from ..errors import ConfigError, DtypeError, ShapeError
from ..tensor import Function, Tensor, _tensors
from .elementwise import _const, where
from .index import ScatterAdd, _scatter_add, getitem
from .shape import _axis, broadcast_to, sum_to

_xp = backend.get_array_module  # numpy, or cupy for GPU arrays


class ValuesIndices(NamedTuple):
    """What sort, topk, cummax and cummin return (as ``torch.return_types``): ``values, indices``."""

    values: Tensor
    indices: Tensor


def _index_array(index, like: Tensor, op: str):
    """An index (Tensor, array or list) as an integer array on ``like``'s device."""
    idx = index.data if isinstance(index, Tensor) else _xp(like.data).asarray(index)
    idx = backend.to_device(idx, like.device)
    if idx.dtype.kind not in "iu":
        raise DtypeError(f"{op}: indices must be integers, got dtype {idx.dtype}")
    return idx


def _along(index, axis: int):
    """The advanced index that takes ``index`` along ``axis`` and each output position elsewhere."""
    xp = _xp(index)
    grid = [xp.arange(n).reshape((-1,) + (1,) * (index.ndim - d - 1)) for d, n in enumerate(index.shape)]
    grid[axis] = index
    return tuple(grid)


def _check_index_shape(op: str, x: Tensor, axis: int, index):
    if index.ndim != x.ndim or any(i > s for d, (i, s) in enumerate(zip(index.shape, x.shape)) if d != axis):
        raise ShapeError(f"{op}: index of shape {index.shape} does not fit a tensor of shape {x.shape} along "
                         f"axis {axis} (same number of axes, no larger than it except along axis {axis})")


# --------------------------------------------------------------------------- gather and sorting


def gather(x: Tensor, axis: int, index) -> Tensor:
    """``out[p] = x[p with its axis coordinate replaced by index[p]]`` (``torch.gather``)."""
    axis = _axis(axis, x.ndim, "gather")
    index = _index_array(index, x, "gather")
    _check_index_shape("gather", x, axis, index)
    return getitem(x, _along(index, axis))


def argsort(x: Tensor, axis: int = -1, descending: bool = False) -> Tensor:
    """The order that sorts ``x`` along ``axis`` (int64, constant).  Stable: equal values keep their
    order, also when descending (as ``torch.sort(stable=True)``)."""
    if x.ndim == 0:
        return _const(_xp(x.data).zeros((), dtype=np.int64))
    data = x.data if x.dtype.kind in "fi" else x.data.astype(np.int64)
    return _const(_xp(data).argsort(-data if descending else data, axis=_axis(axis, x.ndim, "argsort"),
                                    kind="stable"))


def sort(x: Tensor, axis: int = -1, descending: bool = False) -> ValuesIndices:
    """``(values, indices)`` sorted along ``axis``; the gradient flows back to where each value came from."""
    order = argsort(x, axis, descending)
    return ValuesIndices(gather(x, axis, order) if x.ndim else x, order)


def topk(x: Tensor, k: int, axis: int = -1, largest: bool = True, sorted: bool = True) -> ValuesIndices:  # noqa: A002
    """The ``k`` largest (or smallest) values along ``axis`` and their indices, best first (always
    sorted: ``sorted=False`` is accepted for PyTorch's signature)."""
    axis = _axis(axis, x.ndim, "topk")
    n = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= n:
        raise ShapeError(f"topk: k={k} is more than the {n} elements along axis {axis} of shape {x.shape}")
    order = argsort(x, axis, descending=largest).data
    best = _xp(order).take(order, _xp(order).arange(k), axis=axis) if x.ndim else order
    return ValuesIndices(gather(x, axis, best) if x.ndim else x, _const(best))


# --------------------------------------------------------------------------- scatters


class Scatter(Function):
    """``x`` with ``src`` written at ``positions``.  Where a position is written twice, one of the
    values wins (which one is unspecified, as in PyTorch).  Backward: x receives the gradient where it
    was not overwritten, src the gradient at the places it was written to."""

    def __init__(self, positions):
        self.positions = positions

    def forward(self, a, src):
        out = a.copy()
        out[self.positions] = src
        return out

    def backward(self, gy):
        a, src = self.inputs
        kept = _xp(gy.data).ones(a.shape, dtype=bool)
        kept[self.positions] = False
        return (where(kept, gy, 0.0) if a.requires_grad else None,
                sum_to(getitem(gy, self.positions), src.shape) if src.requires_grad else None)


def _source(src, x: Tensor, index) -> Tensor:
    """``src`` as a tensor of x's dtype, cut to the index's shape (PyTorch reads src only there)."""
    if not isinstance(src, Tensor):
        return Tensor._wrap(_xp(x.data).asarray(src, dtype=x.dtype))
    if src.ndim == 0:
        return src.astype(x.dtype)
    if src.ndim != index.ndim or any(i > s for i, s in zip(index.shape, src.shape)):
        raise ShapeError(f"scatter: src of shape {src.shape} is smaller than the index, shape {index.shape}")
    return getitem(src, tuple(slice(0, n) for n in index.shape)).astype(x.dtype)


def _scatter_args(op, x, axis, index, src):
    axis = _axis(axis, x.ndim, op)
    index = _index_array(index, x, op)
    _check_index_shape(op, x, axis, index)
    return _along(index, axis), _source(src, x, index)


def scatter(x: Tensor, axis: int, index, src) -> Tensor:
    """A copy of ``x`` with ``src`` (a tensor or a number) written along ``axis`` at ``index``:
    ``out[p with axis coordinate index[p]] = src[p]`` (``torch.scatter``)."""
    positions, src = _scatter_args("scatter", x, axis, index, src)
    return Scatter(positions)(x, src)


def scatter_add(x: Tensor, axis: int, index, src) -> Tensor:
    """``x`` plus ``src`` added at ``index`` along ``axis``; repeated positions add up."""
    positions, src = _scatter_args("scatter_add", x, axis, index, src)
    return x + ScatterAdd(positions, x.shape)(broadcast_to(src, positions[axis].shape))


def scatter_reduce(x: Tensor, axis: int, index, src, reduce: str, include_self: bool = True) -> Tensor:
    """Combine the ``src`` values sent to each position (and x's own value there, if
    ``include_self``) with ``reduce``: "sum", "mean", "amax" or "amin" (``torch.scatter_reduce``).
    Positions that receive nothing keep x.  amax/amin share the gradient equally among ties."""
    positions, src = _scatter_args("scatter_reduce", x, axis, index, src)
    src = broadcast_to(src, positions[axis].shape)
    xp = _xp(x.data)
    received = _scatter_count(positions, x.shape, xp)  # how many src values land on each position
    base = x if include_self else where(received > 0, 0.0, x)
    if reduce in ("sum", "mean"):
        total = base + ScatterAdd(positions, x.shape)(src)
        if reduce == "sum":
            return total
        count = received + (1 if include_self else 0)
        return total / _const(xp.maximum(count, 1).astype(x.dtype))
    if reduce in ("amax", "amin"):
        return ScatterExtreme(positions, reduce, include_self, received)(base, src)
    raise ConfigError(f"scatter_reduce: reduce must be 'sum', 'mean', 'amax' or 'amin', got {reduce!r}")


def _scatter_count(positions, shape, xp):
    """How many values land on each position of an array of ``shape``."""
    ones = xp.ones(np.broadcast_shapes(*(p.shape for p in positions)))
    return _scatter_add(positions, ones, shape)


class ScatterExtreme(Function):
    """scatter_reduce with amax / amin.  Every contributor equal to the result shares its gradient
    equally (x's own value counts where ``include_self``), as PyTorch."""

    def __init__(self, positions, reduce, include_self, received):
        self.positions, self.reduce, self.include_self, self.received = positions, reduce, include_self, received

    def forward(self, a, src):
        xp = _xp(a)
        ufunc = xp.maximum if self.reduce == "amax" else xp.minimum
        out = a.copy()
        if not self.include_self:  # start from the first value that arrives, not from x
            out[self.received > 0] = -np.inf if self.reduce == "amax" else np.inf
        ufunc.at(out, self.positions, src)
        return out

    def backward(self, gy):
        a, src = self.inputs
        xp, y = _xp(gy.data), self.output().data
        self_wins = (a.data == y) & ((self.received == 0) | self.include_self)
        src_wins = src.data == y[self.positions]
        sharers = self_wins + _scatter_add(self.positions, src_wins.astype(y.dtype), y.shape)
        share = gy / _const(xp.maximum(sharers, 1).astype(gy.dtype))
        return (share * _const(self_wins.astype(gy.dtype)) if a.requires_grad else None,
                getitem(share, self.positions) * _const(src_wins.astype(gy.dtype)) if src.requires_grad else None)


# --------------------------------------------------------------------------- masks and index lists


def index_select(x: Tensor, axis: int, index) -> Tensor:
    """The entries ``index`` (1-D) along ``axis``, in that order (repeats allowed)."""
    axis = _axis(axis, x.ndim, "index_select")
    index = _index_array(index, x, "index_select")
    if index.ndim > 1:
        raise ShapeError(f"index_select: the index must be 1-D, got shape {index.shape}")
    return getitem(x, (slice(None),) * axis + (index.reshape(-1),))


def masked_fill(x: Tensor, mask, value) -> Tensor:
    """``x`` with ``value`` (a number or a 0-d tensor, cast to x's dtype) where ``mask`` is True."""
    mask = mask.data if isinstance(mask, Tensor) else mask
    value = value.astype(x.dtype) if isinstance(value, Tensor) else Tensor._wrap(_xp(x.data).asarray(value, x.dtype))
    return where(mask, value, x)


def masked_select(x: Tensor, mask) -> Tensor:
    """The elements of ``x`` where ``mask`` (broadcast with x) is True, as a 1-D tensor."""
    mask = mask if isinstance(mask, Tensor) else Tensor(mask)
    x = x if isinstance(x, Tensor) else _tensors((x,))[0]
    shape = np.broadcast_shapes(x.shape, mask.shape)
    return getitem(broadcast_to(x, shape), _xp(mask.data).broadcast_to(mask.data, shape))


__all__ = ["ValuesIndices", "argsort", "gather", "index_select", "masked_fill", "masked_select",
           "scatter", "scatter_add", "scatter_reduce", "sort", "topk"]
