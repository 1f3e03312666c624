"""scaled_dot_product_attention beyond the op table (tinygdl/checks/ops_nn.py checks its values and
gradients against PyTorch): dropout on the attention weights, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import tinygdl as tg
import tinygdl.nn.functional as F
from tinygdl.errors import ShapeError


def test_dropout_drops_attention_weights_and_rescales_the_rest():
    """Uniform attention (zero queries) over S = 4 values of 1: each output is the sum of the kept
    weights 1/4, each scaled by 1/(1 - p), so a multiple of 1/(4·(1 - p)) between 0 and 1/(1 - p)."""
    tg.manual_seed(0)
    q, k, v = tg.zeros(2, 50, 3), tg.randn(2, 4, 3), tg.ones(2, 4, 1)
    y = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    steps = y * 4 * 0.5
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-12)
    assert 0 < (steps < 4 - 1e-9).mean() < 1  # some weights were dropped, not all outputs zero
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v).numpy(), 1.0)


def test_errors_name_the_op_and_shapes():
    q, k, v = tg.zeros(2, 4, 3), tg.zeros(2, 5, 3), tg.zeros(2, 5, 2)
    with pytest.raises(ShapeError, match=r"scaled_dot_product_attention: .* got \(2, 4, 3\), \(2, 5, 2\), "
                                         r"\(2, 5, 2\)"):
        F.scaled_dot_product_attention(q, v, v)
    with pytest.raises(ShapeError, match=r"attn_mask of shape \(4, 4\) does not broadcast to the scores' shape "
                                         r"\(2, 4, 5\)"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((4, 4), bool))
    with pytest.raises(ValueError, match="give attn_mask or is_causal, not both"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((4, 5), bool), is_causal=True)
