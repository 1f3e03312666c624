"""Elementwise operations: arithmetic, powers, exponentials, trigonometry and activations.

Each Function computes on raw arrays in ``forward`` and expresses its derivative with Tensor ops in
``backward``.  Binary ops broadcast like NumPy; their backward sums the gradient back to each
input's shape with ``sum_to`` ("undoing the broadcast": an input that was copied along an axis
receives the sum of the gradients of all its copies).
"""

from __future__ import annotations

import math

from .. import backend, kernels
from ..tensor import Function, Tensor, _tensors
from .shape import sum_to

_xp = backend.get_array_module  # numpy, or cupy for GPU arrays


def _grad_if(x: Tensor, g):
    """The gradient ``g`` for input ``x``, summed back to x's shape; None if x needs none."""
    return sum_to(g, x.shape) if x.requires_grad and g is not None else None


def _const(array) -> Tensor:
    """A constant tensor (no gradient) — masks and coefficients used inside backward formulas."""
    return Tensor._wrap(array)


# --------------------------------------------------------------------------- arithmetic


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        a, b = self.inputs
        return _grad_if(a, gy), _grad_if(b, gy)


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        a, b = self.inputs
        return _grad_if(a, gy), _grad_if(b, -gy if b.requires_grad else None)


class Mul(Function):
    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        return _grad_if(a, gy * b if a.requires_grad else None), _grad_if(b, gy * a if b.requires_grad else None)


class Div(Function):
    def forward(self, a, b):
        return a / b

    def backward(self, gy):
        a, b = self.inputs
        ga = gy / b
        return _grad_if(a, ga), _grad_if(b, -ga * a / b if b.requires_grad else None)  # d(a/b)/db = -a/b²


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, gy):
        return -gy


class PowConst(Function):
    """``a ** c`` with a constant Python exponent ``c``."""

    def __init__(self, exponent):
        self.c = exponent

    def forward(self, a):
        return a**self.c

    def backward(self, gy):
        (a,) = self.inputs
        if self.c == 0:  # a^0 = 1 is flat; the formula below would give 0·inf = NaN at a = 0
            return gy * 0
        if self.c == 2:
            return gy * (2 * a)
        return gy * (self.c * a ** (self.c - 1))


class Pow(Function):
    """``a ** b`` with a tensor exponent: d/da = b·a^(b-1), d/db = a^b·log(a) (needs a > 0).

    At a = 0 both formulas meet 0·inf; as in PyTorch the limits are taken instead: d/da = 0 where
    b = 0, and d/db = 0 where b >= 0.  Replacing a by 1 at those points gives exactly these zeros."""

    def forward(self, a, b):
        return a**b

    def backward(self, gy):
        a, b = self.inputs
        zero_base = a.data == 0
        ga = gy * b * _base_or_one(a, zero_base & (b.data == 0)) ** (b - 1) if a.requires_grad else None
        gb = gy * self.output() * log(_base_or_one(a, zero_base & (b.data >= 0))) if b.requires_grad else None
        return _grad_if(a, ga), _grad_if(b, gb)


def _base_or_one(a: Tensor, mask):
    """``a`` with 1 where ``mask`` is set (``a`` itself when it is set nowhere, the usual case)."""
    return where(mask, 1.0, a) if bool(mask.any()) else a


def add(a, b):
    return Add()(a, b)


def sub(a, b):
    return Sub()(a, b)


def mul(a, b):
    return Mul()(a, b)


def div(a, b):
    return Div()(a, b)


def neg(a):
    return Neg()(a)


def pow(a, b):
    """``a ** b``; a Python-number exponent is a constant, a Tensor exponent is differentiated."""
    if isinstance(b, (int, float)) and isinstance(a, Tensor):
        return PowConst(b)(a)
    return Pow()(a, b)


# --------------------------------------------------------------------------- exp, log, roots


class Exp(Function):
    def forward(self, a):
        return _xp(a).exp(a)

    def backward(self, gy):
        return gy * self.output()


class Log(Function):
    def forward(self, a):
        return _xp(a).log(a)

    def backward(self, gy):
        return gy / self.inputs[0]


class Log1p(Function):
    def forward(self, a):
        return _xp(a).log1p(a)

    def backward(self, gy):
        return gy / (1 + self.inputs[0])


class Sqrt(Function):
    def forward(self, a):
        return _xp(a).sqrt(a)

    def backward(self, gy):
        return gy / (2 * self.output())


class Abs(Function):
    """|a|; at 0 the gradient is 0 (the sign of 0), as in PyTorch."""

    def forward(self, a):
        return _xp(a).abs(a)

    def backward(self, gy):
        a = self.inputs[0].data
        return gy * _const(_xp(a).sign(a))


class Erf(Function):
    def forward(self, a):
        return backend.erf(a)

    def backward(self, gy):
        (a,) = self.inputs
        return gy * (2 / math.sqrt(math.pi)) * exp(-(a * a))


def exp(a):
    return Exp()(a)


def log(a):
    return Log()(a)


def log1p(a):
    return Log1p()(a)


def sqrt(a):
    return Sqrt()(a)


def abs(a):
    return Abs()(a)


def erf(a):
    return Erf()(a)


def sign(a):
    """-1, 0 or +1; not differentiable (the result never requires grad)."""
    a = _tensors((a,))[0]
    return _const(_xp(a.data).sign(a.data))


# --------------------------------------------------------------------------- comparisons and selection


class Maximum(Function):
    """Elementwise max; where both are equal each receives half the gradient (as PyTorch)."""

    def forward(self, a, b):
        return _xp(a).maximum(a, b)

    def backward(self, gy):
        return _split_by_winner(self, gy, self.inputs[0].data > self.inputs[1].data)


class Minimum(Function):
    def forward(self, a, b):
        return _xp(a).minimum(a, b)

    def backward(self, gy):
        return _split_by_winner(self, gy, self.inputs[0].data < self.inputs[1].data)


def _split_by_winner(fn: Function, gy: Tensor, a_wins):
    """Route gy to the input that was selected; ties share it equally."""
    a, b = fn.inputs
    xp = _xp(a_wins)
    tie = a.data == b.data
    share_a = xp.where(tie, 0.5, a_wins.astype(gy.dtype)).astype(gy.dtype)
    return sum_to(gy * _const(share_a), a.shape), sum_to(gy * _const(1 - share_a), b.shape)


class Clip(Function):
    """Clamp to [lo, hi]; the gradient passes where lo <= a <= hi (as torch.clamp)."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, a):
        return _xp(a).clip(a, self.lo, self.hi)

    def backward(self, gy):
        a = self.inputs[0].data
        inside = _xp(a).ones_like(a, dtype=bool)
        if self.lo is not None:
            inside &= a >= self.lo
        if self.hi is not None:
            inside &= a <= self.hi
        return gy * _const(inside.astype(gy.dtype))


class Where(Function):
    """``where(cond, a, b)``: the condition is a constant; the gradient goes to the chosen side."""

    def __init__(self, condition):
        self.condition = condition

    def forward(self, a, b):
        return _xp(a).where(self.condition, a, b)

    def backward(self, gy):
        a, b = self.inputs
        zero = gy * 0
        return (sum_to(where(self.condition, gy, zero), a.shape),
                sum_to(where(self.condition, zero, gy), b.shape))


def maximum(a, b):
    return Maximum()(a, b)


def minimum(a, b):
    return Minimum()(a, b)


def clip(a, lo=None, hi=None):
    return Clip(lo, hi)(a)


def where(condition, a, b):
    """``a`` where ``condition`` holds, else ``b`` (the condition is a constant, moved to a's device)."""
    cond = condition.data if isinstance(condition, Tensor) else condition
    like = a if isinstance(a, Tensor) else b
    if isinstance(like, Tensor):
        cond = backend.to_device(cond, like.device)
    return Where(cond)(a, b)


# --------------------------------------------------------------------------- trigonometry


class Sin(Function):
    def forward(self, a):
        return _xp(a).sin(a)

    def backward(self, gy):
        return gy * cos(self.inputs[0])


class Cos(Function):
    def forward(self, a):
        return _xp(a).cos(a)

    def backward(self, gy):
        return -gy * sin(self.inputs[0])


class Tanh(Function):
    def forward(self, a):
        return _xp(a).tanh(a)

    def backward(self, gy):
        y = self.output()
        return gy * (1 - y * y)


def sin(a):
    return Sin()(a)


def cos(a):
    return Cos()(a)


def tanh(a):
    return Tanh()(a)


# --------------------------------------------------------------------------- activations


class Sigmoid(Function):
    def forward(self, a):
        # 1/(1+e^-a) for a >= 0 and e^a/(1+e^a) for a < 0, both through e^-|a| <= 1: nothing
        # overflows, and the small values of the left tail keep their relative precision (the
        # shorter 0.5·tanh(a/2) + 0.5 cancels to exactly 0 from a ≈ -17 in float32).
        xp = _xp(a)
        e = xp.exp(-xp.abs(a))
        return xp.where(a >= 0, 1, e) / (1 + e)

    def backward(self, gy):
        y = self.output()
        return gy * y * (1 - y)


class ReLU(Function):
    def forward(self, a):
        self.mask = a > 0
        return a * self.mask

    def backward(self, gy):
        return gy * _const(self.mask.astype(gy.dtype))


class LeakyReLU(Function):
    """``a`` where a > 0, ``slope·a`` elsewhere.  Keras's default slope is 0.3, PyTorch's 0.01.

    Forward and backward are fused kernels (``tinygdl.kernels``: one pass instead of NumPy's three).
    The backward is itself an op, ``LeakyReLUGrad``, so it can be differentiated again.
    """

    def __init__(self, slope):
        self.slope = slope

    def forward(self, a):
        return kernels.leaky_relu(a, self.slope)

    def backward(self, gy):
        return LeakyReLUGrad(self.inputs[0].data, self.slope)(gy)


class LeakyReLUGrad(Function):
    """``gy`` where x > 0, ``slope·gy`` elsewhere: linear in ``gy`` with a constant coefficient
    (``x`` is a constant here: the slope of a piecewise-linear function has zero derivative), so
    its own gradient is the same op applied to the incoming gradient."""

    def __init__(self, x, slope):
        self.x, self.slope = x, slope

    def forward(self, gy):
        return kernels.leaky_relu_grad(self.x, gy, self.slope)

    def backward(self, ggx):
        return LeakyReLUGrad(self.x, self.slope)(ggx)


class ELU(Function):
    """``a`` for a > 0, ``alpha·(e^a − 1)`` elsewhere; its slope there is ``y + alpha``."""

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, a):
        xp = _xp(a)
        return xp.where(a > 0, a, self.alpha * xp.expm1(xp.minimum(a, 0)))

    def backward(self, gy):
        positive = self.inputs[0].data > 0
        return where(positive, gy, gy * (self.output() + self.alpha))


def sigmoid(a):
    return Sigmoid()(a)


def relu(a):
    return ReLU()(a)


def leaky_relu(a, negative_slope=0.01):
    return LeakyReLU(negative_slope)(a)


def elu(a, alpha=1.0):
    return ELU(alpha)(a)


def gelu(a, approximate="none"):
    """GELU: ``a·Φ(a)`` with Φ the normal CDF (``approximate="tanh"``: the tanh formula of
    Hendrycks & Gimpel, as PyTorch's option).  Built from ops, so every derivative is exact."""
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (a + 0.044715 * a * a * a)
        return 0.5 * a * (1 + tanh(inner))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * a * (1 + erf(a * (1 / math.sqrt(2))))


def silu(a):
    """SiLU / swish: ``a·sigmoid(a)``."""
    return a * sigmoid(a)


swish = silu


class Softplus(Function):
    """``log(1 + e^a)``, computed as ``max(a, 0) + log1p(e^-|a|)`` so it never overflows.

    The derivative is written out as ``sigmoid(a)``: differentiating the formula instead would
    add the subgradients of max and |a| at 0, both taken as 0, and give 0 where it is 1/2."""

    def forward(self, a):
        xp = _xp(a)
        return xp.maximum(a, 0) + xp.log1p(xp.exp(-xp.abs(a)))

    def backward(self, gy):
        return gy * sigmoid(self.inputs[0])


def softplus(a):
    return Softplus()(a)
