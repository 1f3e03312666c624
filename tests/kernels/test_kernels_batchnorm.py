"""The batch-norm kernels (training mode): the reference against the definition, every flavour against the reference."""

from __future__ import annotations

import numpy as np
import pytest
from tinygdl.kernels import reference

from tinygdl import kernels
from tinygdl.backend import to_device, to_numpy

SHAPES = [(5, 3), (4, 7, 6), (8, 4, 5, 6), (2, 3, 2, 4, 3), (1, 2, 1, 1)]
EPS = 1e-3


def tolerance(dtype):
    return dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)


def inputs(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3 + 50).astype(dtype)  # a large mean: E[x²] − E[x]² would cancel
    gy = rng.standard_normal(shape).astype(dtype)
    weight, bias = (rng.standard_normal(shape[1]).astype(dtype) for _ in range(2))
    return x, gy, weight, bias


def test_reference_follows_the_definition():
    x, gy, weight, bias = inputs((6, 3, 4, 5), np.float64)
    axes = (0, 2, 3)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    y, got_mean, got_var = reference.batch_norm(x, weight, bias, EPS)
    x_hat = (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + EPS)
    np.testing.assert_allclose(y, x_hat * weight[:, None, None] + bias[:, None, None], rtol=1e-13)
    np.testing.assert_allclose(got_mean, mean, rtol=1e-14)
    np.testing.assert_allclose(got_var, var, rtol=1e-12)


def test_reference_gradients_match_finite_differences():
    x, gy, weight, bias = inputs((3, 2, 2, 2), np.float64, seed=1)

    def loss(x, weight, bias):
        return float((reference.batch_norm(x, weight, bias, EPS)[0] * gy).sum())

    _, mean, var = reference.batch_norm(x, weight, bias, EPS)
    grads = reference.batch_norm_grad(x, gy, weight, mean, 1 / np.sqrt(var + EPS))
    for index, (array, grad) in enumerate(zip((x, weight, bias), grads)):
        numeric = np.zeros_like(array)
        for i in np.ndindex(array.shape):
            args = [x.copy(), weight.copy(), bias.copy()]
            args[index][i] += 1e-6
            up = loss(*args)
            args[index][i] -= 2e-6
            numeric[i] = (up - loss(*args)) / 2e-6
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("strided", [False, True], ids=["contiguous", "strided"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda t: np.dtype(t).name)
def test_flavour_matches_reference(flavour, dtype, shape, strided):
    x, gy, weight, bias = inputs(shape, dtype)
    if strided:
        x, gy = x[..., ::-1], gy[..., ::-1]  # same shape, negative strides
    want = reference.batch_norm(x, weight, bias, EPS)
    inv_std = (1 / np.sqrt(want[2] + EPS)).astype(dtype)
    want_grads = reference.batch_norm_grad(x, gy, weight, want[1], inv_std)
    on = [to_device(a, "cuda") if flavour == "cupy" else a for a in (x, gy, weight, bias, want[1], inv_std)]
    got = kernels.implementation("batch_norm", flavour)(on[0], on[2], on[3], EPS)
    got_grads = kernels.implementation("batch_norm_grad", flavour)(on[0], on[1], on[2], on[4], on[5])
    for g, w in zip((*got, *got_grads), (*want, *want_grads)):
        assert g.dtype == dtype and g.shape == w.shape
        np.testing.assert_allclose(to_numpy(g), w, **tolerance(dtype))
