"""Where tinygdl's ops follow NumPy rather than PyTorch, or where a convention has to be chosen
(ties, kinks), written down as tests; plus dtype rules and error messages."""

from __future__ import annotations

import numpy as np
import pytest

import tinygdl as tg
from tinygdl.errors import ConfigError, DtypeError, ShapeError, TinyGDLError
from tinygdl.testing import assert_close

torch = pytest.importorskip("torch")

X = np.array([[1.0, 4.0, 2.0], [3.0, 0.5, 6.0]])


def _grad(fn, x_np):
    x = tg.Tensor(x_np, requires_grad=True)
    (g,) = tg.grad(fn(x).sum(), [x])
    return g.numpy()


# --------------------------------------------------------------------------- NumPy conventions


def test_var_and_std_default_to_ddof0_like_numpy_not_torch():
    """torch.var defaults to correction=1; tinygdl.var, like numpy.var, to ddof=0 (docs/engine.md)."""
    x, t = tg.Tensor(X), torch.from_numpy(X)
    assert_close(tg.var(x), np.var(X), rtol=1e-12)
    assert_close(tg.var(x), torch.var(t, correction=0), rtol=1e-12)
    assert_close(tg.std(x, axis=0), np.std(X, axis=0), rtol=1e-12)
    for unbiased_spelling in (dict(ddof=1), dict(correction=1), dict(unbiased=True)):
        assert_close(tg.var(x, **unbiased_spelling), torch.var(t), rtol=1e-12)
        assert_close(x.std(axis=1, **unbiased_spelling), t.std(1), rtol=1e-12)
    assert_close(tg.var(x, unbiased=False), torch.var(t, unbiased=False), rtol=1e-12)
    with pytest.raises(ConfigError, match="at most one of ddof, correction and unbiased"):
        tg.var(x, ddof=1, correction=1)


def test_repeat_is_torch_tensor_repeat_and_repeat_interleave_is_numpy_repeat():
    """The name means two things: PyTorch's Tensor.repeat tiles, NumPy's repeat repeats each element.
    tinygdl.repeat / x.repeat follow PyTorch; NumPy's meaning is repeat_interleave (docs/engine.md)."""
    x, t = tg.Tensor(X), torch.from_numpy(X)
    assert_close(x.repeat(2, 1), t.repeat(2, 1))
    assert_close(tg.repeat(x, (1, 2, 3)), t.repeat(1, 2, 3))
    assert_close(tg.repeat_interleave(x, 2), np.repeat(X, 2))  # flattened, as both libraries
    assert_close(x.repeat_interleave(2, axis=1), np.repeat(X, 2, axis=1))
    assert_close(tg.repeat_interleave(x, 3, axis=0), torch.repeat_interleave(t, 3, dim=0))


def test_repeat_with_fewer_counts_than_axes_raises():
    """torch raises there too; tile pads the counts with leading 1s instead."""
    with pytest.raises(ShapeError, match=r"repeat: 1 repeat counts \(2,\) given for a tensor of shape \(2, 3\)"):
        tg.Tensor(X).repeat(2)
    assert tg.tile(tg.Tensor(X), 2).shape == (2, 6)


def test_tile_pads_short_reps_like_numpy():
    """numpy.tile pads reps with leading 1s; torch's Tensor.repeat needs one rep per axis."""
    assert_close(tg.tile(tg.Tensor(X), 2), np.tile(X, 2))
    assert tg.tile(tg.Tensor(X), (2, 1, 1)).shape == (2, 2, 3)


def test_transpose_without_axes_reverses_them():
    """tinygdl.transpose is numpy.transpose (a permutation), not torch.transpose(dim0, dim1)."""
    x = tg.Tensor(np.zeros((2, 3, 4)))
    assert tg.transpose(x).shape == (4, 3, 2)
    assert tg.swapaxes(x, 0, 1).shape == (3, 2, 4)


def test_squeeze_of_an_axis_that_is_not_1_leaves_it_like_torch():
    """numpy.squeeze raises there; torch.squeeze(x, dim) leaves the axis, and so do we."""
    assert tg.squeeze(tg.Tensor(X), 0).shape == (2, 3)
    assert tg.Tensor(np.zeros((2, 1, 3))).squeeze((0, 1)).shape == (2, 3)
    assert tg.Tensor(2.0).squeeze(0).shape == tg.Tensor(2.0).squeeze(-1).shape == ()


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


def test_binary_shape_mismatch_is_a_shape_error_naming_op_and_shapes():
    a, b = tg.Tensor(np.zeros((2, 3))), tg.Tensor(np.zeros((4,)))
    for call, name in ((tg.add, "add"), (tg.mul, "mul"), (tg.maximum, "maximum"), (tg.atan2, "atan2")):
        with pytest.raises(ShapeError, match=rf"{name}: shapes \(2, 3\) and \(4,\) do not broadcast"):
            call(a, b)
    with pytest.raises(ValueError):  # still caught by the built-in class people already catch
        a - b


@pytest.mark.parametrize("call, error, match", [
    (lambda x: tg.clip(x), ConfigError, r"clip: at least one of lo and hi"),
    (lambda x: x.clamp(None, None), ConfigError, "clip"),
    (lambda x: tg.div(x, x, rounding_mode="round"), ConfigError, "rounding_mode"),
    (lambda x: tg.gather(x, 1, np.zeros((3, 3), dtype=np.int64)), ShapeError, r"gather: index of shape \(3, 3\)"),
    (lambda x: tg.gather(x, 1, np.zeros((2, 3))), DtypeError, "gather: indices must be integers"),
    (lambda x: tg.topk(x, 4), ShapeError, "topk: k=4"),
    (lambda x: tg.einsum("ij,jk->ik", x, x), ShapeError, "einsum"),
    (lambda x: tg.einsum("ij->q", x), ShapeError, "einsum"),
    (lambda x: tg.glu(x), ShapeError, "glu: axis 1 of shape"),
    (lambda x: tg.cross(x.T, x.T), ShapeError, "cross: axis -1 must have size 3"),
    (lambda x: tg.unfold(x, 1, 4, 1), ShapeError, "unfold"),
    (lambda x: tg.scatter_reduce(x, 1, np.zeros((2, 3), dtype=np.int64), x, "prod"), ConfigError, "reduce"),
    (lambda x: tg.sum(x, axis=(0, 5)), ShapeError, "axis 5 is out of range"),
])
def test_invalid_calls_raise_tinygdl_errors(call, error, match):
    with pytest.raises(error, match=match) as caught:
        call(tg.Tensor(X))
    assert isinstance(caught.value, TinyGDLError)


# --------------------------------------------------------------------------- type promotion (docs/engine.md)


INTS, FLOATS = np.array([1, -2, 3]), np.array([0.5, 1.5, -2.0])


@pytest.mark.parametrize("expression", [
    lambda lib, i, f: i + 2.5, lambda lib, i, f: 2.5 * i, lambda lib, i, f: i / i, lambda lib, i, f: i / 2,
    lambda lib, i, f: i * 2, lambda lib, i, f: i // 2, lambda lib, i, f: i % 2, lambda lib, i, f: i ** 2,
    lambda lib, i, f: i ** 0.5, lambda lib, i, f: lib.exp(i), lambda lib, i, f: lib.sin(i),
    lambda lib, i, f: lib.sqrt(i),
    lambda lib, i, f: lib.sigmoid(i), lambda lib, i, f: f.float() + i if lib is torch else f.astype("float32") + i,
    lambda lib, i, f: i.to(lib.int32) * 2.5 if lib is torch else i.astype("int32") * 2.5,
    lambda lib, i, f: (i > 0) + 1, lambda lib, i, f: (i > 0) + 1.5, lambda lib, i, f: (i > 0) * (i > 1),
    lambda lib, i, f: f + i, lambda lib, i, f: lib.maximum(i, f), lambda lib, i, f: lib.where(i > 0, i, 0.5),
    lambda lib, i, f: lib.where(i > 0, 1, 0), lambda lib, i, f: lib.where(i > 0, 1.0, 0),
    lambda lib, i, f: lib.full((2,), 4), lambda lib, i, f: lib.full((2,), 4.0), lambda lib, i, f: lib.full((2,), True),
    lambda lib, i, f: lib.floor(i), lambda lib, i, f: lib.div(i, 2, rounding_mode="trunc"),
    lambda lib, i, f: lib.clamp(i, 0, 2), lambda lib, i, f: lib.clamp(i, 0.5), lambda lib, i, f: i.sum(),
    lambda lib, i, f: lib.atan2(i, i), lambda lib, i, f: i.prod(),
])
def test_type_promotion_follows_pytorch(expression):
    with np.errstate(invalid="ignore"):  # sqrt(-2) is NaN in both
        ours = expression(tg, tg.tensor(INTS), tg.tensor(FLOATS, dtype=np.float64))
    theirs = expression(torch, torch.tensor(INTS), torch.tensor(FLOATS, dtype=torch.float64))
    assert ours.dtype == theirs.numpy().dtype, (ours.dtype, theirs.dtype)
    assert_close(ours, theirs.numpy(), rtol=1e-6)


def test_python_float_with_int_tensor_follows_the_default_dtype():
    with tg.default_dtype(np.float64):
        assert (tg.tensor(INTS) + 0.5).dtype == np.float64
        assert tg.exp(tg.tensor(INTS)).dtype == np.float64


def test_int_tensors_keep_integer_results_where_pytorch_does():
    i = tg.tensor(INTS)
    for y in (tg.floor(i), tg.round(i), tg.trunc(i), -i, abs(i), i * 3, tg.remainder(i, 2)):
        assert y.dtype == np.int64
    assert_close(tg.floor(i), INTS)


# --------------------------------------------------------------------------- 0-d tensors and indexing


def test_0d_reductions_softmax_cumsum_and_squeeze_like_torch():
    x, t = tg.tensor(1.5, requires_grad=True), torch.tensor(1.5, requires_grad=True)
    for f in (lambda v: v.sum(0), lambda v: v.sum(-1), lambda v: v.logsumexp(0), lambda v: v.softmax(0),
              lambda v: v.log_softmax(-1), lambda v: v.cumsum(0), lambda v: v.squeeze(0), lambda v: v.prod(0)):
        y, r = f(x), f(t)
        assert y.shape == tuple(r.shape) == ()
        assert_close(y, r.detach(), rtol=1e-6)
        (g,), (tgr,) = tg.grad(y, [x]), torch.autograd.grad(r, [t])
        assert_close(g, tgr, rtol=1e-6)


def test_integers_mixed_with_index_arrays_follow_pytorch_not_numpy():
    """NumPy puts the axes of index arrays separated by a slice first: x[0, :, [0, 1]] is (2, 4) there.
    PyTorch applies integers first, so the result is (4, 2); we do the same (docs/engine.md)."""
    x_np = np.arange(60.0).reshape(3, 4, 5)
    x, t = tg.Tensor(x_np), torch.from_numpy(x_np)
    assert x_np[0, :, [0, 1]].shape == (2, 4)
    for index in ((0, slice(None), [0, 1]), (slice(None), 2, [1, 1, 0]), (Ellipsis, 0, [4]), (1, [0, 2], 3),
                  ([0, 1], slice(None), 0), (None, 0, slice(1, 3), [2, 3])):
        ours = x[tuple(np.array(p) if isinstance(p, list) else p for p in index)]
        theirs = t[tuple(torch.tensor(p) if isinstance(p, list) else p for p in index)]
        assert ours.shape == tuple(theirs.shape)
        assert_close(ours, theirs)


# --------------------------------------------------------------------------- the new ops' conventions


def test_allclose_and_isclose_use_torch_tolerances():
    a = tg.tensor([1.0, 2.0])
    assert tg.allclose(a, a + 1e-6) and not tg.allclose(a, a + 1e-3)
    assert tg.allclose(tg.tensor([np.nan]), tg.tensor([np.nan]), equal_nan=True)
    assert a.allclose(a) is True


def test_where_with_one_argument_is_nonzero_as_tuple():
    c = np.array([[True, False], [False, True]])
    rows, cols = tg.where(c)
    assert_close(rows, [0, 1]) and assert_close(cols, [0, 1])


def test_sort_topk_cummax_return_values_and_indices():
    x = tg.tensor([[3.0, 1.0, 2.0]])
    result = x.sort()
    assert isinstance(result, tg.ValuesIndices)
    assert_close(result.values, [[1.0, 2.0, 3.0]]) and assert_close(result.indices, [[1, 2, 0]])
    values, indices = tg.topk(x, 1)
    assert_close(values, [[3.0]]) and indices.dtype == np.int64
    assert_close(tg.cummax(x, 1).indices, [[0, 0, 0]])


def test_einsum_implicit_output_and_ellipsis_like_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5))
    assert_close(tg.einsum("...ij,jk", a, b), np.einsum("...ij,jk", a, b), rtol=1e-12)
    assert_close(tg.einsum("ijk->", a), np.einsum("ijk->", a), rtol=1e-12)
    assert_close(tg.einsum("bij", a), np.einsum("bij", a), rtol=1e-12)
    assert_close(tg.einsum("jb", b), np.einsum("jb", b), rtol=1e-12)


def test_logcumsumexp_has_no_overflow_nor_underflow():
    x_np = np.array([-1000.0, 0.0, 1000.0, 1000.0], dtype=np.float32)
    x, t = tg.Tensor(x_np, requires_grad=True), torch.from_numpy(x_np).requires_grad_()
    y, r = tg.logcumsumexp(x, 0), torch.logcumsumexp(t, 0)
    assert_close(y, r.detach(), rtol=1e-6)
    # d(sum y)/dx_i = sum_{j>=i} e^(x_i - y_j): exactly [1, 1, 1.5, 0.5] (torch's float32 gives 1.499987)
    assert_close(tg.grad(y.sum(), [x])[0], [1.0, 1.0, 1.5, 0.5], rtol=1e-6)
