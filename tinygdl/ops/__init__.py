"""The op library.  Each module groups Functions of one kind; this file gives Tensor its
operators (``+ - * / ** @``, comparisons, indexing) and methods (``x.sum()``, ``x.reshape(...)``)."""

from __future__ import annotations

from ..tensor import Tensor, _tensors
from .activations import (
    celu,
    glu,
    hardsigmoid,
    hardswish,
    hardtanh,
    logsigmoid,
    mish,
    prelu,
    relu6,
    selu,
    softmin,
    softsign,
)
from .conv3d import conv3d  # noqa: F401  (tg.ops.conv3d; not in __all__, as conv2d)
from .creation import (
    arange,
    bernoulli,
    empty,
    eye,
    full,
    full_like,
    linspace,
    manual_seed,
    normal,
    ones,
    ones_like,
    permutation,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    uniform,
    zeros,
    zeros_like,
)
from .einsum import einsum
from .elementwise import (
    abs,
    add,
    clamp,
    clip,
    cos,
    elu,
    erf,
    exp,
    gelu,
    leaky_relu,
    log,
    log1p,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    sign,
    silu,
    sin,
    softplus,
    sqrt,
    sub,
    swish,
    tanh,
    where,
)
from .index import getitem, nonzero
from .linalg import cross, diag, diagonal, kron, matmul, outer, trace, tril, triu
from .math import (
    acos,
    acosh,
    allclose,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    ceil,
    copysign,
    cosh,
    div,
    exp2,
    expm1,
    floor,
    floor_divide,
    fmod,
    frac,
    hypot,
    isclose,
    isfinite,
    isinf,
    isnan,
    lerp,
    log2,
    log10,
    logaddexp,
    remainder,
    round,
    rsqrt,
    sinh,
    tan,
    trunc,
)
from .movement import astype, to, to_device_op
from .neural import dropout, embedding, log_softmax, one_hot, softmax
from .reduce import (
    all,
    any,
    argmax,
    argmin,
    cummax,
    cummin,
    cumprod,
    cumsum,
    logcumsumexp,
    logsumexp,
    max,
    mean,
    min,
    prod,
    std,
    std_mean,
    sum,
    var,
    var_mean,
)
from .select import (
    ValuesIndices,
    argsort,
    gather,
    index_select,
    masked_fill,
    masked_select,
    scatter,
    scatter_add,
    scatter_reduce,
    sort,
    topk,
)
from .shape import (
    broadcast_to,
    cat,
    chunk,
    concatenate,
    expand,
    flatten,
    flip,
    meshgrid,
    movedim,
    pad,
    permute,
    repeat,
    repeat_interleave,
    reshape,
    roll,
    split,
    squeeze,
    stack,
    sum_to,
    swapaxes,
    tile,
    transpose,
    unflatten,
    unfold,
    unsqueeze,
)

__all__ = [
    # creation and random draws
    "arange", "bernoulli", "eye", "full", "linspace", "manual_seed", "normal", "ones", "ones_like",
    "permutation", "rand", "randint", "randn", "uniform", "zeros", "zeros_like",
    # elementwise
    "abs", "add", "clip", "cos", "div", "elu", "erf", "exp", "gelu", "leaky_relu", "log", "log1p",
    "maximum", "minimum", "mul", "neg", "pow", "relu", "sigmoid", "sign", "silu", "sin", "softplus",
    "sqrt", "sub", "swish", "tanh", "where",
    # reductions
    "argmax", "argmin", "cumprod", "cumsum", "logsumexp", "max", "mean", "min", "std", "sum", "var",
    # linear algebra, shapes, indexing, devices
    "matmul", "broadcast_to", "cat", "chunk", "concatenate", "expand", "flatten", "flip", "pad",
    "permute", "repeat", "reshape", "split", "squeeze", "stack", "sum_to", "swapaxes", "tile",
    "transpose", "unsqueeze", "getitem", "astype",
    # neural-network functions
    "dropout", "embedding", "log_softmax", "one_hot", "softmax",
]
# The rest of PyTorch's everyday vocabulary (issue 9): math.py, activations.py, select.py, einsum.py ...
__all__ += [
    "empty", "full_like", "rand_like", "randn_like", "clamp",
    "acos", "acosh", "allclose", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "copysign", "cosh", "exp2",
    "expm1", "floor", "floor_divide", "fmod", "frac", "hypot", "isclose", "isfinite", "isinf", "isnan", "lerp",
    "log2", "log10", "logaddexp", "remainder", "round", "rsqrt", "sinh", "tan", "trunc",
    "celu", "glu", "hardsigmoid", "hardswish", "hardtanh", "logsigmoid", "mish", "prelu", "relu6", "selu",
    "softmin", "softsign",
    "all", "any", "cummax", "cummin", "logcumsumexp", "prod", "std_mean", "var_mean",
    "ValuesIndices", "argsort", "gather", "index_select", "masked_fill", "masked_select", "nonzero", "scatter",
    "scatter_add", "scatter_reduce", "sort", "topk",
    "cross", "diag", "diagonal", "einsum", "kron", "outer", "trace", "tril", "triu",
    "meshgrid", "movedim", "repeat_interleave", "roll", "unflatten", "unfold",
]


def _compare(name):
    """Elementwise comparison returning a boolean tensor (never differentiable)."""

    def compare(self, other):
        a, b = _tensors((self, other))
        return Tensor._wrap(getattr(a.data, name)(b.data))

    compare.__name__ = name
    return compare


def _install_tensor_methods():
    def rsub(a, b):
        return sub(b, a)

    def rdiv(a, b):
        return div(b, a)

    def rpow(a, b):
        return pow(_tensors((b, a))[0], a)

    def rmatmul(a, b):
        return matmul(b, a)

    def rmod(a, b):
        return remainder(b, a)

    def rfloordiv(a, b):
        return floor_divide(b, a)

    operators = {
        "__add__": add, "__radd__": add, "__sub__": sub, "__rsub__": rsub,
        "__mul__": mul, "__rmul__": mul, "__truediv__": div, "__rtruediv__": rdiv,
        "__pow__": pow, "__rpow__": rpow, "__matmul__": matmul, "__rmatmul__": rmatmul,
        "__neg__": neg, "__abs__": abs, "__getitem__": getitem,
        "__mod__": remainder, "__rmod__": rmod, "__floordiv__": floor_divide, "__rfloordiv__": rfloordiv,
    }
    for name in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
        operators[name] = _compare(name)
    methods = {
        f.__name__: f for f in (
            exp, log, log1p, sqrt, sign, sin, cos, tanh, sigmoid, relu, clip,
            sum, mean, var, std, max, min, logsumexp, cumsum, cumprod, argmax, argmin,
            reshape, transpose, permute, flatten, squeeze, unsqueeze, expand, broadcast_to, flip,
            repeat, tile, swapaxes, astype, matmul, pow, softmax, log_softmax,
            # issue 9: method forms of the ops PyTorch has as methods too
            add, sub, mul, div, neg, maximum, minimum, erf, clamp, floor, ceil, round, trunc, frac, exp2, log2,
            log10, expm1, rsqrt, tan, asin, acos, atan, atan2, sinh, cosh, asinh, acosh, atanh, copysign, fmod,
            remainder, floor_divide, lerp, logaddexp, hypot, isnan, isinf, isfinite, isclose, allclose, any, all,
            prod, logcumsumexp, cummax, cummin, sort, argsort, topk, gather, scatter, scatter_add, scatter_reduce,
            index_select, masked_fill, masked_select, nonzero, tril, triu, diag, diagonal, trace, roll, unfold,
            unflatten, movedim, outer, cross, kron, repeat_interleave,
        )
    }
    methods["abs"] = abs
    methods["to"] = to
    methods["cpu"] = lambda self: to(self, "cpu")
    methods["cuda"] = lambda self, index=0: to(self, f"cuda:{index}")
    methods["permute"] = permute  # an alias of transpose: the __name__ key above says "transpose"
    methods["T"] = property(lambda self: transpose(self))
    methods["view"] = reshape
    for name, value in {**operators, **methods}.items():
        setattr(Tensor, name, value)


_install_tensor_methods()
