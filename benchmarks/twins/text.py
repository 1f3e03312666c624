"""PyTorch twins of the word-level language models (``tinygdl.models.text``): the chapter-5 LSTM and
the chapter-9 GPT, for the parity tests and the benchmark table.

``torch_lstm_lm(torch, model)`` / ``torch_gpt(torch, model)`` build the same network in PyTorch with
``model``'s weights.  The LSTM twin uses ``torch.nn.LSTM``; the GPT's block is
``torch_transformer_block``, the twin of ``tinygdl.nn.TransformerBlock`` (the music Transformer's
twin and the block's parity tests use it too), which writes its attention out with tensor ops,
because ``torch.nn.MultiheadAttention`` cannot have a per-head key size (256) different from
embed_dim / heads (128).  Dropout is driven from outside: ``FixedDropout`` replaces the block's
dropout layers and the twin reads the same masks, so both engines drop the same units.

``python -m benchmarks.twins.text`` also times the LSTM layer alone at the book's shapes (batch 32,
200 steps, 100→128, forward + backward) against ``torch.nn.LSTM``, and the GPT's generation speed
with and without the key/value cache.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import tinygdl as tg
from benchmarks._common import load_average, set_threads, time_interleaved
from benchmarks.twins import ModelRow
from benchmarks.twins.flows import KerasAdam, copy_dense
from tinygdl import nn
from tinygdl.models import text as lm
from tinygdl.optim import Adam

BOOK_BATCH = 32


def _t(torch, array):
    return torch.from_numpy(np.ascontiguousarray(array))


def _parameter(torch, array):
    return torch.nn.Parameter(_t(torch, array).clone())


# --------------------------------------------------------------------------- dropout masks shared by both


class FixedDropout(nn.Module):
    """Multiplies by ``masks[key]`` (already scaled by 1/(1 − p)) in training mode: a dropout layer
    whose random draws are made outside, so that a PyTorch twin can use the very same ones."""

    def __init__(self, masks: dict, key: str):
        super().__init__()
        self.masks, self.key = masks, key

    def forward(self, x):
        return x * tg.tensor(self.masks[self.key]) if self.training else x


def draw_masks(rng, shape, p: float, dtype) -> dict:
    """Inverted-dropout masks for a TransformerBlock's two dropout layers."""
    return {key: ((rng.random(shape) >= p) / (1 - p)).astype(dtype) for key in ("dropout1", "dropout2")}


def use_fixed_dropout(block: nn.TransformerBlock, masks: dict) -> None:
    """``block`` (the GPT's, the music Transformer's) drops the units of ``masks`` from now on."""
    block.dropout1 = FixedDropout(masks, "dropout1")
    block.dropout2 = FixedDropout(masks, "dropout2")


# --------------------------------------------------------------------------- twins


def torch_lstm_lm(torch, model: lm.LSTMLanguageModel):
    """``model`` in PyTorch: Embedding, ``torch.nn.LSTM`` (transposed kernels, the second bias 0), Linear."""
    dtype = getattr(torch, model.head.weight.dtype.name)
    lstm = model.lstm

    class Twin(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(model.vocab_size, lstm.input_size, dtype=dtype)
            self.lstm = torch.nn.LSTM(lstm.input_size, lstm.hidden_size, batch_first=True, dtype=dtype)
            self.head = copy_dense(torch, model.head)
            with torch.no_grad():
                self.embedding.weight.copy_(_t(torch, model.embedding.weight.numpy()))
                self.lstm.weight_ih_l0.copy_(_t(torch, lstm.weight_ih.numpy().T))
                self.lstm.weight_hh_l0.copy_(_t(torch, lstm.weight_hh.numpy().T))
                self.lstm.bias_ih_l0.copy_(_t(torch, lstm.bias.numpy()))
                self.lstm.bias_hh_l0.zero_()
            self.lstm.bias_hh_l0.requires_grad_(False)  # Keras has one bias: train only the first

        def forward(self, ids, masks=None):
            return self.head(self.lstm(self.embedding(ids))[0])

    return Twin()


def torch_transformer_block(torch, block: nn.TransformerBlock):
    """``block`` in PyTorch with its weights: the attention written out with einsum (per-head
    key_dim as Keras), ``torch.nn.LayerNorm`` and ``torch.nn.Linear``.  ``twin(x, masks)`` returns
    (output, attention weights (N, heads, T, T)); ``masks`` are ``draw_masks``'s dropout masks,
    None for no dropout."""
    dtype = getattr(torch, block.ff1.weight.dtype.name)
    attention = block.attention

    def layer_norm(norm):
        twin = torch.nn.LayerNorm(norm.normalized_shape, eps=norm.eps, dtype=dtype)
        with torch.no_grad():
            twin.weight.copy_(_t(torch, norm.weight.numpy()))
            twin.bias.copy_(_t(torch, norm.bias.numpy()))
        return twin

    class Twin(torch.nn.Module):
        def __init__(self):
            super().__init__()
            for name in ("query", "key", "value", "output"):
                projection = getattr(attention, name)
                setattr(self, f"{name}_weight", _parameter(torch, projection.weight.numpy()))
                setattr(self, f"{name}_bias", _parameter(torch, projection.bias.numpy()))
            self.norm1, self.norm2 = layer_norm(block.norm1), layer_norm(block.norm2)
            self.ff1, self.ff2 = copy_dense(torch, block.ff1), copy_dense(torch, block.ff2)

        def attend(self, x):
            t = x.shape[1]
            q = torch.einsum("nte,ehk->nhtk", x, self.query_weight) + self.query_bias[:, None]
            k = torch.einsum("nte,ehk->nhtk", x, self.key_weight) + self.key_bias[:, None]
            v = torch.einsum("nte,ehk->nhtk", x, self.value_weight) + self.value_bias[:, None]
            scores = (q / math.sqrt(attention.key_dim)) @ k.transpose(-1, -2)
            allowed = torch.ones(t, t, dtype=torch.bool).tril()
            weights = torch.where(allowed, scores, torch.tensor(-1e9, dtype=scores.dtype)).softmax(-1)
            return torch.einsum("nhtv,hve->nte", weights @ v, self.output_weight) + self.output_bias, weights

        def forward(self, x, masks=None):
            drop = (lambda key, y: y * _t(torch, masks[key])) if masks is not None else (lambda key, y: y)
            attended, weights = self.attend(x)
            h = self.norm1(x + drop("dropout1", attended))
            return self.norm2(h + drop("dropout2", self.ff2(torch.relu(self.ff1(h))))), weights

    return Twin()


def torch_gpt(torch, model: lm.GPT):
    """``model`` in PyTorch: embeddings, ``torch_transformer_block``, the head."""

    class Twin(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.tokens = _parameter(torch, model.token_embedding.weight.numpy())
            self.positions = _parameter(torch, model.position_embedding.weight.numpy())
            self.block = torch_transformer_block(torch, model.block)
            self.head = copy_dense(torch, model.head)

        def forward(self, ids, masks=None):
            x = self.tokens[ids] + self.positions[: ids.shape[1]]
            return self.head(self.block(x, masks)[0])

    return Twin()


def torch_loss(torch, logits, targets):
    """The book's loss in PyTorch: mean cross-entropy over every position, padding included."""
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


# --------------------------------------------------------------------------- training both


def keras_adam(twin, lr: float) -> KerasAdam:
    return KerasAdam([p for p in twin.parameters() if p.requires_grad], lr=lr)


def training_losses(torch, model, twin, batches, lr: float = 1e-3, dropout: float = 0.0, seed: int = 0):
    """Train tinygdl's ``model`` and its ``twin`` side by side on the same ``batches`` ((inputs,
    targets) int arrays), Adam with Keras's ε, the same dropout masks drawn here for both (GPT);
    returns the two lists of losses."""
    masks: dict = {}
    if isinstance(model, lm.GPT):
        use_fixed_dropout(model.block, masks)
    ours, theirs = Adam(model.parameters(), lr=lr, eps_convention="keras"), keras_adam(twin, lr)
    rng, dtype = np.random.default_rng(seed), model.head.weight.dtype
    model.train()
    losses = ([], [])
    for inputs, targets in batches:
        if isinstance(model, lm.GPT):
            masks.update(draw_masks(rng, inputs.shape + (model.head.in_features,), dropout, dtype))
        ours.zero_grad()
        loss = lm.language_model_loss(model(inputs), targets)
        loss.backward()
        ours.step()
        theirs.zero_grad()
        t_loss = torch_loss(torch, twin(_t(torch, inputs), masks or None), _t(torch, targets))
        t_loss.backward()
        theirs.step()
        losses[0].append(loss.item())
        losses[1].append(t_loss.item())
    return losses


def random_batches(rng, n_batches: int, batch_size: int, length: int, vocab_size: int) -> list:
    ids = rng.integers(0, vocab_size, (n_batches, batch_size, length + 1))
    ids[:, :, -3:] = 0  # a little padding at the ends, as in packed rows
    return [(row[:, :-1], row[:, 1:]) for row in ids]


# --------------------------------------------------------------------------- the benchmark rows


def _step_pair(torch, model, twin, batch):
    inputs, targets = batch
    ours, theirs = Adam(model.parameters(), lr=1e-3, eps_convention="keras"), keras_adam(twin, 1e-3)
    t_inputs, t_targets = _t(torch, inputs), _t(torch, targets)

    def tinygdl_step():
        ours.zero_grad()
        lm.language_model_loss(model(inputs), targets).backward()
        ours.step()

    def torch_step():
        theirs.zero_grad()
        torch_loss(torch, twin(t_inputs), t_targets).backward()
        theirs.step()

    return tinygdl_step, torch_step


def _make(kind: str, length: int):
    def make(torch, batch_size):
        tg.manual_seed(0)
        model = lm.LSTMLanguageModel() if kind == "lstm" else lm.GPT()
        model.eval()  # dropout off in both: the rows time the arithmetic, not the random draws
        twin = torch_lstm_lm(torch, model) if kind == "lstm" else torch_gpt(torch, model)
        batch = random_batches(np.random.default_rng(0), 1, batch_size, length, model.vocab_size)[0]
        return _step_pair(torch, model, twin, batch)

    return make


ROWS = [ModelRow("lstm", "", BOOK_BATCH, 8, _make("lstm", 200)), ModelRow("gpt", "", BOOK_BATCH, 8, _make("gpt", 80))]


# --------------------------------------------------------------------------- the script's measurements


def lstm_layer_ratio(torch, repeat: int) -> dict:
    """Forward + backward of the LSTM layer alone at the book's shapes, tinygdl vs torch.nn.LSTM."""
    tg.manual_seed(0)
    ours = nn.LSTM(100, 128)
    twin = torch_lstm_lm(torch, lm.LSTMLanguageModel(10, 100, 128))  # only its LSTM is used
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BOOK_BATCH, 200, 100)).astype(np.float32)
    g = rng.standard_normal((BOOK_BATCH, 200, 128)).astype(np.float32)
    x_t, g_t = _t(torch, x), _t(torch, g)

    def tinygdl_step():
        out, _ = ours(tg.tensor(x, requires_grad=True))
        (out * tg.tensor(g)).sum().backward()

    def torch_step():
        out, _ = twin.lstm(x_t.clone().requires_grad_())
        (out * g_t).sum().backward()

    return time_interleaved({"tinygdl": tinygdl_step, "torch": torch_step}, repeat)


def generation_speed(tokens: int = 79, rounds: int = 3) -> dict:
    """GPT tokens per second (book sizes, one prompt token, no early stop), with and without the cache."""
    tg.manual_seed(0)
    model = lm.GPT()
    model.head.bias.data[0] = -1e4  # never draw padding: every run generates all its tokens
    speeds = {}
    for use_cache in (True, False):
        best = math.inf
        for _ in range(rounds):
            start = time.perf_counter()
            ids = lm.generate(model, [2], tokens + 1, rng=np.random.default_rng(0), use_cache=use_cache)
            best = min(best, time.perf_counter() - start)
        speeds["cached" if use_cache else "uncached"] = (len(ids) - 1) / best
    return speeds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    import torch

    set_threads(args.threads, torch)
    times = lstm_layer_ratio(torch, args.repeat)
    print(f"LSTM layer, batch 32 x 200 steps, 100->128, forward + backward: tinygdl {times['tinygdl'] * 1e3:.1f} ms, "
          f"torch.nn.LSTM {times['torch'] * 1e3:.1f} ms, ratio {times['tinygdl'] / times['torch']:.2f}x")
    speeds = generation_speed()
    print(f"GPT generation (book sizes, 79 tokens): {speeds['cached']:.1f} tokens/s with the key/value cache, "
          f"{speeds['uncached']:.1f} tokens/s re-running the prefix ({speeds['cached'] / speeds['uncached']:.1f}x)")
    print(f"threads {args.threads}; load average (1 min): {load_average()}")


if __name__ == "__main__":
    main()
