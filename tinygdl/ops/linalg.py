"""Matrix multiplication with NumPy's batch broadcasting rules, and its gradient."""

from __future__ import annotations

from ..tensor import Function, Tensor, _tensors
from .shape import reshape, sum_to, swapaxes


class MatMul(Function):
    """``a @ b`` for ``a`` of shape (..., n, k) and ``b`` of shape (..., k, m).

    With ``y = a b``:  dL/da = dL/dy · bᵀ  and  dL/db = aᵀ · dL/dy, then summed back over any
    batch axes that were broadcast.
    """

    def forward(self, a, b):
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align "
                             f"({a.shape[-1]} != {b.shape[-2]})")
        try:
            return a @ b
        except ValueError:
            raise ValueError(f"matmul: batch shapes of {a.shape} and {b.shape} do not broadcast") from None

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy @ swapaxes(b, -1, -2), a.shape) if a.requires_grad else None
        gb = sum_to(swapaxes(a, -1, -2) @ gy, b.shape) if b.requires_grad else None
        return ga, gb


def matmul(a, b) -> Tensor:
    """Matrix product (``numpy.matmul`` semantics, 1-D operands included)."""
    a, b = _tensors((a, b))
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least one dimension, got shapes {a.shape} and {b.shape}")
    if a.ndim == 1 and b.ndim == 1:
        return reshape(MatMul()(reshape(a, (1, -1)), reshape(b, (-1, 1))), ())
    if a.ndim == 1:  # a row vector: (k,) -> (1, k), drop the 1 afterwards
        out = MatMul()(reshape(a, (1, a.shape[0])), b)
        return reshape(out, out.shape[:-2] + out.shape[-1:])
    if b.ndim == 1:  # a column vector
        return reshape(MatMul()(a, reshape(b, (b.shape[0], 1))), a.shape[:-1])
    return MatMul()(a, b)
