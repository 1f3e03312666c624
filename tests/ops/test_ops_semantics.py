"""Where tinygdl's ops follow NumPy rather than PyTorch, or where a convention has to be chosen
(ties, kinks), written down as tests; plus dtype rules and error messages."""

from __future__ import annotations

import numpy as np
import pytest

import tinygdl as tg
from tinygdl.testing import assert_close

torch = pytest.importorskip("torch")

X = np.array([[1.0, 4.0, 2.0], [3.0, 0.5, 6.0]])


def _grad(fn, x_np):
    x = tg.Tensor(x_np, requires_grad=True)
    (g,) = tg.grad(fn(x).sum(), [x])
    return g.numpy()


# --------------------------------------------------------------------------- NumPy conventions


def test_var_and_std_default_to_ddof0_like_numpy_not_torch():
    """torch.var defaults to correction=1; tinygdl.var, like numpy.var, to ddof=0."""
    x = tg.Tensor(X)
    assert_close(tg.var(x), np.var(X), rtol=1e-12)
    assert_close(tg.var(x), torch.var(torch.from_numpy(X), correction=0), rtol=1e-12)
    assert_close(tg.var(x, ddof=1), torch.var(torch.from_numpy(X)), rtol=1e-12)
    assert_close(tg.std(x, axis=0), np.std(X, axis=0), rtol=1e-12)


def test_repeat_default_axis_is_0_not_flatten():
    """torch.repeat_interleave without dim flattens; tinygdl.repeat repeats along axis 0."""
    assert tg.repeat(tg.Tensor(X), 2).shape == (4, 3)
    assert_close(tg.repeat(tg.Tensor(X), 2), np.repeat(X, 2, axis=0))


def test_tile_pads_short_reps_like_numpy():
    """numpy.tile pads reps with leading 1s; torch's Tensor.repeat needs one rep per axis."""
    assert_close(tg.tile(tg.Tensor(X), 2), np.tile(X, 2))
    assert tg.tile(tg.Tensor(X), (2, 1, 1)).shape == (2, 2, 3)


def test_transpose_without_axes_reverses_them():
    """tinygdl.transpose is numpy.transpose (a permutation), not torch.transpose(dim0, dim1)."""
    x = tg.Tensor(np.zeros((2, 3, 4)))
    assert tg.transpose(x).shape == (4, 3, 2)
    assert tg.swapaxes(x, 0, 1).shape == (3, 2, 4)


def test_squeeze_of_an_axis_that_is_not_1_raises():
    """numpy.squeeze raises where torch.squeeze(x, dim) silently does nothing."""
    with pytest.raises(ValueError, match="does not have size 1"):
        tg.squeeze(tg.Tensor(X), 0)


def test_tensor_repeat_method_is_numpy_repeat_not_torch_repeat():
    """x.repeat is numpy.repeat (torch.repeat_interleave); torch's Tensor.repeat is tinygdl.tile."""
    x = tg.Tensor(X)
    assert_close(x.repeat(2, 1), np.repeat(X, 2, axis=1))
    assert_close(x.tile((2, 1)), torch.from_numpy(X).repeat(2, 1))


def test_tensor_methods_are_the_functions():
    x = tg.Tensor(np.random.default_rng(0).standard_normal((2, 3, 4)))
    pairs = [
        (x.sum(axis=1), tg.sum(x, 1)), (x.mean(), tg.mean(x)), (x.var(axis=-1, ddof=1), tg.var(x, -1, ddof=1)),
        (x.std(), tg.std(x)), (x.max(axis=0), tg.max(x, 0)), (x.min(), tg.min(x)),
        (x.logsumexp(axis=2), tg.logsumexp(x, 2)), (x.cumsum(1), tg.cumsum(x, 1)), (x.cumprod(2), tg.cumprod(x, 2)),
        (x.argmax(axis=1), tg.argmax(x, 1)), (x.argmin(), tg.argmin(x)), (x.exp(), tg.exp(x)),
        (x.abs().log(), tg.log(tg.abs(x))), (x.abs().sqrt(), tg.sqrt(tg.abs(x))),
        (x.abs().log1p(), tg.log1p(tg.abs(x))),
        (x.tanh(), tg.tanh(x)), (x.sigmoid(), tg.sigmoid(x)), (x.relu(), tg.relu(x)), (x.sin(), tg.sin(x)),
        (x.cos(), tg.cos(x)), (x.sign(), tg.sign(x)), (x.clip(-0.5, 0.5), tg.clip(x, -0.5, 0.5)),
        (x.reshape(4, 6), tg.reshape(x, (4, 6))), (x.view(-1), tg.reshape(x, -1)), (x.flatten(1), tg.flatten(x, 1)),
        (x.transpose(), tg.transpose(x)), (x.permute(1, 0, 2), tg.permute(x, (1, 0, 2))),
        (x.swapaxes(0, 2), tg.swapaxes(x, 0, 2)), (x.unsqueeze(1).squeeze(), x), (x.flip(0), tg.flip(x, 0)),
        (x[:, :1].expand(2, 3, 4), tg.broadcast_to(x[:, :1], (2, 3, 4))),
        (x.matmul(x.swapaxes(1, 2)), tg.matmul(x, tg.swapaxes(x, 1, 2))),
        (x.pow(2), x * x), (x.softmax(0), tg.softmax(x, 0)), (x.log_softmax(), tg.log_softmax(x)),
        (x.astype(np.float32), tg.astype(x, np.float32)),
    ]
    for method, function in pairs:
        assert method.shape == function.shape and method.dtype == function.dtype
        assert_close(method, function, rtol=1e-15)


def test_pad_widths_are_numpy_pairs_per_axis():
    y = tg.pad(tg.Tensor(X), ((1, 0), (0, 2)), 9.0)
    assert_close(y, np.pad(X, ((1, 0), (0, 2)), constant_values=9.0))


# --------------------------------------------------------------------------- ties and kinks


def test_max_reduction_ties_share_the_gradient_like_amax():
    """Tied maxima split the gradient equally (torch.amax), unlike torch.max(dim), which picks one."""
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    assert_close(_grad(lambda t: tg.max(t, axis=1), x), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    assert_close(_grad(lambda t: tg.min(t), x), [[1, 0, 0], [0, 0, 0]])
    assert_close(_grad(lambda t: tg.max(t), x), [[0, 0.5, 0.5], [0, 0, 0]])


def test_maximum_ties_split_half_and_half():
    a = tg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = tg.Tensor(np.array([1.0, 1.0, 3.0]), requires_grad=True)
    ga, gb = tg.grad(tg.maximum(a, b).sum(), [a, b])
    assert_close(ga, [0.5, 1.0, 0.5])
    assert_close(gb, [0.5, 0.0, 0.5])
    ga, gb = tg.grad(tg.minimum(a, b).sum(), [a, b])
    assert_close(ga, [0.5, 0.0, 0.5])
    assert_close(gb, [0.5, 1.0, 0.5])


def test_gradients_at_zero():
    z = np.array([0.0])
    assert _grad(tg.relu, z)[0] == 0.0
    assert _grad(tg.abs, z)[0] == 0.0
    assert _grad(lambda t: tg.leaky_relu(t, 0.2), z)[0] == 0.2
    assert _grad(tg.softplus, z)[0] == 0.5  # smooth: sigmoid(0), whatever relu and abs do at 0
    assert _grad(lambda t: t**0, z)[0] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_keeps_its_relative_precision_in_the_tails(dtype):
    """sigmoid(-20) is 2e-9, not 0: log(sigmoid(x)) must stay finite and right (as torch's)."""
    x_np = np.array([-80.0, -40.0, -20.0, -17.0, -12.0, -3.0, 0.0, 3.0, 12.0, 40.0], dtype=dtype)
    x, t = tg.Tensor(x_np, requires_grad=True), torch.from_numpy(x_np).requires_grad_()
    y, r = tg.sigmoid(x), torch.sigmoid(t)
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    assert_close(y, r, rtol=rtol)  # relative error only: no atol to hide tiny values
    assert_close(tg.grad(y.sum(), [x])[0], torch.autograd.grad(r.sum(), [t])[0], rtol=rtol)
    left = x_np[1:3].astype(np.float64)
    assert_close(tg.log(tg.sigmoid(tg.Tensor(x_np[1:3]))), left - np.log1p(np.exp(left)), rtol=rtol)
    assert y.dtype == dtype


def test_clip_passes_the_gradient_on_its_bounds():
    assert_close(_grad(lambda t: tg.clip(t, -1.0, 1.0), np.array([-1.0, 1.0, 1.5, -2.0])), [1, 1, 0, 0])


def test_non_differentiable_ops_return_constants():
    x = tg.Tensor(X, requires_grad=True)
    for y in (tg.sign(x), tg.argmax(x), tg.argmin(x, axis=0), x > 1, x == x):
        assert not y.requires_grad
    assert tg.argmax(x).dtype == np.int64 and (x > 1).dtype == bool


# --------------------------------------------------------------------------- dtypes and scalars


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numbers_take_the_tensor_dtype(dtype):
    x = tg.Tensor(np.ones(3, dtype=dtype))
    for y in (x + 1, 2.5 * x, x / 3, 1 - x, x**2, 2**x, x * np.float64(0.1), x ** np.int64(3), x + np.float32(1)):
        assert y.dtype == dtype


def test_numpy_float64_scalar_is_not_rounded_to_float32():
    x = tg.Tensor(np.array([1.0, 3.0]))
    assert_close(x * np.float64(0.1), np.array([1.0, 3.0]) * 0.1, rtol=1e-15)
    assert_close(x + np.float64(1e-9), np.array([1.0, 3.0]) + 1e-9, rtol=1e-15)


def test_full_reductions_give_0d_arrays_that_can_change_in_place():
    x = tg.Tensor(X)
    for y in (x.sum(), x.mean(), x.max(), tg.logsumexp(x), x[1, 2], tg.argmax(x), x.var()):
        assert y.shape == () and isinstance(y.data, np.ndarray)
    s = x.sum()
    s.fill_(5.0)
    assert s.item() == 5.0
    s[...] = 2.0
    assert s.item() == 2.0


def test_float32_in_float32_out_through_backward():
    x = tg.Tensor(np.linspace(0.1, 1, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    y = (tg.softmax(x) * tg.gelu(x)).sum() + tg.var(x) + tg.logsumexp(x) + x[[0, 0]].sum()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


# --------------------------------------------------------------------------- error messages


@pytest.mark.parametrize("call, error, match", [
    (lambda x: tg.sum(x, axis=2), ValueError, "axis 2 is out of range"),
    (lambda x: tg.matmul(x, x), ValueError, "do not align"),
    (lambda x: tg.matmul(tg.Tensor(np.zeros((2, 2, 3))), tg.Tensor(np.zeros((3, 3, 1)))), ValueError, "broadcast"),
    (lambda x: tg.reshape(x, (4, 2)), ValueError, "cannot reshape"),
    (lambda x: tg.concatenate([x, tg.Tensor(np.zeros((2, 2)))], axis=0), ValueError, "differ outside axis 0"),
    (lambda x: tg.stack([x, x.T]), ValueError, "same shape"),
    (lambda x: tg.split(x, [1, 1], axis=1), ValueError, "do not add up"),
    (lambda x: tg.broadcast_to(x, (3, 3)), ValueError, "cannot broadcast"),
    (lambda x: tg.pad(x, ((1, 1),)), ValueError, "pairs"),
    (lambda x: tg.transpose(x, (0, 1, 2)), ValueError, "axes"),
    (lambda x: tg.gelu(x, approximate="fast"), ValueError, "approximate"),
    (lambda x: x[5], IndexError, "getitem"),
])
def test_errors_name_the_op_and_the_problem(call, error, match):
    with pytest.raises(error, match=match):
        call(tg.Tensor(X))
