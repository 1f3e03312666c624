"""Every entry of the op table (``tinygdl/checks/ops.py``) through the same four checks:

1. ``gradcheck`` in float64 (finite differences) on every case, plus non-contiguous inputs;
2. forward and backward parity with PyTorch on the CPU, float64 (~1e-10) and float32 (~1e-5),
   including result and gradient shapes and dtypes;
3. ``gradgradcheck`` for the entries marked ``second_order``;
4. forward parity on complex128 inputs for the entries marked ``complex``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygdl as tg
from tinygdl.checks.ops import SPECS, make_inputs, seed_of
from tinygdl.testing import assert_close, gradcheck, gradgradcheck

# Public ops tested elsewhere than in the table (with the file that does it).
TESTED_ELSEWHERE = {
    "dropout": "test_ops_neural.py",
    **{name: "test_ops_creation_random.py" for name in (
        "manual_seed", "randn", "rand", "randint", "normal", "uniform", "bernoulli", "permutation",
        "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "linspace", "eye",
        "empty", "full_like", "rand_like", "randn_like")},
    "allclose": "test_ops_semantics.py",
}

LAYOUTS = ("transposed", "strided")


def relayout(a: np.ndarray, layout: str) -> np.ndarray:
    """The same values in a non-contiguous array (a transposed or a strided view)."""
    if layout == "contiguous" or a.ndim == 0:
        return np.ascontiguousarray(a) if a.ndim else a.copy()  # (ascontiguousarray makes 0-d arrays 1-d)
    out = np.asfortranarray(a) if layout == "transposed" else a
    if out.flags.c_contiguous:  # "strided", or a shape that transposing leaves contiguous:
        # every other element of a buffer twice as long in the last axis
        buffer = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
        buffer[..., ::2] = a
        out = buffer[..., ::2]
    assert not out.flags.c_contiguous or a.size <= 1
    return out


def build(spec, case, layout="contiguous", dtype=np.float64):
    """The case's inputs as NumPy arrays: floats in ``dtype`` and ``layout``, others unchanged."""
    arrays = []
    for a in make_inputs(spec, case):
        if a.dtype.kind == "f":
            a = relayout(a.astype(dtype), layout)
        arrays.append(a)
    return arrays


def tg_inputs(arrays, requires_grad=True):
    return [tg.Tensor(a, requires_grad=requires_grad and a.dtype.kind == "f") for a in arrays]


def as_tuple(y):
    return tuple(y) if isinstance(y, (tuple, list)) else (y,)


def params(select=lambda spec: True, layouts=True):
    out = []
    for spec in SPECS:
        if not select(spec):
            continue
        for case in range(len(spec.cases)):
            out.append(pytest.param(spec, case, "contiguous", id=f"{spec.id}-{case}"))
        if layouts and spec.layouts:
            for layout in LAYOUTS:
                out.append(pytest.param(spec, 0, layout, id=f"{spec.id}-0-{layout}"))
    return out


# --------------------------------------------------------------------------- 1. gradcheck


@pytest.mark.parametrize("spec, case, layout", params(lambda s: s.grad and s.numeric))
def test_gradcheck(spec, case, layout):
    inputs = tg_inputs(build(spec, case, layout))
    assert gradcheck(spec.fn, inputs, mode="full", name=spec.id)


# --------------------------------------------------------------------------- 2. PyTorch parity


TOLERANCES = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}


def _torch_inputs(torch, arrays, requires_grad):
    out = []
    for a in arrays:
        t = torch.from_numpy(a)  # keeps the strides: torch sees the same non-contiguous layout
        if requires_grad and a.dtype.kind == "f":
            t.requires_grad_()
        out.append(t)
    return out


def _check_parity(torch, spec, case, layout, dtype):
    # Entries that sit on a kink or a pole (numeric=False) meet inf and 0/0 on purpose.
    if spec.numeric:
        _compare_with_torch(torch, spec, case, layout, dtype)
        return
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _compare_with_torch(torch, spec, case, layout, dtype)


def _compare_with_torch(torch, spec, case, layout, dtype):
    arrays = build(spec, case, layout, dtype)
    xs = tg_inputs(arrays)
    ts = _torch_inputs(torch, arrays, spec.grad)
    ys, rs = as_tuple(spec.fn(*xs)), as_tuple(spec.ref(*ts))
    assert len(ys) == len(rs)
    tol = TOLERANCES[dtype]
    for y, r in zip(ys, rs):
        assert isinstance(y, tg.Tensor)
        assert y.shape == tuple(r.shape), f"{spec.id}: shape {y.shape} vs torch {tuple(r.shape)}"
        if spec.check_dtype:
            assert y.dtype == r.detach().numpy().dtype, f"{spec.id}: dtype {y.dtype} vs torch {r.dtype}"
        assert isinstance(y.data, np.ndarray), f"{spec.id}: result data is {type(y.data)}, not an ndarray"
        assert_close(y, r, **tol, msg=f"{spec.id} forward")

    if not spec.grad:
        assert not any(y.requires_grad for y in ys), f"{spec.id} should not be differentiable"
        return
    if not spec.check_backward:
        return

    rng = np.random.default_rng(seed_of(spec.id, case, "cotangent"))
    vs = [rng.standard_normal(y.shape).astype(dtype) for y in ys]
    # Integer outputs (sort's and topk's indices) carry no gradient in either engine.
    for y, r in zip(ys, rs):
        assert y.requires_grad == r.requires_grad, f"{spec.id}: requires_grad {y.requires_grad} vs torch's"
    ys, rs, vs = zip(*[(y, r, v) for y, r, v in zip(ys, rs, vs) if y.requires_grad])
    wrt = [x for x in xs if x.requires_grad]
    twrt = [t for t in ts if t.requires_grad]
    grads = tg.grad(list(ys), wrt, grad_outputs=[tg.Tensor(v) for v in vs], allow_unused=True)
    tgrads = torch.autograd.grad(rs, twrt, grad_outputs=[torch.from_numpy(v) for v in vs], allow_unused=True)
    for i, (x, g, tgr) in enumerate(zip(wrt, grads, tgrads)):
        expected = np.zeros(x.shape, dtype) if tgr is None else tgr
        if g is None:
            g = np.zeros(x.shape, dtype)
        else:
            assert g.shape == x.shape, f"{spec.id}: gradient {i} has shape {g.shape}, input {x.shape}"
            assert g.dtype == x.dtype, f"{spec.id}: gradient {i} has dtype {g.dtype}, input {x.dtype}"
        assert_close(g, expected, **tol, msg=f"{spec.id} gradient of input {i}")


@pytest.mark.parametrize("spec, case, layout", params())
def test_torch_parity_float64(torch, spec, case, layout):
    _check_parity(torch, spec, case, layout, np.float64)


@pytest.mark.parametrize("spec, case, layout", params(lambda s: s.float32, layouts=False))
def test_torch_parity_float32(torch, spec, case, layout):
    _check_parity(torch, spec, case, layout, np.float32)


# --------------------------------------------------------------------------- 3. second order


@pytest.mark.parametrize("spec, case, layout", params(lambda s: s.second_order and s.grad and s.numeric,
                                                      layouts=False))
def test_gradgradcheck(spec, case, layout):
    inputs = tg_inputs(build(spec, case, layout))
    assert gradgradcheck(spec.fn, inputs, mode="full", name=spec.id)


# --------------------------------------------------------------------------- 4. complex forward


@pytest.mark.parametrize("spec, case, layout", params(lambda s: s.complex, layouts=False))
def test_complex_forward(torch, spec, case, layout):
    rng = np.random.default_rng(seed_of(spec.id, case, "complex"))
    arrays = [np.asarray(a + 1j * rng.standard_normal(a.shape)) for a in make_inputs(spec, case)]
    ys = as_tuple(spec.fn(*[tg.Tensor(a) for a in arrays]))
    rs = as_tuple(spec.ref(*[torch.from_numpy(a) for a in arrays]))
    for y, r in zip(ys, rs):
        assert y.dtype == np.complex128
        assert_close(y, r, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- the table itself


# The modules of the core op library; layers' ops (conv, norm) are tested with the layers.
CORE_MODULES = {f"tinygdl.ops.{m}" for m in ("creation", "elementwise", "index", "linalg", "movement",
                                               "neural", "nn", "reduce", "shape",
                                               "math", "activations", "select", "einsum")}


def test_every_public_op_is_tested():
    """Each public function of the core op modules has a table entry or a dedicated test file."""
    import tinygdl.ops as ops

    functions = {name for name, value in vars(ops).items()
                 if callable(value) and not isinstance(value, type) and not name.startswith("_")
                 and getattr(value, "__module__", "") in CORE_MODULES}
    public = set(getattr(ops, "__all__", functions)) & functions
    covered = {spec.op for spec in SPECS} | set(TESTED_ELSEWHERE)
    assert public - covered == set(), "ops without tests"
    import tinygdl.nn.functional as F  # the neural-network entries (checks/ops_nn.py) cover F's functions

    assert covered - functions - set(vars(F)) == set(), "the table names ops that do not exist"


def test_table_entries_have_torch_references():
    assert all(spec.ref is not None or spec.grad for spec in SPECS)
    assert len(SPECS) > 150
