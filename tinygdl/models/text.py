"""The book's word-level language models and how they write text.

* ``LSTMLanguageModel`` (chapter 5): Embedding 10000×100 -> LSTM 100→128 over the whole sequence ->
  Dense 128→10000 at every step.
* ``GPT`` (chapter 9): token + learned position embeddings (256) -> one post-LN ``nn.TransformerBlock``
  (2 causal attention heads of key_dim 256, ReLU feed-forward 256, dropout 0.1, LayerNorm ε 1e-6)
  -> Dense 256→10000.

Both return **logits** (N, T, vocabulary) — the book ends each with a softmax and computes the
loss on probabilities; the loss here is the same cross-entropy taken from the logits
(``language_model_loss``), which needs no clipping.  Token id 0 is padding and id 1 ``[UNK]``
(``tinygdl.data.text``).

Generation (``generate``) follows the book: the prompt's ids, then repeatedly a temperature-scaled
draw from the distribution of the next token, until the draw is padding (id 0) or the text has
``max_tokens`` tokens.  The book re-runs the model on the whole prefix for each token; here each
model carries what it has computed (the LSTM its state (h, c), the GPT a key/value cache per
attention layer), so a token costs one position.  ``use_cache=False`` re-runs the prefix as the
book does; both give the same logits (tests/models/test_text.py).
"""

from __future__ import annotations

import numpy as np

from .. import backend, nn
from ..errors import ConfigError, ShapeError
from ..nn.module import evaluation_mode
from ..ops.creation import arange
from ..ops.elementwise import maximum
from ..ops.neural import one_hot, softmax
from ..ops.shape import unsqueeze
from ..tensor import Function, Tensor, is_grad_enabled, tensor

__all__ = ["GPT", "LSTMLanguageModel", "generate", "format_word_table", "language_model_loss",
           "next_token_probabilities", "next_word_table", "padding_free_nll", "sample_token", "token_ids",
           "token_nll"]


def token_ids(ids) -> Tensor:
    """Token ids as an int64 Tensor (N, T).  Whole-number floats are accepted too (the zeros that
    ``summary`` feeds a model); anything else is an error naming the dtype."""
    data = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
    if data.ndim != 2:
        raise ShapeError(f"a language model takes token ids of shape (N, T), got {data.shape}")
    if data.dtype.kind == "f" and bool((data == data.round()).all()):
        data = data.astype(np.int64)
    if data.dtype.kind not in "iu":
        raise ShapeError(f"token ids must be integers, got dtype {data.dtype}")
    return ids if isinstance(ids, Tensor) and ids.data is data else tensor(data)


# --------------------------------------------------------------------------- chapter 5: the LSTM


class LSTMLanguageModel(nn.Module):
    """Embedding -> LSTM (returning every step) -> Dense per step: next-token logits (N, T, vocab).

    ``forward(ids, state)`` also accepts the LSTM state (h, c) to continue from and returns the new
    one with ``return_state=True`` — generation feeds one token at a time through it.
    """

    def __init__(self, vocab_size: int = 10_000, embed_dim: int = 100, hidden: int = 128):
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids, state=None, return_state: bool = False):
        outputs, state = self.lstm(self.embedding(token_ids(ids)), state)
        logits = self.head(outputs)
        return (logits, state) if return_state else logits

    def next_logits(self, ids, state=None):
        """Logits of the token after ``ids`` (N, vocab), and the state to continue from."""
        logits, state = self(ids, state, return_state=True)
        return logits[:, -1], state


# --------------------------------------------------------------------------- chapter 9: the GPT


class GPT(nn.Module):
    """Token embedding + learned position embedding -> nn.TransformerBlock -> Dense: logits (N, T, vocab).

    ``forward(ids, cache=KVCache())`` continues a sequence whose earlier positions the cache holds
    (their keys and values): the new ids get positions ``len(cache)`` onwards.  Sequences are at
    most ``max_len`` (80) tokens, the size of the position table.
    """

    def __init__(self, vocab_size: int = 10_000, max_len: int = 80, embed_dim: int = 256, num_heads: int = 2,
                 key_dim: int = 256, ff_dim: int = 256, dropout: float = 0.1):
        super().__init__()
        self.vocab_size, self.max_len = vocab_size, max_len
        self.token_embedding = nn.Embedding(vocab_size, embed_dim)
        self.position_embedding = nn.Embedding(max_len, embed_dim)
        self.block = nn.TransformerBlock(embed_dim, num_heads, key_dim, ff_dim, dropout)
        self.head = nn.Linear(embed_dim, vocab_size)

    def forward(self, ids, cache: "nn.KVCache | None" = None, return_weights: bool = False):
        ids = token_ids(ids)
        start = 0 if cache is None else len(cache)
        if start + ids.shape[1] > self.max_len:
            raise ShapeError(f"GPT: positions {start}..{start + ids.shape[1] - 1} exceed the position table "
                             f"(max_len={self.max_len})")
        positions = arange(start, start + ids.shape[1], dtype="int64", device=self.token_embedding.weight.device)
        x = self.token_embedding(ids) + self.position_embedding(positions)
        x, weights = self.block(x, cache, return_weights=True)
        logits = self.head(x)
        return (logits, weights) if return_weights else logits

    def next_logits(self, ids, cache=None):
        """Logits of the token after ``ids`` (N, vocab), and the key/value cache to continue from."""
        cache = nn.KVCache() if cache is None else cache
        return self(ids, cache)[:, -1], cache


# --------------------------------------------------------------------------- loss


class TokenNLL(Function):
    """−log softmax(z)[target] at every position: logits (..., V) and integer targets (...) -> (...).

    One op because the language models' logits are large ((32, 200, 10000) = 64 million values for
    the LSTM): the generic route (log_softmax, then fancy indexing, whose backward scatters through
    a full-size index array) costs several extra passes over them.  Forward: ``logsumexp(z) −
    z[target]``.  Backward: ``(softmax(z) − onehot(target)) · g``, computed in place on one array
    when the backward is not being recorded, and with Tensor ops (so differentiable again) when it is.
    """

    def __init__(self, targets):
        self.targets = targets

    def forward(self, z):
        xp = backend.get_array_module(z)
        self.top = z.max(axis=-1, keepdims=True)
        shifted = z - self.top
        self.log_total = xp.log(xp.exp(shifted, out=shifted).sum(axis=-1, keepdims=True))
        picked = xp.take_along_axis(z, self.targets[..., None], axis=-1)
        return (self.top + self.log_total - picked)[..., 0]

    def backward(self, gy):
        (z,) = self.inputs
        if is_grad_enabled():
            classes = one_hot(self.targets, z.shape[-1], dtype=z.dtype)
            return (softmax(z, axis=-1) - classes) * unsqueeze(gy, -1)
        xp = backend.get_array_module(z.data)
        g = xp.exp(z.data - self.top - self.log_total)  # softmax(z)
        rows = g.reshape(-1, g.shape[-1])
        rows[xp.arange(rows.shape[0]), self.targets.ravel()] -= 1
        g *= gy.data[..., None]
        return Tensor._wrap(g)


def token_nll(logits: Tensor, targets) -> Tensor:
    """The negative log-likelihood of every target token (shape of ``targets``)."""
    targets = backend.to_device(targets.data if isinstance(targets, Tensor) else np.asarray(targets), logits.device)
    if targets.shape != logits.shape[:-1] or targets.dtype.kind not in "iu":
        raise ShapeError(f"token_nll: targets must be integers of shape {logits.shape[:-1]} (the logits' "
                         f"{logits.shape} without the class axis), got {targets.dtype} {targets.shape}")
    return TokenNLL(targets)(logits)


def language_model_loss(logits: Tensor, targets, count_padding: bool = True) -> Tensor:
    """Mean next-token cross-entropy.  ``count_padding=True`` averages over every position, padding
    targets (id 0) included, as the book's Keras loss does; ``False`` averages over the others
    only (the number whose exponential is the perplexity)."""
    nll = token_nll(logits, targets)
    if count_padding:
        return nll.mean()
    real = (targets.data if isinstance(targets, Tensor) else np.asarray(targets)) != 0
    real = tensor(real, device=nll.device).astype(nll.dtype)
    return (nll * real).sum() / maximum(real.sum(), 1.0)  # on the device: no count read back to the host


def padding_free_nll(logits: Tensor, targets) -> tuple:
    """(summed negative log-likelihood, number of targets) over the non-padding targets: summed
    over batches and divided at the end, exp(total / count) is the exact perplexity of a split."""
    nll = token_nll(logits, targets).numpy()
    real = backend.to_numpy(targets.data if isinstance(targets, Tensor) else np.asarray(targets)) != 0
    return float((nll * real).sum()), int(real.sum())


# --------------------------------------------------------------------------- generation


def sample_token(logits, temperature: float = 1.0, top_k: int | None = None, rng=None) -> int:
    """One draw from ``softmax(logits / temperature)`` (the book's temperature sampling), optionally
    restricted to the ``top_k`` most likely tokens (renormalised; the book has no top-k)."""
    probabilities = next_token_probabilities(logits, temperature, top_k)
    rng = np.random.default_rng() if rng is None else rng
    return int(min(np.searchsorted(np.cumsum(probabilities), rng.random() * probabilities.sum(), side="right"),
                   len(probabilities) - 1))


def next_token_probabilities(logits, temperature: float = 1.0, top_k: int | None = None) -> np.ndarray:
    """``softmax(logits / T)`` in float64 (a 1-D array), with all but the ``top_k`` largest zeroed."""
    if not temperature > 0:
        raise ConfigError(f"temperature must be positive, got {temperature}")
    z = np.asarray(logits.numpy() if isinstance(logits, Tensor) else logits, dtype=np.float64).ravel() / temperature
    if top_k:
        z[np.argsort(z)[:-top_k]] = -np.inf
    p = np.exp(z - z.max())
    return p / p.sum()


def generate(model, prompt_ids, max_tokens: int = 100, temperature: float = 1.0, top_k: int | None = None,
             rng=None, use_cache: bool = True, vocabulary_size: int | None = None) -> list:
    """The prompt's ids followed by sampled ones, until a draw is padding (0, not appended) or the
    sequence has ``max_tokens`` ids (the prompt counts, as in the book).  ``model`` has
    ``next_logits(ids, state) -> (logits (1, vocab), state)``; ``use_cache=False`` re-runs the
    model on the whole prefix for every token instead.  ``vocabulary_size`` limits the draws to
    the first ids (a corpus with fewer words than the model's output layer has tokens)."""
    ids = [int(i) for i in prompt_ids]
    if not ids:
        raise ConfigError("generate: the prompt has no tokens")
    rng = np.random.default_rng() if rng is None else rng
    state, new = None, ids
    with evaluation_mode([model]):
        while len(ids) < max_tokens:
            if use_cache:
                logits, state = model.next_logits(np.array([new]), state)
            else:
                logits = model(np.array([ids]))[:, -1]
            token = sample_token(logits.numpy()[0, :vocabulary_size], temperature, top_k, rng)
            if token == 0:
                break
            ids.append(token)
            new = [token]
    return ids


def next_word_table(model, prompt_ids, vocabulary, temperature: float = 1.0, k: int = 10) -> list:
    """The book's table: the ``k`` most likely next words after the prompt at a temperature, as
    (word, probability) pairs, most likely first."""
    with evaluation_mode([model]):
        logits = model(np.array([list(prompt_ids)]))[:, -1].numpy()[0, :len(vocabulary)]
    probabilities = next_token_probabilities(logits, temperature)
    best = np.argsort(probabilities)[::-1][:k]
    return [(vocabulary[i], float(probabilities[i])) for i in best]


def format_word_table(rows, title: str = "") -> str:
    """``next_word_table``'s rows as aligned text lines: ``word   12.34%``."""
    width = max((len(repr(word)) for word, _ in rows), default=4)
    lines = [title] if title else []
    return "\n".join(lines + [f"  {word!r:<{width}}  {100 * p:6.2f}%" for word, p in rows])
