"""PixelCNN and PixelCNN++ against their PyTorch twins (benchmarks/twins/autoregressive.py): the same
weights, batches and dropout masks, then the gradients of one step and the losses of 50 training
steps agree (float64 to 1e-10, float32 to ~1e-4)."""

import numpy as np
import pytest

import tinygdl as tg
from benchmarks.twins import autoregressive as twins
from tinygdl.models import pixelcnn as pc

SMALL_PIXELCNN = dict(levels=4, filters=16, blocks=2)
SMALL_PIXELCNN_MD = dict(filters=4)  # at 8x8: a 4x4 image leaves channels of near-zero variance at the
# data-dependent initialisation (g ~ 1e5), and the training run turns chaotic


def _losses(pair, batch, steps, n, size, seed=0):
    ours, theirs = pair
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(steps):
        x, target = batch(rng, n, size)
        pairs.append((ours(x, target), theirs(x, target)))
    return np.array(pairs)


def _assert_agree(losses, rtol):
    assert np.isfinite(losses).all()
    np.testing.assert_allclose(losses[:, 0], losses[:, 1], rtol=rtol)


def test_pixelcnn_first_50_steps_match_the_twin_float64(torch, float64):
    tg.manual_seed(0)
    pair = twins.pixelcnn_pair(torch, pc.PixelCNN(**SMALL_PIXELCNN))
    _assert_agree(_losses(pair, twins.pixelcnn_batch, 50, 8, 8), rtol=1e-10)


def test_pixelcnn_md_first_50_steps_match_the_twin_float64(torch, float64):
    tg.manual_seed(0)
    pair = twins.pixelcnn_md_pair(torch, pc.PixelCNNPlusPlus(**SMALL_PIXELCNN_MD))
    _assert_agree(_losses(pair, twins.pixelcnn_md_batch, 50, 2, 8), rtol=1e-10)


def test_float32_steps_match_the_twin(torch):
    tg.manual_seed(0)
    pair = twins.pixelcnn_pair(torch, pc.PixelCNN(**SMALL_PIXELCNN))
    _assert_agree(_losses(pair, twins.pixelcnn_batch, 50, 8, 8), rtol=1e-4)
    pair = twins.pixelcnn_md_pair(torch, pc.PixelCNNPlusPlus(**SMALL_PIXELCNN_MD))
    _assert_agree(_losses(pair, twins.pixelcnn_md_batch, 10, 2, 8), rtol=1e-4)


def test_pixelcnn_md_gradients_match_the_twin(torch, float64):
    """One forward/backward (the data-dependent initialisation included) with the same dropout masks:
    every parameter's gradient agrees."""
    tg.manual_seed(0)
    model = twins.feed_dropout(pc.PixelCNNPlusPlus(filters=4), twins.MaskStream(0.3, 1))
    twin = twins.TorchPixelCNNPlusPlus(torch, model, twins.MaskStream(0.3, 1))
    x, k = twins.pixelcnn_md_batch(np.random.default_rng(1), 2, 8)
    ours = pc.mixture_nll(model(tg.tensor(x)), k)
    ours.backward()
    theirs = twin.loss(torch.from_numpy(x), torch.from_numpy(k))
    theirs.backward()
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-12)
    for name, parameter in model.named_parameters():
        np.testing.assert_allclose(parameter.grad.numpy(), twin.params[name].grad.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=name)


def test_pixelcnn_logits_match_the_twin(torch, float64):
    tg.manual_seed(0)
    model = pc.PixelCNN(**SMALL_PIXELCNN)
    x, _ = twins.pixelcnn_batch(np.random.default_rng(2), 2, 8)
    np.testing.assert_allclose(model(tg.tensor(x)).numpy(), twins.TorchPixelCNN(torch, model)(
        torch.from_numpy(x)).detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["pixelcnn", "pixelcnn_md"])
def test_book_size_steps_match_the_twin(torch, float64, which):
    """The book's architectures at their image sizes, 5 steps of a batch of 4."""
    tg.manual_seed(0)
    if which == "pixelcnn":
        losses = _losses(twins.pixelcnn_pair(torch, pc.PixelCNN()), twins.pixelcnn_batch, 5, 4, 16)
    else:
        losses = _losses(twins.pixelcnn_md_pair(torch, pc.PixelCNNPlusPlus()), twins.pixelcnn_md_batch, 5, 4, 32)
    _assert_agree(losses, rtol=1e-10)
