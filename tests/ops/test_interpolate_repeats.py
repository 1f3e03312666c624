"""Nearest-neighbour ``interpolate`` takes its cheap path (a ``repeat`` of every pixel) exactly when
PyTorch's source indices are ``i // r``, and decides so from the sizes and the scale alone (host
arrays), never by reading the device back."""

from __future__ import annotations

import numpy as np
import pytest

import tinygdl as tg
import tinygdl.nn.functional as F
from tinygdl.ops.conv import _nearest_positions, _repeats

# integer scales; near-integers on both sides (1/2.00000001 is 0.5 in float32; 2.0000001 doubles the
# size, which PyTorch copies as i // 2; 1/3.0000001 rounds below 1/3); fractions (1.1 and 1.4 keep
# small sizes unchanged)
SCALES = [1, 2, 3, 5, 7, 2.0, 2.00000001, 1.9999999, 2.0000001, 3.0000001, 1.1, 1.4, 1.5, 2.5, 3.3, 0.5, 0.75]


def _torch_sources(torch, n: int, size=None, scale_factor=None) -> np.ndarray:
    """The input cell each output cell copies, read off PyTorch's nearest interpolation of 0..n-1
    (as an (n, 1) image: the 2-D kernel, which interpolate follows) in float32, the dtype whose
    index arithmetic interpolate copies (PyTorch's float64 kernel rounds differently at a few
    exact boundaries, e.g. output cell 44 of 39 -> 132)."""
    x = torch.arange(n, dtype=torch.float32).reshape(1, 1, n, 1)
    size = None if size is None else (size, 1)
    scale = None if scale_factor is None else (scale_factor, 1.0)
    return torch.nn.functional.interpolate(x, size=size, scale_factor=scale, mode="nearest").reshape(-1).numpy()


def _cases(n: int):
    yield from ((o, None) for o in range(1, 4 * n + 2))
    yield from ((int(np.floor(n * s)), s) for s in SCALES if n * s >= 1)


@pytest.mark.torch
def test_the_repeat_path_is_taken_exactly_when_the_sources_are_i_over_r(torch):
    fast = set()
    for n in range(1, 41):
        for o, scale in _cases(n):
            positions = _nearest_positions(n, o, scale)
            expected = _torch_sources(torch, n, None if scale else o, scale)
            np.testing.assert_array_equal(positions, expected, err_msg=f"n={n} o={o} scale={scale}")
            repeats = o % n == 0 and np.array_equal(expected, np.arange(o) // (o // n))
            r = _repeats(n, positions)
            assert (r != 0) == repeats, f"n={n} o={o} scale={scale}"
            assert r in (0, o // n)
            if r:
                fast.add((n, o, scale))
    # integer enlargements, given as a factor or a size, and any size of a one-cell axis ...
    for n in range(1, 41):
        assert all((n, n * r, r) in fast for r in (1, 2, 3, 5, 7))
        assert all((n, n * r, None) in fast for r in (1, 2, 3, 4))
    assert all((1, o, None) in fast for o in range(1, 6)) and (1, 3, 3.3) in fast
    # ... an unchanged or doubled size whatever the factor (PyTorch's special cases), but not 3.0000001
    assert all((n, 2 * n, 2.0000001) in fast and (n, 3 * n, 3.0000001) not in fast for n in range(2, 41))
    assert all((n, n, 1.1) in fast for n in range(1, 10))


@pytest.mark.torch
@pytest.mark.parametrize("shape, kwargs", [((1, 2, 3, 4), dict(scale_factor=2)), ((1, 2, 3, 4), dict(size=(6, 12))),
                                           ((1, 2, 3, 4), dict(scale_factor=(2, 1.5))),
                                           ((1, 2, 4, 4), dict(scale_factor=2.00000001)),
                                           ((2, 1, 1, 3), dict(size=(4, 6)))])
def test_both_paths_match_torch_forward_and_backward(torch, rng, shape, kwargs):
    a = rng.standard_normal(shape)
    x, xt = tg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, t = F.interpolate(x, **kwargs), torch.nn.functional.interpolate(xt, **kwargs)
    np.testing.assert_array_equal(y.numpy(), t.detach().numpy())
    gy = rng.standard_normal(y.shape)
    y.backward(tg.tensor(gy))
    t.backward(torch.tensor(gy))
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
