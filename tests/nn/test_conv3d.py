"""``Conv3d`` / ``conv3d``: MuseGAN's critic layers against PyTorch (forward, gradients, and the
gradient of a gradient), Keras's ``same`` output sizes, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import tinygdl as tg
from tinygdl import nn
from tinygdl.testing import assert_close, gradgradcheck

# The book's critic (kernel, stride, padding) on (N, 4 tracks, 2 bars, 16 steps, 84 pitches),
# with the output each gives (book-models: NCDHW).
CRITIC = [
    ((2, 1, 1), 1, "valid", (1, 16, 84)),
    ((1, 1, 1), 1, "valid", (1, 16, 84)),
    ((1, 1, 12), (1, 1, 12), "same", (1, 16, 7)),
    ((1, 1, 7), (1, 1, 7), "same", (1, 16, 1)),
    ((1, 2, 1), (1, 2, 1), "same", (1, 8, 1)),
    ((1, 2, 1), (1, 2, 1), "same", (1, 4, 1)),
    ((1, 4, 1), (1, 2, 1), "same", (1, 2, 1)),
    ((1, 3, 1), (1, 2, 1), "same", (1, 1, 1)),
]


def torch_same_pad(torch, x, kernel, stride):
    """Keras's "same" padding for PyTorch: ``floor(P/2)`` before, the rest after, on each axis."""
    pads = []
    for n, k, s in zip(x.shape[2:], kernel, stride):
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return torch.nn.functional.pad(x, [v for pair in reversed(pads) for v in pair])


def twin_layers(torch, width, dtype):
    """The critic's eight Conv3d layers at ``width`` channels in both engines, same weights (build
    them under the default dtype ``dtype``)."""
    ours, theirs = [], []
    rng = np.random.default_rng(0)
    in_channels = 4
    for kernel, stride, padding, _ in CRITIC:
        layer = nn.Conv3d(in_channels, width, kernel, stride, padding)
        weight = rng.normal(0, 0.2, layer.weight.shape).astype(dtype)
        bias = rng.normal(0, 0.1, width).astype(dtype)
        layer.weight.data[...], layer.bias.data[...] = weight, bias
        ours.append(layer)
        theirs.append((torch.tensor(weight, requires_grad=True), torch.tensor(bias, requires_grad=True),
                       kernel, stride if isinstance(stride, tuple) else (stride,) * 3, padding))
        in_channels = width
    return ours, theirs


def run_tinygdl(layers, x):
    for layer in layers:
        x = tg.leaky_relu(layer(x), 0.3)
    return x


def run_torch(torch, layers, x):
    for weight, bias, kernel, stride, padding in layers:
        if padding == "same":
            x = torch_same_pad(torch, x, kernel, stride)
        x = torch.nn.functional.leaky_relu(torch.nn.functional.conv3d(x, weight, bias, stride=stride), 0.3)
    return x


def test_the_book_critic_shapes_and_parameter_counts():
    x = tg.zeros(1, 4, 2, 16, 84)
    counts = []
    in_channels = 4
    widths = [128] * 6 + [256, 512]
    for (kernel, stride, padding, shape), width in zip(CRITIC, widths):
        layer = nn.Conv3d(in_channels, width, kernel, stride, padding)
        x = layer(x)
        assert x.shape[2:] == shape
        counts.append(sum(p.size for p in layer.parameters()))
        in_channels = width
    assert counts == [1152, 16512, 196736, 114816, 32896, 32896, 131328, 393728]


@pytest.mark.torch
def test_critic_stack_matches_torch_to_second_order(torch, float64):
    """Forward, input and weight gradients, and the gradient of the squared input-gradient norm
    (what a gradient penalty differentiates) agree with PyTorch in float64."""
    ours, theirs = twin_layers(torch, 3, np.float64)
    rng = np.random.default_rng(1)
    x_np = rng.standard_normal((2, 4, 2, 16, 84))
    x = tg.Tensor(x_np, requires_grad=True)
    xt = torch.tensor(x_np, requires_grad=True)
    y, yt = run_tinygdl(ours, x), run_torch(torch, theirs, xt)
    assert_close(y, yt.detach(), rtol=1e-10, atol=1e-12)

    (gx,) = tg.grad(y.sum(), [x], create_graph=True)
    (gxt,) = torch.autograd.grad(yt.sum(), xt, create_graph=True)
    assert_close(gx, gxt.detach(), rtol=1e-10, atol=1e-12)
    penalty, penalty_t = (gx * gx).sum(), (gxt * gxt).sum()
    params = [p for layer in ours for p in (layer.weight, layer.bias)]
    params_t = [p for layer in theirs for p in layer[:2]]
    grads = tg.grad(penalty, params, allow_unused=True)
    grads_t = torch.autograd.grad(penalty_t, params_t, allow_unused=True)
    # LeakyReLU's slope is piecewise constant, so the penalty does not depend on the biases: tinygdl
    # has no path to them (None), PyTorch returns zeros.
    for p, g, gt in zip(params, grads, grads_t):
        assert_close(np.zeros(p.shape) if g is None else g, gt, rtol=1e-9, atol=1e-12)
    assert all(g is not None for g in grads[0::2])


@pytest.mark.torch
def test_float32_layer_matches_torch(torch):
    layer = nn.Conv3d(3, 4, (1, 4, 3), stride=(1, 2, 3), padding="same")
    x = np.random.default_rng(2).standard_normal((2, 3, 2, 8, 9)).astype(np.float32)
    y = layer(tg.Tensor(x))
    expected = torch.nn.functional.conv3d(torch_same_pad(torch, torch.from_numpy(x), (1, 4, 3), (1, 2, 3)),
                                          torch.from_numpy(layer.weight.numpy()), torch.from_numpy(layer.bias.numpy()),
                                          stride=(1, 2, 3))
    assert y.dtype == np.float32
    assert_close(y, expected, rtol=1e-5, atol=1e-5)


def test_each_cpu_kernel_flavour_gives_the_same_second_derivative(cpu_kernels, float64):
    layer = nn.Conv3d(2, 2, (2, 2, 1), stride=(1, 2, 1), padding="same")
    x = tg.randn(1, 2, 2, 4, 3, requires_grad=True)
    assert gradgradcheck(lambda x, w, b: tg.ops.conv3d(x, w, b, (1, 2, 1), "same"), [x, layer.weight, layer.bias])


def test_errors_name_the_layer_and_the_shapes():
    layer = nn.Conv3d(4, 8, (2, 1, 1))
    with pytest.raises(ValueError, match=r"Conv3d.*\(N, 4, D, H, W\).*\(1, 3, 2, 2, 2\)"):
        layer(tg.zeros(1, 3, 2, 2, 2))
    with pytest.raises(ValueError, match="does not fit"):
        layer(tg.zeros(1, 4, 1, 2, 2))
    with pytest.raises(ValueError, match="triple"):
        nn.Conv3d(1, 1, (1, 2))
    with pytest.raises(ValueError, match="padding"):
        tg.ops.conv3d(tg.zeros(1, 1, 2, 2, 2), tg.zeros(1, 1, 1, 1, 1), padding=(1, 1))
    assert "kernel_size=(2, 1, 1)" in repr(layer)


@pytest.mark.gpu
def test_cuda_matches_cpu_to_second_order(float64):
    """conv3d on CuPy (the CUDA vol2col/col2vol kernels) against the CPU: output, gradients, and the
    weight gradient of the squared input-gradient norm."""
    rng = np.random.default_rng(3)
    x_np, w_np, b_np = (rng.standard_normal(shape) for shape in ((2, 3, 2, 8, 12), (4, 3, 2, 3, 4), (4,)))
    results = []
    for device in ("cpu", "cuda"):
        x, w, b = (tg.tensor(a, device=device, requires_grad=True) for a in (x_np, w_np, b_np))
        y = tg.ops.conv3d(x, w, b, stride=(1, 2, 4), padding="same")
        (gx,) = tg.grad((y * y).sum(), [x], create_graph=True)
        (gw,) = tg.grad((gx * gx).sum(), [w])
        results.append([t.to("cpu").numpy() for t in (y, gx, gw)])
    for cpu, gpu in zip(*results):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-10, atol=1e-10)
