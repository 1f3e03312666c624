"""Indexing: ``x[index]`` with ints, slices, None, Ellipsis, integer arrays and boolean masks.

The gradient of a selection is a *scatter*: each selected element sends its gradient back to the
place it came from.  With integer arrays one element may be selected several times, so the
contributions must be **added** (``x[[0, 0]]`` gives x[0] twice the gradient).  NumPy's
``np.add.at`` does that but is slow and does not exist for CuPy arrays; ``bincount`` with weights
does the same sum, is fast, and works on both.
"""

from __future__ import annotations

from .. import backend
from ..tensor import Function, Tensor, _raw_index

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
    return GetItem(_raw_index(index))(x)
