"""Batch-wise transforms; resize is checked against PyTorch's bilinear interpolation."""

import numpy as np
import pytest

from tinygdl.backend import get_default_dtype
from tinygdl.data import (
    one_hot,
    pad,
    quantize,
    resize,
    scale_to_symmetric,
    scale_to_unit,
    to_float_nchw,
    to_nchw,
    to_nhwc,
    to_uint8,
)


def test_scaling():
    x = np.array([0, 51, 255], np.uint8)
    np.testing.assert_allclose(scale_to_unit(x), [0, 0.2, 1], rtol=1e-6)
    np.testing.assert_allclose(scale_to_symmetric(x), [-1, 51 / 127.5 - 1, 1], rtol=1e-6)
    assert scale_to_unit(x).dtype == get_default_dtype()
    assert scale_to_unit(np.array([16.0]), max_value=16).tolist() == [1.0]


def test_to_uint8_inverts_scaling_and_clips():
    x = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(to_uint8(scale_to_unit(x)), x)
    np.testing.assert_array_equal(to_uint8(scale_to_symmetric(x), value_range=(-1, 1)), x)
    assert to_uint8(np.array([-0.5, 2.0])).tolist() == [0, 255]


def test_layouts():
    nhwc = np.arange(2 * 4 * 5 * 3).reshape(2, 4, 5, 3)
    nchw = to_nchw(nhwc)
    assert nchw.shape == (2, 3, 4, 5) and nchw[1, 2, 3, 4] == nhwc[1, 3, 4, 2]
    np.testing.assert_array_equal(to_nhwc(nchw), nhwc)
    assert to_nchw(np.zeros((7, 28, 28))).shape == (7, 1, 28, 28)
    with pytest.raises(ValueError):
        to_nchw(np.zeros((28, 28)))


def test_to_float_nchw():
    images = np.full((2, 32, 32, 3), 255, np.uint8)
    x = to_float_nchw(images)
    assert x.shape == (2, 3, 32, 32) and x.dtype == get_default_dtype() and x.max() == 1
    assert to_float_nchw(np.zeros((2, 8, 8), np.uint8), symmetric=True).min() == -1


def test_pad_28_to_32():
    x = np.ones((3, 1, 28, 28), np.uint8)
    padded = pad(x)
    assert padded.shape == (3, 1, 32, 32) and padded.dtype == np.uint8
    assert padded.sum() == x.sum() and padded[0, 0, 2, 2] == 1 and padded[0, 0, 1, 2] == 0
    assert pad(np.ones((2, 28, 28)), width=1, value=-1)[0, 0, 0] == -1


def test_quantize_pixelcnn_levels():
    x = np.array([0, 63, 64, 127, 128, 191, 192, 255], np.uint8)
    assert quantize(x, 4).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert quantize(np.array([255.0, 300.0, -3.0]), 4).tolist() == [3, 3, 0]
    assert quantize(x, 4).dtype == np.int64


def test_one_hot():
    encoded = one_hot(np.array([[2, 0]]), 3)
    assert encoded.shape == (1, 2, 3) and encoded.dtype == get_default_dtype()
    assert encoded.tolist() == [[[0, 0, 1], [1, 0, 0]]]
    assert one_hot(np.array([1]), 3, on_value=1, off_value=-1).tolist() == [[-1, 1, -1]]
    with pytest.raises(ValueError, match="0..2"):
        one_hot(np.array([3]), 3)


@pytest.mark.torch
@pytest.mark.parametrize("in_size,out_size", [((28, 28), (16, 16)), ((32, 32), (64, 64)), ((7, 10), (13, 4)),
                                              ((5, 5), (5, 5)), ((1, 3), (4, 6))])
def test_resize_matches_torch_bilinear(torch, in_size, out_size):
    x = np.random.default_rng(0).random((2, 3) + in_size).astype(np.float32)
    expected = torch.nn.functional.interpolate(torch.from_numpy(x), size=out_size, mode="bilinear",
                                               align_corners=False, antialias=False).numpy()
    result = resize(x, out_size)
    assert result.shape == expected.shape and result.dtype == np.float32
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.torch
def test_resize_uint8_grey_batch_keeps_the_0_255_scale(torch):
    x = np.random.default_rng(1).integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    expected = torch.nn.functional.interpolate(torch.from_numpy(x[:, None].astype(np.float32)), size=(16, 16),
                                               mode="bilinear", align_corners=False).numpy()[:, 0]
    np.testing.assert_allclose(resize(x, 16), expected, rtol=1e-5, atol=1e-3)
