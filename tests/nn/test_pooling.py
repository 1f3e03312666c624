"""max_pool2d, avg_pool2d, upsample, zero_pad2d and their layers: PyTorch parity (forward and
backward, float64), tie-breaking, Keras "same" pooling, gradient checks first and second order;
the PyTorch-named layers (MaxUnpool2d, AdaptiveAvgPool2d, PixelShuffle, Upsample to a size ...),
integer pooling and errors.  The functions' own checks are in the op table (checks/ops_nn.py)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygdl as tg
import tinygdl.nn.functional as F
from tinygdl import nn
from tinygdl.testing import gradcheck, gradgradcheck


def _twin(torch, rng, shape, values=None):
    a = rng.standard_normal(shape) if values is None else values
    return tg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _compare(torch, y, t, x, xt, rng):
    np.testing.assert_allclose(y.numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12)
    gy = rng.standard_normal(y.shape)
    y.backward(tg.tensor(gy))
    t.backward(torch.tensor(gy))
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)


POOL_CASES = [(2, None, 0), (3, None, 0), (3, 2, 1), (2, 1, 0), ((3, 2), (2, 1), (1, 0)), (3, 3, 1)]


@pytest.mark.torch
@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
def test_max_pool2d_matches_torch(kernel, stride, padding, torch, rng):
    x, xt = _twin(torch, rng, (2, 3, 7, 8))
    y = F.max_pool2d(x, kernel, stride, padding)
    t = torch.nn.functional.max_pool2d(xt, kernel, stride, padding)
    _compare(torch, y, t, x, xt, rng)


@pytest.mark.torch
def test_max_pool2d_ties_send_the_gradient_to_the_first_maximum(torch, rng):
    values = rng.integers(0, 2, (2, 2, 6, 6)).astype(np.float64)  # many ties
    x, xt = _twin(torch, rng, None, values)
    y, t = F.max_pool2d(x, 3, 1, 1), torch.nn.functional.max_pool2d(xt, 3, 1, 1)
    _compare(torch, y, t, x, xt, rng)
    z = tg.tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    F.max_pool2d(z, 2).sum().backward()
    assert z.grad.numpy().ravel().tolist() == [1, 0, 0, 0]


@pytest.mark.torch
@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_matches_torch(kernel, stride, padding, count_include_pad, torch, rng):
    x, xt = _twin(torch, rng, (2, 3, 7, 8))
    y = F.avg_pool2d(x, kernel, stride, padding, count_include_pad=count_include_pad)
    t = torch.nn.functional.avg_pool2d(xt, kernel, stride, padding, count_include_pad=count_include_pad)
    _compare(torch, y, t, x, xt, rng)


def test_keras_average_pooling_2():
    """``AveragePooling2D(2)``: 2x2 windows, stride 2, valid (an odd last row is dropped)."""
    x = tg.tensor(np.arange(30.0).reshape(1, 1, 5, 6))
    y = F.avg_pool2d(x, 2).numpy()[0, 0]
    a = np.arange(30.0).reshape(5, 6)[:4]
    np.testing.assert_allclose(y, (a[0::2, 0::2] + a[0::2, 1::2] + a[1::2, 0::2] + a[1::2, 1::2]) / 4)


def test_same_pooling_follows_keras():
    """Keras "same" pooling: out = ceil(n/s); padded cells neither win a max nor count in a mean."""
    a = -np.arange(1.0, 26.0).reshape(1, 1, 5, 5)  # all negative: a zero from padding would win
    x = tg.tensor(a)
    mx = F.max_pool2d(x, 2, padding="same").numpy()[0, 0]
    av = F.avg_pool2d(x, 2, padding="same").numpy()[0, 0]
    assert mx.shape == av.shape == (3, 3)
    p = np.pad(a[0, 0], ((0, 1), (0, 1)), constant_values=np.nan)
    windows = np.stack([p[0::2, 0::2], p[0::2, 1::2], p[1::2, 0::2], p[1::2, 1::2]])
    np.testing.assert_allclose(mx, np.nanmax(windows, axis=0))
    np.testing.assert_allclose(av, np.nanmean(windows, axis=0))


@pytest.mark.torch
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("scale", [2, 3, (2, 3)])
def test_upsample_matches_torch(mode, scale, torch, rng):
    x, xt = _twin(torch, rng, (2, 3, 4, 5))
    y = F.upsample(x, scale, mode)
    factor = scale if isinstance(scale, int) else tuple(float(s) for s in scale)
    t = torch.nn.functional.interpolate(xt, scale_factor=factor, mode=mode,
                                        **({"align_corners": False} if mode == "bilinear" else {}))
    assert y.shape == tuple(t.shape)
    _compare(torch, y, t, x, xt, rng)


def test_upsample_of_a_single_pixel_broadcasts():
    """The diffusion model's embedding: (N, C, 1, 1) upsampled x64 fills the whole image."""
    x = tg.tensor(np.array([1.0, -2.0]).reshape(1, 2, 1, 1))
    for mode in ("nearest", "bilinear"):
        y = F.upsample(x, 64, mode).numpy()
        assert y.shape == (1, 2, 64, 64) and (y[0, 0] == 1).all() and (y[0, 1] == -2).all()


def test_zero_pad2d():
    a = np.arange(6.0).reshape(1, 1, 2, 3)
    np.testing.assert_array_equal(F.zero_pad2d(tg.tensor(a), ((1, 0), (2, 1))).numpy(),
                                  np.pad(a, ((0, 0), (0, 0), (1, 0), (2, 1))))
    assert F.zero_pad2d(tg.tensor(a), 2).shape == (1, 1, 6, 7)
    assert nn.ZeroPad2d((1, 2))(tg.tensor(a)).shape == (1, 1, 4, 7)


@pytest.mark.parametrize("fn", [
    lambda x: F.max_pool2d(x, 2, 1, 1),
    lambda x: F.avg_pool2d(x, 3, 2, "same"),
    lambda x: F.upsample(x, 2, "bilinear"),
    lambda x: F.upsample(x, (1, 2), "nearest"),
    lambda x: F.zero_pad2d(x, ((0, 1), (1, 2))),
], ids=["max", "avg-same", "bilinear", "nearest", "zero-pad"])
def test_gradcheck_first_and_second_order(fn, float64, rng):
    # Distinct values well apart, so that finite differences never change which cell is the max.
    values = rng.permutation(2 * 2 * 4 * 5).reshape(2, 2, 4, 5) * 0.1
    x = tg.tensor(values, requires_grad=True)
    gradcheck(fn, [x], eps=1e-4)
    gradgradcheck(fn, [x], eps=1e-4)


def test_layers():
    x = tg.tensor(np.random.default_rng(0).standard_normal((2, 3, 8, 8)))
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 4, 4)
    assert nn.AvgPool2d(2)(x).shape == (2, 3, 4, 4)
    assert nn.Upsample(2, "bilinear")(x).shape == (2, 3, 16, 16)
    np.testing.assert_array_equal(nn.UpSampling2D(size=2, interpolation="bilinear")(x).numpy(),
                                  nn.Upsample(2, "bilinear")(x).numpy())
    assert repr(nn.MaxPool2d(3, 2, 1)) == "MaxPool2d(kernel_size=3, stride=2, padding=1)"
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.Upsample(2)) == "Upsample(scale_factor=2, mode='nearest')"


def test_errors():
    expected = r"MaxPool2d\(kernel_size=2, stride=2, padding=0\): expected input \(N, C, H, W\), got \(3, 4\)"
    with pytest.raises(ValueError, match=expected):
        nn.MaxPool2d(2)(tg.zeros(3, 4))
    with pytest.raises(ValueError, match="does not fit"):
        F.avg_pool2d(tg.zeros(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match="mode must be 'nearest' or 'bilinear'"):
        F.upsample(tg.zeros(1, 1, 2, 2), 2, "bicubic")
    with pytest.raises(ValueError, match="positive integer"):
        F.upsample(tg.zeros(1, 1, 2, 2), 0)
    with pytest.raises(ValueError, match="flat 4-tuple"):
        F.zero_pad2d(tg.zeros(1, 1, 2, 2), (1, 1, 1, 1))


# --------------------------------------------------------------------------- the PyTorch-named additions


@pytest.mark.torch
@pytest.mark.parametrize("make, shape", [
    (lambda nn_: nn_.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True), (2, 3, 9, 8)),
    (lambda nn_: nn_.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), (2, 3, 8, 9)),
    (lambda nn_: nn_.AvgPool2d(2, ceil_mode=True), (1, 2, 5, 7)),
    (lambda nn_: nn_.AdaptiveAvgPool2d((3, None)), (2, 3, 8, 5)),
    (lambda nn_: nn_.AdaptiveAvgPool2d(1), (2, 3, 6, 5)),
    (lambda nn_: nn_.Upsample(size=(7, 3), mode="bilinear", align_corners=True), (1, 2, 4, 5)),
    (lambda nn_: nn_.Upsample(scale_factor=1.5, mode="bilinear", align_corners=False), (1, 2, 4, 5)),
    (lambda nn_: nn_.Upsample(scale_factor=3), (1, 2, 2, 3)),
    (lambda nn_: nn_.PixelShuffle(2), (2, 8, 3, 4)),
    (lambda nn_: nn_.PixelUnshuffle(3), (1, 2, 6, 3)),
])
def test_layers_match_torch(make, shape, torch, rng):
    x, xt = _twin(torch, rng, shape, rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1)
    _compare(torch, make(nn)(x), make(torch.nn)(xt), x, xt, rng)


@pytest.mark.torch
def test_max_pool_indices_and_unpool_layers_match_torch(torch, rng):
    shape = (2, 3, 7, 9)
    x, xt = _twin(torch, rng, shape, rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1)
    y, indices = nn.MaxPool2d(3, 2, return_indices=True)(x)
    t, tindices = torch.nn.MaxPool2d(3, 2, return_indices=True)(xt)
    np.testing.assert_array_equal(indices.numpy(), tindices.numpy())
    assert indices.dtype == np.int64 and not indices.requires_grad
    out = nn.MaxUnpool2d(3, 2)(y, indices, output_size=(7, 9))
    tout = torch.nn.MaxUnpool2d(3, 2)(t, tindices, output_size=(7, 9))
    _compare(torch, out, tout, x, xt, rng)


@pytest.mark.torch
def test_max_pool_of_integers_matches_torch(torch, rng):
    """Integer images pool too: the padding is the dtype's smallest value, not -inf."""
    a = rng.integers(-100, 0, (2, 2, 5, 6)).astype(np.int32)
    y = F.max_pool2d(tg.tensor(a), 3, 2, padding=1, ceil_mode=True)
    t = torch.nn.functional.max_pool2d(torch.tensor(a), 3, 2, padding=1, ceil_mode=True)
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y.numpy(), t.numpy())
    assert F.max_pool2d(tg.tensor(a.astype(np.uint8)), 2).dtype == np.uint8


def test_interpolate_nearest_integer_scales_repeat_pixels():
    x = tg.tensor(np.arange(6.0).reshape(1, 1, 2, 3))
    np.testing.assert_array_equal(F.interpolate(x, scale_factor=(2, 3)).numpy(),
                                  np.arange(6.0).reshape(2, 3).repeat(2, 0).repeat(3, 1)[None, None])
    np.testing.assert_array_equal(F.interpolate(x, size=(2, 3)).numpy(), x.numpy())  # same size: unchanged


def test_new_errors_name_the_op_and_shapes():
    from tinygdl.errors import ShapeError

    with pytest.raises(ShapeError, match=r"pixel_shuffle: expected .* with r=2, got shape \(1, 3, 2, 2\)"):
        F.pixel_shuffle(tg.zeros(1, 3, 2, 2), 2)
    with pytest.raises(ShapeError, match=r"pixel_unshuffle: .* got shape \(1, 1, 3, 4\)"):
        F.pixel_unshuffle(tg.zeros(1, 1, 3, 4), 2)
    with pytest.raises(ValueError, match="give exactly one of size and scale_factor"):
        F.interpolate(tg.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match="mode must be 'nearest' or 'linear' for sequences"):
        F.interpolate(tg.zeros(1, 1, 2), size=3, mode="bilinear")
    with pytest.raises(ValueError, match="align_corners goes with mode='bilinear'"):
        F.interpolate(tg.zeros(1, 1, 2, 2), scale_factor=2, align_corners=True)
    with pytest.raises(ShapeError, match=r"interpolate: expected images .* or sequences .* got shape \(2, 2\)"):
        F.interpolate(tg.zeros(2, 2), size=3)
    with pytest.raises(ShapeError, match=r"max_unpool2d: .* got \(1, 1, 2, 2\) and \(1, 1, 2, 1\)"):
        F.max_unpool2d(tg.zeros(1, 1, 2, 2), np.zeros((1, 1, 2, 1), np.int64), 2)
    with pytest.raises(ShapeError, match=r"indices must lie in \[0, 16\)"):
        F.max_unpool2d(tg.zeros(1, 1, 2, 2), np.full((1, 1, 2, 2), 16), 2)
    with pytest.raises(ShapeError, match=r"AdaptiveAvgPool2d\(output_size=2\): expected input \(N, C, H, W\)"):
        nn.AdaptiveAvgPool2d(2)(tg.zeros(3, 4))
    assert repr(nn.MaxPool2d(2, ceil_mode=True)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, ceil_mode=True)"
    assert repr(nn.Upsample(size=(3, 4), mode="bilinear", align_corners=True)) == \
        "Upsample(size=(3, 4), mode='bilinear', align_corners=True)"


def test_averaging_integer_images_gives_the_default_float_dtype(rng):
    """avg_pool2d, adaptive_avg_pool2d and bilinear interpolate average integers in float32 (PyTorch
    refuses integers there); nearest interpolation copies them and keeps the dtype."""
    a = rng.integers(0, 255, (1, 2, 4, 6)).astype(np.uint8)
    x, xf = tg.tensor(a), tg.tensor(a.astype(np.float32))
    for fn in (lambda t: F.avg_pool2d(t, 2, ceil_mode=True), lambda t: F.adaptive_avg_pool2d(t, (3, 2)),
               lambda t: F.interpolate(t, size=(5, 3), mode="bilinear")):
        assert fn(x).dtype == np.float32
        np.testing.assert_array_equal(fn(x).numpy(), fn(xf).numpy())
    assert F.interpolate(x, scale_factor=1.5).dtype == np.uint8
