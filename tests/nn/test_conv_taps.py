"""conv2d's tap-sum route (stride 1, OC <= C/2: ``TapSum(W_taps · xpad)`` instead of im2col) gives
the im2col route's values and gradients, PyTorch's, and is twice differentiable."""

import numpy as np
import pytest

import tinygdl as tg
import tinygdl.nn.functional as F
from tinygdl.ops import conv
from tinygdl.testing import gradcheck, gradgradcheck

CASES = [((2, 6, 7, 5), 2, (3, 3), "same", (1, 1)),
         ((2, 4, 6, 6), 1, (3, 2), ((1, 0), (2, 1)), (2, 1)),
         ((1, 8, 5, 5), 3, (3, 3), "valid", (1, 1))]


def _arrays(rng, shape, oc, kernel):
    return (rng.standard_normal(shape), rng.standard_normal((oc, shape[1]) + kernel), rng.standard_normal(oc))


def test_the_route_is_taken_only_where_it_pays():
    window = conv.Window((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1))
    assert conv._by_taps(tg.zeros(1, 32, 3, 3), window, groups=1)
    assert not conv._by_taps(tg.zeros(32, 32, 3, 3), window, groups=1)
    assert not conv._by_taps(tg.zeros(1, 32, 3, 3), window._replace(stride=(2, 2)), groups=1)
    assert not conv._by_taps(tg.zeros(1, 32, 1, 1), window._replace(kernel_size=(1, 1)), groups=1)


@pytest.mark.parametrize("shape, oc, kernel, padding, dilation", CASES)
def test_both_routes_agree(float64, rng, monkeypatch, shape, oc, kernel, padding, dilation):
    arrays = _arrays(rng, shape, oc, kernel)
    results = []
    for route in (True, False):
        monkeypatch.setattr(conv, "_by_taps", lambda *args, route=route: route)
        x, w, b = (tg.tensor(a, requires_grad=True) for a in arrays)
        y = F.conv2d(x, w, b, padding=padding, dilation=dilation)
        (y * y).sum().backward()
        results.append([y.numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, oc, kernel, padding, dilation", CASES)
def test_tap_route_matches_torch(float64, rng, torch, shape, oc, kernel, padding, dilation):
    arrays = _arrays(rng, shape, oc, kernel)
    x, w, b = (tg.tensor(a, requires_grad=True) for a in arrays)
    y = F.conv2d(x, w, b, padding=padding, dilation=dilation)
    window = conv._window(x.shape, kernel, 1, padding, dilation, "test")
    (top, bottom), (left, right) = window.padding
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in arrays)
    yt = torch.nn.functional.conv2d(torch.nn.functional.pad(xt, (left, right, top, bottom)), wt, bt,
                                    dilation=dilation)
    gy = rng.standard_normal(y.shape)
    (y * tg.tensor(gy)).sum().backward()
    (yt * torch.tensor(gy)).sum().backward()
    for ours, theirs in ((y, yt), (x.grad, xt.grad), (w.grad, wt.grad), (b.grad, bt.grad)):
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_tap_route_gradcheck_and_gradgradcheck(float64, rng):
    shape, oc, kernel, padding, dilation = CASES[1]
    arrays = _arrays(rng, shape, oc, kernel)

    def fn(x, w, b):
        return F.conv2d(x, w, b, padding=padding, dilation=dilation)

    gradcheck(fn, [tg.tensor(a, requires_grad=True) for a in arrays])
    gradgradcheck(fn, [tg.tensor(a, requires_grad=True) for a in arrays])


def test_tap_spread_is_the_adjoint_of_tap_sum(float64, rng):
    z, gy = rng.standard_normal((2 * 6, 3, 6, 7)), rng.standard_normal((2, 3, 4, 5))
    tap_sum = conv.TapSum((2, 3), (2, 1), (4, 5))
    spread = conv.TapSpread((2, 3), (2, 1), (4, 5), z.shape)
    assert np.isclose(np.vdot(tap_sum.forward(z), gy), np.vdot(z, spread.forward(gy)), rtol=1e-12)


def test_tap_route_keeps_only_its_inputs(rng):
    """One Function: the padded batch, its channel-first copy and the per-tap products are not
    kept for the backward pass (it makes the copy again)."""
    x = tg.tensor(rng.standard_normal((2, 6, 7, 5)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((2, 6, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w, padding="same")
    assert type(y.creator).__name__ == "TapConvolution"
    assert [t.shape for t in y.creator.inputs] == [w.shape, x.shape] and y.creator.inputs[0].creator is None
