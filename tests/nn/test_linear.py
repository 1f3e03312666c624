"""Linear (Keras Dense) and Embedding: shapes, Keras initialisation, gradients, PyTorch parity."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygdl
from tinygdl import nn
from tinygdl.nn import init
from tinygdl.testing import assert_close, gradcheck, gradgradcheck


def test_linear_stores_the_weight_in_out_with_keras_defaults():
    layer = nn.Linear(3072, 200)
    assert layer.weight.shape == (3072, 200) and layer.bias.shape == (200,)
    assert np.abs(layer.weight.numpy()).max() <= math.sqrt(6 / (3072 + 200))
    assert not layer.bias.numpy().any()
    assert layer.num_parameters() == 614_600  # book-models §3.1, Dense 3072→200
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]


def test_linear_options():
    layer = nn.Linear(4, 3, bias=False, init="zeros")
    assert layer.bias is None and layer.num_parameters() == 12 and not layer.weight.numpy().any()
    assert repr(layer) == "Linear(in_features=4, out_features=3, bias=False)"
    assert nn.Linear(4, 3, init=init.normal(0.02)).weight.numpy().std() < 0.1


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
def test_linear_acts_on_the_last_axis(shape, rng):
    layer = nn.Linear(4, 3)
    x = rng.standard_normal(shape).astype(np.float32)
    expected = x @ layer.weight.numpy() + layer.bias.numpy()
    assert_close(layer(tinygdl.tensor(x)), expected, rtol=1e-5, atol=1e-6)


def test_linear_shape_error_names_the_layer():
    with pytest.raises(ValueError, match=r"Linear\(in_features=4, out_features=3.*last axis has 4 .*\(2, 5\)"):
        nn.Linear(4, 3)(tinygdl.zeros(2, 5))


def test_linear_matches_pytorch(torch, rng):
    ours = nn.Linear(4, 3).to(dtype=np.float64)  # float64 input: a float64 layer
    theirs = torch.nn.Linear(4, 3).double()
    with torch.no_grad():  # PyTorch stores (out, in): copy the transpose
        theirs.weight.copy_(torch.tensor(ours.weight.numpy().T))
        theirs.bias.copy_(torch.tensor(ours.bias.numpy()))
    x = rng.standard_normal((2, 5, 4))
    g = rng.standard_normal((2, 5, 3))
    xt = tinygdl.tensor(x, requires_grad=True)
    ours_y = ours(xt)
    ours_y.backward(tinygdl.tensor(g, dtype=ours_y.dtype))
    tx = torch.tensor(x, requires_grad=True)
    theirs(tx).backward(torch.tensor(g))
    assert_close(ours_y, theirs(tx), rtol=1e-5, atol=1e-6)
    assert_close(xt.grad, tx.grad, rtol=1e-5, atol=1e-6)
    assert_close(ours.weight.grad, theirs.weight.grad.T, rtol=1e-5, atol=1e-5)
    assert_close(ours.bias.grad, theirs.bias.grad, rtol=1e-5, atol=1e-5)


def test_linear_gradients(float64, rng):
    layer = nn.Linear(4, 3)
    x = tinygdl.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    gradcheck(lambda x, *params: layer(x), [x, *layer.parameters()])
    gradgradcheck(lambda x, *params: layer(x).tanh(), [x, *layer.parameters()])


# --------------------------------------------------------------------------- Embedding


def test_embedding_default_init_is_keras_uniform():
    layer = nn.Embedding(10000, 100)
    w = layer.weight.numpy()
    assert w.shape == (10000, 100) and layer.num_parameters() == 1_000_000  # book-models §3.9
    assert -0.05 <= w.min() < -0.049 and 0.049 < w.max() <= 0.05


def test_embedding_he_uniform_as_the_music_model():
    w = nn.Embedding(59, 128, init="he_uniform").weight.numpy()
    assert np.abs(w).max() <= math.sqrt(6 / 59)  # book-models §3.16: U(±sqrt(6/V))


def test_embedding_matches_pytorch_and_sums_repeated_ids(torch, rng):
    ours = nn.Embedding(6, 4)
    theirs = torch.nn.Embedding(6, 4)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.numpy()))
    ids = np.array([[0, 2, 2], [5, 2, 1]])
    g = rng.standard_normal((2, 3, 4)).astype(np.float32)
    y = ours(tinygdl.tensor(ids))
    y.backward(tinygdl.tensor(g))
    ty = theirs(torch.tensor(ids))
    ty.backward(torch.tensor(g))
    assert y.shape == (2, 3, 4)
    assert_close(y, ty)
    assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-6)


def test_embedding_accepts_numpy_ids_and_gradchecks(float64):
    layer = nn.Embedding(5, 3)
    ids = np.array([1, 1, 4])
    gradcheck(lambda w: layer(ids), [layer.weight])


def test_embedding_errors_name_the_layer():
    layer = nn.Embedding(5, 3)
    with pytest.raises(IndexError, match=r"Embedding\(5, 3\).*\[0, 5\)"):
        layer(np.array([0, 5]))
    with pytest.raises(TypeError, match=r"Embedding\(5, 3\).*integers"):
        layer(tinygdl.tensor([0.0, 1.0]))
