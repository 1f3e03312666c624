"""The fused training-mode batch norm (``BatchNormTraining``) against the composite it replaces
(``Standardize`` and the affine ops), PyTorch, finite differences and second order."""

import numpy as np
import pytest

import tinygdl as tg
from tinygdl.ops import norm
from tinygdl.testing import gradcheck, gradgradcheck


def _composite(x, weight, bias, eps):
    x_hat = norm.Standardize((0,) + tuple(range(2, x.ndim)), eps)(x)
    return norm._channel_affine(x_hat, weight, bias)


@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (7, 5), (3, 2, 4)])
def test_fused_equals_the_composite(float64, rng, shape):
    arrays = (rng.standard_normal(shape) * 3 + 1, rng.standard_normal(shape[1]), rng.standard_normal(shape[1]))
    gy = tg.tensor(rng.standard_normal(shape))
    results = []
    for fn in (lambda x, w, b: norm.batch_norm(x, None, None, w, b, training=True, eps=1e-3),
               lambda x, w, b: _composite(x, w, b, 1e-3)):
        inputs = [tg.tensor(a, requires_grad=True) for a in arrays]
        y = fn(*inputs)
        (y * gy).sum().backward()
        results.append([y.numpy()] + [t.grad.numpy() for t in inputs])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_fused_gradcheck_and_gradgradcheck(float64, rng):
    arrays = (rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(2), rng.standard_normal(2))

    def fn(x, w, b):
        return norm.batch_norm(x, None, None, w, b, training=True)

    gradcheck(fn, [tg.tensor(a, requires_grad=True) for a in arrays])
    gradgradcheck(fn, [tg.tensor(a, requires_grad=True) for a in arrays])


def test_fused_matches_torch_with_running_statistics(torch, rng):
    x = rng.standard_normal((8, 4, 5, 5)).astype(np.float32) * 2 + 0.5
    layer = tg.nn.BatchNorm2d(4)
    with tg.no_grad():
        layer.weight.copy_(rng.standard_normal(4))
        layer.bias.copy_(rng.standard_normal(4))
    twin = torch.nn.BatchNorm2d(4, eps=layer.eps, momentum=layer.new_value_weight)
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(layer.weight.numpy()))
        twin.bias.copy_(torch.from_numpy(layer.bias.numpy()))
    ours_x, theirs_x = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    ours, theirs = layer.train()(ours_x), twin.train()(theirs_x)
    (ours * tg.tensor(gy)).sum().backward()
    (theirs * torch.from_numpy(gy)).sum().backward()
    pairs = [(ours, theirs), (ours_x.grad, theirs_x.grad), (layer.weight.grad, twin.weight.grad),
             (layer.bias.grad, twin.bias.grad), (layer.running_mean, twin.running_mean),
             (layer.running_var, twin.running_var)]
    for a, b in pairs:
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert ours.dtype == np.float32 and ours_x.grad.dtype == np.float32
