"""MultiHeadAttention: Keras shapes and parameter counts, a NumPy reference for per-head key_dim,
PyTorch parity where the configuration is expressible, masks, dropout, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygdl
from tinygdl import nn
from tinygdl.testing import assert_close, gradcheck


def randomize(layer, rng, scale=0.5):
    for p in layer.parameters():
        p.data[...] = rng.standard_normal(p.shape) * scale


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def reference(layer, query, value, allowed=None):
    """Keras's MultiHeadAttention written out with einsum (the kernels as Keras stores them)."""
    w = {name: (getattr(layer, name).weight.numpy(), getattr(layer, name).bias.numpy())
         for name in ("query", "key", "value", "output")}
    q = np.einsum("nte,ehk->nthk", query, w["query"][0]) + w["query"][1]
    k = np.einsum("nse,ehk->nshk", value, w["key"][0]) + w["key"][1]
    v = np.einsum("nse,ehv->nshv", value, w["value"][0]) + w["value"][1]
    scores = np.einsum("nthk,nshk->nhts", q, k) / math.sqrt(layer.key_dim)
    if allowed is not None:
        scores = np.where(allowed, scores, -1e9)
    weights = softmax(scores)
    context = np.einsum("nhts,nshv->nthv", weights, v)
    return np.einsum("nthv,hve->nte", context, w["output"][0]) + w["output"][1], weights


# --------------------------------------------------------------------------- shapes and parameters


def test_gpt_configuration_has_keras_parameter_counts():
    mha = nn.MultiHeadAttention(256, num_heads=2, key_dim=256)  # book-models §3.15
    assert mha.query.weight.shape == (256, 2, 256) and mha.query.bias.shape == (2, 256)
    assert mha.output.weight.shape == (2, 256, 256) and mha.output.bias.shape == (256,)
    assert [mha.query.num_parameters(), mha.key.num_parameters(), mha.value.num_parameters(),
            mha.output.num_parameters()] == [131_584, 131_584, 131_584, 131_328]
    assert np.abs(mha.query.weight.numpy()).max() <= 0.00953 + 5e-5  # book-models §1.3
    assert np.abs(mha.output.weight.numpy()).max() <= 0.0765 + 5e-5
    assert not mha.query.bias.numpy().any()


def test_music_configuration_parameter_counts():
    mha = nn.MultiHeadAttention(256, num_heads=5, key_dim=256)  # book-models §3.16
    assert mha.query.num_parameters() == 328_960 and mha.output.num_parameters() == 327_936


def test_defaults_split_embed_dim_between_heads():
    mha = nn.MultiHeadAttention(8, 2)
    assert (mha.key_dim, mha.value_dim) == (4, 4)
    assert nn.MultiHeadAttention(8, 2, key_dim=3).value_dim == 3
    assert nn.MultiHeadAttention(8, 2, bias=False).num_parameters() == 4 * 8 * 8
    with pytest.raises(ValueError, match="not divisible by num_heads=3; pass key_dim"):
        nn.MultiHeadAttention(8, 3)


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize("causal", [False, True])
def test_per_head_key_dim_matches_the_numpy_reference(causal, rng, float64):
    mha = nn.MultiHeadAttention(6, num_heads=2, key_dim=5, value_dim=3)
    randomize(mha, rng)
    x = rng.standard_normal((2, 4, 6))
    out, weights = mha(tinygdl.tensor(x), causal=causal, return_weights=True)
    allowed = np.tril(np.ones((4, 4), bool)) if causal else None
    expected_out, expected_weights = reference(mha, x, x, allowed)
    assert out.shape == (2, 4, 6) and weights.shape == (2, 2, 4, 4)
    assert_close(out, expected_out, rtol=1e-10, atol=1e-12)
    assert_close(weights, expected_weights, rtol=1e-10, atol=1e-12)


def test_cross_attention_uses_keras_argument_order(rng, float64):
    mha = nn.MultiHeadAttention(4, num_heads=2, key_dim=3)
    randomize(mha, rng)
    query, value = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    out = mha(tinygdl.tensor(query), tinygdl.tensor(value))
    assert_close(out, reference(mha, query, value)[0], rtol=1e-10, atol=1e-12)


def torch_twin(torch, ours):
    e = ours.embed_dim
    theirs = torch.nn.MultiheadAttention(e, ours.num_heads, batch_first=True).double()

    def as_torch(projection):  # ours (E, heads, dim) -> PyTorch (heads·dim, E)
        return torch.tensor(projection.weight.numpy().reshape(e, e).T)

    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([as_torch(ours.query), as_torch(ours.key), as_torch(ours.value)]))
        theirs.in_proj_bias.copy_(torch.tensor(np.concatenate(
            [ours.query.bias.numpy().ravel(), ours.key.bias.numpy().ravel(), ours.value.bias.numpy().ravel()])))
        theirs.out_proj.weight.copy_(torch.tensor(ours.output.weight.numpy().reshape(e, e).T))
        theirs.out_proj.bias.copy_(torch.tensor(ours.output.bias.numpy()))
    return theirs


@pytest.mark.parametrize("masking", ["none", "causal", "boolean"])
def test_matches_pytorch_when_key_dim_is_embed_dim_over_heads(masking, torch, rng, float64):
    ours = nn.MultiHeadAttention(6, num_heads=3)
    randomize(ours, rng)
    theirs = torch_twin(torch, ours)
    n, t = 2, 5
    x, g = rng.standard_normal((n, t, 6)), rng.standard_normal((n, t, 6))
    allowed = rng.random((n, t, t)) < 0.6
    allowed[..., 0] = True  # every query may attend somewhere
    kwargs, torch_mask = {}, None
    if masking == "causal":
        kwargs, torch_mask = {"causal": True}, torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
    elif masking == "boolean":  # PyTorch's boolean mask marks the *blocked* positions, one per head
        kwargs, torch_mask = {"mask": allowed}, torch.tensor(~allowed).repeat_interleave(3, dim=0)

    xt, tx = tinygdl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, weights = ours(xt, return_weights=True, **kwargs)
    out.backward(tinygdl.tensor(g))
    t_out, t_weights = theirs(tx, tx, tx, attn_mask=torch_mask, average_attn_weights=False)
    t_out.backward(torch.tensor(g))

    close = dict(rtol=1e-9, atol=1e-11)
    assert_close(out, t_out, **close)
    assert_close(weights, t_weights, **close)
    assert_close(xt.grad, tx.grad, **close)
    e = 6
    assert_close(ours.query.weight.grad.numpy().reshape(e, e).T, theirs.in_proj_weight.grad[:e], **close)
    assert_close(ours.value.bias.grad.numpy().ravel(), theirs.in_proj_bias.grad[2 * e:], **close)
    assert_close(ours.output.weight.grad.numpy().reshape(e, e).T, theirs.out_proj.weight.grad, **close)


# --------------------------------------------------------------------------- masks and dropout


def test_mask_forms_agree(rng, float64):
    mha = nn.MultiHeadAttention(4, num_heads=2)
    randomize(mha, rng)
    x = tinygdl.tensor(rng.standard_normal((2, 3, 4)))
    causal = np.tril(np.ones((3, 3), bool))
    expected = mha(x, causal=True)
    assert_close(mha(x, mask=causal), expected)  # (T, S)
    assert_close(mha(x, mask=np.broadcast_to(causal, (2, 3, 3))), expected)  # (N, T, S)
    assert_close(mha(x, mask=np.broadcast_to(causal, (2, 2, 3, 3))), expected)  # (N, heads, T, S)
    assert_close(mha(x, mask=tinygdl.tensor(np.where(causal, 0.0, -1e9))), expected)  # additive
    # a boolean mask and causal=True combine
    first_only = np.zeros((3, 3), bool)
    first_only[:, 0] = True
    _, weights = mha(x, mask=first_only, causal=True, return_weights=True)
    assert_close(weights.numpy()[..., 0], np.ones((2, 2, 3)))


def test_dropout_acts_on_the_weights_in_training_only(rng):
    mha = nn.MultiHeadAttention(4, num_heads=2, dropout=0.5)
    randomize(mha, rng)
    x = tinygdl.tensor(rng.standard_normal((2, 6, 4)), dtype=np.float32)
    tinygdl.manual_seed(0)
    train_out, weights = mha(x, return_weights=True)
    assert_close(weights.numpy().sum(-1), np.ones((2, 2, 6)), rtol=1e-5)  # returned before dropout
    mha.eval()
    eval_out = mha(x)
    assert not np.allclose(train_out.numpy(), eval_out.numpy())
    assert_close(mha(x), eval_out)
    assert_close(eval_out, reference(mha, x.numpy(), x.numpy())[0], rtol=1e-4, atol=1e-5)


def test_gradcheck(float64, rng):
    mha = nn.MultiHeadAttention(4, num_heads=2, key_dim=3, value_dim=2)
    randomize(mha, rng)
    x = tinygdl.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    gradcheck(lambda x, *params: mha(x, causal=True), [x, *mha.parameters()])


def test_shape_errors_name_the_layer():
    mha = nn.MultiHeadAttention(4, num_heads=2)
    message = r"MultiHeadAttention\(embed_dim=4.*query of shape \(N, T, 4\), got \(2, 3, 5\)"
    with pytest.raises(ValueError, match=message):
        mha(tinygdl.zeros(2, 3, 5))
    with pytest.raises(ValueError, match=r"key \(2, 4, 4\) and value \(2, 5, 4\)"):
        mha(tinygdl.zeros(2, 3, 4), tinygdl.zeros(2, 5, 4), tinygdl.zeros(2, 4, 4))
    with pytest.raises(ValueError, match=r"mask of shape \(3, 4\) does not fit .* \(2, 2, 3, 3\)"):
        mha(tinygdl.zeros(2, 3, 4), mask=np.ones((3, 4), bool))
    with pytest.raises(ValueError, match=r"Projection\(\(4,\) -> \(2, 2\)"):
        mha.query(tinygdl.zeros(3, 5))


# --------------------------------------------------------------------------- key/value cache


def test_cached_steps_equal_one_causal_pass(rng, float64):
    """Feeding the positions in pieces through a KVCache gives the full causal pass's outputs and weights."""
    mha = nn.MultiHeadAttention(4, 2, key_dim=3)
    randomize(mha, rng)
    x = tinygdl.tensor(rng.standard_normal((2, 6, 4)))
    full, full_weights = mha(x, causal=True, return_weights=True)
    cache = nn.KVCache()
    pieces = []
    for lo, hi in ((0, 2), (2, 3), (3, 6)):
        out, weights = mha(x[:, lo:hi], causal=True, return_weights=True, cache=cache)
        assert len(cache) == hi and weights.shape == (2, 2, hi - lo, hi)
        assert_close(weights, full_weights[:, :, lo:hi, :hi], rtol=1e-12, atol=1e-14)
        pieces.append(out)
    assert_close(tinygdl.concatenate(pieces, axis=1), full, rtol=1e-12, atol=1e-14)
