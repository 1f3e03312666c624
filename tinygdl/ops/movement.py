"""Moving a tensor to another device or dtype, as differentiable ops (the gradient moves back)."""

from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Function, Tensor


class ToDevice(Function):
    def __init__(self, device):
        self.device = device

    def forward(self, a):
        self.source = backend.device_of(a)
        return backend.to_device(a, self.device)

    def backward(self, gy):
        return to_device_op(gy, self.source)


class Cast(Function):
    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, a):
        self.source = a.dtype
        return a.astype(self.dtype)

    def backward(self, gy):
        return astype(gy, self.source)


def to_device_op(x: Tensor, device) -> Tensor:
    return ToDevice(backend.device(device))(x)


def astype(x: Tensor, dtype) -> Tensor:
    """A copy with another dtype; differentiable between float types."""
    dtype = np.dtype(dtype)
    if dtype == x.dtype:
        return x
    if dtype.kind != "f":  # integer / bool results carry no gradient
        return Tensor._wrap(x.data.astype(dtype))
    return Cast(dtype)(x)


def to(x: Tensor, device=None, dtype=None) -> Tensor:
    """A copy on ``device`` (and/or of ``dtype``), differentiable; ``x`` itself if nothing changes."""
    out = x
    if device is not None and backend.device(device) != x.device:
        out = to_device_op(out, device)
    if dtype is not None and np.dtype(dtype) != out.dtype:
        out = astype(out, dtype)
    return out
