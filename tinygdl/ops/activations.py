"""More activation functions, with PyTorch's names, arguments and defaults.  (The basic ones, with
their own Functions — relu, leaky_relu, elu, sigmoid, tanh, gelu, silu, softplus — are in
``elementwise.py``.)

Each is composed from existing ops, so its first and second derivatives follow from theirs; the
only care needed is at the kinks, where PyTorch's one-sided convention is matched: ``hardtanh``
passes no gradient at its corners (``clamp`` would pass it).
"""

from __future__ import annotations

from ..errors import ShapeError
from ..tensor import Tensor
from .elementwise import Clamp, _floating, abs, elu, sigmoid, softplus, tanh, where
from .neural import softmax
from .shape import _axis, reshape, split

# SELU's constants (Klambauer et al. 2017, eq. 14): they make zero mean / unit variance a fixed point.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """``x`` clamped to [min_val, max_val]; the gradient is 1 strictly inside, 0 elsewhere."""
    return Clamp(min_val, max_val, inclusive=False)(_floating(x))


def relu6(x) -> Tensor:
    """``min(max(x, 0), 6)`` (MobileNet's bounded ReLU)."""
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x) -> Tensor:
    """A piecewise-linear sigmoid: 0 below −3, 1 above 3, ``x/6 + 1/2`` between."""
    return hardtanh(_floating(x) / 6 + 0.5, 0.0, 1.0)


def hardswish(x) -> Tensor:
    """``x · hardsigmoid(x)`` (MobileNetV3)."""
    x = _floating(x)
    return x * hardsigmoid(x)


def selu(x) -> Tensor:
    """``scale · elu(x, alpha)`` with the self-normalising constants above."""
    return SELU_SCALE * elu(_floating(x), SELU_ALPHA)


def celu(x, alpha: float = 1.0) -> Tensor:
    """``max(0, x) + min(0, alpha·(e^(x/alpha) − 1))`` = ``alpha · elu(x / alpha)``: continuously
    differentiable for every alpha."""
    x = _floating(x)
    return elu(x, 1.0) if alpha == 1 else alpha * elu(x / alpha, 1.0)


def mish(x) -> Tensor:
    """``x · tanh(softplus(x))`` (Misra 2019)."""
    x = _floating(x)
    return x * tanh(softplus(x))


def softsign(x) -> Tensor:
    """``x / (1 + |x|)``."""
    x = _floating(x)
    return x / (1 + abs(x))


def logsigmoid(x) -> Tensor:
    """``log(sigmoid(x))`` = ``−softplus(−x)``, finite for every x."""
    return -softplus(-_floating(x), threshold=None)


def softmin(x, axis: int = -1) -> Tensor:
    """``softmax(−x)``: weights that favour the smallest entries."""
    return softmax(-_floating(x), axis)


def glu(x, axis: int = -1) -> Tensor:
    """Gated linear unit: split ``x`` in halves ``a, b`` along ``axis``; ``a · sigmoid(b)``."""
    axis = _axis(axis, x.ndim, "glu")
    if x.shape[axis] % 2:
        raise ShapeError(f"glu: axis {axis} of shape {x.shape} must have an even size")
    a, b = split(x, x.shape[axis] // 2, axis)
    return a * sigmoid(b)


def prelu(x, weight: Tensor) -> Tensor:
    """``x`` where x > 0, ``weight · x`` elsewhere, with a learned slope: one for all channels
    (``weight`` of size 1) or one per channel (axis 1, as PyTorch)."""
    x = _floating(x)
    if weight.size != 1:
        if x.ndim < 2 or x.shape[1] != weight.size:
            raise ShapeError(f"prelu: {weight.size} slopes for an input of shape {x.shape} "
                             "(one, or one per channel along axis 1)")
        weight = reshape(weight, (weight.size,) + (1,) * (x.ndim - 2))
    else:
        weight = reshape(weight, ())
    return where(x.data > 0, x, weight * x)


__all__ = ["celu", "glu", "hardsigmoid", "hardswish", "hardtanh", "logsigmoid", "mish", "prelu", "relu6", "selu",
           "softmin", "softsign"]
