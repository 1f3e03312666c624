"""Indexing: ``x[index]`` with ints, slices, None, Ellipsis, integer arrays and boolean masks.

The gradient of a selection is a *scatter*: each selected element sends its gradient back to the
place it came from.  With integer arrays one element may be selected several times, so the
contributions must be **added** (``x[[0, 0]]`` gives x[0] twice the gradient).  NumPy's
``np.add.at`` does that but is slow and does not exist for CuPy arrays; ``bincount`` with weights
does the same sum, is fast, and works on both.
"""

from __future__ import annotations

import os

import numpy as np

from .. import backend
from ..tensor import Function, Tensor, _raw_index, _tensors

_xp = backend.get_array_module  # numpy, or cupy for GPU arrays


def _is_basic(index) -> bool:
    """True for indices made only of ints, slices, None and Ellipsis (no element selected twice)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


def _scatter_add(index, values, shape):
    """A zero array of ``shape`` with ``values`` added at ``index`` (duplicates summed)."""
    xp = _xp(values)
    out = xp.zeros(shape, dtype=values.dtype)
    if _is_basic(index):
        out[index] = values
        return out
    # The flat position of every selected element, then one weighted bincount sums them up.
    positions = xp.arange(out.size).reshape(shape)[index]
    weights = xp.broadcast_to(values, positions.shape).ravel()
    sums = xp.bincount(positions.ravel(), weights=weights, minlength=out.size)
    return sums.astype(values.dtype, copy=False).reshape(shape)


class GetItem(Function):
    def __init__(self, index):
        self.index = index
        self.is_view = _is_basic(index)  # basic indexing returns a view of the input

    def forward(self, a):
        try:
            return a[self.index]
        except IndexError as error:
            raise IndexError(f"getitem: index invalid for a tensor of shape {a.shape}: {error}") from None

    def backward(self, gy):
        return ScatterAdd(self.index, self.inputs[0].shape)(gy)


class ScatterAdd(Function):
    """The gradient of ``GetItem``; its own gradient is ``GetItem`` again."""

    def __init__(self, index, shape):
        self.index, self.shape = index, shape

    def forward(self, gy):
        return _scatter_add(self.index, gy, self.shape)

    def backward(self, ggx):
        return GetItem(self.index)(ggx)


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]``, with PyTorch's result shape where it differs from NumPy's.

    The one difference: integers mixed with index arrays.  NumPy counts an integer as an index
    array, and when index arrays are separated by a slice, their axes go first:
    ``x[0, :, [0, 1]]`` of a (3, 4, 5) x is (2, 4) in NumPy.  PyTorch applies integers first, as
    plain indexing, so that the same index gives (4, 2) — the shape one reads off the index.  We
    follow PyTorch: integers are applied in a first step, the arrays in a second."""
    index = _raw_index(index)
    if type(index) is tuple and _ints_with_arrays(index):
        first = tuple(p for q in index for p in ((q,) if not _is_array(q) else (slice(None),) * _axes_of(q)))
        second = tuple(q if _is_array(q) or q is Ellipsis else slice(None) for q in index if not _is_int(q))
        return GetItem(second)(GetItem(first)(x))
    return GetItem(index)(x)


def _ints_with_arrays(index: tuple) -> bool:
    """Does the index mix integers with index arrays (where NumPy's result shape is not PyTorch's)?"""
    ints = arrays = False
    for part in index:
        if part is None or part is Ellipsis or type(part) is slice:
            continue
        if type(part) is int or _is_int(part):
            ints = True
        else:
            arrays = True
    return ints and arrays


def _is_int(part) -> bool:
    return isinstance(part, (int, np.integer)) and not isinstance(part, (bool, np.bool_))


def _is_array(part) -> bool:
    return not (part is None or part is Ellipsis or isinstance(part, slice) or _is_int(part))


def _axes_of(array_index) -> int:
    """How many axes an index array consumes: a boolean mask one per dimension, integers one."""
    dtype = getattr(array_index, "dtype", None)
    return array_index.ndim if dtype is not None and dtype.kind == "b" else 1


def check_index_range(index, high: int, what: str, error=IndexError, note: str = "") -> None:
    """Raise ``error`` if the integer array ``index`` holds a value outside [0, ``high``); the message
    begins with ``what`` ("embedding: ids"), adds ``note`` after the allowed range (" for an output of
    4x4") and gives the range found.

    Host arrays are always checked: their values are at hand.  Device arrays only when the
    environment variable ``TINYGDL_DEBUG`` is set (to anything but 0): the check reads the minimum and
    maximum back to the host, a device synchronisation that would stall every call (a language model
    checks its token ids in each forward).  Unchecked, an index out of range on a GPU is wrapped
    around by CuPy's indexing; PyTorch's CUDA kernels stop on a device-side assert instead, which CuPy
    has no cheap counterpart for.  So run a GPU job with TINYGDL_DEBUG=1 while indices may be wrong.
    """
    if index.size == 0 or (backend.is_cupy_array(index) and os.environ.get("TINYGDL_DEBUG", "0") in ("", "0")):
        return
    low, top = int(index.min()), int(index.max())
    if low < 0 or top >= high:
        raise error(f"{what} must lie in [0, {high}){note}, got range [{low}, {top}]")


def nonzero(x, as_tuple: bool = False):
    """Indices of the nonzero elements: an (n, ndim) int64 tensor, or (``as_tuple``) one 1-D tensor per
    axis, as ``numpy.nonzero``.  How many there are depends on the values, so on a GPU the count is
    read back to the host (a device synchronisation, as in PyTorch's CUDA ``nonzero``)."""
    x = x if isinstance(x, Tensor) else _tensors((x,))[0]
    xp = _xp(x.data)
    data = x.data.reshape(1) if x.ndim == 0 else x.data
    found = xp.nonzero(data)
    if as_tuple:
        return tuple(Tensor._wrap(i) for i in found)
    table = xp.stack(found, axis=1).astype(np.int64)
    return Tensor._wrap(table[:, :0] if x.ndim == 0 else table)
