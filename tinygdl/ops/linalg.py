"""Matrix multiplication with NumPy's batch broadcasting rules and its gradient, and the products built
from it: outer, kron, cross (einsum has its own module); the matrix helpers tril, triu, diag, diagonal and trace."""

from __future__ import annotations

import numpy as np

from .. import backend
from ..errors import ShapeError
from ..tensor import Function, Tensor, _tensors
from .elementwise import _operands, where
from .index import ScatterAdd
from .reduce import sum
from .shape import _axis, broadcast_to, movedim, reshape, stack, sum_to, swapaxes


class MatMul(Function):
    """``a @ b`` for ``a`` of shape (..., n, k) and ``b`` of shape (..., k, m).

    With ``y = a b``:  dL/da = dL/dy · bᵀ  and  dL/db = aᵀ · dL/dy, then summed back over any
    batch axes that were broadcast.
    """

    def forward(self, a, b):
        if a.shape[-1] != b.shape[-2]:
            raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} do not align "
                             f"({a.shape[-1]} != {b.shape[-2]})")
        try:
            return a @ b
        except ValueError:
            raise ShapeError(f"matmul: batch shapes of {a.shape} and {b.shape} do not broadcast") from None

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy @ swapaxes(b, -1, -2), a.shape) if self.needs_grad(0) else None
        gb = sum_to(swapaxes(a, -1, -2) @ gy, b.shape) if self.needs_grad(1) else None
        return ga, gb


def matmul(a, b) -> Tensor:
    """Matrix product (``numpy.matmul`` semantics, 1-D operands included)."""
    a, b = _tensors((a, b))
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: both operands need at least one dimension, got shapes {a.shape} and {b.shape}")
    if a.ndim == 1 and b.ndim == 1:
        return reshape(MatMul()(reshape(a, (1, -1)), reshape(b, (-1, 1))), ())
    if a.ndim == 1:  # a row vector: (k,) -> (1, k), drop the 1 afterwards
        out = MatMul()(reshape(a, (1, a.shape[0])), b)
        return reshape(out, out.shape[:-2] + out.shape[-1:])
    if b.ndim == 1:  # a column vector
        return reshape(MatMul()(a, reshape(b, (b.shape[0], 1))), a.shape[:-1])
    return MatMul()(a, b)


# --------------------------------------------------------------------------- products built from matmul


def outer(a, b) -> Tensor:
    """``a_i · b_j`` for 1-D a and b: an (n, m) matrix."""
    a, b = _tensors((a, b))
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


def kron(a, b) -> Tensor:
    """The Kronecker product: every element of ``a`` times the whole of ``b``, laid out in blocks."""
    a, b = _tensors((a, b))
    n = max(a.ndim, b.ndim)
    sa, sb = (1,) * (n - a.ndim) + a.shape, (1,) * (n - b.ndim) + b.shape
    # (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...) -> (a0, b0, a1, b1, ...) -> (a0·b0, a1·b1, ...)
    pairs = reshape(a, tuple(v for s in sa for v in (s, 1))) * reshape(b, tuple(v for s in sb for v in (1, s)))
    return reshape(pairs, tuple(p * q for p, q in zip(sa, sb)))


def cross(a, b, axis: int = -1) -> Tensor:
    """The cross product of 3-vectors along ``axis`` (broadcasting elsewhere), as ``torch.linalg.cross``."""
    a, b = _operands(a, b)
    if a.shape[axis] != 3 or b.shape[axis] != 3:
        raise ShapeError(f"cross: axis {axis} must have size 3 in both, got shapes {a.shape} and {b.shape}")
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = broadcast_to(a, shape), broadcast_to(b, shape)
    axis = _axis(axis, len(shape), "cross")
    a0, a1, a2 = (a[(slice(None),) * axis + (i,)] for i in range(3))
    b0, b1, b2 = (b[(slice(None),) * axis + (i,)] for i in range(3))
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis)


# --------------------------------------------------------------------------- triangles and diagonals


def _triangle(x: Tensor, k: int, lower: bool) -> Tensor:
    if x.ndim < 2:
        raise ShapeError(f"{'tril' if lower else 'triu'}: needs a matrix (or a batch of them), got shape {x.shape}")
    xp = backend.get_array_module(x.data)
    n, m = x.shape[-2:]
    keep = xp.tri(n, m, k, dtype=bool) if lower else ~xp.tri(n, m, k - 1, dtype=bool)
    return where(keep, x, 0)


def tril(x: Tensor, k: int = 0) -> Tensor:
    """The lower triangle of the last two axes (on and below diagonal ``k``), zeros elsewhere."""
    return _triangle(x, k, lower=True)


def triu(x: Tensor, k: int = 0) -> Tensor:
    """The upper triangle of the last two axes (on and above diagonal ``k``), zeros elsewhere."""
    return _triangle(x, k, lower=False)


def diagonal(x: Tensor, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The diagonal ``x[..., i, i + offset]`` of axes ``axis1`` and ``axis2``, as a new last axis."""
    if x.ndim < 2:
        raise ShapeError(f"diagonal: needs at least two axes, got shape {x.shape}")
    x = movedim(x, (axis1, axis2), (-2, -1))
    n, m = x.shape[-2:]
    count = max(0, min(n, m - offset) if offset >= 0 else min(n + offset, m))
    rows = backend.get_array_module(x.data).arange(count) + max(0, -offset)
    return x[(Ellipsis, rows, rows + offset)]


def diag(x: Tensor, k: int = 0) -> Tensor:
    """A 1-D ``x``: the square matrix with x on diagonal ``k``; a matrix: its diagonal ``k`` (``torch.diag``)."""
    if x.ndim == 2:
        return diagonal(x, k)
    if x.ndim != 1:
        raise ShapeError(f"diag: needs a vector or a matrix, got shape {x.shape}")
    n = x.shape[0] + abs(k)
    rows = backend.get_array_module(x.data).arange(x.shape[0]) + max(0, -k)
    return ScatterAdd((rows, rows + k), (n, n))(x)


def trace(x: Tensor) -> Tensor:
    """The sum of the main diagonal of a matrix."""
    if x.ndim != 2:
        raise ShapeError(f"trace: needs a matrix, got shape {x.shape}")
    return sum(diagonal(x))
