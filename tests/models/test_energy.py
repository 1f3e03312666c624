"""The energy-based model (chapter 7): the book's score network, a Langevin step that is exactly the
book's update and leaves the network alone, an input gradient equal to PyTorch's, the replay buffer,
size-matched fake batches, the buffer in the checkpoint (a resumed run continues the same chains),
and 50 training steps agreeing with the PyTorch twin under the same random draws."""

import numpy as np
import pytest

import tinygdl
from tinygdl import nn, zoo
from tinygdl.models import energy


def snapshot(model) -> list:
    return [p.numpy().copy() for p in model.parameters()]


# --------------------------------------------------------------------------- the network


def test_parameter_count_is_the_books():
    model = zoo.build("ebm")
    assert model.num_parameters() == 76_993
    assert model(tinygdl.zeros(2, 1, 32, 32)).shape == (2, 1)


def test_smaller_images_shrink_only_the_dense_layer():
    assert energy.energy_network(16).num_parameters() == 76_993 - 64 * 3 * 64
    with pytest.raises(ValueError, match="multiple of 16"):
        energy.energy_network(28)


# --------------------------------------------------------------------------- Langevin dynamics


def tiny_score_network(rng, size=4):
    """S(x) = v · tanh(W flatten(x) + b) + c: small enough to differentiate by hand."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(size * size, 3), nn.Tanh(), nn.Linear(3, 1))
    for p in model.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    return model


def numpy_langevin(model, x, normals, step_size, noise, gradient_clip):
    """The book's ``generate_samples`` in NumPy, with the input gradient of the tiny network by hand."""
    W, b, v = model[1].weight.numpy(), model[1].bias.numpy(), model[3].weight.numpy()[:, 0]
    for normal in normals:
        x = np.clip(x + noise * normal, -1.0, 1.0)
        h = np.tanh(x.reshape(len(x), -1) @ W + b)
        g = ((1 - h**2) * v) @ W.T  # ∂/∂x of Σ_n S(x_n), one row per image
        g = np.clip(g.reshape(x.shape), -gradient_clip, gradient_clip)
        x = np.clip(x + step_size * g, -1.0, 1.0)
    return x


@pytest.mark.parametrize("step_size, noise, gradient_clip", [(10.0, 0.005, 0.03), (0.3, 0.2, 10.0)])
def test_langevin_is_exactly_the_books_update(rng, float64, step_size, noise, gradient_clip):
    model = tiny_score_network(rng)
    start = rng.uniform(-1, 1, (5, 1, 4, 4))
    normals = rng.standard_normal((7, 5, 1, 4, 4))
    ours = energy.langevin(model, start, 7, step_size, noise, gradient_clip, normals=normals)
    expected = numpy_langevin(model, start, normals, step_size, noise, gradient_clip)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-14)
    assert ours.min() >= -1 and ours.max() <= 1
    if gradient_clip < 1:  # the book's settings: every step moves each pixel by at most 10·0.03 + noise
        assert np.abs(ours - start).max() > 0.1


def test_langevin_climbs_the_score(rng, float64):
    model = tiny_score_network(rng)
    start = rng.uniform(-1, 1, (16, 1, 4, 4))
    end = energy.langevin(model, start, 30, step_size=0.5, noise=0.001, gradient_clip=1.0)
    with tinygdl.no_grad():
        assert model(tinygdl.tensor(end)).numpy().mean() > model(tinygdl.tensor(start)).numpy().mean() + 0.5


def test_sampling_leaves_the_network_untouched(rng):
    model = energy.energy_network(16)
    before = snapshot(model)
    start = energy.uniform_images(rng, (4, 1, 16, 16), np.float32)
    with tinygdl.no_grad():  # `tinygdl sample` runs under no_grad: Langevin turns recording back on itself
        end, snapshots = energy.langevin(model, start, 4, every=2)
    assert len(snapshots) == 3 and not np.array_equal(end, start)
    for p, saved in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), saved)  # bit-identical
        assert p.grad is None  # and no gradient was accumulated
        assert p.requires_grad  # the freeze during each step is undone


def test_input_gradient_matches_pytorch(torch_one_thread, rng, float64):
    from benchmarks.twins.energy import torch_energy_network

    torch = torch_one_thread
    model = energy.energy_network(32)
    twin = torch_energy_network(torch, model)
    x = rng.uniform(-1, 1, (3, 1, 32, 32))
    images = tinygdl.tensor(x, requires_grad=True)
    (ours,) = tinygdl.grad(model(images).sum(), [images])
    xt = torch.tensor(x, requires_grad=True)
    (theirs,) = torch.autograd.grad(twin(xt).sum(), [xt])
    np.testing.assert_allclose(model(images).numpy(), twin(xt).detach().numpy(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=0, atol=1e-15)
    assert np.abs(theirs.numpy()).max() > 1e-4


# --------------------------------------------------------------------------- replay buffer and the step


def test_replay_buffer_puts_new_chains_first_and_forgets_the_oldest():
    buffer = energy.ReplayBuffer(np.arange(4.0).reshape(4, 1, 1, 1), capacity=6)
    start = buffer.start_batch(np.full((1, 1, 1, 1), -1.0), np.array([3, 3, 0]))
    np.testing.assert_array_equal(start.ravel(), [-1, 3, 3, 0])
    buffer.push(np.full((3, 1, 1, 1), 9.0))
    np.testing.assert_array_equal(buffer.images.ravel(), [9, 9, 9, 0, 1, 2])


def test_fake_batch_matches_a_smaller_last_batch(rng):
    """The book's quirk (a 96-image batch against 128 fakes) is not reproduced: as many fakes as reals."""
    model = energy.energy_network(16)
    buffer = energy.ReplayBuffer(energy.uniform_images(rng, (8, 1, 16, 16), np.float32))
    step = energy.EnergyStep(model, tinygdl.optim.SGD(model.parameters(), lr=0.0), buffer, steps=2)
    seen = []
    model.register_forward_hook(lambda m, inputs, out: seen.append(inputs[0].shape[0]))
    tinygdl.manual_seed(0)
    logs = step((tinygdl.tensor(energy.uniform_images(rng, (5, 1, 16, 16), np.float32)),))
    assert len(buffer) == 8 + 5
    assert seen[-1] == 10  # the loss's forward pass: 5 real, 5 fake
    assert set(logs) == {"loss", "cdiv", "reg", "real", "fake"}
    assert logs["loss"] == pytest.approx(logs["cdiv"] + logs["reg"], abs=1e-6)
    assert logs["cdiv"] == pytest.approx(logs["fake"] - logs["real"], abs=1e-6)


def test_draws_follow_the_book():
    tinygdl.manual_seed(0)
    counts = [len(energy.draw_step((128, 1, 4, 4), 1, 500, 0.05, np.float32).fresh) for _ in range(300)]
    assert 5.5 < np.mean(counts) < 7.3  # Binomial(128, 0.05): mean 6.4
    draws = energy.draw_step((128, 1, 4, 4), 3, 500, 0.05, np.float32)
    assert len(draws.fresh) + len(draws.picks) == 128 and draws.normals.shape == (3, 128, 1, 4, 4)
    assert draws.picks.max() < 500 and -1 <= draws.fresh.min() and draws.fresh.max() <= 1


def test_the_model_learns_to_score_data_above_noise(rng):
    tinygdl.manual_seed(0)
    model = energy.energy_network(16)
    buffer = energy.ReplayBuffer(energy.uniform_images(rng, (16, 1, 16, 16), np.float32))
    step = energy.EnergyStep(model, tinygdl.optim.Adam(model.parameters(), lr=1e-3), buffer, steps=5)
    data = np.full((16, 1, 16, 16), -1.0, np.float32)
    data[:, :, 4:12, 6:10] = 1.0  # a bar on a dark background
    for _ in range(10):
        logs = step((tinygdl.tensor(data),))
    assert np.isfinite(logs["loss"]) and logs["real"] > logs["fake"]


# --------------------------------------------------------------------------- the recipe


SMALL = dict(image_size=16, steps=2, limit=32, eval_limit=16, sample_steps=2)


def test_resumed_run_continues_the_same_chains(tmp_path):
    from tinygdl.checkpoint import load_checkpoint
    from tinygdl.zoo.run import sample, train

    options = dict(dataset="digits", batch_size=8, steps_per_epoch=2, progress=False, **SMALL)
    whole = train("ebm", epochs=2, out_dir=str(tmp_path / "whole"), **options)
    train("ebm", epochs=1, out_dir=str(tmp_path / "part"), **options)
    first = load_checkpoint(str(tmp_path / "part" / "checkpoint.npz"))
    assert first.state["replay_buffer"].shape == (8 + 2 * 8, 1, 16, 16)  # the first batch of noise + 2 steps
    train("ebm", epochs=2, out_dir=str(tmp_path / "part"), resume=str(tmp_path / "part" / "checkpoint.npz"),
          **options)
    a = load_checkpoint(str(tmp_path / "whole" / "checkpoint.npz"))
    b = load_checkpoint(str(tmp_path / "part" / "checkpoint.npz"))
    np.testing.assert_array_equal(a.state["replay_buffer"], b.state["replay_buffer"])
    for key in a.models["model"]:
        np.testing.assert_array_equal(a.models["model"][key], b.models["model"][key])
    assert {"score_samples", "score_noise", "score_test"} <= set(whole.report)
    assert (tmp_path / "whole" / "buffer.png").exists() and (tmp_path / "whole" / "samples.png").exists()
    out = sample(str(tmp_path / "whole" / "checkpoint.npz"), n=3, out=str(tmp_path / "strip.png"),
                 options={"steps": "6", "snapshots": "3"})
    assert out.endswith("strip.png")


def test_sampling_options_are_checked():
    recipe = zoo.recipe("ebm")
    assert recipe.sampling_options({"steps": "50"})["steps"] == 50
    with pytest.raises(ValueError, match="unknown sampling option"):
        recipe.sampling_options({"temperature": "1"})


# --------------------------------------------------------------------------- the PyTorch twin


def twin_logs(torch, dtype, batch_size, image_size, steps, train_steps=50):
    from benchmarks.twins.energy import make_pair

    with tinygdl.default_dtype(dtype):
        ours, theirs = make_pair(torch, batch_size, image_size, steps)
        data = np.random.default_rng(3).uniform(-1, 1, (4 * batch_size, 1, image_size, image_size)).astype(dtype)
        tinygdl.manual_seed(5)
        logs = []
        for i in range(train_steps):
            real = data[(i % 4) * batch_size:(i % 4 + 1) * batch_size]
            draws = energy.draw_step(real.shape, steps, len(ours.buffer), 0.05, dtype)  # drawn once, given to both
            logs.append((ours.run(tinygdl.tensor(real), draws), theirs(real, draws)))
        np.testing.assert_allclose(ours.buffer.images, theirs.buffer.numpy(), rtol=0,
                                   atol=1e-12 if dtype == np.float64 else 1e-4)
    return logs


@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-12), (np.float32, 1e-4)])
def test_first_50_steps_match_pytorch(torch_one_thread, dtype, atol):
    for ours, theirs in twin_logs(torch_one_thread, dtype, batch_size=4, image_size=16, steps=3):
        for key in ours:
            assert ours[key] == pytest.approx(theirs[key], abs=atol), key


@pytest.mark.slow
def test_first_50_steps_match_pytorch_at_book_size(torch_one_thread):
    for ours, theirs in twin_logs(torch_one_thread, np.float32, batch_size=128, image_size=32, steps=60):
        for key in ours:
            assert ours[key] == pytest.approx(theirs[key], abs=1e-4), key
