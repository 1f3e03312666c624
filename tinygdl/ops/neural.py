"""Neural-network building blocks that are not elementwise: softmax, log-softmax, one-hot,
dropout and embedding lookup.  (``tinygdl.nn.functional`` re-exports them.)"""

from __future__ import annotations

from .. import backend
from .. import tensor as _autograd
from ..tensor import Function, Tensor
from .elementwise import _const, exp
from .index import check_index_range, getitem
from .reduce import sum

_xp = backend.get_array_module  # numpy, or cupy for GPU arrays


class Softmax(Function):
    """``softmax(x)_i = e^{x_i} / Σ_j e^{x_j}`` along ``axis`` (the max is subtracted first so
    nothing overflows).  Backward: ``dx = y · (dy − Σ_j dy_j y_j)`` (the softmax Jacobian is
    ``diag(y) − y yᵀ``)."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = _xp(x)
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        return e / e.sum(axis=self.axis, keepdims=True)

    def backward(self, gy):
        y = self.output()
        return y * (gy - sum(gy * y, self.axis, keepdims=True))


class LogSoftmax(Function):
    """``log_softmax(x) = x − logsumexp(x)``, stable.  Backward: ``dx = dy − softmax(x) · Σ dy``."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = _xp(x)
        shifted = x - x.max(axis=self.axis, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))

    def backward(self, gy):
        return gy - exp(self.output()) * sum(gy, self.axis, keepdims=True)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return Softmax(axis if x.ndim else None)(x)  # a 0-d x: its one element (axis 0 or -1, as PyTorch)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return LogSoftmax(axis if x.ndim else None)(x)


def one_hot(labels, num_classes: int, dtype=None) -> Tensor:
    """Integer labels of any shape -> float one-hot vectors along a new last axis (no gradient)."""
    ids = labels.data if isinstance(labels, Tensor) else labels
    xp = _xp(ids)
    ids = xp.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {ids.dtype}")
    check_index_range(ids, num_classes, "one_hot: labels", ValueError)  # on a GPU only with TINYGDL_DEBUG=1
    dtype = backend.get_default_dtype() if dtype is None else dtype
    return _const((ids[..., None] == xp.arange(num_classes)).astype(dtype))


def dropout(x: Tensor, p: float = 0.5, training: bool | None = None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the survivors by
    ``1/(1−p)`` so the expected value is unchanged; the identity when not training.
    ``training=None`` reads the global flag (``tinygdl.train_mode``)."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    training = _autograd.is_training() if training is None else training
    if not training or p == 0:
        return x
    keep = backend.generator(x.device).random(x.shape, dtype=x.dtype) >= p
    return KeepScaled(keep, 1.0 / (1.0 - p))(x)


class KeepScaled(Function):
    """``x · keep · scale`` for a boolean mask ``keep``: dropout's multiply.  Its gradient is
    ``gy · keep · scale``, the same Function.  The mask is kept for the backward pass as booleans, one byte per
    element, where ``x * mask`` kept a float mask (four bytes) as the multiply's second input."""

    keeps_input_values = False  # the backward reads the mask

    def __init__(self, keep, scale: float):
        self.keep, self.scale = keep, scale

    def forward(self, x):
        return x * self.keep * x.dtype.type(self.scale)

    def backward(self, gy):
        return KeepScaled(self.keep, self.scale)(gy)  # linear in x: its own gradient


def embedding(ids, weight: Tensor) -> Tensor:
    """Rows of ``weight`` selected by integer ``ids`` (any shape) -> shape ids.shape + (dim,).
    The gradient scatters back into the selected rows, summing repeated ids."""
    ids = ids.data if isinstance(ids, Tensor) else _xp(ids).asarray(ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"embedding: ids must be integers, got dtype {ids.dtype}")
    check_index_range(ids, weight.shape[0], "embedding: ids")  # host ids always; device ones when debugging
    return getitem(weight, backend.to_device(ids, weight.device))
