"""The word-level language models (chapter-5 LSTM, chapter-9 GPT): the book's parameter counts,
causality checked exactly with the engine, PyTorch twins (forward and gradients, the first 50
training steps), the key/value cache, generation, and the zoo recipes end to end."""

from __future__ import annotations

import os

import numpy as np
import pytest

import tinygdl
from benchmarks.twins.text import (
    FixedDropout,
    draw_masks,
    random_batches,
    torch_gpt,
    torch_lstm_lm,
    training_losses,
    use_fixed_dropout,
)
from tinygdl import nn, zoo
from tinygdl.errors import ConfigError, ShapeError
from tinygdl.models import text as lm
from tinygdl.testing import assert_close, gradcheck


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models: PyTorch's thread pool only adds contention (tens of ms per op on a busy machine)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


SMALL_LSTM = dict(vocab_size=40, embed_dim=6, hidden=5)
SMALL_GPT = dict(vocab_size=40, max_len=9, embed_dim=8, num_heads=2, key_dim=6, ff_dim=12)


def small_lstm():
    tinygdl.manual_seed(0)
    return lm.LSTMLanguageModel(**SMALL_LSTM)


def small_gpt(dropout=0.1):
    tinygdl.manual_seed(0)
    model = lm.GPT(**SMALL_GPT, dropout=dropout)
    for p in model.parameters():  # away from the initial values, so every path matters
        p.data[...] += np.random.default_rng(1).standard_normal(p.shape).astype(p.dtype) * 0.1
    return model


# --------------------------------------------------------------------------- the book's sizes


def test_book_parameter_counts():
    assert zoo.build("lstm").num_parameters() == 2_407_248  # book-models §3.9
    gpt = zoo.build("gpt")
    assert gpt.num_parameters() == 5_809_168  # book-models §3.15
    assert gpt.position_embedding.weight.shape == (80, 256)
    assert gpt.block.norm1.eps == 1e-6 and gpt.block.dropout1.p == 0.1
    assert gpt.block.attention.num_heads == 2 and gpt.block.attention.key_dim == 256


def test_summary_runs_on_the_zero_ids_it_feeds():
    text = nn.summary(zoo.build("gpt", vocab_size=50), (80,), print_fn=None)
    assert "TransformerBlock" in text or "block" in text
    with pytest.raises(ShapeError, match="integers"):
        lm.token_ids(np.full((1, 3), 0.5))


# --------------------------------------------------------------------------- causality, exactly


def lstm_from_embeddings(model, x):
    return model.head(model.lstm(x)[0])


def gpt_from_embeddings(model, x):
    return model.head(model.block(x))


@pytest.mark.parametrize("kind", ["lstm", "gpt"])
def test_logits_at_t_depend_only_on_positions_up_to_t(kind, float64, rng):
    model = small_lstm() if kind == "lstm" else small_gpt(dropout=0.0)
    run = lstm_from_embeddings if kind == "lstm" else gpt_from_embeddings
    width = model.lstm.input_size if kind == "lstm" else model.head.in_features
    x = tinygdl.tensor(rng.standard_normal((2, 7, width)), requires_grad=True)
    logits = run(model, x)
    for t in range(7):
        (g,) = tinygdl.grad(logits[:, t].sum(), [x], retain_graph=True)
        g = np.abs(g.numpy()).sum(axis=(0, 2))
        assert (g[t + 1:] == 0).all(), f"{kind}: position {t} sees the future: {g}"
        assert (g[:t + 1] > 0).all(), f"{kind}: position {t} ignores its past: {g}"


# --------------------------------------------------------------------------- PyTorch twins, float64


def compare_with_twin(torch, model, twin, ids, targets, masks=None):
    logits = model(ids)
    loss = lm.language_model_loss(logits, targets)
    loss.backward()
    t_logits = twin(torch.from_numpy(ids), masks)
    t_loss = torch.nn.functional.cross_entropy(t_logits.reshape(-1, t_logits.shape[-1]),
                                               torch.from_numpy(targets).reshape(-1))
    t_loss.backward()
    assert_close(logits, t_logits.detach(), rtol=1e-9, atol=1e-12)
    assert abs(loss.item() - t_loss.item()) < 1e-12
    ours = [p.grad.numpy() for p in model.parameters()]
    theirs = [p.grad.numpy() for p in twin.parameters() if p.requires_grad]
    return ours, theirs


def test_lstm_matches_the_pytorch_twin(torch, float64, rng):
    model = small_lstm()
    twin = torch_lstm_lm(torch, model)
    ids, targets = random_batches(rng, 1, 3, 8, 40)[0]
    ours, theirs = compare_with_twin(torch, model, twin, ids, targets)
    # tinygdl: embedding, W (in, 4H), U (H, 4H), b, head W, head b; torch: transposes and two biases
    # (torch's second bias, zero and frozen, gets no gradient)
    expected = [theirs[0], theirs[1].T, theirs[2].T, theirs[3], theirs[4].T, theirs[5]]
    for a, b in zip(ours, expected):
        assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_gpt_matches_the_pytorch_twin_with_the_same_dropout(torch, float64, rng):
    model = small_gpt()
    twin = torch_gpt(torch, model)
    masks = draw_masks(rng, (3, 9, 8), 0.1, np.float64)
    use_fixed_dropout(model.block, masks)
    model.train()
    ids, targets = random_batches(rng, 1, 3, 9, 40)[0]
    ours, theirs = compare_with_twin(torch, model, twin, ids, targets, masks)
    names = [name for name, _ in model.named_parameters()]
    t_names = [name for name, _ in twin.named_parameters()]
    order = ["tokens", "positions"] + [f"block.{name}" for name in (
        "query_weight", "query_bias", "key_weight", "key_bias", "value_weight", "value_bias", "output_weight",
        "output_bias", "norm1.weight", "norm1.bias", "ff1.weight", "ff1.bias", "ff2.weight", "ff2.bias",
        "norm2.weight", "norm2.bias")] + ["head.weight", "head.bias"]
    assert len(names) == len(order)
    by_name = dict(zip(t_names, theirs))
    for name, a, key in zip(names, ours, order):
        b = by_name[key]
        assert_close(a, b.T if key.endswith(("ff1.weight", "ff2.weight", "head.weight")) else b,
                     rtol=1e-9, atol=1e-12), name


@pytest.mark.parametrize("kind", ["lstm", "gpt"])
def test_first_50_training_steps_agree_float64(kind, torch, float64, rng):
    model = small_lstm() if kind == "lstm" else small_gpt()
    twin = torch_lstm_lm(torch, model) if kind == "lstm" else torch_gpt(torch, model)
    length = 8 if kind == "lstm" else 9
    ours, theirs = training_losses(torch, model, twin, random_batches(rng, 50, 4, length, 40), lr=1e-2,
                                   dropout=0.1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=0)
    assert ours[-1] < ours[0] - 0.3  # and it learns the (random) batches it sees


@pytest.mark.parametrize("kind", ["lstm", "gpt"])
def test_first_50_training_steps_agree_float32(kind, torch, rng):
    model = small_lstm() if kind == "lstm" else small_gpt()
    twin = torch_lstm_lm(torch, model) if kind == "lstm" else torch_gpt(torch, model)
    length = 8 if kind == "lstm" else 9
    ours, theirs = training_losses(torch, model, twin, random_batches(rng, 50, 4, length, 40), lr=1e-2,
                                   dropout=0.1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    assert np.isfinite(ours).all()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lstm", "gpt"])
def test_first_50_training_steps_agree_at_the_book_sizes(kind, torch, rng):
    tinygdl.manual_seed(0)
    model = lm.LSTMLanguageModel() if kind == "lstm" else lm.GPT()
    twin = torch_lstm_lm(torch, model) if kind == "lstm" else torch_gpt(torch, model)
    batches = random_batches(rng, 50, 32, 200 if kind == "lstm" else 80, 10_000)
    ours, theirs = training_losses(torch, model, twin, batches, dropout=0.1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)


def test_fixed_dropout_is_the_identity_in_eval_mode():
    layer = FixedDropout({"m": np.zeros(3, np.float32)}, "m")
    x = tinygdl.ones(3)
    assert_close(layer(x), np.zeros(3))
    layer.eval()
    assert_close(layer(x), np.ones(3))


# --------------------------------------------------------------------------- the loss


def test_token_nll_gradients_and_padding_options(float64, rng):
    logits = tinygdl.tensor(rng.standard_normal((2, 4, 6)), requires_grad=True)
    targets = np.array([[3, 1, 0, 0], [2, 5, 4, 0]])
    gradcheck(lambda z: lm.token_nll(z, targets), [logits])
    nll = lm.token_nll(logits, targets).numpy()
    z = logits.numpy()
    expected = np.log(np.exp(z).sum(-1)) - np.take_along_axis(z, targets[..., None], -1)[..., 0]
    assert_close(nll, expected, rtol=1e-13, atol=1e-14)
    assert_close(lm.language_model_loss(logits, targets), nll.mean(), rtol=1e-13, atol=1e-14)
    assert_close(lm.language_model_loss(logits, targets, count_padding=False), nll[targets != 0].mean(),
                 rtol=1e-13, atol=1e-14)
    total, count = lm.padding_free_nll(logits, targets)
    assert count == 5 and abs(total - nll[targets != 0].sum()) < 1e-12
    with pytest.raises(ShapeError, match="targets must be integers of shape"):
        lm.token_nll(logits, targets[:, :2])


def test_token_nll_second_order(float64, rng):
    from tinygdl.testing import gradgradcheck

    logits = tinygdl.tensor(rng.standard_normal((3, 5)), requires_grad=True)
    gradgradcheck(lambda z: lm.token_nll(z, np.array([0, 4, 2])), [logits])


# --------------------------------------------------------------------------- generation and the cache


def test_gpt_cache_gives_the_same_logits(float64, rng):
    model = small_gpt()
    model.eval()
    ids = rng.integers(0, 40, (2, 9))
    full = model(ids).numpy()
    cache = nn.KVCache()
    pieces = [model(ids[:, :3], cache).numpy()] + [model(ids[:, t:t + 1], cache).numpy() for t in range(3, 9)]
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), full, rtol=1e-10, atol=1e-12)
    with pytest.raises(ShapeError, match="max_len=9"):
        model(ids[:, :1], cache)


def test_gpt_cache_float32_and_the_same_sampled_tokens(rng):
    model = small_gpt()
    model.eval()
    ids = rng.integers(0, 40, (1, 9))
    cache = nn.KVCache()
    stepwise = np.concatenate([model(ids[:, t:t + 1], cache).numpy() for t in range(9)], axis=1)
    np.testing.assert_allclose(stepwise, model(ids).numpy(), rtol=1e-4, atol=1e-5)
    for kind in ("gpt", "lstm"):
        net = model if kind == "gpt" else small_lstm()
        with_cache = lm.generate(net, [5, 6], 9, temperature=1.5, rng=np.random.default_rng(3))
        without = lm.generate(net, [5, 6], 9, temperature=1.5, rng=np.random.default_rng(3), use_cache=False)
        assert with_cache == without and with_cache[:2] == [5, 6]


def test_lstm_state_carries_the_prefix(float64, rng):
    model = small_lstm()
    ids = rng.integers(0, 40, (2, 6))
    logits, state = model.next_logits(ids[:, :4])
    logits, _ = model.next_logits(ids[:, 4:5], state)
    assert_close(logits, model(ids[:, :5])[:, -1], rtol=1e-12, atol=1e-14)


def test_generation_stops_at_padding_or_the_limit():
    model = small_lstm()
    model.head.bias.data[0] = 1e4  # padding always drawn: stops at once
    assert lm.generate(model, [3, 4], 50, rng=np.random.default_rng(0)) == [3, 4]
    model.head.bias.data[0] = -1e4  # never drawn: runs to the limit (the prompt counts)
    assert len(lm.generate(model, [3, 4], 10, rng=np.random.default_rng(0))) == 10
    with pytest.raises(ConfigError, match="no tokens"):
        lm.generate(model, [], 10)


def test_temperature_and_top_k():
    logits = np.log(np.array([0.5, 0.3, 0.2]))
    assert_close(lm.next_token_probabilities(logits), [0.5, 0.3, 0.2], rtol=1e-12)
    cold = lm.next_token_probabilities(logits, temperature=0.5)  # p^(1/T), renormalised (book-models §1.7)
    assert_close(cold, np.array([0.25, 0.09, 0.04]) / 0.38, rtol=1e-12)
    assert_close(lm.next_token_probabilities(logits, top_k=2), [0.625, 0.375, 0.0], rtol=1e-12)
    draws = {lm.sample_token(logits, top_k=1, rng=np.random.default_rng(i)) for i in range(20)}
    assert draws == {0}
    with pytest.raises(ConfigError, match="temperature"):
        lm.next_token_probabilities(logits, temperature=0)


def test_next_word_table_is_sorted_and_sums_below_one():
    model = small_lstm()
    vocabulary = ["", "[UNK]"] + [f"w{i}" for i in range(38)]
    rows = lm.next_word_table(model, [4, 5], vocabulary, temperature=0.5, k=5)
    probabilities = [p for _, p in rows]
    assert len(rows) == 5 and probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1
    assert "%" in lm.format_word_table(rows, "title")


# --------------------------------------------------------------------------- the zoo recipes end to end


SPEECHES = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
            "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n")


@pytest.fixture
def tiny_corpus(tmp_path, monkeypatch):
    (tmp_path / "tinyshakespeare").mkdir()
    (tmp_path / "tinyshakespeare" / "input.txt").write_text(SPEECHES * 30)
    monkeypatch.setenv("TINYGDL_DATA", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("kind", ["lstm", "gpt"])
def test_short_training_lowers_the_loss(kind, tiny_corpus):
    small = dict(vocab_size=40, embed_dim=8) | (dict(hidden=8) if kind == "lstm" else dict(key_dim=8, ff_dim=8))
    recipe = zoo.recipe(kind, **small, lr=1e-2)
    train, held_out = recipe.load_data()
    assert recipe.dataset == "tinyshakespeare" and held_out is not None
    models = recipe.build()
    step = recipe.train_step(models, recipe.optimizers(models))
    batch = tuple(tinygdl.tensor(a) for a in train[np.arange(min(8, len(train)))])
    losses = [step(batch)["loss"] for _ in range(25)]
    assert np.isfinite(losses).all() and losses[-1] < 0.85 * losses[0]
    with nn.module.evaluation_mode(models.values()):
        result = recipe.held_out_perplexity(models["model"])
    assert np.isfinite(result["held_out_perplexity"]) and result["held_out_tokens"] > 0


def test_train_then_sample_from_the_checkpoint_alone(tiny_corpus, tmp_path, monkeypatch):
    from tinygdl.zoo.run import sample, train

    result = train("gpt", epochs=1, batch_size=4, steps_per_epoch=2, out_dir=str(tmp_path / "run"), progress=False,
                   vocab_size=40, embed_dim=8, key_dim=8, ff_dim=8)
    assert result.report["held_out_perplexity"] > 1
    monkeypatch.setenv("TINYGDL_DATA", str(tmp_path / "elsewhere"))  # no corpus: the vocabulary is in the file
    checkpoint = str(tmp_path / "run" / "checkpoint.npz")
    path = sample(checkpoint, n=2, options={"prompt": "Speak, citizen zebra", "temperature": "0.5",
                                            "max_tokens": "12", "top_k": "5"})
    text = open(path).read()
    assert path.endswith(".txt") and "[1] speak , citizen [UNK]" in text and "next word after" in text
    assert os.path.isfile(path[:-len(".txt")] + "-attention.png")
    with pytest.raises(ConfigError, match="prompt is empty"):
        sample(checkpoint, options={"prompt": "   "})
    with pytest.raises(ConfigError, match="exceeds"):
        sample(checkpoint, options={"prompt": "all", "max_tokens": "81"})
    with pytest.raises(ConfigError, match="unknown sampling option"):
        sample(checkpoint, options={"steps": "3"})


def test_without_tiny_shakespeare_the_standard_library_is_the_corpus(tmp_path, monkeypatch):
    import sysconfig

    from tinygdl.data import text as text_data

    monkeypatch.setenv("TINYGDL_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    whole_library = text_data.python_docstrings  # one package of it is enough here (and quick)
    monkeypatch.setattr(text_data, "python_docstrings",
                        lambda: whole_library(os.path.join(sysconfig.get_paths()["stdlib"], "json")))
    recipe = zoo.recipe("lstm", vocab_size=100)
    recipe.load_data()
    assert recipe.dataset == "pydocs" and "the" in recipe.tokenizer.vocabulary
    restored = zoo.recipe("lstm", vocab_size=100)
    restored.load_state_dict(recipe.state_dict())
    assert restored.tokenizer.vocabulary == recipe.tokenizer.vocabulary


# --------------------------------------------------------------------------- on a GPU


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["lstm", "gpt"])
def test_the_same_logits_loss_and_gradients_on_cuda(kind, float64, rng):
    """The fused recurrence, the fused cross-entropy and the cache on CuPy against NumPy."""
    model = small_lstm() if kind == "lstm" else small_gpt(dropout=0.0)
    ids, targets = random_batches(rng, 1, 3, 9, 40)[0]
    results = []
    for device in ("cpu", "cuda"):
        model.to(device)
        model.zero_grad()
        lm.language_model_loss(model(ids), targets).backward()
        logits, _ = model.next_logits(ids[:, :4])
        results.append([logits.numpy()] + [p.grad.numpy() for p in model.parameters()])
    for ours, reference in zip(results[1], results[0]):
        assert_close(ours, reference, rtol=1e-9, atol=1e-12)
