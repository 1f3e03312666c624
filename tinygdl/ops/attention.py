"""Scaled dot-product attention, PyTorch's ``F.scaled_dot_product_attention``:

    attention(Q, K, V) = softmax(Q·Kᵀ · scale + bias) · V        scale = 1/sqrt(E) by default

for queries (..., L, E), keys (..., S, E) and values (..., S, Ev), every leading axis (batch,
heads) broadcast.  ``bias`` (L, S) is where masks enter: a boolean ``attn_mask`` is True where a
query may attend to a key (PyTorch's convention: False becomes -inf, a zero weight after the
softmax), a float one is added to the scores; ``is_causal`` lets query ``i`` see keys ``0..i`` only.
It is written with differentiable ops (two matrix products and a softmax), so it can be
differentiated twice.  (``nn.MultiHeadAttention`` is the Keras-style layer; its boolean masks
mean the same.)
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..errors import ShapeError
from ..tensor import Tensor
from .elementwise import where
from .linalg import matmul
from .neural import dropout, softmax
from .shape import swapaxes

__all__ = ["scaled_dot_product_attention"]


def _check(query: Tensor, key: Tensor, value: Tensor):
    op = "scaled_dot_product_attention"
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise ShapeError(f"{op}: query, key and value need shapes (..., L, E), (..., S, E), (..., S, Ev); "
                         f"got {query.shape}, {key.shape}, {value.shape}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ShapeError(f"{op}: query (..., L, E) and key (..., S, E) must share E, key and value "
                         f"(..., S, Ev) must share S; got {query.shape}, {key.shape}, {value.shape}")


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask=None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None
                                 ) -> Tensor:
    """``softmax(Q·Kᵀ·scale + mask)·V`` (see the module docstring), with dropout of probability
    ``dropout_p`` on the attention weights (always applied when ``dropout_p > 0``, as PyTorch;
    pass ``dropout_p=0`` in evaluation).  A query that may attend to no key gets NaN weights."""
    op = "scaled_dot_product_attention"
    _check(query, key, value)
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: give attn_mask or is_causal, not both (as PyTorch)")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = matmul(query, swapaxes(key, -2, -1)) * scale                      # (..., L, S)
    length, source = scores.shape[-2:]
    xp = backend.get_array_module(scores.data)
    if is_causal:
        allowed = xp.tril(xp.ones((length, source), dtype=bool))
        scores = where(allowed, scores, -math.inf)
    elif attn_mask is not None:
        mask = attn_mask.data if isinstance(attn_mask, Tensor) else backend.to_device(attn_mask, scores.device)
        try:
            np.broadcast_shapes(mask.shape, scores.shape)
        except ValueError:
            raise ShapeError(f"{op}: attn_mask of shape {tuple(mask.shape)} does not broadcast to the scores' "
                             f"shape {scores.shape} (..., L, S)") from None
        if mask.dtype == bool:
            scores = where(mask, scores, -math.inf)
        else:
            scores = scores + (attn_mask if isinstance(attn_mask, Tensor) else Tensor._wrap(mask.astype(scores.dtype)))
    weights = softmax(scores, -1)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, training=True)
    return matmul(weights, value)
