"""tg.pad / F.pad beyond the op table (tinygdl/checks/ops_nn.py checks every mode against PyTorch,
with gradients): the argument forms and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import tinygdl as tg
import tinygdl.nn.functional as F
from tinygdl.errors import ShapeError


def test_flat_widths_pad_the_last_axes_first():
    x = tg.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(F.pad(x, (1, 0)).numpy(), np.pad(x.numpy(), ((0, 0), (1, 0))))
    np.testing.assert_array_equal(F.pad(x, (0, 1, 2, 0), value=7).numpy(),
                                  np.pad(x.numpy(), ((2, 0), (0, 1)), constant_values=7))
    np.testing.assert_array_equal(F.pad(x, (1, 1), "reflect").numpy(), np.pad(x.numpy(), ((0, 0), (1, 1)), "reflect"))
    assert F.pad(x, (0, 0)) is x  # nothing to do


def test_replicate_padding_sends_every_copy_s_gradient_to_the_border_cell():
    x = tg.tensor(np.arange(4.0), requires_grad=True)
    F.pad(x, (2, 1), mode="replicate").sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3, 1, 1, 2])


def test_errors_name_the_op_and_shapes():
    x = tg.zeros(2, 3)
    with pytest.raises(ShapeError, match=r"pad: reflect padding of \(3, 0\) cells does not fit axis 1 of size 3 .* "
                                         r"\(at most 2 cells each side\)"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ShapeError, match=r"circular padding of \(0, 4\) cells"):
        F.pad(x, (0, 4), mode="circular")
    with pytest.raises(ShapeError, match=r"needs an even number of widths"):
        F.pad(x, (1, 1, 1))
    with pytest.raises(ShapeError, match=r"widths \(\(0, 0\), \(-2, -2\)\) crop more than the whole of a tensor of "
                                         r"shape \(2, 3\)"):
        F.pad(x, (-2, -2))
    with pytest.raises(ShapeError, match=r"3 \(before, after\) pairs given for a tensor with 2 dimensions"):
        tg.pad(x, ((0, 0), (0, 0), (1, 1)))
    with pytest.raises(ValueError, match="mode must be one of"):
        F.pad(x, (1, 1), mode="symmetric")
