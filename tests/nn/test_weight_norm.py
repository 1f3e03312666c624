"""WeightNorm: the reparameterisation against PyTorch's weight_norm, gradients against finite
differences (first and second order), the data-dependent initialisation, masked kernels, checkpoints."""

import numpy as np
import pytest

import tinygdl as tg
from tinygdl import nn
from tinygdl.models.pixelcnn import ShiftedConv2d
from tinygdl.nn.layers.weight_norm import weight_norm
from tinygdl.testing import gradcheck, gradgradcheck


def _torch_twin(torch, layer, wrapped):
    """``layer``'s PyTorch equivalent with ``wrapped``'s v, g and bias copied, through
    torch.nn.utils.parametrizations.weight_norm (original0 = g, original1 = v)."""
    v, g, b = wrapped.v.numpy(), wrapped.g.numpy(), wrapped.layer.bias.numpy()
    if isinstance(layer, nn.Linear):
        twin, dim, v = torch.nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64), 0, v.T
    elif isinstance(layer, nn.ConvTranspose2d):
        twin = torch.nn.ConvTranspose2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                                        padding=layer.padding, dtype=torch.float64)
        dim = 1
    else:
        twin = torch.nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                               padding=layer.padding, dtype=torch.float64)
        dim = 0
    twin = torch.nn.utils.parametrizations.weight_norm(twin, dim=dim)
    with torch.no_grad():
        twin.parametrizations.weight.original1.copy_(torch.from_numpy(np.ascontiguousarray(v)))
        twin.parametrizations.weight.original0.copy_(torch.from_numpy(g).reshape(
            twin.parametrizations.weight.original0.shape))
        twin.bias.copy_(torch.from_numpy(b))
    return twin


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.Conv2d(3, 4, 3, padding=1), (2, 3, 5, 5)),
    (lambda: nn.ConvTranspose2d(3, 4, 2, stride=2), (2, 3, 3, 3)),
    (lambda: nn.Linear(5, 4), (6, 5)),
], ids=["conv", "conv-transpose", "linear"])
def test_forward_and_backward_match_torch_weight_norm(torch, float64, rng, make, shape):
    layer = make()
    wrapped = nn.WeightNorm(layer, data_init=False)
    wrapped.g.data[...] = rng.uniform(0.5, 2.0, wrapped.g.shape)
    wrapped.layer.bias.data[...] = rng.standard_normal(wrapped.layer.bias.shape)
    twin = _torch_twin(torch, layer, wrapped)
    x = rng.standard_normal(shape)
    cotangent = rng.standard_normal(wrapped(tg.tensor(x)).shape)

    ours = tg.tensor(x, requires_grad=True)
    (wrapped(ours) * tg.tensor(cotangent)).sum().backward()
    theirs = torch.tensor(x, requires_grad=True)
    y = twin(theirs)
    (y * torch.from_numpy(cotangent)).sum().backward()

    np.testing.assert_allclose(wrapped(tg.tensor(x)).numpy(), y.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
    v_grad = twin.parametrizations.weight.original1.grad.numpy()
    np.testing.assert_allclose(wrapped.v.grad.numpy(), v_grad.T if isinstance(layer, nn.Linear) else v_grad,
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(wrapped.g.grad.numpy(), twin.parametrizations.weight.original0.grad.numpy().ravel(),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(wrapped.layer.bias.grad.numpy(), twin.bias.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_without_data_init_the_initial_kernel_is_unchanged(float64):
    layer = nn.Conv2d(2, 3, 3)
    kernel = layer.weight.numpy().copy()
    wrapped = nn.WeightNorm(layer, data_init=False)
    np.testing.assert_allclose(wrapped.weight().numpy(), kernel, rtol=1e-12)
    assert "weight" not in dict(layer.named_parameters())
    assert sorted(n for n, _ in wrapped.named_parameters()) == ["g", "layer.bias", "v"]


@pytest.mark.parametrize("axis", [0, 1])
def test_weight_norm_function_gradients(float64, rng, axis):
    v = tg.tensor(rng.standard_normal((3, 4, 2, 2)), requires_grad=True)
    g = tg.tensor(rng.uniform(0.5, 2, (v.shape[axis],)), requires_grad=True)
    gradcheck(lambda v, g: weight_norm(v, g, axis), [v, g])
    gradgradcheck(lambda v, g: weight_norm(v, g, axis), [v, g])


def test_every_output_channel_has_length_g(float64, rng):
    wrapped = nn.WeightNorm(nn.ConvTranspose2d(3, 4, 3))
    wrapped.g.data[...] = rng.uniform(0.5, 2, 4)
    w = wrapped.weight().numpy()
    np.testing.assert_allclose(np.sqrt((w ** 2).sum(axis=(0, 2, 3))), wrapped.g.numpy(), rtol=1e-12)


def test_data_dependent_init_standardises_the_first_training_batch(float64, rng):
    wrapped = nn.WeightNorm(nn.Conv2d(3, 4, 3, padding="same"))
    x = tg.tensor(rng.normal(2.0, 3.0, (8, 3, 6, 6)))
    wrapped.eval()
    before = wrapped(x).numpy()  # eval mode: no initialisation, g = 1, b = 0
    assert float(wrapped.initialized.numpy()) == 0
    wrapped.train()
    y = wrapped(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-10)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-8)
    # the formula: g = 1/sqrt(var + 1e-10), b = −mean·g of the outputs with g = 1, b = 0
    scale = 1 / np.sqrt(before.var(axis=(0, 2, 3)) + 1e-10)
    np.testing.assert_allclose(wrapped.g.numpy(), scale, rtol=1e-10)
    np.testing.assert_allclose(wrapped.layer.bias.numpy(), -before.mean(axis=(0, 2, 3)) * scale, rtol=1e-10)
    assert float(wrapped.initialized.numpy()) == 1
    g = wrapped.g.numpy().copy()
    wrapped(tg.tensor(rng.standard_normal((8, 3, 6, 6))))  # the second batch does not initialise again
    np.testing.assert_array_equal(wrapped.g.numpy(), g)


def test_data_dependent_init_on_a_linear_layer_uses_the_last_axis(float64, rng):
    wrapped = nn.WeightNorm(nn.Linear(5, 3))
    y = wrapped(tg.tensor(rng.normal(1.0, 4.0, (50, 5)))).numpy()
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(y.var(axis=0), 1, rtol=1e-8)


def test_initialised_layer_trains_and_is_differentiable(float64, rng):
    wrapped = nn.WeightNorm(ShiftedConv2d(2, 3, 3, rows=2, cols=2))
    wrapped(tg.tensor(rng.standard_normal((4, 2, 4, 4))))  # initialise
    x = tg.tensor(rng.standard_normal((2, 2, 4, 4)), requires_grad=True)
    gradcheck(lambda x, v, g: wrapped(x), [x, wrapped.v, wrapped.g])


def test_masked_kernels_are_normalised_over_the_taps_they_use(float64, rng):
    wrapped = nn.WeightNorm(ShiftedConv2d(2, 3, 3, rows=2, cols=2), data_init=False)
    w = wrapped.weight().numpy()
    assert np.all(w[:, :, 2, :] == 0) and np.all(w[:, :, :, 2] == 0)
    np.testing.assert_allclose(np.sqrt((w ** 2).sum(axis=(1, 2, 3))), wrapped.g.numpy(), rtol=1e-12)


def test_the_initialised_flag_is_saved_and_restored(float64, rng, tmp_path):
    wrapped = nn.WeightNorm(nn.Conv2d(2, 2, 1))
    wrapped(tg.tensor(rng.standard_normal((3, 2, 2, 2))))
    wrapped.save(tmp_path / "wn.npz")
    fresh = nn.WeightNorm(nn.Conv2d(2, 2, 1))
    fresh.load(tmp_path / "wn.npz")
    g = fresh.g.numpy().copy()
    fresh(tg.tensor(rng.standard_normal((3, 2, 2, 2))))  # training mode, but already initialised
    np.testing.assert_array_equal(fresh.g.numpy(), g)


def test_a_layer_without_a_weight_is_refused():
    with pytest.raises(TypeError, match="WeightNorm"):
        nn.WeightNorm(nn.ReLU())
