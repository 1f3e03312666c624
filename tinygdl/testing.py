"""Gradient checking — test the gradient of anything you write with one call.

``gradcheck(fn, inputs)`` compares the gradient that backward computes with central finite
differences, in float64::

    x = tinygdl.randn(3, 4, dtype="float64", requires_grad=True)
    tinygdl.testing.gradcheck(lambda x: (x * x).tanh(), [x])

How: the outputs are contracted with a random cotangent ``v`` into one scalar ``L = Σ v·fn(x)``.
Backward gives ``∂L/∂x`` in one pass.  Numerically, ``(L(x + εd) − L(x − εd)) / 2ε`` is the
derivative of L along a direction d, with an error of order ε².  ``mode="full"`` takes every
coordinate as d (one pair of forward passes per input element — small inputs only);
``mode="directional"`` takes a few random unit directions and compares with ``∂L/∂x · d``,
two forward passes each whatever the size (conv layers).  ``"auto"`` picks by size.

``gradgradcheck`` checks second order: it applies ``gradcheck`` to the function that returns
first-order gradients computed with ``create_graph=True``.
"""

from __future__ import annotations

import numpy as np

from . import backend
from .tensor import Tensor, grad

FULL_MODE_MAX_ELEMENTS = 512


class GradcheckError(AssertionError):
    """Raised when analytic and numeric gradients disagree."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, mode="auto", directions=4, seed=0, name=None):
    """Check ``fn``'s backward against finite differences; returns True or raises GradcheckError.

    ``inputs``: Tensors (those with ``requires_grad=True`` are checked).  Float inputs are cast to
    float64 copies.  ``fn`` returns a Tensor or a tuple of Tensors.
    """
    name = name or getattr(fn, "__name__", "fn")
    inputs = [_float64(x) for x in inputs]
    checked = [i for i, x in enumerate(inputs) if x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    rng = np.random.default_rng(seed)
    outputs = _as_tuple(fn(*inputs))
    cotangents = [_like(rng.standard_normal(y.shape), y) for y in outputs]
    analytic = _analytic(outputs, cotangents, [inputs[i] for i in checked])

    def loss(values) -> float:
        ys = _as_tuple(fn(*values))  # not under no_grad: fn may itself differentiate (gradgradcheck)
        return float(sum((backend.to_numpy(y.data).astype(np.float64) * backend.to_numpy(v.data)).sum()
                         for y, v in zip(ys, cotangents)))

    total = sum(inputs[i].size for i in checked)
    if mode == "auto":
        mode = "full" if total <= FULL_MODE_MAX_ELEMENTS else "directional"
    if mode == "full":
        _check_full(name, inputs, checked, analytic, loss, eps, atol, rtol)
    elif mode == "directional":
        _check_directional(name, inputs, checked, analytic, loss, eps, atol, rtol, directions, rng)
    else:
        raise ValueError(f"gradcheck: mode must be 'auto', 'full' or 'directional', got {mode!r}")
    return True


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, mode="auto", directions=4, seed=0, name=None):
    """Check second-order gradients: gradcheck of ``(x, v) -> ∂(v·fn(x))/∂x`` built with create_graph."""
    name = name or getattr(fn, "__name__", "fn")
    inputs = [_float64(x) for x in inputs]
    rng = np.random.default_rng(seed + 1)
    outputs = _as_tuple(fn(*inputs))
    cotangents = [_like(rng.standard_normal(y.shape), y) for y in outputs]
    # integer outputs (indices) have no gradient: their cotangents stay constants, as in gradcheck
    cotangents = [v.requires_grad_() if v.dtype.kind == "f" else v for v in cotangents]
    n = len(inputs)

    def first_order(*args):
        xs, vs = args[:n], args[n:]
        ys = _as_tuple(fn(*xs))
        wrt = [x for x in xs if x.requires_grad]
        differentiable = [(y, v) for y, v in zip(ys, vs) if y.requires_grad]
        gs = grad([y for y, _ in differentiable], wrt, grad_outputs=[v for _, v in differentiable],
                  create_graph=True, allow_unused=True)
        return tuple(g if g is not None else _like(np.zeros(x.shape), x) for g, x in zip(gs, wrt))

    return gradcheck(first_order, inputs + cotangents, eps, atol, rtol, mode, directions, seed, name + " (2nd order)")


def assert_close(actual, expected, rtol=1e-7, atol=0.0, msg=""):
    """``numpy.testing.assert_allclose`` that also takes Tensors (and torch tensors)."""
    np.testing.assert_allclose(_to_numpy(actual), _to_numpy(expected), rtol=rtol, atol=atol, err_msg=msg)


# --------------------------------------------------------------------------- internals


def _analytic(outputs, cotangents, wrt):
    """∂(Σ v·y)/∂x for each x in wrt, as float64 NumPy arrays (zeros where x is not used)."""
    live = [(y, v) for y, v in zip(outputs, cotangents) if y.requires_grad]
    if not live:
        return [np.zeros(x.shape) for x in wrt]
    gs = grad([y for y, _ in live], wrt, grad_outputs=[v for _, v in live], allow_unused=True)
    return [np.zeros(x.shape) if g is None else backend.to_numpy(g.data).astype(np.float64) for g, x in zip(gs, wrt)]


def _check_full(name, inputs, checked, analytic, loss, eps, atol, rtol):
    for k, i in enumerate(checked):
        x = inputs[i]
        base = x.data.copy()
        numeric = np.zeros(x.shape)
        for j in np.ndindex(*x.shape):
            x.data[j] = base[j] + eps
            plus = loss(inputs)
            x.data[j] = base[j] - eps
            minus = loss(inputs)
            x.data[j] = base[j]
            numeric[j] = (plus - minus) / (2 * eps)
        _compare(name, f"input {i}", analytic[k], numeric, atol, rtol)


def _check_directional(name, inputs, checked, analytic, loss, eps, atol, rtol, directions, rng):
    bases = {i: inputs[i].data.copy() for i in checked}
    for _ in range(directions):
        d = {i: rng.standard_normal(inputs[i].shape) for i in checked}
        norm = np.sqrt(sum((v * v).sum() for v in d.values()))
        values = []
        for sign in (1.0, -1.0):
            for i in checked:
                inputs[i].data[...] = bases[i] + sign * eps * _like_array(d[i] / norm, bases[i])
            values.append(loss(inputs))
        for i in checked:
            inputs[i].data[...] = bases[i]
        numeric = (values[0] - values[1]) / (2 * eps)
        predicted = sum((a * d[i] / norm).sum() for a, i in zip(analytic, checked))
        _compare(name, "a random direction", np.array([predicted]), np.array([numeric]), atol, rtol)


def _compare(name, what, analytic, numeric, atol, rtol):
    error = np.abs(analytic - numeric)
    bad = ~(error <= atol + rtol * np.abs(numeric))  # "not close" rather than "far": NaN fails too
    if bad.any():
        excess = np.where(np.isnan(error), np.inf, error - rtol * np.abs(numeric))
        worst = np.unravel_index(np.argmax(excess), error.shape)
        a, n = analytic[worst], numeric[worst]
        raise GradcheckError(
            f"gradcheck failed for {name}, {what}, element {tuple(int(w) for w in worst)}: "
            f"analytic {a:.10g} vs numeric {n:.10g} (abs error {abs(a - n):.3g}, "
            f"relative error {abs(a - n) / max(abs(n), 1e-300):.3g}); {int(bad.sum())} of {bad.size} elements differ"
        )


def _float64(x):
    if not isinstance(x, Tensor):
        return Tensor(np.asarray(x, dtype=np.float64))
    if x.dtype.kind != "f" or x.dtype == np.float64:
        return x
    return Tensor(x.data.astype(np.float64), requires_grad=x.requires_grad)


def _as_tuple(outputs):
    return tuple(outputs) if isinstance(outputs, (tuple, list)) else (outputs,)


def _like_array(values: np.ndarray, like):
    return backend.to_device(values.astype(like.dtype), backend.device_of(like))


def _like(values: np.ndarray, like: Tensor) -> Tensor:
    return Tensor._wrap(_like_array(values, like.data))


def _to_numpy(value):
    if isinstance(value, Tensor):
        return value.numpy()
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        return value.detach().cpu().numpy()
    return backend.to_numpy(np.asarray(value) if not backend.is_cupy_array(value) else value)
