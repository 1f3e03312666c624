"""Activation layers: values and gradients against PyTorch, gradient checks, defaults."""

from __future__ import annotations

import numpy as np
import pytest

import tinygdl
from tinygdl import nn
from tinygdl.testing import assert_close, gradcheck, gradgradcheck

# (our layer, the PyTorch twin as a function of torch)
CASES = {
    "relu": (nn.ReLU(), lambda torch: torch.nn.ReLU()),
    "leaky_relu_0.3": (nn.LeakyReLU(), lambda torch: torch.nn.LeakyReLU(0.3)),
    "leaky_relu_0.2": (nn.LeakyReLU(0.2), lambda torch: torch.nn.LeakyReLU(0.2)),
    "sigmoid": (nn.Sigmoid(), lambda torch: torch.nn.Sigmoid()),
    "tanh": (nn.Tanh(), lambda torch: torch.nn.Tanh()),
    "softmax_last": (nn.Softmax(), lambda torch: torch.nn.Softmax(dim=-1)),
    "softmax_axis1": (nn.Softmax(axis=1), lambda torch: torch.nn.Softmax(dim=1)),
    "gelu": (nn.GELU(), lambda torch: torch.nn.GELU()),
    "gelu_tanh": (nn.GELU("tanh"), lambda torch: torch.nn.GELU(approximate="tanh")),
    "silu": (nn.SiLU(), lambda torch: torch.nn.SiLU()),
    "elu": (nn.ELU(), lambda torch: torch.nn.ELU()),
    "elu_0.5": (nn.ELU(0.5), lambda torch: torch.nn.ELU(0.5)),
    "identity": (nn.Identity(), lambda torch: torch.nn.Identity()),
}


def away_from_kinks(rng, shape):
    """Normal draws pushed away from 0, where ReLU-like functions have a kink."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.05, 0.3, x)


@pytest.mark.parametrize("name", CASES)
def test_matches_pytorch(name, torch, rng):
    ours, make_theirs = CASES[name]
    x, g = away_from_kinks(rng, (3, 4, 5)), rng.standard_normal((3, 4, 5))
    xt, tx = tinygdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(xt), make_theirs(torch)(tx)
    y.backward(tinygdl.tensor(g))
    ty.backward(torch.tensor(g))
    assert_close(y, ty, rtol=1e-12, atol=1e-14)
    assert_close(xt.grad, tx.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_gradcheck(name, float64, rng):
    layer = CASES[name][0]
    x = tinygdl.tensor(away_from_kinks(rng, (3, 4)), requires_grad=True)
    gradcheck(layer, [x])


@pytest.mark.parametrize("name", ["leaky_relu_0.3", "sigmoid", "tanh", "softmax_last", "gelu", "silu", "elu"])
def test_gradgradcheck(name, float64, rng):
    layer = CASES[name][0]
    x = tinygdl.tensor(away_from_kinks(rng, (3, 4)), requires_grad=True)
    gradgradcheck(lambda x: layer(x) * x, [x])  # times x, so that the second derivative is not zero


def test_leaky_relu_default_slope_is_keras():
    layer = nn.LeakyReLU()
    assert layer.negative_slope == 0.3 and repr(layer) == "LeakyReLU(negative_slope=0.3)"
    assert_close(layer(tinygdl.tensor([-1.0, 2.0])), [-0.3, 2.0], rtol=1e-6)


def test_swish_is_silu_and_reprs():
    assert nn.Swish is nn.SiLU
    assert repr(nn.Softmax(axis=1)) == "Softmax(axis=1)"
    assert repr(nn.ELU()) == "ELU(alpha=1.0)"
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    assert repr(nn.ReLU()) == "ReLU()"
