"""The op table: one entry per (op, arguments) pair, as Chainer's op tests are organised.

It serves two masters: ``tinygdl gradcheck`` runs every entry's gradient checks, and the test
suite (``tests/ops/``) turns every entry into gradient checks, PyTorch parity checks and
second-order checks.  Every ``OpSpec`` says how to call the op in tinygdl (``fn``) and in PyTorch (``ref``), which input
shapes to try (``cases``: one tuple of shapes per case, one shape per input), how to draw the
input values (``make``: ops with a restricted domain or a kink get values that keep clear of it),
and what to check (``grad``, ``numeric``, ``second_order``, ...).  The test modules next to this
package's tests turn every entry into gradient checks, PyTorch parity checks (float64 and
float32) and second-order checks; adding an op to the library means adding a line here.

Input values are float64 NumPy arrays (or integer / boolean arrays for constant inputs such as
indices and conditions).  Float inputs are differentiated, the others are passed as constants.
"""

from __future__ import annotations

import numpy as np

from .. import ops as tg
from ..tensor import tensor
from .optable import (
    BINARY,
    R3,
    SPECS,
    UNARY,
    OpSpec,
    above,
    add,
    away_from,
    const,
    distinct,
    each,
    ids,
    large,
    make_inputs,
    mask,
    no_ties_between,
    nonzero,
    normal,
    per_input,
    positive,
    seed_of,
    small_ints,
    with_zeros,
)

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the table itself must import without torch; parity tests skip
    torch = F = None


# --------------------------------------------------------------------------- helpers for refs


def _dims(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return axis


def _torch_pad(widths):
    """numpy.pad widths ((lo0, hi0), (lo1, hi1), ...) -> F.pad's (lo_last, hi_last, ..., lo0, hi0)."""
    flat = []
    for lo, hi in reversed(widths):
        flat += [lo, hi]
    return tuple(flat)


def _torch_index(index):
    """A NumPy index with its arrays turned into torch tensors."""
    def convert(p):
        return torch.as_tensor(p) if isinstance(p, np.ndarray) else p

    return tuple(convert(p) for p in index) if isinstance(index, tuple) else convert(index)


def _by_positions(index):
    """Reference for indices torch cannot express (negative steps): gather the flat positions that
    NumPy selects.  torch's own index backward then does the scatter-add."""

    def ref(x):
        positions = np.arange(x.numel()).reshape(tuple(x.shape))[index]
        return x.reshape(-1)[torch.as_tensor(np.ascontiguousarray(positions))]

    return ref


# --------------------------------------------------------------------------- the table



# -- arithmetic --------------------------------------------------------------------------
add(id="add", op="add", fn=tg.add, ref=torch and torch.add, cases=BINARY, second_order=True, complex=True)
add(id="add-operator-scalar", op="add", fn=lambda x: 2.5 + x, ref=lambda x: 2.5 + x, cases=UNARY)
add(id="sub", op="sub", fn=tg.sub, ref=torch and torch.sub, cases=BINARY, second_order=True)
add(id="sub-operator-rscalar", op="sub", fn=lambda x: 3.0 - x, ref=lambda x: 3.0 - x, cases=UNARY)
add(id="mul", op="mul", fn=tg.mul, ref=torch and torch.mul, cases=BINARY, second_order=True, complex=True)
add(id="mul-self", op="mul", fn=lambda x: x * x, ref=lambda x: x * x, cases=UNARY, second_order=True)
add(id="mul-numpy-float64-scalar", op="mul", fn=lambda x: x * np.float64(0.1),
    ref=lambda x: x * 0.1, cases=UNARY)
add(id="div", op="div", fn=tg.div, ref=torch and torch.div, cases=BINARY,
    make=per_input(normal, away_from(0.0, margin=0.5)), second_order=True)
add(id="div-operator-rscalar", op="div", fn=lambda x: 1.0 / x, ref=lambda x: 1.0 / x, cases=UNARY,
    make=each(away_from(0.0, margin=0.5)), second_order=True)
add(id="neg", op="neg", fn=tg.neg, ref=torch and torch.neg, cases=UNARY, second_order=True)
add(id="neg-operator", op="neg", fn=lambda x: -x, ref=lambda x: -x, cases=UNARY)
# pow: tensor exponent (base > 0 so that log(base) exists), constant exponents, a number base
add(id="pow-tensor", op="pow", fn=tg.pow, ref=torch and torch.pow, cases=BINARY,
    make=per_input(positive, normal), second_order=True)
for c in (2, 3, 0.5, -1.5, 1, 0):
    add(id=f"pow-scalar{c}", op="pow", fn=lambda x, c=c: x**c, ref=lambda x, c=c: x**c, cases=UNARY,
        make=each(positive if isinstance(c, float) else normal), second_order=True)
add(id="pow-numpy-int-exponent", op="pow", fn=lambda x: x ** np.int64(3), ref=lambda x: x**3, cases=UNARY)
add(id="pow-rpow-2", op="pow", fn=lambda x: 2**x, ref=lambda x: 2**x, cases=UNARY, second_order=True)
add(id="pow-rpow-float", op="pow", fn=lambda x: 0.7**x, ref=lambda x: 0.7**x, cases=UNARY)

# -- exp, log, roots, abs, sign ----------------------------------------------------------
add(id="exp", op="exp", fn=tg.exp, ref=torch and torch.exp, cases=UNARY, second_order=True, complex=True)
add(id="log", op="log", fn=tg.log, ref=torch and torch.log, cases=UNARY, make=each(positive),
    second_order=True)
add(id="log1p", op="log1p", fn=tg.log1p, ref=torch and torch.log1p, cases=UNARY, make=each(above(-0.5)),
    second_order=True)
add(id="sqrt", op="sqrt", fn=tg.sqrt, ref=torch and torch.sqrt, cases=UNARY, make=each(positive),
    second_order=True)
add(id="abs", op="abs", fn=tg.abs, ref=torch and torch.abs, cases=UNARY, make=each(nonzero),
    second_order=True)
add(id="abs-at-zero", op="abs", fn=tg.abs, ref=torch and torch.abs, cases=(((2, 3),),),
    make=each(const([[0.0, 1.0, -2.0], [0.0, -0.0, 3.0]])), numeric=False, layouts=False)
add(id="abs-method", op="abs", fn=lambda x: x.abs(), ref=lambda x: x.abs(), cases=UNARY, make=each(nonzero))
add(id="sign", op="sign", fn=tg.sign, ref=torch and torch.sign, cases=UNARY,
    make=each(small_ints), grad=False)
add(id="erf", op="erf", fn=tg.erf, ref=torch and torch.erf, cases=UNARY, second_order=True)

# -- selection ---------------------------------------------------------------------------
add(id="maximum", op="maximum", fn=tg.maximum, ref=torch and torch.maximum, cases=BINARY,
    make=no_ties_between, second_order=True)
add(id="minimum", op="minimum", fn=tg.minimum, ref=torch and torch.minimum, cases=BINARY,
    make=no_ties_between, second_order=True)
# Ties: the gradient is split 0.5/0.5 between the two inputs, as torch.maximum does.
add(id="maximum-ties", op="maximum", fn=tg.maximum, ref=torch and torch.maximum,
    cases=(((4, 5), (4, 5)), ((4, 5), (5,))), make=each(small_ints), numeric=False, layouts=False)
add(id="minimum-ties", op="minimum", fn=tg.minimum, ref=torch and torch.minimum,
    cases=(((4, 5), (4, 5)), ((4, 5), (5,))), make=each(small_ints), numeric=False, layouts=False)
add(id="maximum-scalar", op="maximum", fn=lambda x: tg.maximum(x, 0.0),
    ref=lambda x: torch.maximum(x, torch.zeros((), dtype=x.dtype)), cases=UNARY, make=each(nonzero))
add(id="clip", op="clip", fn=lambda x: tg.clip(x, -0.5, 0.8), ref=lambda x: torch.clamp(x, -0.5, 0.8),
    cases=UNARY, make=each(away_from(-0.5, 0.8)), second_order=True)
add(id="clip-lo", op="clip", fn=lambda x: tg.clip(x, lo=0.2), ref=lambda x: torch.clamp(x, min=0.2),
    cases=UNARY, make=each(away_from(0.2)))
add(id="clip-hi", op="clamp", fn=lambda x: x.clamp(max=-0.1), ref=lambda x: torch.clamp(x, max=-0.1),
    cases=UNARY, make=each(away_from(-0.1)))
# On the boundary the gradient passes (lo <= x <= hi), as torch.clamp.
add(id="clip-at-bounds", op="clip", fn=lambda x: tg.clip(x, -1.0, 1.0), ref=lambda x: torch.clamp(x, -1.0, 1.0),
    cases=(((4,),),), make=each(const([-1.0, 1.0, 0.0, 2.0])), numeric=False, layouts=False)
add(id="where", op="where", fn=tg.where, ref=torch and torch.where,
    cases=(((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), (3, 1)), ((3, 1), (1, 4), ()), ((2, 3, 4), (3, 4), (2, 1, 1))),
    make=per_input(mask, normal, normal), second_order=True)
add(id="where-scalar-branch", op="where", fn=lambda c, x: tg.where(c, x, 0.0),
    ref=lambda c, x: torch.where(c, x, 0.0), cases=(((3, 4), (3, 4)),), make=per_input(mask, normal))

# -- trigonometry and activations ------------------------------------------------------
add(id="sin", op="sin", fn=tg.sin, ref=torch and torch.sin, cases=UNARY, second_order=True)
add(id="cos", op="cos", fn=tg.cos, ref=torch and torch.cos, cases=UNARY, second_order=True)
add(id="tanh", op="tanh", fn=tg.tanh, ref=torch and torch.tanh, cases=UNARY, second_order=True)
add(id="sigmoid", op="sigmoid", fn=tg.sigmoid, ref=torch and torch.sigmoid, cases=UNARY, second_order=True)
add(id="sigmoid-large", op="sigmoid", fn=tg.sigmoid, ref=torch and torch.sigmoid, cases=(((6,),),),
    make=each(const([-800.0, -40.0, -1.0, 1.0, 40.0, 800.0])), layouts=False)
add(id="relu", op="relu", fn=tg.relu, ref=torch and torch.relu, cases=UNARY, make=each(nonzero),
    second_order=True)
add(id="leaky_relu", op="leaky_relu", fn=tg.leaky_relu, ref=torch and F.leaky_relu, cases=UNARY,
    make=each(nonzero), second_order=True)
add(id="leaky_relu-0.3", op="leaky_relu", fn=lambda x: tg.leaky_relu(x, 0.3),
    ref=lambda x: F.leaky_relu(x, 0.3), cases=UNARY, make=each(nonzero), second_order=True)
add(id="elu", op="elu", fn=tg.elu, ref=torch and F.elu, cases=UNARY, make=each(nonzero), second_order=True)
add(id="elu-alpha0.5", op="elu", fn=lambda x: tg.elu(x, 0.5), ref=lambda x: F.elu(x, 0.5), cases=UNARY,
    make=each(nonzero), second_order=True)
add(id="gelu", op="gelu", fn=tg.gelu, ref=torch and F.gelu, cases=UNARY, second_order=True)
add(id="gelu-tanh", op="gelu", fn=lambda x: tg.gelu(x, approximate="tanh"),
    ref=lambda x: F.gelu(x, approximate="tanh"), cases=UNARY, second_order=True)
add(id="silu", op="silu", fn=tg.silu, ref=torch and F.silu, cases=UNARY, second_order=True)
add(id="swish", op="swish", fn=tg.swish, ref=torch and F.silu, cases=UNARY[:1])
add(id="softplus", op="softplus", fn=tg.softplus, ref=torch and F.softplus, cases=UNARY, make=each(nonzero),
    second_order=True)
add(id="softplus-wide", op="softplus", fn=tg.softplus, ref=torch and F.softplus, cases=(((6,),),),
    make=each(const([-60.0, -15.0, -0.5, 0.5, 15.0, 19.0])), layouts=False)

# At exactly 0 (kinks, and points where a formula meets 0·inf): the gradient PyTorch gives.
# softplus is smooth at 0, so its finite differences are valid there too.
WITH_ZERO = const([[0.0, 0.0, 1.3], [-0.7, 0.0, 2.0]])
add(id="softplus-at-zero", op="softplus", fn=tg.softplus, ref=torch and F.softplus, cases=(((2, 3),),),
    make=each(WITH_ZERO), second_order=True, layouts=False)
for name, fn, ref in (("relu", tg.relu, torch and torch.relu),
                      ("leaky_relu", lambda x: tg.leaky_relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2)),
                      ("elu", lambda x: tg.elu(x, 0.5), lambda x: F.elu(x, 0.5)),
                      ("sqrt", tg.sqrt, torch and torch.sqrt)):
    add(id=f"{name}-at-zero", op=name, fn=fn, ref=ref, cases=(((2, 3),),),
        make=each(const(np.abs(WITH_ZERO(None, None))) if name == "sqrt" else WITH_ZERO),
        numeric=False, layouts=False)
add(id="pow-scalar0-at-zero", op="pow", fn=lambda x: x**0, ref=lambda x: x**0, cases=(((2, 3),),),
    make=each(WITH_ZERO), numeric=False, layouts=False)
add(id="pow-tensor-zero-base", op="pow", fn=tg.pow, ref=torch and torch.pow, cases=(((2, 3), (2, 3)), ((2, 3), (3,))),
    make=per_input(const([[0.0, 0.0, 0.0], [1.5, 0.0, 0.5]]), const([2.0, 0.0, -1.0])), numeric=False,
    layouts=False)

# -- reductions --------------------------------------------------------------------------
AXES = [(None, False), (None, True), (1, False), (-1, True), ((0, 2), False), ((0, 2), True), (-3, False)]
for name, ref in (("sum", torch and torch.sum), ("mean", torch and torch.mean)):
    for axis, keep in AXES:
        add(id=f"{name}-axis{axis}-keep{keep}".replace(" ", ""), op=name,
            fn=lambda x, axis=axis, keep=keep, name=name: getattr(tg, name)(x, axis=axis, keepdims=keep),
            ref=lambda x, axis=axis, keep=keep, ref=ref: ref(x, dim=_dims(axis, x.ndim), keepdim=keep),
            cases=R3, second_order=True, complex=(name == "sum"))
add(id="sum-1d-scalar", op="sum", fn=lambda x: x.sum(), ref=lambda x: x.sum(), cases=(((5,),), ((),)),
    second_order=True)
add(id="sum-to-bool", op="sum", fn=lambda x: tg.sum(x, 0), ref=lambda x: torch.sum(x, 0),
    cases=(((3, 4),),), make=each(lambda rng, s: rng.standard_normal(s) > 0), check_dtype=False, grad=False)
for stat in ("var", "std"):
    for axis, keep in AXES[:5]:
        for ddof in (0, 1):
            add(id=f"{stat}-axis{axis}-keep{keep}-ddof{ddof}".replace(" ", ""), op=stat,
                fn=lambda x, axis=axis, keep=keep, ddof=ddof, stat=stat:
                    getattr(tg, stat)(x, axis=axis, keepdims=keep, ddof=ddof),
                ref=lambda x, axis=axis, keep=keep, ddof=ddof, stat=stat:
                    getattr(torch, stat)(x, dim=_dims(axis, x.ndim), correction=ddof, keepdim=keep),
                cases=R3, second_order=True)
# Too few elements for the correction (n - ddof <= 0): NaN / inf, as NumPy and torch, not a crash.
add(id="var-no-degrees-of-freedom", op="var", fn=lambda x: tg.var(x, axis=0, ddof=1),
    ref=lambda x: torch.var(x, dim=0, correction=1), cases=(((1, 3),),), numeric=False, layouts=False)
add(id="var-negative-degrees-of-freedom", op="var", fn=lambda x: tg.var(x, axis=1, ddof=4),
    ref=lambda x: torch.var(x, dim=1, correction=4), cases=(((2, 3),),), numeric=False, layouts=False,
    check_backward=False)  # torch's backward then divides by n - correction < 0 unclamped: finite values
for name, tname in (("max", "amax"), ("min", "amin")):
    for axis, keep in AXES:
        add(id=f"{name}-axis{axis}-keep{keep}".replace(" ", ""), op=name,
            fn=lambda x, axis=axis, keep=keep, name=name: getattr(tg, name)(x, axis=axis, keepdims=keep),
            ref=lambda x, axis=axis, keep=keep, tname=tname:
                getattr(torch, tname)(x, dim=_dims(axis, x.ndim), keepdim=keep),
            cases=R3, make=each(distinct), second_order=True)
    # Ties share the gradient equally, as torch.amax/amin (torch.max(dim) would pick one element).
    for axis in (None, 1, (0, 2)):
        add(id=f"{name}-ties-axis{axis}".replace(" ", ""), op=name,
            fn=lambda x, axis=axis, name=name: getattr(tg, name)(x, axis=axis),
            ref=lambda x, axis=axis, tname=tname: getattr(torch, tname)(x, dim=_dims(axis, x.ndim)),
            cases=(((2, 3, 4),),), make=each(small_ints), numeric=False, layouts=False)
add(id="max-method-1d", op="max", fn=lambda x: x.max(), ref=lambda x: x.amax(), cases=(((7,),),),
    make=each(distinct), second_order=True)
for axis, keep in AXES:
    add(id=f"logsumexp-axis{axis}-keep{keep}".replace(" ", ""), op="logsumexp",
        fn=lambda x, axis=axis, keep=keep: tg.logsumexp(x, axis=axis, keepdims=keep),
        ref=lambda x, axis=axis, keep=keep: torch.logsumexp(x, dim=_dims(axis, x.ndim), keepdim=keep),
        cases=R3, second_order=True)
add(id="logsumexp-large", op="logsumexp", fn=lambda x: tg.logsumexp(x, axis=-1),
    ref=lambda x: torch.logsumexp(x, dim=-1), cases=(((3, 4),),), make=each(large))
for axis in (0, 1, -1):
    add(id=f"cumsum-axis{axis}", op="cumsum", fn=lambda x, axis=axis: tg.cumsum(x, axis),
        ref=lambda x, axis=axis: torch.cumsum(x, dim=axis), cases=(((3, 4),), ((2, 3, 4),))[: 1 + (axis != 0)],
        second_order=True)
    add(id=f"cumprod-axis{axis}", op="cumprod", fn=lambda x, axis=axis: tg.cumprod(x, axis),
        ref=lambda x, axis=axis: torch.cumprod(x, dim=axis), cases=(((3, 4),), ((2, 3, 4),))[: 1 + (axis != 0)],
        second_order=True)
    add(id=f"cumprod-zeros-axis{axis}", op="cumprod", fn=lambda x, axis=axis: tg.cumprod(x, axis),
        ref=lambda x, axis=axis: torch.cumprod(x, dim=axis), cases=(((3, 4),), ((2, 3, 4),))[: 1 + (axis != 0)],
        make=each(with_zeros), second_order=True)
add(id="cumprod-two-zeros", op="cumprod", fn=lambda x: tg.cumprod(x, 1), ref=lambda x: torch.cumprod(x, 1),
    cases=(((2, 5),),), make=each(const([[1.5, 0.0, 2.0, 0.0, -0.5], [0.0, 0.0, 1.0, 3.0, 0.7]])),
    second_order=True, layouts=False)
for name in ("argmax", "argmin"):
    for axis, keep in ((None, False), (1, False), (-1, True), (0, True)):
        add(id=f"{name}-axis{axis}-keep{keep}", op=name,
            fn=lambda x, axis=axis, keep=keep, name=name: getattr(tg, name)(x, axis=axis, keepdims=keep),
            ref=lambda x, axis=axis, keep=keep, name=name: getattr(torch, name)(x, dim=axis, keepdim=keep),
            cases=R3, make=each(distinct), grad=False)

# -- matmul ------------------------------------------------------------------------------
add(id="matmul", op="matmul", fn=tg.matmul, ref=torch and torch.matmul,
    cases=(((3, 4), (4, 2)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (3, 4, 2)), ((3, 4), (2, 4, 3)),
           ((4,), (4,)), ((4,), (4, 3)), ((3, 4), (4,)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3))),
    second_order=True, complex=True)
add(id="matmul-operator", op="matmul", fn=lambda a, b: a @ b, ref=lambda a, b: a @ b,
    cases=(((3, 4), (4, 2)),))
add(id="matmul-rmatmul-array", op="matmul", fn=lambda b: np.arange(6.0, dtype=b.dtype).reshape(2, 3) @ b,
    ref=lambda b: torch.arange(6.0, dtype=b.dtype).reshape(2, 3) @ b, cases=(((3, 4),),))

# -- shapes ------------------------------------------------------------------------------
add(id="transpose-reverse", op="transpose", fn=tg.transpose, ref=lambda x: x.permute(*reversed(range(x.ndim))),
    cases=(((2, 3, 4),), ((3, 4),), ((5,),)), second_order=True, complex=True)
add(id="transpose-axes", op="transpose", fn=lambda x: tg.transpose(x, (1, 0, 2)),
    ref=lambda x: x.permute(1, 0, 2), cases=R3, second_order=True)
add(id="transpose-varargs-negative", op="transpose", fn=lambda x: x.transpose(-1, 0, 1),
    ref=lambda x: x.permute(-1, 0, 1), cases=R3)
add(id="permute", op="permute", fn=lambda x: tg.permute(x, (2, 0, 1)), ref=lambda x: x.permute(2, 0, 1),
    cases=R3, second_order=True)
add(id="swapaxes", op="swapaxes", fn=lambda x: tg.swapaxes(x, 0, -1), ref=lambda x: torch.swapaxes(x, 0, -1),
    cases=R3)
add(id="T", op="transpose", fn=lambda x: x.T, ref=lambda x: x.T, cases=(((3, 4),),))
for shape in ((4, 6), (-1,), (2, -1, 3), (24,)):
    add(id=f"reshape{shape}".replace(" ", ""), op="reshape", fn=lambda x, s=shape: tg.reshape(x, s),
        ref=lambda x, s=shape: x.reshape(s), cases=R3, second_order=True, complex=True)
add(id="reshape-varargs-view", op="reshape", fn=lambda x: x.view(3, 8), ref=lambda x: x.reshape(3, 8), cases=R3)
add(id="reshape-to-scalar", op="reshape", fn=lambda x: x.reshape(()), ref=lambda x: x.reshape(()),
    cases=(((1, 1),),), second_order=True, layouts=False)
for start, end in ((0, -1), (1, 2), (0, 1), (-2, -1)):
    add(id=f"flatten{start},{end}", op="flatten", fn=lambda x, s=start, e=end: tg.flatten(x, s, e),
        ref=lambda x, s=start, e=end: torch.flatten(x, s, e), cases=R3)
add(id="flatten-0d", op="flatten", fn=tg.flatten, ref=torch and torch.flatten, cases=(((),),))
add(id="squeeze-all", op="squeeze", fn=tg.squeeze, ref=torch and torch.squeeze, cases=(((2, 1, 3, 1),), ((1,),)))
add(id="squeeze-axis", op="squeeze", fn=lambda x: tg.squeeze(x, -1), ref=lambda x: torch.squeeze(x, -1),
    cases=(((2, 1, 3, 1),),))
add(id="squeeze-tuple", op="squeeze", fn=lambda x: x.squeeze((1, 3)), ref=lambda x: torch.squeeze(x, (1, 3)),
    cases=(((2, 1, 3, 1),),))
for axis in (0, 1, -1, -3):
    add(id=f"unsqueeze{axis}", op="unsqueeze", fn=lambda x, a=axis: tg.unsqueeze(x, a),
        ref=lambda x, a=axis: torch.unsqueeze(x, a), cases=(((3, 4),),))
add(id="broadcast_to", op="broadcast_to", fn=lambda x: tg.broadcast_to(x, (2, 3, 4)),
    ref=lambda x: torch.broadcast_to(x, (2, 3, 4)), cases=(((3, 1),), ((4,),), ((),), ((2, 1, 4),)),
    second_order=True)
add(id="expand", op="expand", fn=lambda x: x.expand(2, -1, 4), ref=lambda x: x.expand(2, -1, 4),
    cases=(((3, 1),), ((1, 3, 4),)), second_order=True)
add(id="sum_to", op="sum_to", fn=lambda x: tg.sum_to(x, (3, 1)), ref=lambda x: x.sum_to_size(3, 1),
    cases=(((2, 3, 4),), ((3, 4),)), second_order=True)
for axis in (0, 1, -1):
    add(id=f"concatenate-axis{axis}", op="concatenate", fn=lambda *xs, a=axis: tg.concatenate(xs, axis=a),
        ref=lambda *xs, a=axis: torch.cat(xs, dim=a),
        cases=(((2, 3), (2, 3), (2, 3)),) if axis != 0 else (((2, 3), (1, 3)), ((1, 2, 2), (3, 2, 2), (1, 2, 2))),
        second_order=True)
add(id="cat", op="cat", fn=lambda a, b: tg.cat([a, b], 1), ref=lambda a, b: torch.cat([a, b], 1),
    cases=(((2, 3), (2, 1)),))
for axis in (0, 1, -1):
    add(id=f"stack-axis{axis}", op="stack", fn=lambda *xs, a=axis: tg.stack(xs, axis=a),
        ref=lambda *xs, a=axis: torch.stack(xs, dim=a), cases=(((3, 4), (3, 4), (3, 4)), ((2,), (2,))),
        second_order=True)
add(id="split-size", op="split", fn=lambda x: tg.split(x, 2, axis=1), ref=lambda x: torch.split(x, 2, dim=1),
    cases=(((3, 5),),), second_order=True)
add(id="split-sizes", op="split", fn=lambda x: tg.split(x, [1, 3, 1], axis=-1),
    ref=lambda x: torch.split(x, [1, 3, 1], dim=-1), cases=(((2, 5),), ((2, 3, 5),)), second_order=True)
add(id="split-one-output-used", op="split", fn=lambda x: tg.split(x, [1, 2], axis=0)[1] * 2,
    ref=lambda x: torch.split(x, [1, 2], dim=0)[1] * 2, cases=(((3, 4),),), second_order=True)
add(id="chunk", op="chunk", fn=lambda x: tg.chunk(x, 3), ref=lambda x: torch.chunk(x, 3), cases=(((5, 2),), ((6, 2),)))
add(id="chunk-fewer", op="chunk", fn=lambda x: tg.chunk(x, 4, axis=1), ref=lambda x: torch.chunk(x, 4, dim=1),
    cases=(((2, 6),),))
for widths, value in ((((1, 2), (0, 1)), 0.0), (((0, 0), (2, 2)), 1.5), (((0, 0), (1, 0), (2, 3)), -1.0)):
    add(id=f"pad{widths}-{value}".replace(" ", ""), op="pad", fn=lambda x, w=widths, v=value: tg.pad(x, w, v),
        ref=lambda x, w=widths, v=value: F.pad(x, _torch_pad(w), value=v),
        cases=(((3, 4),),) if len(widths) == 2 else R3, second_order=True)
for axis in (None, 0, (0, -1)):
    add(id=f"flip{axis}".replace(" ", ""), op="flip", fn=lambda x, a=axis: tg.flip(x, a),
        ref=lambda x, a=axis: torch.flip(x, _dims(a, x.ndim) if a is None else (a if isinstance(a, tuple) else (a,))),
        cases=(((3, 4),), ((2, 3, 4),)), second_order=True)
for reps, axis in ((2, 0), (3, -1), (1, 1)):
    add(id=f"repeat_interleave{reps}-axis{axis}", op="repeat_interleave",
        fn=lambda x, r=reps, a=axis: tg.repeat_interleave(x, r, axis=a),
        ref=lambda x, r=reps, a=axis: torch.repeat_interleave(x, r, dim=a), cases=(((3, 4),), ((2, 3, 2),)),
        second_order=True)
for reps in (2, (2, 1), (1, 3), (2, 1, 3)):
    add(id=f"tile{reps}".replace(" ", ""), op="tile", fn=lambda x, r=reps: tg.tile(x, r),
        ref=lambda x, r=reps: x.repeat(*((1,) * (x.ndim - len(np.atleast_1d(r))) + tuple(np.atleast_1d(r)))),
        cases=(((3, 4),),), second_order=True)

# -- indexing ----------------------------------------------------------------------------
INDICES = {
    "slice": (slice(1, 3),),
    "slice-step": (slice(None), slice(None, None, 2)),
    "int": 1,
    "int-negative-pair": (-1, 2),
    "ellipsis-newaxis": (Ellipsis, None, slice(1, 4)),
    "newaxis-int-ellipsis": (None, 1, Ellipsis),
    "intarray-duplicates": np.array([0, 2, 0, 0]),
    "intarray-2d": (slice(None), np.array([[1, 1], [0, 4]])),
    "intarray-pairs": (np.array([0, 1, 1, 3]), np.array([2, 2, 4, 2])),
    "intarray-negative": np.array([-1, 0, -1]),
    "list-duplicates": [3, 3, 1],
    "intarray-and-slice": (np.array([0, 2, 2]), slice(1, 4)),
    "ellipsis-intarray": (Ellipsis, np.array([0, 0, 3])),
    "boolmask-full": np.array([[True, False, True, False, True]] * 2 + [[False] * 5, [True] * 5]),
    "boolmask-rows": np.array([True, False, True, True]),
    "boolmask-cols": (slice(None), np.array([False, True, True, False, True])),
}
for name, index in INDICES.items():
    add(id=f"getitem-{name}", op="getitem", fn=lambda x, i=index: x[i],
        ref=lambda x, i=index: x[_torch_index(i)], cases=(((4, 5),),), second_order=True)
# Negative steps: torch has none, so the reference gathers NumPy's selected positions.
for name, index in {"negative-step": (slice(None, None, -1), slice(3, 0, -2)),
                    "negative-step-1d": slice(None, None, -1),
                    "negative-step-int": (2, slice(None, None, -3))}.items():
    add(id=f"getitem-{name}", op="getitem", fn=lambda x, i=index: tg.getitem(x, i), ref=_by_positions(index),
        cases=(((4, 5),),) if name != "negative-step-1d" else (((6,),),), second_order=True)
add(id="getitem-tensor-index", op="getitem", fn=lambda x: x[tensor(np.array([1, 1, 0]))],
    ref=lambda x: x[torch.tensor([1, 1, 0])], cases=(((4, 5),),), second_order=True)
add(id="getitem-mask-from-comparison", op="getitem", fn=lambda x: x[x > 0], ref=lambda x: x[x > 0],
    cases=(((4, 5),), ((7,),)), make=each(nonzero), second_order=True)
add(id="getitem-3d-mixed", op="getitem", fn=lambda x: x[1:, np.array([0, 2, 0]), ::2],
    ref=lambda x: x[1:, torch.tensor([0, 2, 0]), ::2], cases=(((3, 4, 5),),), second_order=True)

# -- neural-network ops -------------------------------------------------------------------
for axis in (-1, 0, 1):
    add(id=f"softmax-axis{axis}", op="softmax", fn=lambda x, a=axis: tg.softmax(x, a),
        ref=lambda x, a=axis: F.softmax(x, dim=a), cases=R3 + (((3, 4),),), second_order=True)
    add(id=f"log_softmax-axis{axis}", op="log_softmax", fn=lambda x, a=axis: tg.log_softmax(x, a),
        ref=lambda x, a=axis: F.log_softmax(x, dim=a), cases=R3 + (((3, 4),),), second_order=True)
add(id="softmax-large", op="softmax", fn=tg.softmax, ref=lambda x: F.softmax(x, dim=-1), cases=(((3, 4),),),
    make=each(large))
add(id="log_softmax-large", op="log_softmax", fn=tg.log_softmax, ref=lambda x: F.log_softmax(x, dim=-1),
    cases=(((3, 4),),), make=each(large))
add(id="one_hot", op="one_hot", fn=lambda i: tg.one_hot(i, 5), ref=lambda i: F.one_hot(i, 5),
    cases=(((2, 3),), ((4,),)), make=each(ids(5)), grad=False, check_dtype=False)
add(id="embedding", op="embedding", fn=tg.embedding, ref=torch and F.embedding,
    cases=(((2, 3), (4, 3)), ((5,), (4, 2))), make=per_input(ids(4), normal), second_order=True)
add(id="embedding-repeated", op="embedding", fn=tg.embedding, ref=torch and F.embedding,
    cases=(((2, 3), (4, 3)),), make=per_input(const([[0, 2, 0], [0, 1, 2]]), normal), second_order=True)

# -- dtype cast (differentiable between float types) --------------------------------------
add(id="astype-roundtrip", op="astype", fn=lambda x: x.astype(np.float32).astype(x.dtype) * 1.0,
    ref=lambda x: x.float().to(x.dtype) * 1.0, cases=UNARY[:1], float32=True, numeric=False)
add(id="to_device_op-cpu", op="to_device_op", fn=lambda x: tg.to_device_op(x, "cpu") * 2,
    ref=lambda x: x.to("cpu") * 2, cases=UNARY[:2], second_order=True)

# =========================================================================== issue 9: PyTorch's everyday ops
# -- more elementwise math (tinygdl/ops/math.py) -----------------------------------------


def uniform_in(low, high):
    return lambda rng, shape: rng.uniform(low, high, shape)


def off_grid(rng, shape):
    """Normal draws at least 0.05 from every integer and half-integer (rounding's jumps)."""
    x = rng.standard_normal(shape) * 2
    nearest = np.round(x * 2) / 2
    return np.where(np.abs(x - nearest) < 0.05, nearest + 0.2, x)


MATH = {  # name: (input values, second order?)
    "exp2": (normal, True), "log2": (positive, True), "log10": (positive, True), "expm1": (normal, True),
    "rsqrt": (positive, True), "tan": (uniform_in(-1.2, 1.2), True), "asin": (uniform_in(-0.9, 0.9), True),
    "acos": (uniform_in(-0.9, 0.9), True), "atan": (normal, True), "sinh": (normal, True), "cosh": (normal, True),
    "asinh": (normal, True), "acosh": (above(1.2), True), "atanh": (uniform_in(-0.9, 0.9), True),
    "floor": (off_grid, False), "ceil": (off_grid, False), "round": (off_grid, False), "trunc": (off_grid, False),
    "frac": (off_grid, True),
}
for name, (values, second) in MATH.items():
    add(id=name, op=name, fn=getattr(tg, name), ref=torch and getattr(torch, name), cases=UNARY,
        make=each(values), second_order=second)
    add(id=f"{name}-method", op=name, fn=lambda x, name=name: getattr(x, name)(),
        ref=lambda x, name=name: getattr(x, name)(), cases=UNARY[:1], make=each(values))
add(id="round-decimals", op="round", fn=lambda x: tg.round(x, decimals=2), ref=lambda x: torch.round(x, decimals=2),
    cases=UNARY[:1], make=each(lambda rng, s: off_grid(rng, s) / 100 + 0.0013))
BINARY_MATH = {  # name: (input values, second order?)
    "atan2": (each(away_from(0.0, margin=0.3)), True), "hypot": (each(away_from(0.0, margin=0.3)), True),
    "logaddexp": (each(normal), True), "copysign": (each(nonzero), True),
    "fmod": (per_input(normal, away_from(0.0, margin=0.5)), True),
    "remainder": (per_input(normal, away_from(0.0, margin=0.5)), True),
}
for name, (make, second) in BINARY_MATH.items():
    add(id=name, op=name, fn=getattr(tg, name), ref=torch and getattr(torch, name), cases=BINARY, make=make,
        second_order=second)
add(id="remainder-operator", op="remainder", fn=lambda a, b: a % b, ref=lambda a, b: a % b, cases=BINARY[:2],
    make=BINARY_MATH["remainder"][0])
add(id="remainder-operator-scalar", op="remainder", fn=lambda a: a % 0.7, ref=lambda a: a % 0.7, cases=UNARY)
add(id="remainder-operator-rscalar", op="remainder", fn=lambda a: 2.5 % a, ref=lambda a: 2.5 % a, cases=UNARY,
    make=each(away_from(0.0, margin=0.5)), check_backward=False)  # torch: no derivative for number % tensor
# torch.floor_divide has no backward; torch.div(rounding_mode="floor") is the same op with zero gradient.
add(id="floor_divide", op="floor_divide", fn=tg.floor_divide,
    ref=lambda a, b: torch.div(a, b, rounding_mode="floor"), cases=BINARY, make=BINARY_MATH["fmod"][0])
add(id="floor_divide-operator", op="floor_divide", fn=lambda a, b: a // b,
    ref=lambda a, b: torch.div(a, b, rounding_mode="floor"), cases=BINARY[:2], make=BINARY_MATH["fmod"][0])
add(id="floor_divide-operator-rscalar", op="floor_divide", fn=lambda a: 3.0 // a,
    ref=lambda a: torch.div(torch.full_like(a, 3.0), a, rounding_mode="floor"), cases=UNARY[:1],
    make=each(away_from(0.0, margin=0.5)))
for mode in ("floor", "trunc"):
    add(id=f"div-rounding-{mode}", op="div", fn=lambda a, b, mode=mode: tg.div(a, b, rounding_mode=mode),
        ref=lambda a, b, mode=mode: torch.div(a, b, rounding_mode=mode), cases=BINARY, make=BINARY_MATH["fmod"][0])
    add(id=f"div-rounding-{mode}-int", op="div", fn=lambda a, b, mode=mode: tg.div(a, b, rounding_mode=mode),
        ref=lambda a, b, mode=mode: torch.div(a, b, rounding_mode=mode), cases=(((12,), (12,)),), grad=False,
        make=per_input(const(np.arange(-6, 6)), const(np.array([2, -2, 3, -3, 4, -4] * 2))))
add(id="div-int-int-is-float", op="div", fn=tg.div, ref=torch and torch.div, cases=(((6,), (6,)),), grad=False,
    make=per_input(const(np.arange(-3, 3)), const(np.array([2, 2, 3, -3, 4, 4]))))
add(id="lerp", op="lerp", fn=tg.lerp, ref=torch and torch.lerp,
    cases=(((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), (3, 1))), second_order=True)
add(id="lerp-scalar-weight", op="lerp", fn=lambda a, b: tg.lerp(a, b, 0.3), ref=lambda a, b: torch.lerp(a, b, 0.3),
    cases=BINARY[:2], second_order=True)


def clamp_inputs(rng, shapes):
    """x, lo, hi with lo < hi and x clear of both bounds."""
    x = away_from(0.0, margin=0.0)(rng, shapes[0]) * 2
    lo, hi = rng.uniform(-1.5, -0.3, shapes[1]), rng.uniform(0.3, 1.5, shapes[2])
    for _ in range(100):
        close = (np.abs(x - lo) < 0.05) | (np.abs(x - hi) < 0.05)
        if not close.any():
            break
        x = np.where(close, rng.standard_normal(np.shape(x)) * 2, x)
    return [x, lo, hi]


add(id="clamp-tensor-bounds", op="clamp", fn=tg.clamp, ref=torch and torch.clamp,
    cases=(((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), (3, 1)), ((5,), (), ())), make=clamp_inputs, second_order=True)
add(id="clip-tensor-lo-number-hi", op="clip", fn=lambda x, lo: tg.clip(x, lo, 0.8),
    ref=lambda x, lo: torch.clamp(x, lo, torch.tensor(0.8, dtype=x.dtype)), cases=(((3, 4), (4,)),),
    make=lambda rng, shapes: clamp_inputs(rng, shapes + ((),))[:2])
add(id="clamp-method-tensor-min", op="clamp", fn=lambda x, lo: x.clamp(min=lo), ref=lambda x, lo: x.clamp(min=lo),
    cases=(((3, 4), (3, 4)),), make=lambda rng, shapes: clamp_inputs(rng, shapes + ((),))[:2])
add(id="clamp-lo-above-hi", op="clamp", fn=tg.clamp, ref=torch and torch.clamp, cases=(((4,), (4,), (4,)),),
    make=per_input(const([-2.0, 0.5, 2.0, 0.2]), const([1.0, 1.0, 1.0, -1.0]), const([0.0, 0.0, 0.0, 1.0])),
    numeric=False, layouts=False)
for name, values in (("isnan", [1.0, np.nan, np.inf, -np.inf, 0.0]), ("isinf", [1.0, np.nan, np.inf, -np.inf, 0.0]),
                     ("isfinite", [1.0, np.nan, np.inf, -np.inf, 0.0])):
    add(id=name, op=name, fn=getattr(tg, name), ref=torch and getattr(torch, name), cases=(((5,),),),
        make=each(const(values)), grad=False, numeric=False)
add(id="isclose", op="isclose", fn=tg.isclose, ref=torch and torch.isclose, cases=(((4,), (4,)), ((2, 4), (4,))),
    make=per_input(const([1.0, 2.0, 3.0, np.nan]), const([1.0 + 1e-6, 2.1, 3.0, np.nan])), grad=False, numeric=False)
add(id="isclose-tolerances", op="isclose", fn=lambda a, b: tg.isclose(a, b, rtol=0.1, atol=0.0, equal_nan=True),
    ref=lambda a, b: torch.isclose(a, b, rtol=0.1, atol=0.0, equal_nan=True), cases=(((4,), (4,)),),
    make=per_input(const([1.0, 2.0, 3.0, np.nan]), const([1.05, 2.5, 3.0, np.nan])), grad=False, numeric=False)

# -- activations (tinygdl/ops/activations.py, softplus in elementwise.py) ------------------------
ACTIVATIONS = {  # name: (tinygdl, torch, input values)
    "selu": (tg.selu, F and F.selu, nonzero), "celu": (tg.celu, F and F.celu, nonzero),
    "celu-alpha0.5": (lambda x: tg.celu(x, 0.5), lambda x: F.celu(x, 0.5), nonzero),
    "relu6": (tg.relu6, F and F.relu6, lambda rng, s: away_from(0.0, 6.0, scale=4)(rng, s)),
    "hardtanh": (tg.hardtanh, F and F.hardtanh, away_from(-1.0, 1.0)),
    "hardtanh-range": (lambda x: tg.hardtanh(x, -0.5, 2.0), lambda x: F.hardtanh(x, -0.5, 2.0), away_from(-0.5, 2.0)),
    # F.hardsigmoid's backward multiplies by a float32 1/6, 3e-8 off in float64: its formula is the reference
    "hardsigmoid": (tg.hardsigmoid, lambda x: F.relu6(x + 3) / 6, away_from(-3.0, 3.0, scale=3)),
    "hardswish": (tg.hardswish, F and F.hardswish, away_from(-3.0, 3.0, scale=3)),
    "mish": (tg.mish, F and F.mish, normal), "softsign": (tg.softsign, F and F.softsign, nonzero),
    "logsigmoid": (tg.logsigmoid, F and F.logsigmoid, normal),
    "softplus-beta2-threshold5": (lambda x: tg.softplus(x, 2.0, 5.0), lambda x: F.softplus(x, 2.0, 5.0),
                                  away_from(2.5, scale=3)),
}
for name, (fn, ref, values) in ACTIVATIONS.items():
    add(id=name, op=name.split("-")[0], fn=fn, ref=ref, cases=UNARY, make=each(values), second_order=True)
add(id="softplus-above-threshold", op="softplus", fn=tg.softplus, ref=torch and F.softplus, cases=(((5,),),),
    make=each(const([-30.0, 19.5, 20.5, 25.0, 60.0])), second_order=True, layouts=False)
add(id="logsigmoid-wide", op="logsigmoid", fn=tg.logsigmoid, ref=torch and F.logsigmoid, cases=(((6,),),),
    make=each(const([-800.0, -40.0, -1.0, 1.0, 40.0, 800.0])), layouts=False)
# At the corners hardtanh (and relu6, hardsigmoid) pass no gradient, unlike clamp.
add(id="hardtanh-at-corners", op="hardtanh", fn=tg.hardtanh, ref=torch and F.hardtanh, cases=(((4,),),),
    make=each(const([-1.0, 1.0, 0.0, 2.0])), numeric=False, layouts=False)
add(id="relu6-at-corners", op="relu6", fn=tg.relu6, ref=torch and F.relu6, cases=(((4,),),),
    make=each(const([0.0, 6.0, 3.0, 7.0])), numeric=False, layouts=False)
for axis in (-1, 0):
    add(id=f"softmin-axis{axis}", op="softmin", fn=lambda x, a=axis: tg.softmin(x, a),
        ref=lambda x, a=axis: F.softmin(x, dim=a), cases=R3 + (((3, 4),),), second_order=True)
    add(id=f"glu-axis{axis}", op="glu", fn=lambda x, a=axis: tg.glu(x, a), ref=lambda x, a=axis: F.glu(x, dim=a),
        cases=(((4, 6),), ((2, 3, 4),)), second_order=True)
add(id="prelu-per-channel", op="prelu", fn=tg.prelu, ref=torch and F.prelu,
    cases=(((2, 3, 4), (3,)), ((2, 3), (3,)), ((2, 3, 2, 2), (3,))), make=per_input(nonzero, normal), second_order=True)
add(id="prelu-shared", op="prelu", fn=tg.prelu, ref=torch and F.prelu, cases=(((2, 3, 4), (1,)), ((5,), (1,))),
    make=per_input(nonzero, normal), second_order=True)

# -- reductions and predicates (tinygdl/ops/reduce.py) --------------------------------------
for axis, keep in AXES:
    add(id=f"prod-axis{axis}-keep{keep}".replace(" ", ""), op="prod",
        fn=lambda x, axis=axis, keep=keep: tg.prod(x, axis=axis, keepdims=keep),
        ref=lambda x, axis=axis, keep=keep: _torch_prod(x, axis, keep), cases=R3, make=each(uniform_in(-2, 2)),
        second_order=True)
for axis in (None, 1, (0, 2)):
    add(id=f"prod-zeros-axis{axis}".replace(" ", ""), op="prod", fn=lambda x, axis=axis: tg.prod(x, axis=axis),
        ref=lambda x, axis=axis: _torch_prod(x, axis, False), cases=R3, make=each(with_zeros), second_order=True)
add(id="prod-method-two-zeros", op="prod", fn=lambda x: x.prod(1), ref=lambda x: x.prod(1), cases=(((2, 5),),),
    make=each(const([[1.5, 0.0, 2.0, 0.0, -0.5], [0.0, 1.2, 1.0, 3.0, 0.7]])), second_order=True, layouts=False)


def _torch_prod(x, axis, keep):
    """torch.prod reduces one dim at a time; reduce the highest first so the others keep their numbers."""
    dims = sorted(_dims(axis, x.ndim) if isinstance(axis, tuple) or axis is None else (axis % x.ndim,), reverse=True)
    for d in dims:
        x = torch.prod(x, d, keepdim=keep)
    return x


for name in ("any", "all"):
    for axis, keep in ((None, False), (1, True), ((0, 2), False)):
        add(id=f"{name}-axis{axis}-keep{keep}".replace(" ", ""), op=name,
            fn=lambda x, axis=axis, keep=keep, name=name: getattr(tg, name)(x, axis=axis, keepdims=keep),
            ref=lambda x, axis=axis, keep=keep, name=name: getattr(torch, name)(x, dim=_dims(axis, x.ndim),
                                                                               keepdim=keep),
            cases=R3, make=each(lambda rng, s: rng.random(s) < 0.8), grad=False)
for stat in ("var", "std"):
    for kw, torch_kw in ((dict(correction=1), dict(correction=1)), (dict(correction=2), dict(correction=2)),
                         (dict(unbiased=True), dict(unbiased=True)), (dict(unbiased=False), dict(unbiased=False))):
        key = "-".join(f"{k}{v}" for k, v in kw.items())
        add(id=f"{stat}-{key}", op=stat, fn=lambda x, kw=kw, stat=stat: getattr(tg, stat)(x, axis=1, **kw),
            ref=lambda x, kw=torch_kw, stat=stat: getattr(torch, stat)(x, dim=1, **kw), cases=R3, second_order=True)
    add(id=f"{stat}_mean", op=f"{stat}_mean",
        fn=lambda x, stat=stat: getattr(tg, f"{stat}_mean")(x, axis=(0, 2), keepdims=True, correction=1),
        ref=lambda x, stat=stat: getattr(torch, f"{stat}_mean")(x, dim=(0, 2), keepdim=True, correction=1),
        cases=R3, second_order=True)
for axis in (0, -1, 1):
    add(id=f"logcumsumexp-axis{axis}", op="logcumsumexp", fn=lambda x, a=axis: tg.logcumsumexp(x, a),
        ref=lambda x, a=axis: torch.logcumsumexp(x, a), cases=(((4, 5),), ((2, 3, 4),)), second_order=True)
add(id="logcumsumexp-wide", op="logcumsumexp", fn=lambda x: tg.logcumsumexp(x, 0),
    ref=lambda x: torch.logcumsumexp(x, 0), cases=(((5,),),),
    make=each(const([-300.0, 0.0, 500.0, -800.0, 510.0])), layouts=False)
for name in ("cummax", "cummin"):
    for axis in (0, -1):
        add(id=f"{name}-axis{axis}", op=name, fn=lambda x, a=axis, name=name: getattr(tg, name)(x, a),
            ref=lambda x, a=axis, name=name: tuple(getattr(torch, name)(x, a)),
            cases=(((4, 5),), ((2, 3, 4),), ((6,),)), make=each(distinct), second_order=True)
    add(id=f"{name}-ties", op=name, fn=lambda x, name=name: getattr(x, name)(1),
        ref=lambda x, name=name: tuple(getattr(x, name)(1)), cases=(((3, 6),),), make=each(small_ints),
        numeric=False, layouts=False)
add(id="sum-int-dtype", op="sum", fn=lambda x: tg.sum(x, axis=1, dtype=np.float64),
    ref=lambda x: torch.sum(x, 1, dtype=torch.float64), cases=R3, make=each(lambda rng, s: rng.integers(-5, 5, s)),
    grad=False)
add(id="sum-dtype-float32", op="sum", fn=lambda x: x.sum(dtype=np.float32), ref=lambda x: x.sum(dtype=torch.float32),
    cases=R3, float32=False, numeric=False, check_backward=False)  # float32 result: compared at float32 precision
add(id="mean-int-dtype", op="mean", fn=lambda x: tg.mean(x, axis=(0, 2), dtype=np.float64),
    ref=lambda x: torch.mean(x, (0, 2), dtype=torch.float64), cases=R3,
    make=each(lambda rng, s: rng.integers(-5, 5, s)), grad=False)
for name in ("argmax", "argmin"):
    add(id=f"{name}-axisNone-keepTrue", op=name, fn=lambda x, name=name: getattr(tg, name)(x, keepdims=True),
        ref=lambda x, name=name: getattr(torch, name)(x, keepdim=True), cases=R3, make=each(distinct), grad=False)

# -- 0-d tensors: reductions and softmax over "axis 0" of a scalar, as PyTorch ------------------
SCALAR = (((),),)
for name, fn, ref in (
        ("sum-axis0", lambda x: tg.sum(x, 0), lambda x: torch.sum(x, 0)),
        ("sum-axis-1-keep", lambda x: x.sum(-1, keepdims=True), lambda x: x.sum(-1, keepdim=True)),
        ("mean-axis0", lambda x: tg.mean(x, 0), lambda x: torch.mean(x, 0)),
        ("logsumexp-axis0", lambda x: tg.logsumexp(x, 0), lambda x: torch.logsumexp(x, 0)),
        ("softmax-default", lambda x: tg.softmax(x), lambda x: torch.softmax(x, -1)),
        ("log_softmax-axis0", lambda x: tg.log_softmax(x, 0), lambda x: torch.log_softmax(x, 0)),
        ("cumsum-axis0", lambda x: tg.cumsum(x, 0), lambda x: torch.cumsum(x, 0)),
        ("cumprod-axis-1", lambda x: tg.cumprod(x, -1), lambda x: torch.cumprod(x, -1)),
        ("prod-axis0", lambda x: tg.prod(x, 0), lambda x: torch.prod(x, 0)),
        ("max-axis0", lambda x: tg.max(x, 0), lambda x: torch.amax(x, 0)),
        ("var-axis0", lambda x: tg.var(x, 0), lambda x: torch.var(x, 0, correction=0)),
        ("squeeze-axis0", lambda x: tg.squeeze(x, 0), lambda x: torch.squeeze(x, 0)),
        ("logcumsumexp-axis0", lambda x: tg.logcumsumexp(x, 0), lambda x: torch.logcumsumexp(x, 0))):
    add(id=f"0d-{name}", op=name.split("-")[0], fn=fn, ref=ref, cases=SCALAR, second_order=True)
add(id="argmax-0d", op="argmax", fn=lambda x: tg.argmax(x, 0), ref=lambda x: torch.argmax(x, 0), cases=SCALAR,
    grad=False)
add(id="squeeze-not-size-1", op="squeeze", fn=lambda x: x.squeeze(1), ref=lambda x: x.squeeze(1), cases=R3)

# -- selection and scatter (tinygdl/ops/select.py) --------------------------------------------


def index_and(values, high, shape_of_index, axis=None, unique=False):
    """Inputs (values..., index): an int index of ``shape_of_index`` into ``high`` entries."""
    def make(rng, shapes):
        if unique:  # a permutation along the axis: no position written twice
            index = np.argsort(rng.random(shape_of_index), axis=axis)[tuple(slice(0, n) for n in shape_of_index)]
        else:
            index = rng.integers(0, high, shape_of_index)
        return [values(rng, s) for s in shapes[:-1]] + [index]
    return make


for axis in (-1, 0):
    add(id=f"sort-axis{axis}", op="sort", fn=lambda x, a=axis: tuple(tg.sort(x, a)),
        ref=lambda x, a=axis: tuple(torch.sort(x, a)), cases=(((3, 4),), ((2, 3, 4),), ((5,),)), make=each(distinct),
        second_order=True)
    add(id=f"sort-descending-axis{axis}", op="sort", fn=lambda x, a=axis: x.sort(a, descending=True).values,
        ref=lambda x, a=axis: x.sort(a, descending=True).values, cases=(((3, 4),),), make=each(distinct))
    add(id=f"argsort-axis{axis}", op="argsort", fn=lambda x, a=axis: tg.argsort(x, a),
        ref=lambda x, a=axis: torch.argsort(x, a), cases=(((3, 4),), ((2, 3, 4),)), make=each(distinct), grad=False)
add(id="sort-ties-stable-descending", op="sort", fn=lambda x: tuple(tg.sort(x, 1, descending=True)),
    ref=lambda x: tuple(torch.sort(x, dim=1, descending=True, stable=True)), cases=(((3, 6),),), make=each(small_ints),
    numeric=False, layouts=False)
for k, largest in ((2, True), (3, False), (1, True)):
    add(id=f"topk{k}-largest{largest}", op="topk", fn=lambda x, k=k, b=largest: tuple(tg.topk(x, k, largest=b)),
        ref=lambda x, k=k, b=largest: tuple(torch.topk(x, k, largest=b)), cases=(((3, 5),), ((6,),)),
        make=each(distinct), second_order=True)
add(id="topk-axis0-method", op="topk", fn=lambda x: x.topk(2, 0).values, ref=lambda x: x.topk(2, 0).values,
    cases=(((4, 3),),), make=each(distinct))
for axis, x_shape, index_shape in ((0, (4, 3), (5, 3)), (1, (4, 3), (4, 6)), (1, (4, 5), (2, 3)),
                                   (-1, (2, 3, 4), (2, 3, 7)), (0, (5,), (8,))):
    add(id=f"gather-axis{axis}-{index_shape}".replace(" ", ""), op="gather",
        fn=lambda x, i, a=axis: tg.gather(x, a, i), ref=lambda x, i, a=axis: torch.gather(x, a, i),
        cases=((x_shape, None),), make=index_and(normal, x_shape[axis], index_shape), second_order=True)
add(id="gather-method", op="gather", fn=lambda x, i: x.gather(1, i), ref=lambda x, i: x.gather(1, i),
    cases=(((3, 4), None),), make=index_and(normal, 4, (3, 2)))
for axis, x_shape, index_shape in ((0, (4, 3), (4, 3)), (1, (3, 5), (3, 5)), (1, (4, 5), (2, 3))):
    scatter_index = index_and(normal, None, index_shape, axis=axis, unique=True)
    add(id=f"scatter-axis{axis}-{index_shape}".replace(" ", ""), op="scatter",
        fn=lambda x, s, i, a=axis: tg.scatter(x, a, i, s), ref=lambda x, s, i, a=axis: torch.scatter(x, a, i, s),
        cases=((x_shape, index_shape, None),), make=scatter_index, second_order=True)
    add(id=f"scatter_add-axis{axis}-{index_shape}".replace(" ", ""), op="scatter_add",
        fn=lambda x, s, i, a=axis: tg.scatter_add(x, a, i, s),
        ref=lambda x, s, i, a=axis: torch.scatter_add(x, a, i, s),
        cases=((x_shape, index_shape, None),), make=index_and(normal, x_shape[axis], index_shape),
        second_order=True)
add(id="scatter-value", op="scatter", fn=lambda x, i: tg.scatter(x, 1, i, 2.5), ref=lambda x, i: x.scatter(1, i, 2.5),
    cases=(((3, 5), None),), make=index_and(normal, None, (3, 2), axis=1, unique=True))
for reduce in ("sum", "mean", "amax", "amin"):
    for include_self in (True, False):
        add(id=f"scatter_reduce-{reduce}-self{include_self}", op="scatter_reduce",
            fn=lambda x, s, i, r=reduce, inc=include_self: tg.scatter_reduce(x, 1, i, s, r, include_self=inc),
            ref=lambda x, s, i, r=reduce, inc=include_self: torch.scatter_reduce(x, 1, i, s, r, include_self=inc),
            cases=(((3, 4), (3, 6), None),), make=index_and(distinct, 4, (3, 6)),
            second_order=reduce in ("sum", "mean"))
add(id="index_select", op="index_select", fn=lambda x, i: tg.index_select(x, 1, i),
    ref=lambda x, i: torch.index_select(x, 1, i), cases=(((3, 4), None), ((2, 4, 2), None)),
    make=lambda rng, shapes: [normal(rng, shapes[0]), np.array([3, 0, 3, 1])], second_order=True)
add(id="masked_fill", op="masked_fill", fn=lambda x, m: tg.masked_fill(x, m, -1.5),
    ref=lambda x, m: x.masked_fill(m, -1.5), cases=(((3, 4), (3, 4)), ((3, 4), (4,))), make=per_input(normal, mask),
    second_order=True)
add(id="masked_fill-tensor-value", op="masked_fill", fn=lambda x, v, m: x.masked_fill(m, v),
    ref=lambda x, v, m: x.masked_fill(m, v), cases=(((3, 4), (), (3, 4)),), make=per_input(normal, normal, mask),
    second_order=True)
add(id="masked_select", op="masked_select", fn=tg.masked_select, ref=torch and torch.masked_select,
    cases=(((3, 4), (3, 4)), ((3, 4), (4,)), ((4,), (3, 4))), make=per_input(normal, mask), second_order=True)
add(id="nonzero", op="nonzero", fn=tg.nonzero, ref=torch and torch.nonzero, cases=(((3, 4),), ((5,),), ((),)),
    make=each(small_ints), grad=False)
add(id="nonzero-as-tuple", op="nonzero", fn=lambda x: tg.nonzero(x, as_tuple=True),
    ref=lambda x: torch.nonzero(x, as_tuple=True), cases=(((3, 4),),), make=each(small_ints), grad=False)
add(id="where-one-argument", op="where", fn=tg.where, ref=torch and torch.where, cases=(((3, 4),),),
    make=each(mask), grad=False)
add(id="where-two-numbers", op="where", fn=lambda c: tg.where(c, 1.0, 0.0), ref=lambda c: torch.where(c, 1.0, 0.0),
    cases=(((3, 4),),), make=each(mask), grad=False)
add(id="where-number-first", op="where", fn=lambda c, x: tg.where(c, -2.0, x), ref=lambda c, x: torch.where(c, -2.0, x),
    cases=(((3, 4), (3, 4)), ((3, 4), (4,))), make=per_input(mask, normal), second_order=True)

# -- shapes, triangles, products (shape.py, linalg.py, einsum.py) -------------------------------
for name in ("tril", "triu"):
    for k in (0, 1, -2):
        add(id=f"{name}-k{k}", op=name, fn=lambda x, k=k, name=name: getattr(tg, name)(x, k),
            ref=lambda x, k=k, name=name: getattr(torch, name)(x, k), cases=(((4, 4),), ((3, 5),), ((2, 4, 3),)),
            second_order=True)
for k in (0, 1, -2):
    add(id=f"diag-vector-k{k}", op="diag", fn=lambda x, k=k: tg.diag(x, k), ref=lambda x, k=k: torch.diag(x, k),
        cases=(((4,),),), second_order=True)
    add(id=f"diag-matrix-k{k}", op="diag", fn=lambda x, k=k: x.diag(k), ref=lambda x, k=k: x.diag(k),
        cases=(((4, 4),), ((3, 5),)), second_order=True)
for offset, a1, a2 in ((0, 0, 1), (1, 1, 2), (-1, 2, 0)):
    add(id=f"diagonal-{offset}-{a1}-{a2}", op="diagonal", fn=lambda x, o=offset, a=a1, b=a2: tg.diagonal(x, o, a, b),
        ref=lambda x, o=offset, a=a1, b=a2: torch.diagonal(x, o, a, b), cases=(((3, 4, 5),),), second_order=True)
add(id="trace", op="trace", fn=tg.trace, ref=torch and torch.trace, cases=(((4, 4),), ((3, 5),)), second_order=True)
for shifts, dims in ((2, 0), (-1, 1), ((1, 2), (0, 1)), (3, None)):
    add(id=f"roll{shifts}-{dims}".replace(" ", ""), op="roll", fn=lambda x, s=shifts, d=dims: tg.roll(x, s, d),
        ref=lambda x, s=shifts, d=dims: torch.roll(x, s, d), cases=(((3, 4),),), second_order=True)
for axis, size, step in ((0, 2, 1), (1, 3, 2), (-1, 2, 3)):
    add(id=f"unfold-{axis}-{size}-{step}", op="unfold", fn=lambda x, a=axis, n=size, s=step: x.unfold(a, n, s),
        ref=lambda x, a=axis, n=size, s=step: x.unfold(a, n, s), cases=(((4, 7),), ((3, 6, 5),)), second_order=True)
add(id="unflatten", op="unflatten", fn=lambda x: tg.unflatten(x, 1, (2, -1)), ref=lambda x: x.unflatten(1, (2, -1)),
    cases=(((3, 6),), ((2, 4, 5),)))
for src, dst in ((0, -1), ((0, 1), (2, 0)), (-1, 1)):
    add(id=f"movedim{src}-{dst}".replace(" ", ""), op="movedim", fn=lambda x, s=src, d=dst: tg.movedim(x, s, d),
        ref=lambda x, s=src, d=dst: torch.movedim(x, s, d), cases=R3, second_order=True)
for indexing in ("ij", "xy"):
    add(id=f"meshgrid-{indexing}", op="meshgrid", fn=lambda *xs, i=indexing: tg.meshgrid(*xs, indexing=i),
        ref=lambda *xs, i=indexing: torch.meshgrid(*xs, indexing=i), cases=(((3,), (4,)), ((2,), (3,), (4,))),
        second_order=True)
add(id="outer", op="outer", fn=tg.outer, ref=torch and torch.outer, cases=(((3,), (4,)),), second_order=True)
add(id="cross", op="cross", fn=tg.cross, ref=lambda a, b: torch.linalg.cross(*torch.broadcast_tensors(a, b)),
    cases=(((3,), (3,)), ((4, 3), (4, 3)), ((2, 4, 3), (4, 3))), second_order=True)
add(id="cross-axis0", op="cross", fn=lambda a, b: tg.cross(a, b, axis=0),
    ref=lambda a, b: torch.linalg.cross(a, b, dim=0), cases=(((3, 4), (3, 4)),))
add(id="kron", op="kron", fn=tg.kron, ref=torch and torch.kron,
    cases=(((2, 3), (3, 2)), ((3,), (2,)), ((2, 2), (3,))), second_order=True)
EINSUM = {"ij,jk->ik": ((3, 4), (4, 5)), "bij,bjk->bik": ((2, 3, 4), (2, 4, 5)), "ij,ij->": ((3, 4), (3, 4)),
          "i,j->ij": ((3,), (4,)), "bhqd,bhkd->bhqk": ((2, 2, 3, 4), (2, 2, 5, 4)), "ij->ji": ((3, 4),),
          "ii->": ((4, 4),), "ii->i": ((4, 4),), "...ij,...jk->...ik": ((2, 3, 4), (4, 5)), "ij,jk": ((3, 4), (4, 2)),
          "bi,bi->b": ((3, 4), (3, 4)), "ijk->j": ((2, 3, 4),), "ij,jk,kl->il": ((2, 3), (3, 4), (4, 2)),
          "bn,anm,bm->ba": ((2, 3), (4, 3, 5), (2, 5)), "i,i": ((4,), (4,))}
for equation, shapes in EINSUM.items():
    add(id=f"einsum-{equation}", op="einsum", fn=lambda *xs, e=equation: tg.einsum(e, *xs),
        ref=lambda *xs, e=equation: torch.einsum(e, *xs), cases=(shapes,), second_order=True)
for sizes in ((2, 1), (1, 3), (2, 1, 3)):
    add(id=f"repeat{sizes}".replace(" ", ""), op="repeat", fn=lambda x, r=sizes: x.repeat(*r),
        ref=lambda x, r=sizes: x.repeat(*r), cases=(((3, 4),),), second_order=True)
add(id="repeat-function-1d", op="repeat", fn=lambda x: tg.repeat(x, 3), ref=lambda x: x.repeat(3), cases=(((4,),),))
add(id="repeat_interleave-flatten", op="repeat_interleave", fn=lambda x: tg.repeat_interleave(x, 2),
    ref=lambda x: torch.repeat_interleave(x, 2), cases=(((3, 4),),), second_order=True)
add(id="getitem-int-slice-array", op="getitem", fn=lambda x: x[0, :, np.array([0, 2, 2])],
    ref=lambda x: x[0, :, torch.tensor([0, 2, 2])], cases=(((3, 4, 5),),), second_order=True)
add(id="getitem-ellipsis-int-array", op="getitem", fn=lambda x: x[..., 1, np.array([3, 0])],
    ref=lambda x: x[..., 1, torch.tensor([3, 0])], cases=(((3, 4, 5),),), second_order=True)
add(id="getitem-array-slice-int", op="getitem", fn=lambda x: x[np.array([2, 0]), 1:3, 4],
    ref=lambda x: x[torch.tensor([2, 0]), 1:3, 4], cases=(((3, 4, 5),),), second_order=True)

from . import ops_3d, ops_nn  # noqa: E402,F401  (conv3d's and the neural-network ops' entries join SPECS)

SPEC_BY_ID = {s.id: s for s in SPECS}
__all__ = ["OpSpec", "SPECS", "SPEC_BY_ID", "make_inputs", "seed_of"]  # what the tests and `gradcheck` use
assert len(SPEC_BY_ID) == len(SPECS), "duplicate op spec ids"
