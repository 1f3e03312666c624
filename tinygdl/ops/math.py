"""More elementwise mathematics: rounding, exponentials and logarithms in other bases, inverse and
hyperbolic trigonometry, remainders, two-argument functions (atan2, hypot, logaddexp, copysign),
and the predicates (isnan, isclose ...).

Most of these ops share one pattern, so they are defined from a table: the array library's function
that computes ``y = f(x)``, and the derivative written with Tensor ops as a function of the input
``x`` and the output ``y`` (whichever reads shorter: ``d tan(x)/dx = 1 + y²``).  Because derivatives
are Tensor ops, every op here can be differentiated twice.
"""

from __future__ import annotations

import math

from .. import backend
from ..errors import ConfigError
from ..tensor import Function, Tensor, _tensors
from .elementwise import Div, _apply, _const, _floating, _grad_if, _operands, exp, pow

_xp = backend.get_array_module  # numpy, or cupy for GPU arrays


# --------------------------------------------------------------------------- one input


class Unary(Function):
    """``y = f(x)`` elementwise: ``forward`` calls ``ufunc`` of the array library, ``backward``
    multiplies the incoming gradient by ``derivative(x, y)``."""

    ufunc: str
    derivative = None

    def forward(self, a):
        return getattr(_xp(a), self.ufunc)(a)

    def backward(self, gy):
        return gy * self.derivative(self.inputs[0], self.output())


def _unary(name: str, ufunc: str, derivative, doc: str, floats_only: bool = True):
    """Define the op ``name`` (its Function class and its function) from one line of the table."""
    cls = type(name.capitalize(), (Unary,), {"ufunc": ufunc, "derivative": staticmethod(derivative), "__doc__": doc})

    def op(x):
        if floats_only:
            return cls()(_floating(x))
        x = x if isinstance(x, Tensor) else _tensors((x,))[0]
        return x if x.data.dtype.kind in "biu" else cls()(x)  # rounding an integer changes nothing

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def _zero(x, y):
    return 0.0  # piecewise constant: zero derivative (PyTorch's convention, also at the jumps)


def _rsqrt(t):
    return pow(t, -0.5)


LN2, LN10 = math.log(2.0), math.log(10.0)

exp2 = _unary("exp2", "exp2", lambda x, y: y * LN2, "``2^x``.")
log2 = _unary("log2", "log2", lambda x, y: 1 / (x * LN2), "Logarithm to base 2.")
log10 = _unary("log10", "log10", lambda x, y: 1 / (x * LN10), "Logarithm to base 10.")
expm1 = _unary("expm1", "expm1", lambda x, y: y + 1, "``e^x − 1``, accurate for small x.")
tan = _unary("tan", "tan", lambda x, y: 1 + y * y, "Tangent; d/dx = 1 + tan²(x).")
asin = _unary("asin", "arcsin", lambda x, y: _rsqrt(1 - x * x), "Inverse sine; d/dx = 1/√(1 − x²).")
acos = _unary("acos", "arccos", lambda x, y: -_rsqrt(1 - x * x), "Inverse cosine; d/dx = −1/√(1 − x²).")
atan = _unary("atan", "arctan", lambda x, y: 1 / (1 + x * x), "Inverse tangent; d/dx = 1/(1 + x²).")
sinh = _unary("sinh", "sinh", lambda x, y: cosh(x), "Hyperbolic sine; d/dx = cosh(x).")
cosh = _unary("cosh", "cosh", lambda x, y: sinh(x), "Hyperbolic cosine; d/dx = sinh(x).")
asinh = _unary("asinh", "arcsinh", lambda x, y: _rsqrt(x * x + 1), "Inverse sinh; d/dx = 1/√(x² + 1).")
acosh = _unary("acosh", "arccosh", lambda x, y: _rsqrt(x * x - 1), "Inverse cosh (x >= 1); d/dx = 1/√(x² − 1).")
atanh = _unary("atanh", "arctanh", lambda x, y: 1 / (1 - x * x), "Inverse tanh (|x| < 1); d/dx = 1/(1 − x²).")
floor = _unary("floor", "floor", _zero, "Round down (zero gradient).", floats_only=False)
ceil = _unary("ceil", "ceil", _zero, "Round up (zero gradient).", floats_only=False)
trunc = _unary("trunc", "trunc", _zero, "Round toward zero (zero gradient).", floats_only=False)
_round = _unary("round", "round", _zero, "", floats_only=False)


def round(x, decimals: int = 0):  # noqa: A001  (PyTorch's name)
    """Round half to even (as NumPy and PyTorch), to ``decimals`` places; zero gradient."""
    if decimals == 0:
        return _round(x)
    scale = 10.0**decimals
    return _round(x * scale) / scale


def frac(x):
    """The fractional part ``x − trunc(x)`` (its sign is x's); gradient 1."""
    x = _floating(x)
    return x - trunc(x)


def rsqrt(x):
    """``1/√x``."""
    return _rsqrt(_floating(x))


# --------------------------------------------------------------------------- two inputs


class Binary(Function):
    """``y = f(a, b)`` elementwise with broadcasting; ``derivatives(a, b, y)`` gives ∂y/∂a and
    ∂y/∂b, and backward sums each gradient back to its input's shape."""

    ufunc: str
    derivatives = None

    def forward(self, a, b):
        return getattr(_xp(a), self.ufunc)(a, b)

    def backward(self, gy):
        a, b = self.inputs
        da, db = self.derivatives(a, b, self.output())
        return (_grad_if(a, gy * da if a.requires_grad else None),
                _grad_if(b, gy * db if b.requires_grad else None))


def _binary(name: str, ufunc: str, derivatives, doc: str, floats_only: bool = True):
    cls = type(name.capitalize(), (Binary,), {"ufunc": ufunc, "derivatives": staticmethod(derivatives),
                                              "__doc__": doc})

    def op(a, b):
        if floats_only:
            a, b = _operands(a, b)
            a, b = _floating(a), _floating(b)
        return _apply(cls(), a, b)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def _sign_const(t: Tensor) -> Tensor:
    return _const(_xp(t.data).sign(t.data))


atan2 = _binary("atan2", "arctan2", lambda a, b, y: (b / (a * a + b * b), -a / (a * a + b * b)),
                "The angle of the point (b, a): ``atan2(a, b)`` = atan(a/b) in the right quadrant.")
hypot = _binary("hypot", "hypot", lambda a, b, y: (a / y, b / y), "``√(a² + b²)`` without overflow.")
logaddexp = _binary("logaddexp", "logaddexp", lambda a, b, y: (exp(a - y), exp(b - y)),
                    "``log(e^a + e^b)`` without overflow; ∂/∂a = e^(a − y), a softmax weight.")
copysign = _binary("copysign", "copysign", lambda a, b, y: (_sign_const(a) * _sign_const(y), 0.0),
                   "``|a|`` with the sign of ``b``; no gradient flows to b.")
fmod = _binary("fmod", "fmod", lambda a, b, y: (1.0, -trunc(a / b)),
               "C's remainder: ``a − trunc(a/b)·b``, with the sign of a.", floats_only=False)
remainder = _binary("remainder", "remainder", lambda a, b, y: (1.0, -floor(a / b)),
                    "Python's ``%``: ``a − floor(a/b)·b``, with the sign of b.", floats_only=False)
floor_divide = _binary("floor_divide", "floor_divide", lambda a, b, y: (0.0, 0.0),
                       "Python's ``//``: ``floor(a/b)`` (integers stay integers; zero gradient).", floats_only=False)


class TruncDivide(Binary):
    """``a / b`` rounded toward zero (integers stay integers; zero gradient)."""

    derivatives = staticmethod(lambda a, b, y: (0.0, 0.0))

    def forward(self, a, b):
        xp = _xp(a)
        if a.dtype.kind in "fc":
            return xp.trunc(a / b)
        q = xp.floor_divide(a, b)  # rounds down: one too low where the exact quotient is negative
        return q + ((q < 0) & (q * b != a))


def rounded_div(a, b, rounding_mode: str):
    """``div(a, b, rounding_mode=...)`` for "floor" and "trunc"."""
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        return _apply(TruncDivide(), a, b)
    raise ConfigError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")


def div(a, b, rounding_mode=None):
    """``a / b``.  True division always gives floats (int / int -> the default float dtype, as in
    PyTorch); ``rounding_mode="floor"`` is ``floor_divide`` and ``"trunc"`` rounds toward zero
    (both keep integer dtypes and have zero gradient, as in PyTorch)."""
    if rounding_mode is not None:
        return rounded_div(a, b, rounding_mode)
    a, b = _operands(a, b)
    if a.data.dtype.kind not in "fc":
        a, b = _floating(a), _floating(b)
    return _apply(Div(), a, b)


def lerp(a, b, weight):
    """Linear interpolation ``a + weight·(b − a)`` (weight a number or a tensor)."""
    return a + weight * (b - a)


# --------------------------------------------------------------------------- predicates (no gradient)


def _predicate(name: str, doc: str):
    def op(x):
        x = x if isinstance(x, Tensor) else _tensors((x,))[0]
        return _const(getattr(_xp(x.data), name)(x.data))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


isnan = _predicate("isnan", "True where x is NaN.")
isinf = _predicate("isinf", "True where x is +inf or -inf.")
isfinite = _predicate("isfinite", "True where x is neither NaN nor infinite.")


def isclose(a, b, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> Tensor:
    """True where ``|a − b| <= atol + rtol·|b|`` (PyTorch's default tolerances)."""
    a, b = _operands(a, b)
    return _const(_xp(a.data).isclose(a.data, b.data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(a, b, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:
    """``isclose`` everywhere, as a Python bool (for device tensors, a read back to the host: a
    device synchronisation, which is the point of asking)."""
    return bool(isclose(a, b, rtol, atol, equal_nan).data.all())


__all__ = ["acos", "acosh", "allclose", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "copysign", "cosh", "div",
           "exp2", "expm1", "floor", "floor_divide", "fmod", "frac", "hypot", "isclose", "isfinite", "isinf",
           "isnan", "lerp", "log10", "log2", "logaddexp", "remainder", "round", "rsqrt", "sinh", "tan", "trunc"]
