"""Initializers: fans for each kernel layout, the spread of each distribution, dtype, seeding, lookup."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygdl
from tinygdl.nn import init

# --------------------------------------------------------------------------- fans


@pytest.mark.parametrize("shape, kind, expected", [
    ((3072, 200), "dense", (3072, 200)),
    ((32, 3, 3, 3), "conv", (27, 288)),  # (C_out, C_in, kh, kw): C_in·9, C_out·9
    ((64, 32, 3, 3, 3), "conv", (864, 1728)),  # a 3-D kernel
    ((3, 32, 4, 4), "conv_transpose", (512, 48)),  # (C_in, C_out, kh, kw): fan_in counts C_out
    ((256, 2, 256), "keras", (512, 65536)),  # GPT query kernel: heads·d, key_dim·d
    ((2, 256, 256), "keras", (512, 512)),  # GPT output kernel: key_dim·heads, d·heads
    ((100, 512), "keras", (100, 512)),  # rank 2: the dense rule
], ids=["dense", "image-kernel", "volume-kernel", "transposed-kernel", "gpt-query", "gpt-output", "keras-rank-2"])
def test_fans(shape, kind, expected):
    assert init.fans(shape, kind) == expected


def test_fans_agree_with_pytorch_for_image_kernels(torch):
    for shape in [(32, 3, 3, 3), (3, 32, 4, 4), (8, 5, 2, 1)]:
        assert init.fans(shape, "conv") == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


def test_fans_errors():
    with pytest.raises(ValueError, match="unknown kind 'dens'"):
        init.fans((3, 4), "dens")
    with pytest.raises(ValueError, match="2-D"):
        init.fans((3, 4, 5), "dense")
    with pytest.raises(ValueError, match="kind 'conv'"):
        init.fans((3, 4), "conv")


# --------------------------------------------------------------------------- variance scaling


@pytest.mark.parametrize("name, limit", [
    ("glorot_uniform", math.sqrt(6 / (300 + 200))),
    ("he_uniform", math.sqrt(6 / 300)),
    ("lecun_uniform", math.sqrt(3 / 300)),
])
def test_uniform_variance_scaling_limits(name, limit):
    w = init.get(name)((300, 200)).numpy()
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit  # 60,000 draws reach the edge
    assert w.var() == pytest.approx(limit**2 / 3, rel=0.03)


@pytest.mark.parametrize("name, variance", [
    ("glorot_normal", 2 / (300 + 200)),
    ("he_normal", 2 / 300),
    ("lecun_normal", 1 / 300),
])
def test_truncated_normal_variance_scaling(name, variance):
    w = init.get(name)((300, 200)).numpy()
    std = math.sqrt(variance)
    assert w.var() == pytest.approx(variance, rel=0.03)  # the truncation is compensated
    assert np.abs(w).max() <= 2 * std / 0.87962566103423978 + 1e-7  # nothing beyond two (widened) std


def test_book_attention_kernel_limits():
    """book-models §1.3: GPT q/k/v ±0.00953, output ±0.0765; music model q/k/v ±0.00948, output ±0.0484."""
    for shape, limit in [((256, 2, 256), 0.00953), ((2, 256, 256), 0.0765),
                         ((256, 5, 256), 0.00948), ((5, 256, 256), 0.0484)]:
        fan_in, fan_out = init.fans(shape, "keras")
        assert math.sqrt(6 / (fan_in + fan_out)) == pytest.approx(limit, abs=5e-5)
        assert np.abs(init.glorot_uniform(shape, kind="keras").numpy()).max() <= limit + 5e-5


def test_image_kernel_kind_changes_the_fans():
    w = init.he_uniform((16, 8, 3, 3), kind="conv").numpy()
    assert np.abs(w).max() <= math.sqrt(6 / 72)


def test_pytorch_names_are_aliases():
    assert init.xavier_uniform is init.glorot_uniform and init.kaiming_normal is init.he_normal


# --------------------------------------------------------------------------- other initializers


def test_orthogonal_rows_or_columns_are_orthonormal():
    wide = init.orthogonal((32, 128)).numpy().astype(np.float64)  # an LSTM recurrent kernel (H, 4H)
    np.testing.assert_allclose(wide @ wide.T, np.eye(32), atol=1e-5)
    tall = init.orthogonal((40, 10)).numpy().astype(np.float64)
    np.testing.assert_allclose(tall.T @ tall, np.eye(10), atol=1e-5)
    scaled = init.orthogonal((6, 6), gain=2.0).numpy().astype(np.float64)
    np.testing.assert_allclose(scaled @ scaled.T, 4 * np.eye(6), atol=1e-5)
    assert init.orthogonal((2, 3, 4)).shape == (2, 3, 4)


def test_fixed_distributions():
    w = init.normal(0.02, mean=1.0)((200, 100)).numpy()
    assert w.mean() == pytest.approx(1.0, abs=1e-3) and w.std() == pytest.approx(0.02, rel=0.03)
    u = init.uniform(-0.05, 0.05)((200, 100)).numpy()
    assert -0.05 <= u.min() < -0.049 and 0.049 < u.max() <= 0.05
    np.testing.assert_array_equal(init.constant(3.0)((2, 2)).numpy(), np.full((2, 2), 3.0))
    np.testing.assert_array_equal(init.zeros((3,)).numpy(), np.zeros(3))
    np.testing.assert_array_equal(init.ones((3,)).numpy(), np.ones(3))


@pytest.mark.parametrize("initializer", [init.glorot_uniform, init.he_normal, init.orthogonal, init.zeros,
                                         init.normal(0.02), init.uniform(-1, 1)])
def test_draws_in_the_default_dtype(initializer, float64):
    assert initializer((4, 5)).dtype == np.float64


def test_default_dtype_is_float32_and_result_needs_no_grad():
    w = init.glorot_uniform((4, 5))
    assert w.dtype == np.float32 and not w.requires_grad


def test_manual_seed_makes_draws_reproducible():
    tinygdl.manual_seed(7)
    a = init.glorot_normal((5, 5)).numpy()
    tinygdl.manual_seed(7)
    b = init.glorot_normal((5, 5)).numpy()
    np.testing.assert_array_equal(a, b)


def test_get_resolves_names_and_passes_callables_through():
    assert init.get("he_uniform") is init.he_uniform
    assert init.get("kaiming_uniform") is init.he_uniform
    custom = init.normal(0.02)
    assert init.get(custom) is custom
    with pytest.raises(ValueError, match="unknown initializer 'glorot'.*glorot_uniform"):
        init.get("glorot")
