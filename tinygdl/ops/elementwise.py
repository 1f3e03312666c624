"""Elementwise operations: arithmetic, powers, exponentials, trigonometry and activations.

Each Function computes on raw arrays in ``forward`` and expresses its derivative with Tensor ops in
``backward``.  Binary ops broadcast like NumPy; their backward sums the gradient back to each
input's shape with ``sum_to`` ("undoing the broadcast": an input that was copied along an axis
receives the sum of the gradients of all its copies).
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend, kernels
from ..errors import ConfigError, ShapeError, TinyGDLError
from ..tensor import Function, Tensor, _as_tensor_like, _tensors, is_grad_enabled
from .index import nonzero
from .shape import sum_to

_xp = backend.get_array_module  # numpy, or cupy for GPU arrays


def _grad_if(x: Tensor, g):
    """The gradient ``g`` for input ``x``, summed back to x's shape; None if x needs none."""
    return sum_to(g, x.shape) if x.requires_grad and g is not None else None


def _const(array) -> Tensor:
    """A constant tensor (no gradient) — masks and coefficients used inside backward formulas."""
    return Tensor._wrap(array)


# --------------------------------------------------------------------------- type promotion
# PyTorch's rule, not NumPy's (docs/engine.md, "Type promotion"): the result of a binary op has the
# dtype of the operand of the higher *category* (bool < integer < float < complex); within one
# category the wider type wins.  A Python number takes the tensor's dtype if it fits in its
# category, else the default dtype of its own (a float with an int tensor: float32 by default).

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _number_tensor(value, like: Tensor) -> Tensor:
    """A Python or NumPy number (or a list/array) as a tensor to combine with ``like``."""
    kind = like.data.dtype.kind
    if isinstance(value, (bool, np.bool_)):
        dtype = like.data.dtype
    elif isinstance(value, (int, np.integer)):
        dtype = like.data.dtype if kind != "b" else np.int64
    elif isinstance(value, (float, np.floating)):
        dtype = like.data.dtype if kind in "fc" else backend.get_default_dtype()
    else:
        return _as_tensor_like(value, like)  # arrays and lists keep their own dtype
    return Tensor._wrap(_xp(like.data).asarray(value, dtype=dtype))


def _operands(a, b):
    """``a`` and ``b`` as tensors of one dtype, by the promotion rule above."""
    if not isinstance(a, Tensor):
        a = _number_tensor(a, b) if isinstance(b, Tensor) else _tensors((a,))[0]
    if not isinstance(b, Tensor):
        b = _number_tensor(b, a)
    if a.data.dtype != b.data.dtype:
        rank_a, rank_b = _CATEGORY[a.data.dtype.kind], _CATEGORY[b.data.dtype.kind]
        if rank_a < rank_b:
            a = a.astype(b.dtype)
        elif rank_b < rank_a:
            b = b.astype(a.dtype)
    return a, b


def _floating(a) -> Tensor:
    """``a`` itself if it is a float tensor, else a copy in the default float dtype (``exp`` of
    an int tensor is float32, as in PyTorch, not float64 as in NumPy)."""
    if isinstance(a, Tensor) and a.data.dtype.kind in "fc":
        return a
    a = a if isinstance(a, Tensor) else _tensors((a,))[0]
    return a if a.data.dtype.kind in "fc" else a.astype(backend.get_default_dtype())


def _apply(fn: Function, a, b) -> Tensor:
    """Run a binary op on promoted operands; shapes that do not broadcast raise a ShapeError."""
    if not (isinstance(a, Tensor) and isinstance(b, Tensor) and a.data.dtype is b.data.dtype):
        a, b = _operands(a, b)  # (the common case, two tensors of one dtype, skips the call)
    try:
        return fn(a, b)
    except ValueError as error:
        if isinstance(error, TinyGDLError) or "broadcast" not in str(error):
            raise
        raise ShapeError(f"{fn.name.lower()}: shapes {a.shape} and {b.shape} do not broadcast") from None


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
    """``a`` with 1 where ``mask`` is set.  Always a ``where``, even where the mask is empty (the usual
    case): asking first would read the mask back from a GPU, a device synchronisation per call."""
    return where(mask, 1.0, a)


def add(a, b):
    return _apply(Add(), a, b)


def sub(a, b):
    return _apply(Sub(), a, b)


def mul(a, b):
    return _apply(Mul(), a, b)


def neg(a):
    return Neg()(a)


def pow(a, b):
    """``a ** b``; a Python-number exponent is a constant, a Tensor exponent is differentiated."""
    if isinstance(b, (int, float)) and isinstance(a, Tensor):
        return PowConst(b)(_floating(a) if isinstance(b, float) else a)
    return _apply(Pow(), a, b)


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
    return Exp()(_floating(a))


def log(a):
    return Log()(_floating(a))


def log1p(a):
    return Log1p()(_floating(a))


def sqrt(a):
    return Sqrt()(_floating(a))


def abs(a):
    return Abs()(a)


def erf(a):
    return Erf()(_floating(a))


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


class Clamp(Function):
    """Clamp ``a`` to [lo, hi] (either bound may be missing); the bounds are numbers (constants)
    or tensors (differentiated: a bound receives the gradient where it is the output).

    The gradient passes to ``a`` where lo <= a <= hi, as ``torch.clamp`` (``inclusive=False``:
    where lo < a < hi, as ``hardtanh``).  Where lo > hi the output is hi, as in NumPy and PyTorch."""

    def __init__(self, lo, hi, inclusive=True):
        self.lo, self.hi, self.inclusive = lo, hi, inclusive  # numbers, or None where a tensor comes as input

    def forward(self, a, *bounds):
        lo, hi = self._bounds(bounds)
        return _xp(a).clip(a, lo, hi)

    def _bounds(self, arrays):
        arrays = list(arrays)
        lo = arrays.pop(0) if self.lo is _TENSOR else self.lo
        hi = arrays.pop(0) if self.hi is _TENSOR else self.hi
        return lo, hi

    def backward(self, gy):
        a, *bounds = self.inputs
        lo, hi = self._bounds([b.data for b in bounds])
        x, xp = a.data, _xp(a.data)
        passes = xp.ones_like(x, dtype=bool)
        if lo is not None:
            passes &= (x >= lo) if self.inclusive else (x > lo)
        if hi is not None:
            passes &= (x <= hi) if self.inclusive else (x < hi)
        grads = [gy * _const(passes.astype(gy.dtype))]
        if self.lo is _TENSOR:  # lo is the output where a < lo (and lo < hi: else hi is)
            chosen = (x < lo) & (lo < hi) if hi is not None else x < lo
            grads.append(_grad_if(bounds[0], gy * _const(chosen.astype(gy.dtype))))
        if self.hi is _TENSOR:
            chosen = (x > hi) | (hi < lo) if lo is not None else x > hi
            grads.append(_grad_if(bounds[-1], gy * _const(chosen.astype(gy.dtype))))
        return tuple(grads)


_TENSOR = object()  # marks a bound that comes as a tensor input of Clamp


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
    return _apply(Maximum(), a, b)


def minimum(a, b):
    return _apply(Minimum(), a, b)


def clip(a, lo=None, hi=None):
    """Clamp ``a`` to [lo, hi]: numbers or tensors, either may be None (not both)."""
    if lo is None and hi is None:
        raise ConfigError("clip: at least one of lo and hi must be given (both are None)")
    if not isinstance(lo, Tensor) and not isinstance(hi, Tensor):
        return Clamp(lo, hi)(_floating(a) if isinstance(lo, float) or isinstance(hi, float) else a)
    bounds = [b for b in (lo, hi) if b is not None]
    a, *bounds = _broadcastable(a, *bounds)
    return Clamp(_TENSOR if lo is not None else None, _TENSOR if hi is not None else None)(a, *bounds)


def clamp(a, min=None, max=None):  # noqa: A002  (PyTorch's keyword names)
    """``torch.clamp``: :func:`clip` with the keywords ``min`` and ``max``."""
    return clip(a, min, max)


def _broadcastable(a, *others):
    """``a`` and ``others`` promoted to one dtype (numbers become tensors)."""
    out = [a]
    for other in others:
        a, other = _operands(a, other)
        out = [a] + [t.astype(a.dtype) for t in out[1:]] + [other]
    return out


def where(condition, a=None, b=None):
    """``a`` where ``condition`` holds, else ``b`` (tensors or numbers, promoted as ``add``'s operands).
    The condition is a constant, moved to a's device.  ``where(condition)`` alone is
    ``nonzero(condition, as_tuple=True)``, as in NumPy and PyTorch."""
    if a is None and b is None:
        return nonzero(condition, as_tuple=True)
    cond = condition.data if isinstance(condition, Tensor) else condition
    if not (isinstance(a, Tensor) or isinstance(b, Tensor)):  # two numbers: the result lives with the condition
        a = Tensor(a, device=backend.device_of(cond))
    a, b = _operands(a, b)
    try:
        return Where(backend.to_device(cond, a.device))(a, b)
    except ValueError as error:
        if isinstance(error, TinyGDLError) or "broadcast" not in str(error):
            raise
        shape = cond.shape if backend.is_array(cond) else np.shape(cond)  # (NumPy's np.shape refuses CuPy arrays)
        raise ShapeError(f"where: condition {shape}, branches {a.shape} and {b.shape} do not broadcast") from None


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
    keeps_input_values = False  # the backward reads the output

    def forward(self, a):
        return _xp(a).tanh(a)

    def backward(self, gy):
        y = self.output()
        if not is_grad_enabled():  # one array expression, not three ops (per-op overhead)
            return _const(gy.data * (1 - y.data * y.data))
        return gy * (1 - y * y)


def sin(a):
    return Sin()(_floating(a))


def cos(a):
    return Cos()(_floating(a))


def tanh(a):
    return Tanh()(_floating(a))


# --------------------------------------------------------------------------- activations


class Sigmoid(Function):
    keeps_input_values = False  # the backward reads the output

    def forward(self, a):
        # 1/(1+e^-a) for a >= 0 and e^a/(1+e^a) for a < 0, both through e^-|a| <= 1: nothing
        # overflows, and the small values of the left tail keep their relative precision (the
        # shorter 0.5·tanh(a/2) + 0.5 cancels to exactly 0 from a ≈ -17 in float32).
        xp = _xp(a)
        e = xp.exp(-xp.abs(a))
        return xp.where(a >= 0, 1, e) / (1 + e)

    def backward(self, gy):
        y = self.output()
        if not is_grad_enabled():
            return _const(gy.data * y.data * (1 - y.data))
        return gy * y * (1 - y)


class ReLU(Function):
    keeps_input_values = False  # the backward reads the mask

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
    return Sigmoid()(_floating(a))


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


def softplus(a, beta=1.0, threshold=20.0):
    """``log(1 + e^(beta·a)) / beta``.  Where ``beta·a > threshold`` the result is ``a`` itself, as in
    PyTorch (the two differ there by less than e^-threshold; ``threshold=None``: never).  The ``where``
    runs whether or not any element passes the threshold: checking first would read the comparison
    back from a GPU, a device synchronisation on every call."""
    a = _floating(a)
    scaled = a if beta == 1 else a * beta
    y = Softplus()(scaled)
    y = y if beta == 1 else y / beta
    return y if threshold is None else where(scaled.data > threshold, a, y)
