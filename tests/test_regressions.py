"""Regression tests for bugs found in review (each test names the behaviour it pins)."""

import numpy as np
import pytest

import tinygdl
from tinygdl import nn, optim


def test_truth_value_of_tensors():
    assert not tinygdl.tensor([0.0]) and tinygdl.tensor(2.0)
    assert bool(tinygdl.tensor(1.0) < tinygdl.tensor(2.0))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(tinygdl.tensor([1.0, 2.0]))


def test_grad_through_a_freed_graph_says_so():
    x = tinygdl.randn(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="already freed"):
        tinygdl.grad(y, [x])


def test_cumulative_ops_flatten_when_axis_is_none():
    x = tinygdl.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(tinygdl.cumsum(x, axis=None).numpy(), np.cumsum(np.arange(6.0)))
    np.testing.assert_array_equal(tinygdl.cumprod(x + 1, axis=None).numpy(), np.cumprod(np.arange(6.0) + 1))


def test_mean_of_nothing_is_nan():
    assert np.isnan(tinygdl.zeros(0).mean().item())


def test_embedding_accepts_a_list_of_ids():
    w = tinygdl.randn(4, 2)
    np.testing.assert_array_equal(tinygdl.embedding([1, 3], w).numpy(), w.numpy()[[1, 3]])


def test_sequential_append_never_overwrites_a_named_layer():
    first, second, third = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    model = nn.Sequential({"2": first, "x": second})
    model.append(third)
    assert list(model) == [first, second, third]


def test_summary_keeps_each_modules_own_mode():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    model[1].eval()
    nn.summary(model, (3,), print_fn=None)
    assert model.training and model[0].training and not model[1].training


def test_batchnorm_default_momentum_follows_the_convention():
    assert nn.BatchNorm2d(3).new_value_weight == pytest.approx(0.01)  # Keras 0.99
    assert nn.BatchNorm2d(3, momentum_convention="torch").new_value_weight == pytest.approx(0.1)


def test_optimizer_state_follows_the_model_to_another_dtype():
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters())
    for _ in range(2):
        opt.zero_grad()
        model(tinygdl.randn(4, 3, dtype=model.weight.dtype)).sum().backward()
        opt.step()
        model.to(dtype=np.float64)
    states = [v for s in opt.state.values() for v in s.values() if hasattr(v, "dtype")]
    assert states and all(v.dtype == np.float64 for v in states)


def test_arange_of_numpy_integers_is_integer():
    assert tinygdl.arange(np.int64(3)).dtype == np.int64
