"""Flatten, Reshape, Concatenate, Dropout, Lambda."""

from __future__ import annotations

import numpy as np
import pytest

import tinygdl
from tinygdl import nn
from tinygdl.testing import assert_close, gradcheck


def test_flatten_keeps_the_batch_axis(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    assert_close(nn.Flatten()(tinygdl.tensor(x)), x.reshape(2, 60))
    assert nn.Flatten(start_axis=2)(tinygdl.tensor(x)).shape == (2, 3, 20)
    assert nn.Flatten(1, 2)(tinygdl.tensor(x)).shape == (2, 12, 5)
    with pytest.raises(ValueError, match=r"Flatten\(start_axis=1, end_axis=-1\).*shape \(4,\)"):
        nn.Flatten()(tinygdl.zeros(4))


def test_reshape_excludes_the_batch_axis(rng):
    x = rng.standard_normal((2, 1024))
    y = nn.Reshape((64, 4, 4))(tinygdl.tensor(x))
    assert_close(y, x.reshape(2, 64, 4, 4))
    assert nn.Reshape((-1, 4))(tinygdl.tensor(x)).shape == (2, 256, 4)
    with pytest.raises(ValueError, match=r"Reshape\(\(3, 5\)\): .*\(2, 1024\) \(1024 values per example\)"):
        nn.Reshape((3, 5))(tinygdl.tensor(x))


def test_concatenate_joins_a_list_along_channels(rng):
    a, b = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((2, 5, 4, 4))
    layer = nn.Concatenate()
    assert_close(layer([tinygdl.tensor(a), tinygdl.tensor(b)]), np.concatenate([a, b], axis=1))
    assert_close(nn.Concatenate(axis=-1)([tinygdl.tensor(a), tinygdl.tensor(a)]), np.concatenate([a, a], -1))
    with pytest.raises(ValueError, match=r"Concatenate\(axis=1\).*\[\(2, 3, 4, 4\), \(2, 5, 4, 3\)\]"):
        layer([tinygdl.tensor(a), tinygdl.zeros(2, 5, 4, 3)])
    with pytest.raises(ValueError, match="Concatenate"):
        layer([tinygdl.zeros(2, 3), tinygdl.zeros(2, 3, 1)])


def test_shape_layers_pass_gradients_back(float64, rng):
    a = tinygdl.tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)
    b = tinygdl.tensor(rng.standard_normal((2, 1, 2)), requires_grad=True)
    gradcheck(lambda a, b: nn.Flatten()(nn.Concatenate()([a, b])), [a, b])
    gradcheck(lambda a: nn.Reshape((6, 1))(a), [a])


def test_dropout_is_inverted_in_training_and_identity_in_eval():
    tinygdl.manual_seed(0)
    layer = nn.Dropout(0.25)
    x = tinygdl.ones(400, 500)
    y = layer(x).numpy()
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert (y == 0).mean() == pytest.approx(0.25, abs=0.01)
    assert y.mean() == pytest.approx(1.0, abs=0.01)  # the expected value is unchanged
    layer.eval()
    assert layer(x) is x
    assert repr(layer) == "Dropout(p=0.25)"


def test_dropout_follows_the_module_mode_of_its_parent():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    model.eval()
    x = tinygdl.ones(3, 4)
    assert_close(model(x), model(x))
    assert not model[1].training
    model.train()
    assert model[1].training


def test_dropout_gradient_uses_the_same_mask(float64):
    tinygdl.manual_seed(1)
    x = tinygdl.ones(50, requires_grad=True)
    y = nn.Dropout(0.5)(x)
    y.sum().backward()
    assert_close(x.grad, y.detach())  # y = x·mask/(1−p), so dy/dx = mask/(1−p) = y where x = 1


def test_dropout_rejects_bad_rates():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        nn.Dropout(1.0)


def test_lambda_wraps_a_function():
    def double(x):
        return x * 2

    layer = nn.Lambda(double)
    assert_close(layer(tinygdl.tensor([1.0, 2.0])), [2.0, 4.0])
    assert repr(layer) == "Lambda(double)" and layer.parameters() == []
    assert repr(nn.Lambda(lambda a, b: a + b, name="add")) == "Lambda(add)"
