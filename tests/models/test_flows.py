"""RealNVP (chapter 6): the coupling layer is exactly invertible and its log-determinant is the
Jacobian's, the loss has the right gradient, a briefly trained flow is a density (it integrates to
one), the recipe keeps its standardisation in the checkpoint, and 50 training steps agree with the
PyTorch twin."""

import math

import numpy as np
import pytest

import tinygdl
from tinygdl import zoo
from tinygdl.data.toy import make_moons
from tinygdl.models.flows import AffineCoupling, RealNVP, alternating_masks, flow_loss
from tinygdl.testing import gradcheck


def points(rng, n=16, scale=1.5):
    return tinygdl.tensor(scale * rng.standard_normal((n, 2)))


def randomise_biases(model, rng):
    """Nonzero biases, so that no ReLU sits exactly at its kink and the networks are not near-linear."""
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            p.data[...] = 0.3 * rng.standard_normal(p.shape)


# --------------------------------------------------------------------------- the architecture


def test_parameter_counts_are_the_books():
    model = zoo.build("realnvp")
    assert model.num_parameters() == 794_632
    assert [c.net.num_parameters() for c in model.couplings] == [397_316, 397_316]
    assert [c.mask.numpy().tolist() for c in model.couplings] == [[0, 1], [1, 0]]


def test_coupling_layers_setting_alternates_masks():
    model = zoo.build("realnvp", coupling_layers=5, hidden=8)
    assert [c.mask.numpy().tolist() for c in model.couplings] == [[0, 1], [1, 0]] * 2 + [[0, 1]]
    assert [m.tolist() for m in alternating_masks(3, dim=4)] == [[0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1]]


def test_coupling_changes_only_the_free_coordinate(rng, float64):
    coupling = AffineCoupling((0, 1), hidden=8)
    randomise_biases(coupling, rng)
    x = points(rng)
    y, _ = coupling(x)
    np.testing.assert_array_equal(y.numpy()[:, 1], x.numpy()[:, 1])
    assert not np.allclose(y.numpy()[:, 0], x.numpy()[:, 0])


def test_bad_masks_and_inputs_are_refused():
    with pytest.raises(ValueError, match="0s and 1s"):
        AffineCoupling((0, 2))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        AffineCoupling((0, 1), hidden=4)(tinygdl.randn(3, 3))


# --------------------------------------------------------------------------- exact inverse, log-determinant


@pytest.mark.parametrize("mask", [(0, 1), (1, 0)])
def test_coupling_inverse_is_exact(rng, float64, mask):
    coupling = AffineCoupling(mask, hidden=16)
    randomise_biases(coupling, rng)
    x = points(rng, 64, scale=3.0)
    y, _ = coupling(x)
    np.testing.assert_allclose(coupling.inverse(y).numpy(), x.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(coupling(coupling.inverse(x))[0].numpy(), x.numpy(), rtol=0, atol=1e-10)


def test_flow_inverse_is_exact(rng, float64):
    model = RealNVP(coupling_layers=4, hidden=16)
    randomise_biases(model, rng)
    x = points(rng, 64, scale=3.0)
    z, _ = model(x)
    np.testing.assert_allclose(model.inverse(z).numpy(), x.numpy(), rtol=0, atol=1e-10)


def numerical_log_det(fn, x: np.ndarray, eps=1e-6) -> np.ndarray:
    """log |det J| of ``fn`` (points (N, 2) -> (N, 2)) at each point, by central differences."""
    columns = []
    for d in range(x.shape[1]):
        step = np.zeros_like(x)
        step[:, d] = eps
        columns.append((fn(x + step) - fn(x - step)) / (2 * eps))  # ∂y/∂x_d, (N, 2)
    jacobians = np.stack(columns, axis=2)  # (N, out, in)
    return np.log(np.abs(np.linalg.det(jacobians)))


@pytest.mark.parametrize("mask", [(0, 1), (1, 0)])
def test_coupling_log_det_is_the_jacobians(rng, float64, mask):
    coupling = AffineCoupling(mask, hidden=16)
    randomise_biases(coupling, rng)
    x = 1.5 * rng.standard_normal((32, 2))
    _, log_det = coupling(tinygdl.tensor(x))
    expected = numerical_log_det(lambda p: coupling(tinygdl.tensor(p))[0].numpy(), x)
    assert np.abs(expected).max() > 0.05  # the layer does rescale
    np.testing.assert_allclose(log_det.numpy(), expected, rtol=0, atol=1e-7)


def test_flow_log_det_is_the_jacobians(rng, float64):
    model = RealNVP(coupling_layers=3, hidden=16)
    randomise_biases(model, rng)
    x = 1.5 * rng.standard_normal((32, 2))
    _, log_det = model(tinygdl.tensor(x))
    expected = numerical_log_det(lambda p: model(tinygdl.tensor(p))[0].numpy(), x)
    np.testing.assert_allclose(log_det.numpy(), expected, rtol=0, atol=1e-7)


def test_loss_is_the_mean_negative_log_likelihood(rng, float64):
    model = RealNVP(hidden=8)
    randomise_biases(model, rng)
    x = points(rng)
    z, log_det = model(x)
    log_normal = -0.5 * (z.numpy() ** 2).sum(axis=1) - math.log(2 * math.pi)
    assert flow_loss(model, x).item() == pytest.approx(-(log_normal + log_det.numpy()).mean(), abs=1e-12)


def test_loss_gradient_matches_finite_differences(rng, float64):
    model = RealNVP(hidden=6, depth=2)
    randomise_biases(model, rng)
    x = tinygdl.tensor(rng.standard_normal((5, 2)), requires_grad=True)
    assert gradcheck(lambda x, *params: flow_loss(model, x), [x] + model.parameters(), mode="full")


# --------------------------------------------------------------------------- a trained flow is a density


def train_briefly(steps=300, seed=0):
    tinygdl.manual_seed(seed)
    data, _ = make_moons(2000, noise=0.05, seed=seed)
    data = (data - data.mean(axis=0)) / data.std(axis=0)
    model = RealNVP(hidden=32, depth=2)
    optimizer = tinygdl.optim.Adam(model.parameters(), lr=2e-3, eps_convention="keras")
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(steps):
        batch = tinygdl.tensor(data[rng.integers(0, len(data), 128)])
        optimizer.zero_grad()
        loss = flow_loss(model, batch)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model, losses


def test_briefly_trained_flow_density_integrates_to_one(float64):
    model, losses = train_briefly()
    assert np.mean(losses[-20:]) < np.mean(losses[:20]) - 0.4  # it did learn something
    spacing = 0.02  # a grid over ±5 standard deviations of the (standardised) data
    axis = np.arange(-5.0, 5.0 + spacing / 2, spacing)
    grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    with tinygdl.no_grad():
        density = np.exp(np.concatenate([model.log_prob(tinygdl.tensor(chunk)).numpy()
                                         for chunk in np.array_split(grid, 16)]))
    assert density.sum() * spacing**2 == pytest.approx(1.0, abs=0.01)
    assert density.max() > 0.3  # concentrated on the moons, not a flat 1/100


# --------------------------------------------------------------------------- the recipe


def test_recipe_keeps_standardisation_in_the_checkpoint(tmp_path):
    from tinygdl.checkpoint import load_checkpoint
    from tinygdl.zoo.run import sample, train

    result = train("realnvp", epochs=1, out_dir=str(tmp_path), progress=False, points=512, test_points=256,
                   hidden=8, batch_size=128)
    saved = load_checkpoint(str(tmp_path / "checkpoint.npz")).state
    assert set(saved) == {"mean", "std"}
    assert np.all(saved["std"] > 0.3) and abs(saved["mean"][0] - 0.5) < 0.1  # the moons' centre x is 0.5
    for name in ("latent_to_data.png", "data_to_latent.png", "density.png"):
        assert (tmp_path / name).exists()
    assert result.report["test_nll_data_units"] == pytest.approx(result.report["test_nll"] + np.log(saved["std"]).sum())
    out = sample(str(tmp_path / "checkpoint.npz"), out=str(tmp_path / "s.png"), options={"points": "200"})
    assert out.endswith("s.png")

    recipe = zoo.recipe("realnvp", hidden=8)
    recipe.load_state_dict(saved)  # what `tinygdl sample` does: data units need nothing else
    _, x = recipe.generate(recipe.build()["model"], 100)
    assert x.shape == (100, 2) and abs(x[:, 0].mean() - saved["mean"][0]) < 1.5


# --------------------------------------------------------------------------- the PyTorch twin


def twin_losses(torch, dtype, hidden, steps=50, batch_size=64, lr=1e-3):
    from benchmarks.twins.flows import KerasAdam, batch_orders, tinygdl_step, torch_realnvp, torch_step, train_losses

    with tinygdl.default_dtype(dtype):
        tinygdl.manual_seed(0)
        model = RealNVP(hidden=hidden)
        twin = torch_realnvp(torch, model)
        data = make_moons(1000, noise=0.05, seed=1)[0]
        data = ((data - data.mean(axis=0)) / data.std(axis=0)).astype(dtype)
        batches = batch_orders(np.random.default_rng(2), len(data), batch_size, steps)
        ours = train_losses(tinygdl_step(model, tinygdl.optim.Adam(model.parameters(), lr=lr,
                                                                   eps_convention="keras")), data, batches)
        theirs = train_losses(torch_step(torch, twin, KerasAdam(twin.parameters(), lr=lr)), data, batches)
    assert np.mean(ours[-5:]) < np.mean(ours[:5]) - 0.1  # the steps did train
    return np.array(ours), np.array(theirs)


@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-12), (np.float32, 1e-4)])
def test_first_50_steps_match_pytorch(torch_one_thread, dtype, atol):
    ours, theirs = twin_losses(torch_one_thread, dtype, hidden=32)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol)


@pytest.mark.slow
@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-11), (np.float32, 1e-4)])
def test_first_50_steps_match_pytorch_at_book_size(torch_one_thread, dtype, atol):
    ours, theirs = twin_losses(torch_one_thread, dtype, hidden=256, batch_size=256, lr=1e-4)  # the book's
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol)
