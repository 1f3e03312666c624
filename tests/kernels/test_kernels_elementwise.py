"""The fused element-wise kernels: Adam's update and the leaky ReLU, every flavour against the reference."""

from __future__ import annotations

import numpy as np
import pytest
from tinygdl.kernels import reference

from tinygdl import kernels
from tinygdl.backend import to_device, to_numpy

DTYPES = [np.float32, np.float64]
SHAPES = [(1,), (7,), (3, 4, 5), (100_001,)]


def tolerance(dtype):
    return dict(rtol=2e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)


def to_flavour(a, flavour):
    return to_device(a, "cuda") if flavour == "cupy" else a




def adam_state(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    param, grad, m = (rng.standard_normal(shape).astype(dtype) for _ in range(3))
    v = rng.random(shape).astype(dtype)
    return param, grad, m, v


# The two conventions at step t = 3 with lr = 1e-3, beta1 = 0.9, beta2 = 0.999.
T, LR, B1, B2, EPS = 3, 1e-3, 0.9, 0.999, 1e-7
SCALARS = {
    "pytorch": (LR / (1 - B1**T), B1, B2, EPS, 1 / np.sqrt(1 - B2**T)),
    "keras": (LR * np.sqrt(1 - B2**T) / (1 - B1**T), B1, B2, EPS, 1.0),
}


@pytest.mark.parametrize("convention", SCALARS)
def test_reference_adam_follows_the_formula(convention):
    step_size, b1, b2, eps, v_scale = SCALARS[convention]
    param, grad, m, v = adam_state((5, 6), np.float64)
    m_new = b1 * m + (1 - b1) * grad
    v_new = b2 * v + (1 - b2) * grad**2
    param_new = param - step_size * m_new / (np.sqrt(v_new) * v_scale + eps)
    assert reference.adam_update(param, grad, m, v, *SCALARS[convention]) is None
    np.testing.assert_allclose(m, m_new, rtol=1e-14)
    np.testing.assert_allclose(v, v_new, rtol=1e-14)
    np.testing.assert_allclose(param, param_new, rtol=1e-14)


def test_reference_adam_keeps_float32():
    """NumPy float64 scalars (as computed by an optimiser) must not turn the update into float64."""
    state = adam_state((4,), np.float32)
    reference.adam_update(*state, *(np.float64(s) for s in SCALARS["pytorch"]))
    assert all(a.dtype == np.float32 for a in state)


@pytest.mark.parametrize("contiguous", [True, False], ids=["contiguous", "strided"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
def test_adam_flavour_matches_reference(flavour, dtype, shape, contiguous):
    expected = adam_state(shape, dtype)
    state = [a.copy() for a in expected]
    if not contiguous:
        state = [np.repeat(a, 2)[::2] for a in state]  # same values, every other element of a bigger array
    state = [to_flavour(a, flavour) for a in state]
    for convention in SCALARS:
        reference.adam_update(*expected, *SCALARS[convention])
        kernels.implementation("adam_update", flavour)(*state, *SCALARS[convention])
        for got, want in zip(state, expected):
            assert got.dtype == dtype
            np.testing.assert_allclose(to_numpy(got).reshape(want.shape), want, **tolerance(dtype))


def test_public_adam_update_works_in_place():
    param, grad, m, v = adam_state((10,), np.float32)
    before = param.copy()
    kernels.adam_update(param, grad, m, v, *SCALARS["keras"])
    assert not np.array_equal(param, before)


def leaky_input(shape, dtype, seed=1):
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    x.reshape(-1)[::3] = 0  # the kink: the gradient at 0 is the slope
    return x


def test_reference_leaky_relu_follows_the_definition():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    gy = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(reference.leaky_relu(x, 0.1), [-0.2, -0.05, 0.0, 0.5, 3.0])
    np.testing.assert_array_equal(reference.leaky_relu_grad(x, gy, 0.1), [0.1, 0.2, 0.1 * 3.0, 4.0, 5.0])


@pytest.mark.parametrize("strided", [False, True], ids=["contiguous", "strided"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
def test_leaky_relu_flavour_matches_reference(flavour, dtype, shape, strided):
    x = leaky_input(shape, dtype)
    gy = leaky_input(shape, dtype, seed=2)
    if strided:
        x, gy = x[..., ::2], gy[..., ::2]
    slope = np.float64(0.2)  # a NumPy float64 scalar must not promote float32 results
    forward = kernels.implementation("leaky_relu", flavour)(to_flavour(x, flavour), slope)
    leaky_relu_grad = kernels.implementation("leaky_relu_grad", flavour)
    backward = leaky_relu_grad(to_flavour(x, flavour), to_flavour(gy, flavour), slope)
    for got, want in ((forward, reference.leaky_relu(x, slope)), (backward, reference.leaky_relu_grad(x, gy, slope))):
        assert got.dtype == dtype and got.shape == x.shape
        np.testing.assert_allclose(to_numpy(got), want, **tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
def test_leaky_relu_flavour_keeps_a_0d_array_0d(flavour, dtype):
    """A 0-d array (a scalar tensor) stays 0-d: ``np.ascontiguousarray`` alone would make it 1-d."""
    x, gy = np.asarray(-1.5, dtype=dtype), np.asarray(2.0, dtype=dtype)
    forward = kernels.implementation("leaky_relu", flavour)(to_flavour(x, flavour), 0.2)
    backward = kernels.implementation("leaky_relu_grad", flavour)(to_flavour(x, flavour), to_flavour(gy, flavour), 0.2)
    assert forward.shape == () and backward.shape == ()
    np.testing.assert_allclose(to_numpy(forward), -0.3, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(backward), 0.4, rtol=1e-6)
