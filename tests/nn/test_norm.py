"""Normalization layers and functions: batch norm (both momentum conventions, running statistics,
train/eval, affine off), layer, group and instance norm; gradients to second order; PyTorch parity."""

from __future__ import annotations

import numpy as np
import pytest

import tinygdl
from tinygdl import nn
from tinygdl.nn import functional as F
from tinygdl.testing import assert_close, gradcheck, gradgradcheck


def randomize_affine(layer, rng):
    """Non-trivial γ, β (they start at 1 and 0, which would hide mistakes)."""
    for p in layer.parameters():
        p.data[...] = rng.standard_normal(p.shape)


def torch_batch_norm(torch, ours):
    """The PyTorch twin of one of our BatchNorm layers, with the same γ, β and statistics."""
    cls = torch.nn.BatchNorm2d if isinstance(ours, nn.BatchNorm2d) else torch.nn.BatchNorm1d
    theirs = cls(ours.num_features, eps=ours.eps, momentum=ours.new_value_weight,
                 affine=ours.weight is not None).double()
    with torch.no_grad():
        for name, tensor in ours.state_dict().items():
            getattr(theirs, name).copy_(torch.tensor(tensor.numpy()))
    return theirs


# --------------------------------------------------------------------------- BatchNorm: conventions and bookkeeping


def test_batchnorm_defaults_are_keras():
    bn = nn.BatchNorm2d(32)
    assert (bn.momentum, bn.eps, bn.momentum_convention) == (0.99, 1e-3, "keras")
    assert bn.new_value_weight == pytest.approx(0.01)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var"]
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var"]
    assert bn.num_parameters() == 64 and sum(b.size for b in bn.buffers(persistent_only=True)) == 64
    assert repr(bn) == "BatchNorm2d(32, momentum=0.99 (keras), eps=0.001, scale=True, center=True)"


def test_keras_and_torch_momenta_are_complements():
    assert nn.BatchNorm2d(4, momentum=0.9).new_value_weight == pytest.approx(0.1)
    assert nn.BatchNorm2d(4, momentum=0.1, momentum_convention="torch").new_value_weight == 0.1
    with pytest.raises(ValueError, match="'keras' or 'torch'"):
        nn.BatchNorm2d(4, momentum_convention="pytorch")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nn.BatchNorm2d(4, momentum=1.5)


def test_running_variance_correction_follows_the_framework():
    assert nn.BatchNorm2d(3).unbiased  # Keras's fused kernel (4-D) and PyTorch both correct
    assert not nn.BatchNorm1d(3).unbiased  # Keras's non-fused path (2-D, 3-D) does not
    assert nn.BatchNorm1d(3, momentum=0.1, momentum_convention="torch").unbiased
    assert nn.BatchNorm1d(3, unbiased=True).unbiased


def test_affine_off_removes_gamma_and_beta():
    bn = nn.BatchNorm2d(8, center=False, scale=False)  # the diffusion U-Net's BN
    assert bn.weight is None and bn.bias is None and bn.parameters() == []
    assert list(bn.state_dict()) == ["running_mean", "running_var"]  # 2·C, book-models §3.14
    assert nn.BatchNorm2d(8, affine=False).parameters() == []
    only_scale = nn.BatchNorm2d(8, center=False)
    assert only_scale.bias is None and only_scale.weight.shape == (8,)


@pytest.mark.parametrize("layer, shape, message", [
    (nn.BatchNorm2d(32), (2, 16, 4, 4), r"BatchNorm2d\(32.*\(N, 32, H, W\), got \(2, 16, 4, 4\)"),
    (nn.BatchNorm2d(32), (2, 32), r"\(N, 32, H, W\), got \(2, 32\)"),
    (nn.BatchNorm1d(8), (2, 8, 3, 3), r"BatchNorm1d\(8.*\(N, 8\) or \(N, 8, L\), got \(2, 8, 3, 3\)"),
    (nn.LayerNorm(6), (2, 5), r"LayerNorm\(\(6,\).*\(\.\.\., 6\), got \(2, 5\)"),
    (nn.GroupNorm(2, 8), (2, 6, 3), r"GroupNorm\(2, 8.*\(N, 8, \.\.\.\), got \(2, 6, 3\)"),
    (nn.InstanceNorm2d(3), (2, 3, 4), r"InstanceNorm2d\(3.*\(N, 3, H, W\), got \(2, 3, 4\)"),
])
def test_shape_errors_name_the_layer_and_both_shapes(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer(tinygdl.zeros(shape))


def test_training_needs_two_values_per_channel():
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.BatchNorm1d(3)(tinygdl.zeros(1, 3))


# --------------------------------------------------------------------------- BatchNorm: behaviour


def test_batchnorm_train_normalizes_with_the_batch_and_eval_with_running_stats(rng):
    bn = nn.BatchNorm2d(3)
    x = rng.standard_normal((8, 3, 4, 4)) * 5 + 2
    y = bn(tinygdl.tensor(x, dtype=np.float32)).numpy()
    assert np.abs(y.mean(axis=(0, 2, 3))).max() < 1e-5
    assert y.var(axis=(0, 2, 3)) == pytest.approx(x.var(axis=(0, 2, 3)) / (x.var(axis=(0, 2, 3)) + 1e-3))
    mean, var = bn.running_mean.numpy(), bn.running_var.numpy()
    assert_close(mean, 0.01 * x.mean(axis=(0, 2, 3)), rtol=1e-5)
    n = 8 * 4 * 4
    assert_close(var, 0.99 + 0.01 * x.var(axis=(0, 2, 3)) * n / (n - 1), rtol=1e-5)
    bn.eval()
    y_eval = bn(tinygdl.tensor(x, dtype=np.float32)).numpy()
    expected = (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-3)
    assert_close(y_eval, expected, rtol=1e-5, atol=1e-6)
    bn(tinygdl.tensor(x, dtype=np.float32))
    assert_close(bn.running_mean, mean)  # eval mode leaves the statistics alone


def test_each_training_call_updates_the_running_stats_once(rng):
    bn = nn.BatchNorm1d(4, momentum=0.5)
    x = tinygdl.tensor(rng.standard_normal((6, 4)), dtype=np.float32)
    bn(x)
    after_one = bn.running_mean.numpy().copy()
    bn(x)
    assert_close(bn.running_mean, after_one * 1.5, rtol=1e-6)  # 0.5·m + 0.5·batch, batch = 2m


def test_keras_running_variance_for_dense_features_is_biased(rng):
    x = rng.standard_normal((5, 3))
    bn = nn.BatchNorm1d(3, momentum=0.0)  # Keras momentum 0: the running stats become the batch's
    bn(tinygdl.tensor(x, dtype=np.float32))
    assert_close(bn.running_var, x.var(axis=0), rtol=1e-5)
    bn = nn.BatchNorm1d(3, momentum=0.0, unbiased=True)
    bn(tinygdl.tensor(x, dtype=np.float32))
    assert_close(bn.running_var, x.var(axis=0, ddof=1), rtol=1e-5)


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.BatchNorm2d(3, momentum=0.9), (4, 3, 5, 5)),
    (lambda: nn.BatchNorm1d(3, momentum=0.1, momentum_convention="torch"), (6, 3)),
    (lambda: nn.BatchNorm1d(3, momentum=0.1, momentum_convention="torch"), (4, 3, 7)),
    (lambda: nn.BatchNorm2d(3, center=False, scale=False), (4, 3, 2, 2)),
])
def test_batchnorm_matches_pytorch_over_several_steps(make, shape, torch, rng, float64):
    ours = make()
    randomize_affine(ours, rng)
    theirs = torch_batch_norm(torch, ours)
    for step in range(4):
        x = rng.standard_normal(shape) * (step + 1) + step
        g = rng.standard_normal(shape)
        xt, tx = tinygdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ours.zero_grad()
        theirs.zero_grad()
        y, ty = ours(xt), theirs(tx)
        y.backward(tinygdl.tensor(g))
        ty.backward(torch.tensor(g))
        assert_close(y, ty, rtol=1e-10, atol=1e-12)
        assert_close(xt.grad, tx.grad, rtol=1e-9, atol=1e-11)
        for ours_p, theirs_p in zip(ours.parameters(), theirs.parameters()):
            assert_close(ours_p.grad, theirs_p.grad, rtol=1e-9, atol=1e-11)
    assert_close(ours.running_mean, theirs.running_mean, rtol=1e-12)
    assert_close(ours.running_var, theirs.running_var, rtol=1e-12)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape)
    assert_close(ours(tinygdl.tensor(x)), theirs(torch.tensor(x)), rtol=1e-10, atol=1e-12)


def test_batchnorm_gradients_to_second_order_in_training_mode(float64, rng):
    bn = nn.BatchNorm2d(2)
    randomize_affine(bn, rng)
    x = tinygdl.tensor(rng.standard_normal((3, 2, 2, 2)), requires_grad=True)
    gradcheck(lambda x, w, b: bn(x), [x, bn.weight, bn.bias])
    # A gradient penalty differentiates a gradient that flowed through BN: double backward.
    gradgradcheck(lambda x, w, b: bn(x), [x, bn.weight, bn.bias])
    gradgradcheck(lambda x, w, b: bn(x).tanh(), [x, bn.weight, bn.bias])


def test_batchnorm_gradients_in_eval_mode(float64, rng):
    bn = nn.BatchNorm1d(3)
    randomize_affine(bn, rng)
    bn.running_var.data[...] = rng.random(3) + 0.5
    bn.eval()
    x = tinygdl.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    gradcheck(lambda x, w, b: bn(x), [x, bn.weight, bn.bias])
    gradgradcheck(lambda x, w, b: bn(x) * bn(x), [x, bn.weight, bn.bias])


def test_functional_batch_norm_without_running_stats_uses_the_batch(rng):
    x = rng.standard_normal((5, 2, 3))
    y = F.batch_norm(tinygdl.tensor(x), training=False, eps=0.0).numpy()
    expected = (x - x.mean(axis=(0, 2), keepdims=True)) / x.std(axis=(0, 2), keepdims=True)
    assert_close(y, expected, rtol=1e-9)


# --------------------------------------------------------------------------- LayerNorm, GroupNorm, InstanceNorm


def test_layernorm_matches_pytorch(torch, rng, float64):
    ours = nn.LayerNorm(6, eps=1e-6)  # the book's Transformers use ε = 1e-6
    randomize_affine(ours, rng)
    theirs = torch.nn.LayerNorm(6, eps=1e-6).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.numpy()))
    x, g = rng.standard_normal((2, 5, 6)), rng.standard_normal((2, 5, 6))
    xt, tx = tinygdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours(xt).backward(tinygdl.tensor(g))
    theirs(tx).backward(torch.tensor(g))
    assert_close(ours(xt), theirs(tx), rtol=1e-10, atol=1e-12)
    assert_close(xt.grad, tx.grad, rtol=1e-9, atol=1e-11)
    assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-9)
    assert_close(ours.bias.grad, theirs.bias.grad, rtol=1e-9)
    assert ours.num_parameters() == 12  # 2·D, as the book's LayerNorm(256) has 512


def test_layernorm_over_several_axes_and_without_affine(rng):
    x = rng.standard_normal((2, 3, 4))
    y = nn.LayerNorm((3, 4), eps=0.0, affine=False)(tinygdl.tensor(x)).numpy()
    expected = (x - x.mean(axis=(1, 2), keepdims=True)) / x.std(axis=(1, 2), keepdims=True)
    assert_close(y, expected, rtol=1e-9)


@pytest.mark.parametrize("ours, theirs_args", [
    (lambda: nn.GroupNorm(2, 6), ("GroupNorm", 2, 6)),
    (lambda: nn.InstanceNorm2d(6, affine=True), ("InstanceNorm2d", 6)),
])
def test_group_and_instance_norm_match_pytorch(ours, theirs_args, torch, rng, float64):
    ours = ours()
    randomize_affine(ours, rng)
    name, *args = theirs_args
    kwargs = {"affine": True} if name == "InstanceNorm2d" else {}
    theirs = getattr(torch.nn, name)(*args, eps=1e-3, **kwargs).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.numpy()))
    x, g = rng.standard_normal((2, 6, 3, 4)), rng.standard_normal((2, 6, 3, 4))
    xt, tx = tinygdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(xt), theirs(tx)
    y.backward(tinygdl.tensor(g))
    ty.backward(torch.tensor(g))
    assert_close(y, ty, rtol=1e-10, atol=1e-12)
    assert_close(xt.grad, tx.grad, rtol=1e-9, atol=1e-11)
    assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-9)


def test_instance_norm_defaults_and_functional(torch, rng):
    layer = nn.InstanceNorm2d(3)
    assert layer.parameters() == [] and repr(layer) == "InstanceNorm2d(3, eps=0.001, affine=False)"
    x = rng.standard_normal((2, 3, 4, 4))
    expected = torch.nn.functional.instance_norm(torch.tensor(x), eps=1e-3)
    assert_close(F.instance_norm(tinygdl.tensor(x)), expected, rtol=1e-10, atol=1e-12)
    assert_close(layer(tinygdl.tensor(x)), expected, rtol=1e-10, atol=1e-12)


def test_group_norm_needs_divisible_channels():
    with pytest.raises(ValueError, match="num_channels=6 is not divisible by num_groups=4"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="divisible by num_groups=4"):
        F.group_norm(tinygdl.zeros(2, 6, 3), 4)


@pytest.mark.parametrize("fn", [
    lambda x, w, b: F.layer_norm(x, (3, 2), w.reshape(3, 2), b.reshape(3, 2)),
    lambda x, w, b: F.group_norm(x, 3, w, b),
    lambda x, w, b: F.instance_norm(x, w, b),
])
def test_layer_group_instance_norm_gradients_to_second_order(fn, float64, rng):
    x = tinygdl.tensor(rng.standard_normal((2, 6, 3, 2)), requires_grad=True)
    w = tinygdl.tensor(rng.standard_normal(6), requires_grad=True)
    b = tinygdl.tensor(rng.standard_normal(6), requires_grad=True)
    gradcheck(fn, [x, w, b])
    gradgradcheck(fn, [x, w, b])
