"""TransformerBlock (the GPT's and the music Transformer's post-LN decoder block): the book's parameter
counts, forward and backward against a PyTorch twin built by hand with the same weights and dropout
masks (float64 and float32, causal attention with a per-head key_dim unlike embed_dim / heads), the
returned attention weights, and step-by-step decoding through a KVCache."""

from __future__ import annotations

import numpy as np
import pytest

import tinygdl
from benchmarks.twins.text import draw_masks, torch_transformer_block, use_fixed_dropout
from tinygdl import nn
from tinygdl.testing import assert_close

N, T, EMBED, HEADS, KEY, FF = 2, 5, 6, 2, 5, 7  # key_dim 5 per head: not EMBED / HEADS = 3


@pytest.fixture(autouse=True)
def one_torch_thread(request):
    if "torch" in request.fixturenames:
        request.getfixturevalue("torch_one_thread")


def random_block(rng, dropout: float = 0.1) -> nn.TransformerBlock:
    """A small block with every parameter drawn (LayerNorm's scale and shift too, not just 1 and 0)."""
    block = nn.TransformerBlock(EMBED, HEADS, key_dim=KEY, ff_dim=FF, dropout=dropout)
    for p in block.parameters():
        p.data[...] = rng.standard_normal(p.shape) * 0.5
    return block


def twin_name(name: str) -> str:
    """Our parameter's name in the twin: the attention's projections are flat ``query_weight`` ..."""
    return name.removeprefix("attention.").replace(".", "_", 1) if name.startswith("attention.") else name


def test_the_books_blocks_parameter_counts():
    gpt_block = nn.TransformerBlock(256, num_heads=2, key_dim=256, ff_dim=256)  # book-models §3.15
    assert gpt_block.num_parameters() == 658_688  # = 5,809,168 less the embeddings and the head
    music_block = nn.TransformerBlock(256, num_heads=5, key_dim=256, ff_dim=256, dropout=0.3)  # §3.16
    assert music_block.num_parameters() == 1_447_424  # = 1,479,379 less the embeddings and the heads
    assert gpt_block.norm1.eps == 1e-6 and gpt_block.dropout1.p == 0.1 and music_block.dropout2.p == 0.3


@pytest.mark.parametrize("dtype, close", [(np.float64, dict(rtol=1e-9, atol=1e-11)),
                                          (np.float32, dict(rtol=1e-4, atol=1e-5))], ids=["float64", "float32"])
def test_forward_and_backward_match_the_pytorch_twin(dtype, close, torch, rng):
    with tinygdl.default_dtype(dtype):
        block = random_block(rng)
        x, g = (rng.standard_normal((N, T, EMBED)).astype(dtype) for _ in range(2))
        masks = draw_masks(rng, (N, T, EMBED), 0.1, dtype)
        twin = torch_transformer_block(torch, block)
        use_fixed_dropout(block, masks)  # training mode: both engines drop the same units
        xt = tinygdl.tensor(x, requires_grad=True)
        y, weights = block(xt, return_weights=True)
        y.backward(tinygdl.tensor(g))
    tx = torch.tensor(x, requires_grad=True)
    t_y, t_weights = twin(tx, masks)
    t_y.backward(torch.tensor(g))

    assert_close(y, t_y.detach(), **close)
    assert_close(weights, t_weights.detach(), **close)
    assert_close(xt.grad, tx.grad, **close)
    theirs = dict(twin.named_parameters())
    for name, p in block.named_parameters():
        expected = theirs[twin_name(name)].grad.numpy()
        is_linear = name.startswith(("ff1.", "ff2.")) and name.endswith("weight")  # torch stores W transposed
        assert_close(p.grad, expected.T if is_linear else expected, **close, msg=name)


def test_returns_the_causal_attention_weights_when_asked(rng, float64):
    block = random_block(rng).eval()
    x = tinygdl.tensor(rng.standard_normal((N, T, EMBED)))
    y, weights = block(x, return_weights=True)
    assert isinstance(block(x), tinygdl.Tensor) and weights.shape == (N, HEADS, T, T)
    assert_close(block(x), y)
    assert_close(weights.numpy().sum(-1), np.ones((N, HEADS, T)))
    assert (np.triu(weights.numpy(), 1) < 1e-12).all()  # no position attends to a later one


def test_dropout_acts_in_training_mode_only(rng, float64):
    block = random_block(rng, dropout=0.5)
    x = tinygdl.tensor(rng.standard_normal((N, T, EMBED)))
    tinygdl.manual_seed(0)
    trained = block(x).numpy()
    block.eval()
    assert not np.allclose(trained, block(x).numpy())
    assert_close(block(x), block(x))


def test_decoding_through_a_kv_cache_equals_the_full_causal_pass(torch, rng, float64):
    """Positions fed in pieces (2, then 1, then 3) give the outputs and weights of one causal pass
    over the whole sequence, ours and the twin's."""
    block = random_block(rng).eval()
    x = rng.standard_normal((N, 6, EMBED))
    full, full_weights = block(tinygdl.tensor(x), return_weights=True)
    cache, pieces = nn.KVCache(), []
    for lo, hi in ((0, 2), (2, 3), (3, 6)):
        out, weights = block(tinygdl.tensor(x[:, lo:hi]), cache, return_weights=True)
        assert len(cache) == hi and weights.shape == (N, HEADS, hi - lo, hi)
        assert_close(weights, full_weights[:, :, lo:hi, :hi], rtol=1e-12, atol=1e-14)
        pieces.append(out.numpy())
    stepwise = np.concatenate(pieces, axis=1)
    assert_close(stepwise, full, rtol=1e-12, atol=1e-13)
    twin = torch_transformer_block(torch, block)
    with torch.no_grad():
        assert_close(stepwise, twin(torch.tensor(x))[0], rtol=1e-9, atol=1e-11)
