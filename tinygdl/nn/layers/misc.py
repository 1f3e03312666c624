"""Layers without parameters that reshape, repeat, join or randomly corrupt: Flatten, Reshape,
RepeatVector, Concatenate, Dropout, GaussianNoise, and Lambda (any function as a layer)."""

from __future__ import annotations

import math

from ...ops.creation import randn
from ...ops.neural import dropout
from ...ops.shape import broadcast_to, concatenate, flatten, reshape, unsqueeze
from ..module import Module

__all__ = ["Flatten", "Reshape", "RepeatVector", "Concatenate", "Dropout", "GaussianNoise", "Lambda"]


class Flatten(Module):
    """Merge axes ``start_axis..end_axis`` into one; by default every axis but the batch axis:
    (N, C, H, W) -> (N, C·H·W).  On NCHW input the order is c, h, w; Keras's Flatten of an NHWC
    tensor orders h, w, c — it only matters when porting trained weights."""

    def __init__(self, start_axis: int = 1, end_axis: int = -1):
        super().__init__()
        self.start_axis, self.end_axis = start_axis, end_axis

    def forward(self, x):
        if x.ndim <= self.start_axis:
            raise ValueError(f"{self!r}: expected an input with more than {self.start_axis} axes, got shape {x.shape}")
        return flatten(x, self.start_axis, self.end_axis)

    def extra_repr(self) -> str:
        return f"start_axis={self.start_axis}, end_axis={self.end_axis}"


class Reshape(Module):
    """Reshape each example to ``shape`` (the batch axis is kept and not part of ``shape``, as in
    Keras): ``Reshape((64, 4, 4))`` takes (N, 1024) to (N, 64, 4, 4).  One entry may be -1."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        try:
            return reshape(x, (x.shape[0],) + self.shape)
        except (ValueError, IndexError):
            raise ValueError(f"{self!r}: cannot reshape an input of shape {x.shape} ({math.prod(x.shape[1:])} "
                             f"values per example) to (N, {', '.join(map(str, self.shape))})") from None

    def extra_repr(self) -> str:
        return str(self.shape)


class RepeatVector(Module):
    """Keras's ``RepeatVector(n)``: (N, F) -> (N, n, F), the same vector at every step (its
    gradient is the sum over the steps)."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def forward(self, x):
        return broadcast_to(unsqueeze(x, 1), (x.shape[0], self.n, x.shape[1]))

    def extra_repr(self) -> str:
        return f"n={self.n}"


class Concatenate(Module):
    """Join a list of tensors along ``axis`` (default 1, the channel axis of NCHW tensors; Keras's
    default -1 is the channel axis of its NHWC tensors).  Called with one list: ``cat([a, b])``."""

    def __init__(self, axis: int = 1):
        super().__init__()
        self.axis = axis

    def forward(self, tensors):
        shapes = [t.shape for t in tensors]
        axis = self.axis % len(shapes[0]) if shapes else 0
        if not shapes or len({(len(s), s[:axis] + s[axis + 1:]) for s in shapes}) > 1:
            raise ValueError(f"{self!r}: the inputs must have equal shapes except along axis {self.axis}, "
                             f"got {shapes}")
        return concatenate(list(tensors), axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Dropout(Module):
    """Inverted dropout: in training mode each element is zeroed with probability ``p`` and the
    survivors are scaled by 1/(1 − p), so the expected output equals the input; in eval mode
    (``module.eval()``) it is the identity.  ``p`` is Keras's ``rate``."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must lie in [0, 1), got {p}")
        self.p = p

    def forward(self, x):
        return dropout(x, self.p, training=self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class GaussianNoise(Module):
    """Keras's ``GaussianNoise(stddev)``: ``x + stddev·ε``, ε ~ N(0, 1), in training mode only (the
    corruption of a denoising autoencoder; in eval mode the input passes unchanged)."""

    def __init__(self, stddev: float):
        super().__init__()
        self.stddev = stddev

    def forward(self, x):
        if not self.training:
            return x
        return x + self.stddev * randn(x.shape, dtype=x.dtype, device=x.device)

    def extra_repr(self) -> str:
        return f"stddev={self.stddev}"


class Lambda(Module):
    """Any function of tensors as a layer: ``Lambda(lambda x: x * 2)`` (no parameters)."""

    def __init__(self, fn, name: str | None = None):
        super().__init__()
        self.fn, self.name = fn, name or getattr(fn, "__name__", "fn")

    def forward(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def extra_repr(self) -> str:
        return self.name
