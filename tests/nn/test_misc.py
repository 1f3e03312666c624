"""Flatten, Reshape, RepeatVector, Concatenate, Dropout, GaussianNoise, Lambda; GlobalAvgPool2d."""

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


def test_repeat_vector_repeats_and_sums_its_gradient():
    x = tinygdl.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = nn.RepeatVector(4)(x)
    assert y.shape == (2, 4, 3)
    np.testing.assert_array_equal(y.numpy()[:, 2], x.numpy())
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 4.0))


def test_gaussian_noise_acts_in_training_mode_only():
    tinygdl.manual_seed(0)
    layer = nn.GaussianNoise(0.2)
    x = tinygdl.zeros(200, 100)
    noisy = layer(x).numpy()
    assert abs(noisy.std() - 0.2) < 0.01 and abs(noisy.mean()) < 0.01
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), 0)


def test_repeat_vector_and_global_average_pooling_match_torch(torch, float64, rng):
    """RepeatVector is ``unsqueeze(1).expand``, GlobalAvgPool2d ``mean((2, 3))`` in PyTorch: values and
    input gradients agree."""
    for layer, twin, shape in ((nn.RepeatVector(3), lambda t: t.unsqueeze(1).expand(-1, 3, -1), (2, 4)),
                               (nn.GlobalAvgPool2d(), lambda t: t.mean((2, 3)), (2, 3, 4, 5))):
        x = rng.standard_normal(shape)
        mine, theirs = tinygdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, y_twin = layer(mine), twin(theirs)
        weights = rng.standard_normal(y.shape)
        (y * tinygdl.tensor(weights)).sum().backward()
        (y_twin * torch.tensor(weights)).sum().backward()
        assert_close(y, y_twin.detach().numpy(), rtol=1e-12)
        assert_close(mine.grad, theirs.grad.numpy(), rtol=1e-12)


def test_global_average_pooling_refuses_non_images():
    with pytest.raises(ValueError, match="GlobalAvgPool2d"):
        nn.GlobalAvgPool2d()(tinygdl.zeros(2, 3))
