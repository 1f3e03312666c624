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
    "selu": (nn.SELU(), lambda torch: torch.nn.SELU()),
    # torch's CELU backward rounds 1/alpha to float32 (1e-7 off in float64): its formula is the reference
    "celu_0.7": (nn.CELU(0.7), lambda torch: lambda x: torch.where(x > 0, x, 0.7 * torch.expm1(x / 0.7))),
    "relu6": (nn.ReLU6(), lambda torch: torch.nn.ReLU6()),
    "hardtanh": (nn.Hardtanh(-0.5, 0.8), lambda torch: torch.nn.Hardtanh(-0.5, 0.8)),
    "hardsigmoid": (nn.Hardsigmoid(), lambda torch: _exact_hardsigmoid(torch)),
    "hardswish": (nn.Hardswish(), lambda torch: torch.nn.Hardswish()),
    "mish": (nn.Mish(), lambda torch: torch.nn.Mish()),
    "softsign": (nn.Softsign(), lambda torch: torch.nn.Softsign()),
    "logsigmoid": (nn.LogSigmoid(), lambda torch: torch.nn.LogSigmoid()),
    "softmin": (nn.Softmin(axis=1), lambda torch: torch.nn.Softmin(dim=1)),
    "softplus_2_1": (nn.Softplus(beta=2.0, threshold=1.0), lambda torch: torch.nn.Softplus(beta=2.0, threshold=1.0)),
    "glu": (nn.GLU(axis=1), lambda torch: torch.nn.GLU(dim=1)),
}


def _exact_hardsigmoid(torch):
    """torch.nn.Hardsigmoid's backward multiplies by a float32 1/6 (3e-8 off in float64): its formula instead."""
    return lambda x: torch.nn.functional.relu6(x + 3) / 6


def away_from_kinks(rng, shape):
    """Normal draws (times 3, to reach the corners of relu6 and the hard functions) pushed away from
    the kinks at 0, ±0.5, 0.8, ±1, ±3 and 6."""
    x = rng.standard_normal(shape) * 3
    for kink in (0.0, 0.5, -0.5, 0.8, 1.0, -1.0, 3.0, -3.0, 6.0):
        x = np.where(np.abs(x - kink) < 0.05, kink + 0.2, x)
    return x


@pytest.mark.parametrize("name", CASES)
def test_matches_pytorch(name, torch, rng):
    ours, make_theirs = CASES[name]
    x = away_from_kinks(rng, (3, 4, 5))
    xt, tx = tinygdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(xt), make_theirs(torch)(tx)
    g = rng.standard_normal(y.shape)
    y.backward(tinygdl.tensor(g))
    ty.backward(torch.tensor(g))
    assert_close(y, ty, rtol=1e-12, atol=1e-14)
    assert_close(xt.grad, tx.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_gradcheck(name, float64, rng):
    layer = CASES[name][0]
    x = tinygdl.tensor(away_from_kinks(rng, (3, 4)), requires_grad=True)
    gradcheck(layer, [x])


@pytest.mark.parametrize("name", ["leaky_relu_0.3", "sigmoid", "tanh", "softmax_last", "gelu", "silu", "elu", "selu",
                                  "celu_0.7", "hardswish", "mish", "softsign", "logsigmoid", "softmin"])
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


def test_prelu_matches_pytorch_with_its_parameter(torch, rng, float64):
    for channels in (1, 4):
        ours, theirs = nn.PReLU(channels), torch.nn.PReLU(channels).double()
        assert ours.weight.shape == (channels,) and np.allclose(ours.weight.numpy(), 0.25)
        x, g = away_from_kinks(rng, (2, 4, 3)), rng.standard_normal((2, 4, 3))
        xt, tx = tinygdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = ours(xt), theirs(tx)
        y.backward(tinygdl.tensor(g))
        ty.backward(torch.tensor(g))
        assert_close(y, ty, rtol=1e-12)
        assert_close(xt.grad, tx.grad, rtol=1e-12)
        assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-10)
    assert repr(nn.PReLU(3)) == "PReLU(num_parameters=3)"


def test_prelu_gradcheck_with_parameter(float64, rng):
    layer = nn.PReLU(3)
    x = tinygdl.tensor(away_from_kinks(rng, (2, 3, 2)), requires_grad=True)
    gradcheck(lambda x, w: layer(x), [x, layer.weight])  # gradcheck varies w's values in place
    gradgradcheck(lambda x, w: layer(x) * x, [x, layer.weight])


def test_new_activation_reprs_show_pytorch_arguments():
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    assert repr(nn.CELU()) == "CELU(alpha=1.0)" and repr(nn.SELU()) == "SELU()"
