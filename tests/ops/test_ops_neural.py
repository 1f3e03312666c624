"""dropout (statistical tests), embedding and one_hot beyond the op table: error messages,
repeated ids, and the train/eval switch."""

from __future__ import annotations

import numpy as np
import pytest

import tinygdl as tg
from tinygdl.testing import assert_close

# --------------------------------------------------------------------------- dropout

P = 0.3
N = 20_000  # elements: the binomial standard error of the zero fraction is ~0.003


def _dropped(p=P, seed=0, dtype=np.float64):
    tg.manual_seed(seed)
    x = tg.Tensor(np.ones((200, N // 200), dtype=dtype), requires_grad=True)
    return x, tg.dropout(x, p, training=True)


def test_dropout_zero_fraction_is_p():
    _, y = _dropped()
    zero_fraction = float((y.numpy() == 0).mean())
    assert abs(zero_fraction - P) < 5 * np.sqrt(P * (1 - P) / N)


def test_dropout_survivors_are_scaled_so_the_mean_is_preserved():
    x, y = _dropped()
    kept = y.numpy()[y.numpy() != 0]
    np.testing.assert_allclose(kept, 1 / (1 - P), rtol=1e-12)  # exactly x / (1 - p)
    # E[y] = x: each element's std is sqrt(p / (1-p)), so the mean's is that / sqrt(N).
    assert abs(float(y.numpy().mean()) - 1.0) < 5 * np.sqrt(P / (1 - P) / N)


def test_dropout_gradient_is_mask_times_scale():
    x, y = _dropped()
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(tg.Tensor(g))
    mask = y.numpy() != 0
    assert_close(x.grad, g * mask / (1 - P), rtol=1e-12)


def test_dropout_keeps_dtype():
    _, y = _dropped(dtype=np.float32)
    assert y.dtype == np.float32


def test_dropout_is_the_identity_when_not_training():
    x = tg.Tensor(np.arange(6.0), requires_grad=True)
    assert tg.dropout(x, 0.5, training=False) is x
    with tg.train_mode(False):
        assert tg.dropout(x, 0.5) is x  # training=None reads the global flag
    with tg.train_mode(True):
        assert tg.dropout(x, 0.0) is x  # p = 0 drops nothing
        tg.manual_seed(0)
        assert (tg.dropout(tg.Tensor(np.ones(1000)), 0.5).numpy() == 0).any()


def test_dropout_is_reproducible_with_manual_seed():
    _, a = _dropped(seed=7)
    _, b = _dropped(seed=7)
    _, c = _dropped(seed=8)
    assert np.array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_bad_p(p):
    with pytest.raises(ValueError, match="p must be in"):
        tg.dropout(tg.Tensor(np.ones(3)), p, training=True)


# --------------------------------------------------------------------------- embedding


def test_embedding_repeated_ids_accumulate():
    weight = tg.Tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    ids = np.array([[0, 2, 0], [0, 1, 2]])
    out = tg.embedding(ids, weight)
    assert out.shape == (2, 3, 3)
    assert_close(out, weight.numpy()[ids])
    out.sum().backward()
    # row 0 used three times, rows 1 and 2 once and twice, row 3 never
    assert_close(weight.grad, np.array([[3.0] * 3, [1.0] * 3, [2.0] * 3, [0.0] * 3]))


def test_embedding_takes_a_tensor_of_ids():
    weight = tg.Tensor(np.eye(3), requires_grad=True)
    out = tg.embedding(tg.tensor(np.array([2, 2])), weight)
    assert_close(out, np.eye(3)[[2, 2]])


def test_embedding_errors():
    weight = tg.Tensor(np.zeros((4, 2)), requires_grad=True)
    with pytest.raises(TypeError, match="integers"):
        tg.embedding(np.array([0.0, 1.0]), weight)
    with pytest.raises(IndexError, match=r"\[0, 4\)"):
        tg.embedding(np.array([0, 4]), weight)
    with pytest.raises(IndexError):
        tg.embedding(np.array([-1]), weight)


# --------------------------------------------------------------------------- one_hot


def test_one_hot_values_dtype_and_no_gradient():
    labels = np.array([[0, 3], [2, 2]])
    y = tg.one_hot(labels, 4)
    assert y.shape == (2, 2, 4) and y.dtype == tg.get_default_dtype()
    assert_close(y, np.eye(4)[labels])
    assert not y.requires_grad
    assert tg.one_hot(labels, 4, dtype=np.float64).dtype == np.float64


def test_one_hot_errors():
    with pytest.raises(TypeError, match="integers"):
        tg.one_hot(np.array([0.5]), 3)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        tg.one_hot(np.array([0, 3]), 3)
