"""Property tests: binary (and ternary) ops on random broadcast-compatible shapes.

For every drawn set of shapes the result has NumPy's broadcast shape, each gradient has its
input's shape (the broadcast is summed back), and values and gradients equal PyTorch's.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import tinygdl as tg
from tinygdl.checks.ops import SPEC_BY_ID
from tinygdl.testing import assert_close

torch = pytest.importorskip("torch")

# The value generators (positive bases for pow, divisors away from 0, no ties for max/min)
# come from the op table; only the shapes are drawn here.
BINARY = ["add", "sub", "mul", "div", "pow-tensor", "maximum", "minimum"]
SETTINGS = settings(max_examples=25, deadline=None, database=None, derandomize=True)


def _run(spec, shapes, seed, expected_shape):
    arrays = [np.asarray(a) for a in (spec.make or (lambda rng, s: [rng.standard_normal(x) for x in s]))(
        np.random.default_rng(seed), shapes)]
    xs = [tg.Tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    ts = [torch.from_numpy(a).requires_grad_(a.dtype.kind == "f") for a in arrays]
    y, r = spec.fn(*xs), spec.ref(*ts)
    assert y.shape == tuple(expected_shape) == tuple(r.shape)
    assert_close(y, r, rtol=1e-10, atol=1e-12)

    v = np.random.default_rng(seed + 1).standard_normal(y.shape)
    wrt = [x for x in xs if x.requires_grad]
    grads = tg.grad(y, wrt, grad_outputs=tg.Tensor(v))
    tgrads = torch.autograd.grad(r, [t for t in ts if t.requires_grad], grad_outputs=torch.from_numpy(v))
    for x, g, tgr in zip(wrt, grads, tgrads):
        assert g.shape == x.shape
        assert_close(g, tgr, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("op", BINARY)
@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
       seed=st.integers(0, 2**31))
def test_binary_broadcasting(op, shapes, seed):
    assert shapes.result_shape == np.broadcast_shapes(*shapes.input_shapes)
    _run(SPEC_BY_ID[op], shapes.input_shapes, seed, shapes.result_shape)


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=4, max_side=3),
       seed=st.integers(0, 2**31))
def test_where_broadcasting(shapes, seed):
    """The condition broadcasts too, and may be the largest of the three."""
    _run(SPEC_BY_ID["where"], shapes.input_shapes, seed, shapes.result_shape)


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(signature="(m?,n),(n,p?)->(m?,p?)",
                                            max_dims=3, max_side=3),
       seed=st.integers(0, 2**31))
def test_matmul_broadcasting(shapes, seed):
    """Batch axes broadcast; 1-D operands are promoted and their axis dropped (numpy.matmul)."""
    _run(SPEC_BY_ID["matmul"], shapes.input_shapes, seed, shapes.result_shape)


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       seed=st.integers(0, 2**31))
def test_python_number_and_broadcast_to(shapes, seed):
    """broadcast_to(x, shape) then a Python number: the gradient sums back to x's shape."""
    a_shape, _ = shapes.input_shapes
    x_np = np.random.default_rng(seed).standard_normal(a_shape)
    x = tg.Tensor(x_np, requires_grad=True)
    t = torch.from_numpy(x_np).requires_grad_()
    y = 2.0 * tg.broadcast_to(x, shapes.result_shape) - 1
    r = 2.0 * torch.broadcast_to(t, shapes.result_shape) - 1
    assert y.shape == shapes.result_shape
    (g,) = tg.grad(y.sum(), [x])
    (tgr,) = torch.autograd.grad(r.sum(), [t])
    assert g.shape == x.shape
    assert_close(g, tgr, rtol=1e-12)
