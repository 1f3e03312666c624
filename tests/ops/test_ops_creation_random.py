"""Constant constructors and random draws: shapes, dtypes, reproducibility, rough moments."""

from __future__ import annotations

import numpy as np
import pytest

import tinygdl as tg
from tinygdl.testing import assert_close

N = 40_000  # draws for the moment checks: standard errors are about 0.005


# --------------------------------------------------------------------------- constants


@pytest.mark.parametrize("make, value", [(tg.zeros, 0.0), (tg.ones, 1.0)])
def test_zeros_ones(make, value):
    for t in (make(2, 3), make((2, 3))):  # both call styles
        assert t.shape == (2, 3) and t.dtype == np.float32 and not t.requires_grad
        assert (t.numpy() == value).all()
    assert make(4, dtype=np.float64).dtype == np.float64
    assert make(2, requires_grad=True).requires_grad


def test_full_and_like():
    t = tg.full((2, 2), 3.5)
    assert t.shape == (2, 2) and (t.numpy() == 3.5).all() and t.dtype == np.float32
    x = tg.Tensor(np.zeros((3, 1)))  # float64
    assert tg.zeros_like(x).dtype == np.float64 and tg.zeros_like(x).shape == (3, 1)
    assert (tg.ones_like(x, dtype=np.float32).numpy() == 1).all()
    assert tg.ones_like(x, requires_grad=True).requires_grad


def test_default_dtype_applies_to_new_tensors():
    with tg.default_dtype(np.float64):
        assert tg.zeros(2).dtype == np.float64
        assert tg.randn(2).dtype == np.float64
        assert tg.tensor([1.0]).dtype == np.float64
    assert tg.zeros(2).dtype == np.float32


def test_arange_linspace_eye():
    assert tg.arange(5).dtype == np.int64 and tg.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert tg.arange(1, 7, 2).tolist() == [1, 3, 5]
    assert tg.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert_close(tg.linspace(0, 1, 5), np.linspace(0, 1, 5), rtol=1e-7)
    assert_close(tg.eye(3, 2), np.eye(3, 2))


# --------------------------------------------------------------------------- random draws


DRAWS = {
    "randn": lambda: tg.randn(3, 4),
    "rand": lambda: tg.rand((3, 4)),
    "normal": lambda: tg.normal(1.0, 2.0, (3, 4)),
    "uniform": lambda: tg.uniform(-1.0, 1.0, (3, 4)),
    "bernoulli": lambda: tg.bernoulli(0.3, (3, 4)),
    "randint": lambda: tg.randint(0, 10, (3, 4)),
    "permutation": lambda: tg.permutation(12),
}


@pytest.mark.parametrize("name", DRAWS)
def test_manual_seed_reproduces_draws(name):
    tg.manual_seed(123)
    a = DRAWS[name]().numpy()
    b = DRAWS[name]().numpy()  # the stream moves on
    tg.manual_seed(123)
    assert np.array_equal(a, DRAWS[name]().numpy())
    assert np.array_equal(b, DRAWS[name]().numpy())
    tg.manual_seed(124)
    assert not np.array_equal(a, DRAWS[name]().numpy())


@pytest.mark.parametrize("name, shape, dtype", [
    ("randn", (3, 4), np.float32), ("rand", (3, 4), np.float32), ("normal", (3, 4), np.float32),
    ("uniform", (3, 4), np.float32), ("bernoulli", (3, 4), np.float32), ("randint", (3, 4), np.int64),
    ("permutation", (12,), np.int64),
])
def test_shapes_and_dtypes(name, shape, dtype):
    t = DRAWS[name]()
    assert t.shape == shape and t.dtype == dtype and not t.requires_grad


def test_float64_draws_and_requires_grad():
    assert tg.randn(2, dtype=np.float64).dtype == np.float64
    assert tg.rand(2, dtype="float64").dtype == np.float64
    assert tg.normal(shape=2, dtype=np.float64).dtype == np.float64
    assert tg.randn(2, requires_grad=True).requires_grad
    assert tg.randn(2, requires_grad=True).is_leaf


def test_moments():
    tg.manual_seed(0)
    z = tg.randn(N, dtype=np.float64).numpy()
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03
    u = tg.rand(N, dtype=np.float64).numpy()
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    n = tg.normal(2.0, 3.0, N, dtype=np.float64).numpy()
    assert abs(n.mean() - 2) < 0.1 and abs(n.std() - 3) < 0.1
    v = tg.uniform(-2.0, 4.0, N).numpy()
    assert v.min() >= -2 and v.max() < 4 and abs(v.mean() - 1) < 0.05


def test_bernoulli():
    tg.manual_seed(0)
    b = tg.bernoulli(0.3, N).numpy()
    assert set(np.unique(b)) <= {0.0, 1.0}
    assert abs(b.mean() - 0.3) < 0.015
    # a tensor of probabilities: one draw per element, with its own p
    p = tg.Tensor(np.array([0.0, 1.0, 0.25] * (N // 3)))
    draws = tg.bernoulli(p).numpy().reshape(-1, 3)
    assert draws.dtype == np.float64
    assert (draws[:, 0] == 0).all() and (draws[:, 1] == 1).all()
    assert abs(draws[:, 2].mean() - 0.25) < 0.02


def test_randint():
    tg.manual_seed(0)
    r = tg.randint(3, 7, N).numpy()
    assert r.min() == 3 and r.max() == 6  # high is excluded, every value appears
    assert abs(r.mean() - 4.5) < 0.05
    assert tg.randint(5, shape=(2, 2)).numpy().max() < 5  # one argument: [0, low)


def test_permutation():
    tg.manual_seed(0)
    assert sorted(tg.permutation(10).tolist()) == list(range(10))


def test_the_float64_fixture_sets_the_default_dtype(float64, rng):
    assert tg.get_default_dtype() == np.float64 and float64 is np.float64
    assert tg.tensor([0.5]).dtype == np.float64 and tg.randn(2).dtype == np.float64
    assert rng.standard_normal() == np.random.default_rng(0).standard_normal()  # the rng fixture is seeded


# --------------------------------------------------------------------------- PyTorch's dtype rules and *_like


def test_full_takes_its_dtype_from_the_value_like_torch(torch):
    for value in (4, 4.0, True, -2):
        ours, theirs = tg.full((2,), value), torch.full((2,), value)
        assert ours.dtype == theirs.numpy().dtype and ours.tolist() == theirs.tolist()
    assert tg.full((2,), 4, dtype=np.float64).dtype == np.float64


def test_linspace_with_an_integer_dtype_truncates_like_torch(torch):
    for start, stop, num in ((-5, 0, 4), (0, 10, 4), (-3.5, 3.5, 6)):
        ours = tg.linspace(start, stop, num, dtype=np.int64)
        assert ours.tolist() == torch.linspace(start, stop, num, dtype=torch.int64).tolist()
        assert ours.dtype == np.int64


def test_like_constructors_match_torch(torch):
    x_np = np.zeros((3, 2), dtype=np.float64)
    x, t = tg.Tensor(x_np), torch.from_numpy(x_np)
    for ours, theirs in ((tg.zeros_like(x), torch.zeros_like(t)), (tg.ones_like(x), torch.ones_like(t)),
                         (tg.full_like(x, 7), torch.full_like(t, 7)), (tg.empty(3, 2), torch.zeros(3, 2)),
                         (tg.zeros_like(x, dtype=np.float32), torch.zeros_like(t, dtype=torch.float32))):
        assert ours.shape == tuple(theirs.shape) and ours.dtype == theirs.numpy().dtype
        assert_close(ours, theirs)
    assert tg.full_like(tg.Tensor(np.zeros(2, dtype=np.int64)), 2.7).tolist() == [2, 2]  # x's dtype, as torch
    assert tg.ones_like(x, requires_grad=True).requires_grad


def test_random_like_draws_have_the_shape_dtype_and_moments():
    x = tg.Tensor(np.zeros((200, 200)))
    tg.manual_seed(3)
    u, z = tg.rand_like(x), tg.randn_like(x)
    assert u.shape == z.shape == x.shape and u.dtype == z.dtype == np.float64
    assert 0 <= u.numpy().min() and u.numpy().max() < 1 and abs(u.numpy().mean() - 0.5) < 0.01
    assert abs(z.numpy().mean()) < 0.02 and abs(z.numpy().std() - 1) < 0.02
    tg.manual_seed(3)
    assert_close(tg.rand_like(x), u)
