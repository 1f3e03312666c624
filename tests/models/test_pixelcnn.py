"""PixelCNN and PixelCNN++: parameter counts, exact causality (by gradients), the shifted layers' tap
offsets, the discretised logistic mixture against an independent high-precision computation,
samplers, short training runs, and the zoo recipes."""

import math

import mpmath
import numpy as np
import pytest

import tinygdl as tg
from tinygdl import nn, zoo
from tinygdl.models import pixelcnn as pc
from tinygdl.optim import Adam
from tinygdl.testing import gradcheck, gradgradcheck

# --------------------------------------------------------------------------- parameter counts


def test_book_parameter_counts():
    assert pc.PixelCNN().num_parameters() == 307_460
    model = pc.PixelCNNPlusPlus()
    assert model.num_parameters(trainable=True) == 624_990  # v + b + g
    flags = [name for name, _ in model.named_buffers(persistent_only=True)]
    assert len(flags) == sum(isinstance(m, nn.WeightNorm) for m in model.modules()) == 36
    assert zoo.build("pixelcnn").num_parameters() == 307_460
    assert zoo.build("pixelcnn_md").num_parameters(trainable=True) == 624_990


# --------------------------------------------------------------------------- causality


def _dependence(model, x, row, col, rng):
    """|∂(c · output[:, :, row, col]) / ∂x| for a random c, summed over the batch and channels: (H, W)."""
    x = tg.tensor(x, requires_grad=True)
    out = model(x)
    weights = tg.tensor(rng.standard_normal((x.shape[0], out.shape[1])))
    (grad,) = tg.grad((out[:, :, row, col] * weights).sum(), [x])
    return np.abs(grad.numpy()).sum(axis=(0, 1))


def _assert_causal(model, size, rng):
    x = rng.uniform(-1, 1, (2, 1, size, size))
    for row in range(size):
        for col in range(size):
            seen = _dependence(model, x, row, col, rng).ravel()
            i = row * size + col
            assert np.all(seen[i:] == 0), f"pixel ({row}, {col}) sees itself or a later pixel"
            if i > 0:
                assert seen[:i].max() > 0, f"pixel ({row}, {col}) sees no earlier pixel"


def test_pixelcnn_is_causal(float64, rng):
    model = pc.PixelCNN(levels=4, filters=8, blocks=2).eval()
    _assert_causal(model, 6, rng)


def test_pixelcnn_plus_plus_is_causal(float64, rng):
    model = pc.PixelCNNPlusPlus(filters=4)
    model(tg.tensor(rng.uniform(-1, 1, (4, 1, 8, 8))))  # data-dependent init (training mode)
    _assert_causal(model.eval(), 8, rng)


def test_pixelcnn_plus_plus_sees_every_earlier_pixel_at_depth(float64, rng):
    """The two stacks leave no blind spot: the last pixel depends on every earlier one."""
    model = pc.PixelCNNPlusPlus(filters=4, num_resnet=2).eval()
    seen = _dependence(model, rng.uniform(-1, 1, (1, 1, 8, 8)), 7, 7, rng).ravel()
    assert np.all(seen[:-1] > 0)


def _offsets(layer, in_shape, at):
    """The (Δrow, Δcol) input offsets that output pixel ``at`` (in output coordinates) reads."""
    x = tg.tensor(np.ones(in_shape), requires_grad=True)
    layer.weight.data[...] = 1
    out = layer(x)
    (grad,) = tg.grad(out[0, 0, at[0], at[1]], [x])
    rows, cols = np.nonzero(grad.numpy()[0, 0])
    return sorted(zip(rows.tolist(), cols.tolist()))


@pytest.mark.parametrize("layer, at, expected", [
    (lambda: pc.ShiftedConv2d(1, 1, (5, 3), rows=2), (4, 4), [(r, c) for r in (2, 3) for c in (3, 4, 5)]),
    (lambda: pc.ShiftedConv2d(1, 1, 3, rows=1), (4, 4), [(3, c) for c in (3, 4, 5)]),
    (lambda: pc.ShiftedConv2d(1, 1, 3, rows=2, cols=1), (4, 4), [(3, 3), (4, 3)]),
    (lambda: pc.ShiftedConv2d(1, 1, 3, rows=2, cols=2), (4, 4), [(3, 3), (3, 4), (4, 3), (4, 4)]),
    # 4x4 stride 2: low-resolution (i, j) = (2, 2) reads rows 2i−1, 2i and columns 2j−1 .. 2j+1
    (lambda: pc.ShiftedConv2d(1, 1, 4, rows=2, cols=3, stride=2), (2, 2), [(r, c) for r in (3, 4) for c in (3, 4, 5)]),
    (lambda: pc.ShiftedConv2d(1, 1, 4, rows=2, cols=2, stride=2), (2, 2), [(r, c) for r in (3, 4) for c in (3, 4)]),
], ids=["v-first-5x3", "h-first-up", "h-first-left", "horizontal", "v-down", "h-down"])
def test_shifted_convolutions_read_the_offsets_of_the_design(float64, layer, at, expected):
    assert _offsets(layer(), (1, 1, 8, 8), at) == expected


@pytest.mark.parametrize("layer, cols", [
    (lambda: pc.ShiftedConvTranspose2d(1, 1, (2, 4), cols=3, stride=2), (3, 4, 5)),  # cols 2j−1 .. 2j+1
    (lambda: pc.ShiftedConvTranspose2d(1, 1, 2, stride=2), (4, 5)),
], ids=["v-up", "h-up"])
def test_shifted_transposed_convolutions_write_the_offsets_of_the_design(float64, layer, cols):
    """Input pixel (2, 2) of a 4x4 map reaches output rows 4, 5 and the listed columns of the 8x8 map."""
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 2, 2] = 1
    layer = layer()
    layer.weight.data[...] = 1
    out = layer(tg.tensor(x)).numpy()  # zero bias: the output is nonzero exactly where the pixel writes
    assert out.shape == (1, 1, 8, 8)
    rows, written = np.nonzero(out[0, 0])
    assert sorted(zip(rows.tolist(), written.tolist())) == [(r, c) for r in (4, 5) for c in cols]


def test_cropped_rows_give_the_same_outputs(float64, rng):
    """The samplers run the network on the rows up to the current one only; causality makes that exact."""
    model = pc.PixelCNNPlusPlus(filters=4).eval()
    x = tg.tensor(rng.uniform(-1, 1, (2, 1, 8, 8)))
    full = model(x).numpy()
    np.testing.assert_allclose(model(x[:, :, :4]).numpy(), full[:, :, :4], rtol=1e-12, atol=1e-12)
    small = pc.PixelCNN(filters=8, blocks=1).eval()
    np.testing.assert_allclose(small(x[:, :, :3]).numpy(), small(x).numpy()[:, :, :3], rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- the likelihood

mpmath.mp.dps = 60


def _reference_log_prob(logits, loc, scale, k, high=255):
    """log p(k) of the mixture from the logistic CDF F at 60 digits: F(upper) − F(lower), or the same
    mass as S(lower) − S(upper) with the survival function S = 1 − F above the median (there both
    CDF values round to 1 even at 60 digits)."""
    cdf = lambda z: 1 / (1 + mpmath.exp(-z))  # noqa: E731
    survival = lambda z: 1 / (1 + mpmath.exp(z))  # noqa: E731
    weights = [mpmath.exp(mpmath.mpf(z)) for z in logits]
    total = mpmath.fsum(weights)
    p = 0
    for w, mu, s in zip(weights, loc, scale):
        mu, s = (high / 2) * (mpmath.mpf(mu) + 1), (high / 2) * mpmath.mpf(s)
        upper = mpmath.inf if k == high else (k + mpmath.mpf(0.5) - mu) / s
        lower = -mpmath.inf if k == 0 else (k - mpmath.mpf(0.5) - mu) / s
        if lower > 0:
            mass = survival(lower) - (0 if upper == mpmath.inf else survival(upper))
        else:
            mass = (1 if upper == mpmath.inf else cdf(upper)) - (0 if lower == -mpmath.inf else cdf(lower))
        p += w / total * mass
    return float(mpmath.log(p))


def _params(logits, loc, raw_scale):
    """(1, 3K, 1, 1) head output from per-component lists."""
    return tg.tensor(np.array([*logits, *loc, *raw_scale], dtype=np.float64).reshape(1, -1, 1, 1))


@pytest.mark.parametrize("k", [0, 1, 2, 64, 127, 128, 253, 254, 255])
@pytest.mark.parametrize("case", [
    ([0.0], [0.0], [0.0]),                      # one broad component in the middle
    ([0.0], [-1.02], [-6.0]),                    # a sharp component below the first bin
    ([0.0], [1.003], [-9.0]),                    # sharper than a bin, just above the last value
    ([0.0], [0.4], [-20.0]),                     # the smallest scale there is: e^-7
    ([0.0], [-0.3], [6.0]),                      # very broad: ~ 400 grey levels
    ([1.0, -2.0, 0.5, 3.0, -1.0], [-0.99, -0.5, 0.0, 0.7, 0.999], [-5.0, -1.0, 0.3, -8.0, -3.0]),
], ids=["broad", "below-edge", "above-edge", "min-scale", "very-broad", "five-components"])
def test_mixture_log_prob_matches_the_logistic_cdf(float64, case, k):
    logits, loc, raw = case
    ours = pc.discretized_logistic_mixture_log_prob(_params(*case), np.full((1, 1, 1, 1), k), len(logits)).item()
    scale = [math.log1p(math.exp(r)) + math.exp(-7) for r in raw]
    expected = _reference_log_prob(logits, loc, scale, k)
    assert ours == pytest.approx(expected, rel=1e-10, abs=1e-11)


def test_mixture_probabilities_over_256_values_sum_to_one(float64, rng):
    params = tg.tensor(np.concatenate([rng.standard_normal((2, 5, 3, 3)), rng.uniform(-1.1, 1.1, (2, 5, 3, 3)),
                                       rng.uniform(-9, 3, (2, 5, 3, 3))], axis=1))
    total = sum(np.exp(pc.discretized_logistic_mixture_log_prob(params, np.full((2, 1, 3, 3), k)).numpy())
                for k in range(256))
    np.testing.assert_allclose(total, 1.0, rtol=1e-12)


def test_mixture_log_likelihood_gradients(float64, rng):
    params = tg.tensor(np.concatenate([rng.standard_normal((2, 3, 2, 2)), rng.uniform(-1, 1, (2, 3, 2, 2)),
                                       rng.uniform(-4, 0, (2, 3, 2, 2))], axis=1), requires_grad=True)
    k = rng.integers(0, 256, (2, 1, 2, 2))
    k[0, 0, 0] = 0, 255  # both edge bins
    fn = lambda p: pc.discretized_logistic_mixture_log_prob(p, k, mixtures=3)  # noqa: E731
    gradcheck(fn, [params])
    gradgradcheck(fn, [params])


def test_mixture_nll_is_the_batch_mean_of_the_image_sums(float64, rng):
    params = tg.tensor(rng.standard_normal((3, 15, 2, 2)))
    k = rng.integers(0, 256, (3, 1, 2, 2))
    per_pixel = pc.discretized_logistic_mixture_log_prob(params, k).numpy()
    assert pc.mixture_nll(params, k).item() == pytest.approx(-per_pixel.sum() / 3, rel=1e-12)


def test_float32_log_probs_stay_finite_at_the_extremes():
    params = _params([0.0, 0.0], [-1.5, 1.5], [-20.0, 8.0])
    for k in (0, 1, 128, 254, 255):
        value = pc.discretized_logistic_mixture_log_prob(params.astype("float32"), np.full((1, 1, 1, 1), k), 2)
        assert np.isfinite(value.numpy()).all()


# --------------------------------------------------------------------------- sampling and training


def test_samplers_give_images_of_the_right_values(rng):
    tg.manual_seed(0)
    levels = pc.sample_pixelcnn(pc.PixelCNN(filters=8, blocks=1).eval(), 3, 4, temperature=0.5)
    assert levels.shape == (3, 1, 4, 4) and levels.min() >= 0 and levels.max() <= 3
    values = pc.sample_pixelcnn_plus_plus(pc.PixelCNNPlusPlus(filters=4).eval(), 2, 4)
    assert values.shape == (2, 1, 4, 4) and values.min() >= 0 and values.max() <= 255
    with pytest.raises(ValueError, match="temperature"):
        pc.sample_pixelcnn(pc.PixelCNN(filters=8, blocks=1), 1, 2, temperature=0)


def test_a_near_zero_temperature_picks_the_most_likely_level():
    tg.manual_seed(0)
    model = pc.PixelCNN(filters=8, blocks=1).eval()
    model.logits.bias.data[...] = [0.0, 0.0, 5.0, 0.0]  # level 2 dominates everywhere
    model.logits.weight.data[...] = 0
    assert np.all(pc.sample_pixelcnn(model, 2, 3, temperature=1e-3) == 2)


def _train(model, loss_fn, x, target, steps, lr):
    optimizer = Adam(model.parameters(), lr=lr, eps_convention="keras")
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(tg.tensor(x.astype(np.float32))), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_short_training_lowers_the_pixelcnn_loss(rng):
    tg.manual_seed(0)
    levels = (rng.random((8, 1, 6, 6)) < np.linspace(0, 1, 6)[:, None]).astype(np.int64) * 3  # a learnable pattern
    losses = _train(pc.PixelCNN(filters=16, blocks=1), pc.pixelcnn_loss, levels / 4, levels, 15, 5e-3)
    assert np.isfinite(losses).all() and losses[-1] < 0.7 * losses[0]


def test_short_training_lowers_the_mixture_nll(rng):
    tg.manual_seed(0)
    values = np.clip(rng.normal(60, 10, (4, 1, 4, 4)), 0, 255).astype(np.int64)
    model = pc.PixelCNNPlusPlus(filters=4, dropout=0.0)
    losses = _train(model, pc.mixture_nll, 2 * values / 255 - 1, values, 40, 2e-2)
    assert np.isfinite(losses).all() and losses[-1] < 0.75 * losses[0]


# --------------------------------------------------------------------------- the zoo recipes


def test_recipes_prepare_the_books_data():
    recipe = zoo.recipe("pixelcnn", dataset="digits")
    x, levels = recipe.arrays(np.array([[[0, 63], [64, 255]]], dtype=np.uint8))
    assert x.shape == levels.shape == (1, 1, 16, 16)
    np.testing.assert_array_equal(np.unique(x * 4), np.unique(levels))
    x, levels = zoo.recipe("pixelcnn", dataset="digits", image_size=2).arrays(
        np.array([[[0, 63], [64, 255]]], dtype=np.uint8))
    np.testing.assert_array_equal(levels[0, 0], [[0, 0], [1, 3]])
    x, values = zoo.recipe("pixelcnn_md", dataset="digits", image_size=2).arrays(
        np.array([[[0, 63], [128, 255]]], dtype=np.uint8))
    np.testing.assert_array_equal(values[0, 0], [[0, 63], [128, 255]])
    np.testing.assert_allclose(x[0, 0], [[-1, 2 * 63 / 255 - 1], [2 * 128 / 255 - 1, 1]], rtol=1e-6)
    _, values = zoo.recipe("pixelcnn_md", dataset="digits").arrays(np.array([[[0, 100], [101, 255]]], np.uint8))
    assert values.dtype == np.uint8 and values.shape == (1, 1, 32, 32)  # resized, then floored


def test_pixelcnn_trains_and_samples_from_the_command_line_pieces(tmp_path):
    from tinygdl.zoo.run import sample, train

    result = train("pixelcnn", dataset="digits", epochs=1, steps_per_epoch=2, batch_size=16, progress=False,
                   out_dir=str(tmp_path / "pixelcnn"), filters=8, blocks=1, limit=64, eval_limit=32,
                   epoch_samples=2, report_samples=2)
    assert np.isfinite(result.report["test_bits_per_pixel"])
    assert (tmp_path / "pixelcnn" / "samples.png").exists()
    path = sample(str(tmp_path / "pixelcnn" / "checkpoint.npz"), n=2, options={"temperature": "0.5"})
    assert path.endswith(".png")
    result = train("pixelcnn_md", dataset="digits", epochs=1, steps_per_epoch=2, batch_size=8, progress=False,
                   out_dir=str(tmp_path / "md"), filters=4, image_size=8, limit=32, eval_limit=16,
                   epoch_samples=1, report_samples=1)
    assert np.isfinite(result.report["test_bits_per_dim"])


def test_bad_inputs_are_clear_errors():
    model = pc.PixelCNNPlusPlus(filters=4)
    with pytest.raises(ValueError, match="multiples of 2"):
        model(tg.zeros(1, 1, 5, 6))
    with pytest.raises(ValueError, match="single-channel"):
        pc.PixelCNNPlusPlus(channels=3)
    with pytest.raises(ValueError, match="stream"):
        pc.GatedResidual(4, "diagonal")
    with pytest.raises(ValueError, match="skip input is not used"):
        pc.GatedResidual(4, "vertical")(tg.zeros(1, 4, 2, 2), tg.zeros(1, 4, 2, 2))
    with pytest.raises(ValueError, match="rows=3"):
        pc.ShiftedConv2d(1, 1, 3, rows=3, cols=4)


@pytest.mark.gpu
def test_the_models_and_samplers_run_on_the_gpu(float64, rng):
    model = pc.PixelCNNPlusPlus(filters=4).eval()
    x, k = rng.uniform(-1, 1, (2, 1, 8, 8)), rng.integers(0, 256, (2, 1, 8, 8))
    on_cpu = pc.mixture_nll(model(tg.tensor(x)), k).item()
    model.to("cuda")
    assert pc.mixture_nll(model(tg.tensor(x, device="cuda")), k).item() == pytest.approx(on_cpu, rel=1e-10)
    values = tg.backend.to_numpy(pc.sample_pixelcnn_plus_plus(model, 2, 4, device="cuda"))
    assert values.shape == (2, 1, 4, 4) and 0 <= values.min() and values.max() <= 255
    small = pc.PixelCNN(filters=8, blocks=1).eval().to("cuda")
    assert tg.backend.to_numpy(pc.sample_pixelcnn(small, 2, 3, device="cuda")).max() <= 3


# --------------------------------------------------------------------------- the masked convolution


@pytest.mark.parametrize("k, mask_type, active", [(7, "A", 24), (3, "B", 5), (3, "A", 4), (1, "B", 1), (1, "A", 0)])
def test_causal_mask_shapes(k, mask_type, active):
    mask = pc.causal_mask((k, k), mask_type)
    assert mask.sum() == active
    c = k // 2
    assert mask[:c].all() and mask[c, :c].all() and not mask[c + 1:].any() and not mask[c, c + 1:].any()
    assert mask[c, c] == (mask_type == "B")


def test_masked_conv_zero_gradient_and_causality(float64, rng):
    layer = pc.MaskedConv2d(2, 3, 5, mask_type="A").to(dtype=np.float64)
    x = tg.tensor(rng.standard_normal((1, 2, 6, 6)), requires_grad=True)
    y = layer(x)
    assert y.shape == (1, 3, 6, 6)
    y[0, :, 3, 2].sum().backward()
    mask = pc.causal_mask((5, 5), "A")
    assert np.all(layer.weight.grad.numpy()[:, :, mask == 0] == 0)
    assert np.abs(layer.weight.grad.numpy()[:, :, mask == 1]).sum() > 0
    # Output pixel (3, 2) sees only pixels before it in raster order (type A: not itself).
    seen = np.abs(x.grad.numpy()).sum(axis=(0, 1)) > 0
    order = np.arange(36).reshape(6, 6)
    assert not seen[order >= 3 * 6 + 2].any() and seen[3, 1] and seen[2, 2]
    assert "mask" not in layer.state_dict() and set(layer.state_dict()) == {"weight", "bias"}


def test_masked_conv_type_b_sees_the_centre(rng):
    layer = pc.MaskedConv2d(1, 1, 3, mask_type="B")
    x = tg.zeros(1, 1, 3, 3, requires_grad=True)
    layer(x)[0, 0, 1, 1].backward()
    assert x.grad.numpy()[0, 0, 1, 1] != 0 and x.grad.numpy()[0, 0, 2, 2] == 0 and x.grad.numpy()[0, 0, 1, 2] == 0


def test_masked_conv_repr():
    assert repr(pc.MaskedConv2d(1, 8, 7, "A")) == \
        "MaskedConv2d(mask_type='A', 1, 8, kernel_size=(7, 7), stride=(1, 1), padding='same')"
