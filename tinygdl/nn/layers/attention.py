"""Multi-head attention (Vaswani et al. 2017), shaped like Keras's ``MultiHeadAttention``, and the
post-LN decoder block built on it (``TransformerBlock``) — the block of the book's GPT (chapter 9)
and music Transformer (chapter 11)."""

from __future__ import annotations

import math

from ... import backend
from ...ops.elementwise import _const, relu, where
from ...ops.neural import dropout as apply_dropout
from ...ops.neural import softmax
from ...ops.shape import concatenate, reshape, transpose
from ...tensor import Tensor
from .. import init
from ..module import Module, Parameter
from .linear import Linear
from .misc import Dropout
from .norm import LayerNorm

__all__ = ["KVCache", "MultiHeadAttention", "TransformerBlock"]

# The score given to blocked positions, as Keras does: finite, so that a row with every position
# blocked becomes a uniform average instead of NaN.
BLOCKED = -1e9


class Projection(Module):
    """A dense layer between multi-axis shapes: (..., *in_shape) -> (..., *out_shape), with a kernel of
    shape ``in_shape + out_shape`` and a bias of shape ``out_shape`` (Keras's ``EinsumDense`` as
    MultiHeadAttention uses it).  Computed as one matrix product of the flattened shapes; the
    kernel is glorot_uniform with Keras's fans for a multi-axis kernel (``init.fans`` kind "keras")."""

    def __init__(self, in_shape, out_shape, bias: bool = True):
        super().__init__()
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.weight = Parameter(init.glorot_uniform(self.in_shape + self.out_shape, kind="keras"))
        self.bias = Parameter(init.zeros(self.out_shape)) if bias else None

    def forward(self, x):
        k = len(self.in_shape)
        if x.shape[x.ndim - k:] != self.in_shape:
            raise ValueError(f"{self!r}: expected an input of shape (..., {', '.join(map(str, self.in_shape))}), "
                             f"got {x.shape}")
        n_in, n_out = math.prod(self.in_shape), math.prod(self.out_shape)
        flat = reshape(x, (-1, n_in)) @ reshape(self.weight, (n_in, n_out))
        y = reshape(flat, x.shape[:x.ndim - k] + self.out_shape)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"{self.in_shape} -> {self.out_shape}, bias={self.bias is not None}"


class MultiHeadAttention(Module):
    """Multi-head scaled dot-product attention over (N, T, embed_dim) sequences.

    Each of the ``num_heads`` heads projects the query sequence to Q (N, T, key_dim), the key
    sequence to K (N, S, key_dim) and the value sequence to V (N, S, value_dim), and computes

        weights = softmax(Q Kᵀ / sqrt(key_dim) + mask)      (N, heads, T, S)
        head    = weights · V                             (N, T, value_dim)

    and the output projection maps the heads, concatenated, back to (N, T, embed_dim).

    **Shapes as Keras.**  ``key_dim`` is the size *per head* and need not equal
    ``embed_dim / num_heads``: the book's GPT uses 2 heads of key_dim 256 on embed_dim 256.  It
    defaults to ``embed_dim // num_heads`` (PyTorch's only choice); ``value_dim`` defaults to
    ``key_dim``.  The projections are the submodules ``query``, ``key``, ``value`` (kernels
    (embed_dim, heads, key_dim), biases (heads, key_dim)) and ``output`` (kernel
    (heads, value_dim, embed_dim), bias (embed_dim,)), with Keras's initializers, so parameter
    counts match Keras's: 131,584 per input projection and 131,328 for the output in the GPT.

    **Calling.**  ``mha(x)`` is self-attention.  The argument order is Keras's,
    ``mha(query, value, key)`` (key defaults to value, value to query); PyTorch's is
    (query, key, value).  ``causal=True`` lets position i attend only to positions j <= i.
    ``mask`` is either boolean — **True where attention is allowed** (Keras's convention;
    PyTorch's boolean ``attn_mask`` means the opposite) — or float, added to the scores (0 allowed,
    a large negative number blocked).  Its shape is (T, S), (N, T, S) (the same for every head) or
    (N, heads, T, S).  Blocked scores become -1e9, as in Keras.  ``return_weights=True`` also
    returns the (N, heads, T, S) attention weights (before dropout, as Keras returns them).
    ``dropout`` is applied to the attention weights in training mode.

    **Generating step by step.**  ``cache=KVCache()`` keeps the keys and values of every position
    seen so far: each call appends those of its new positions and attends over all of them, so
    generating token t costs one position's projections, not a re-run of the whole prefix.  With
    a cache, ``causal=True`` lets new position i (absolute position ``len(cache) + i``) see every
    cached key and the new keys up to itself.
    """

    def __init__(self, embed_dim: int, num_heads: int, key_dim: int | None = None, value_dim: int | None = None,
                 dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if key_dim is None:
            if embed_dim % num_heads:
                raise ValueError(f"MultiHeadAttention: embed_dim={embed_dim} is not divisible by "
                                 f"num_heads={num_heads}; pass key_dim (the size per head) explicitly")
            key_dim = embed_dim // num_heads
        value_dim = key_dim if value_dim is None else value_dim
        self.embed_dim, self.num_heads, self.key_dim, self.value_dim = embed_dim, num_heads, key_dim, value_dim
        self.dropout = dropout
        self.query = Projection((embed_dim,), (num_heads, key_dim), bias)
        self.key = Projection((embed_dim,), (num_heads, key_dim), bias)
        self.value = Projection((embed_dim,), (num_heads, value_dim), bias)
        self.output = Projection((num_heads, value_dim), (embed_dim,), bias)

    def forward(self, query, value=None, key=None, mask=None, causal: bool = False, return_weights: bool = False,
                cache: "KVCache | None" = None):
        value = query if value is None else value
        key = value if key is None else key
        self._check_shapes(query, key, value)
        # (N, T, heads, dim) -> (N, heads, T, dim); keys go to (N, heads, dim, S) for the product.
        q = transpose(self.query(query) * (1.0 / math.sqrt(self.key_dim)), (0, 2, 1, 3))
        k = transpose(self.key(key), (0, 2, 3, 1))
        v = transpose(self.value(value), (0, 2, 1, 3))
        past = 0
        if cache is not None:
            past = len(cache)
            k, v = cache.append(k, v)
        scores = _masked(q @ k, mask, causal, past)
        weights = softmax(scores, axis=-1)
        context = apply_dropout(weights, self.dropout, training=self.training) @ v  # (N, heads, T, value_dim)
        out = self.output(transpose(context, (0, 2, 1, 3)))
        return (out, weights) if return_weights else out

    def _check_shapes(self, query, key, value):
        layer = f"MultiHeadAttention({self.extra_repr()})"  # repr(self) would list the projections too
        for name, x in (("query", query), ("key", key), ("value", value)):
            if x.ndim != 3 or x.shape[-1] != self.embed_dim:
                raise ValueError(f"{layer}: expected the {name} of shape (N, T, {self.embed_dim}), got {x.shape}")
        if key.shape[:2] != value.shape[:2] or query.shape[0] != key.shape[0]:
            raise ValueError(f"{layer}: key {key.shape} and value {value.shape} must have the same batch and "
                             f"length, and the batch size of query {query.shape}")

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, key_dim={self.key_dim}, "
                f"value_dim={self.value_dim}, dropout={self.dropout}")


class TransformerBlock(Module):
    """The book's post-LN Transformer decoder block (no cross-attention), on (N, T, embed_dim)::

        h = LayerNorm(x + Dropout(MultiHeadAttention(x, causal)))
        y = LayerNorm(h + Dropout(Dense(ReLU(Dense(h)))))

    The attention is always causal (position t sees positions <= t).  LayerNorm ε is 1e-6, as in
    the book's Keras block; ``key_dim`` is per head (Keras), so the GPT's 2 heads of 256 on
    embed_dim 256 are expressible.  The GPT (chapter 9) and the music Transformer (chapter 11) use
    it, which is why it lives here and not with either model.

    ``forward(x, cache=None, return_weights=False)``: ``cache`` is the attention's ``KVCache``
    (positions already seen; the feed-forward half works position by position and needs none), and
    ``return_weights=True`` also returns the attention weights (N, heads, T, S).
    """

    def __init__(self, embed_dim: int = 256, num_heads: int = 2, key_dim: int = 256, ff_dim: int = 256,
                 dropout: float = 0.1, eps: float = 1e-6):
        super().__init__()
        self.attention = MultiHeadAttention(embed_dim, num_heads, key_dim=key_dim)
        self.dropout1 = Dropout(dropout)
        self.norm1 = LayerNorm(embed_dim, eps=eps)
        self.ff1 = Linear(embed_dim, ff_dim)
        self.ff2 = Linear(ff_dim, embed_dim)
        self.dropout2 = Dropout(dropout)
        self.norm2 = LayerNorm(embed_dim, eps=eps)

    def forward(self, x, cache: "KVCache | None" = None, return_weights: bool = False):
        attended, weights = self.attention(x, causal=True, return_weights=True, cache=cache)
        h = self.norm1(x + self.dropout1(attended))
        y = self.norm2(h + self.dropout2(self.ff2(relu(self.ff1(h)))))
        return (y, weights) if return_weights else y


class KVCache:
    """The keys (N, heads, key_dim, S) and values (N, heads, S, value_dim) an attention layer has
    computed so far; ``MultiHeadAttention(..., cache=c)`` appends to it.  One cache per layer and
    per generated batch; ``len(cache)`` is the number of positions it holds."""

    def __init__(self):
        self.keys = self.values = None

    def __len__(self) -> int:
        return 0 if self.keys is None else self.keys.shape[-1]

    def append(self, keys: Tensor, values: Tensor):
        """Add the new positions' keys and values; returns all keys and values held."""
        if self.keys is not None:
            keys = concatenate([self.keys, keys], axis=3)
            values = concatenate([self.values, values], axis=2)
        self.keys, self.values = keys, values
        return keys, values


def _masked(scores: Tensor, mask, causal: bool, past: int = 0) -> Tensor:
    """Apply a boolean (True = allowed) or additive float mask and/or the causal mask to
    (N, heads, T, S) scores; ``past`` cached positions come before the T new queries."""
    xp = backend.get_array_module(scores.data)
    allowed = None
    if mask is not None:
        m = backend.to_device(mask.data if isinstance(mask, Tensor) else mask, scores.device)
        if m.ndim not in (2, 3, 4) or m.shape[-2:] != scores.shape[-2:]:
            raise ValueError(f"MultiHeadAttention: a mask of shape {m.shape} does not fit the attention scores "
                             f"(N, heads, T, S) = {scores.shape}; expected (T, S), (N, T, S) or (N, heads, T, S)")
        if m.ndim == 3:
            m = m[:, None]  # (N, T, S): the same mask for every head
        if m.dtype == bool:
            allowed = m
        else:
            scores = scores + _const(m.astype(scores.dtype))
    if causal:
        t, s = scores.shape[-2:]
        lower = xp.tril(xp.ones((t, s), dtype=bool), k=past)  # query i sees keys j <= past + i
        allowed = lower if allowed is None else allowed & lower
    return scores if allowed is None else where(allowed, scores, BLOCKED)
