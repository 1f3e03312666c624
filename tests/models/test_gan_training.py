"""GAN training steps: each player learns from its own loss only, BatchNorm statistics and dropout
follow the train/eval switches, the tricks (experience replay, weight clipping) do what they say,
and short runs on the 8x8 digits show the discriminator separating real from fake without NaNs."""

import functools
import math

import numpy as np
import pytest

import tinygdl
from tinygdl import zoo
from tinygdl.models import gan
from tinygdl.models.gan_training import (
    ClippedWGANStep,
    DCGANStep,
    ReplayBuffer,
    WassersteinGPStep,
    clip_weights,
    gradients,
    trainable_parameters,
)
from tinygdl.optim import SGD, Adam
from tinygdl.training import evaluation_mode


def snapshot(tensors) -> list:
    return [t.numpy().copy() for t in tensors]


def assert_identical(tensors, saved):
    for t, s in zip(tensors, saved):
        np.testing.assert_array_equal(t.numpy(), s)


def assert_changed(tensors, saved):
    assert any(not np.array_equal(t.numpy(), s) for t, s in zip(tensors, saved))


def real_batch(rng, n=8, size=8):
    return tinygdl.tensor(rng.uniform(-1, 1, (n, 1, size, size)), dtype=tinygdl.get_default_dtype())


def dcgan_players(latent_dim=6, size=8):
    return gan.dcgan_generator(latent_dim, 1, size), gan.dcgan_discriminator(1, size)


def adam(model, lr=2e-4):
    return Adam(model.parameters(), lr=lr, betas=(0.5, 0.999), eps_convention="keras")


# --------------------------------------------------------------------------- DCGAN: one pass, two losses


def test_dcgan_players_get_the_gradient_of_their_own_loss_only(rng, float64):
    generator, discriminator = dcgan_players()
    step = DCGANStep(generator, discriminator, SGD(generator.parameters(), lr=0.0),
                     SGD(discriminator.parameters(), lr=0.0), latent_dim=6)
    real = real_batch(rng)
    d_params, g_params = trainable_parameters(discriminator), trainable_parameters(generator)
    tinygdl.manual_seed(3)
    d_loss, g_loss, _, _ = step.losses(real)
    expected_d = gradients(d_loss, d_params, retain_graph=True)
    expected_g = gradients(g_loss, g_params, retain_graph=True)
    leaked = gradients(d_loss + g_loss, d_params)  # what one backward of the summed losses would give D

    tinygdl.manual_seed(3)  # the same z, label noise and dropout masks; lr 0 keeps the weights
    step((real,))
    for param, expected in zip(d_params, expected_d):
        np.testing.assert_array_equal(param.grad.numpy(), expected.numpy())
    for param, expected in zip(g_params, expected_g):
        np.testing.assert_array_equal(param.grad.numpy(), expected.numpy())
    assert not np.allclose(d_params[0].grad.numpy(), leaked[0].numpy())


def test_dcgan_runs_g_once_and_d_twice_per_step(rng):
    generator, discriminator = dcgan_players()
    calls = {"generator": 0, "discriminator": 0}
    generator.register_forward_hook(lambda *args: calls.__setitem__("generator", calls["generator"] + 1))
    discriminator.register_forward_hook(lambda *args: calls.__setitem__("discriminator", calls["discriminator"] + 1))
    DCGANStep(generator, discriminator, adam(generator), adam(discriminator), latent_dim=6)((real_batch(rng),))
    assert calls == {"generator": 1, "discriminator": 2}


def running_after(batches, momentum=0.9):
    """Keras's running mean and (Bessel-corrected) variance of a BatchNorm2d after these inputs, in order."""
    mean, var = 0.0, 1.0
    for x in batches:
        n = x.size // x.shape[1]
        mean = momentum * mean + (1 - momentum) * x.mean(axis=(0, 2, 3))
        var = momentum * var + (1 - momentum) * x.var(axis=(0, 2, 3)) * n / (n - 1)
    return mean, var


def test_batchnorm_statistics_move_only_where_they_should(rng, float64):
    generator, discriminator = dcgan_players(size=16)
    seen = {"generator": [], "discriminator": []}
    for role, layer in (("generator", generator.batchnorm_0), ("discriminator", discriminator.batchnorm_1)):
        layer.register_forward_hook(lambda m, inputs, out, role=role: seen[role].append(inputs[0].numpy()))
    DCGANStep(generator, discriminator, adam(generator), adam(discriminator), latent_dim=6)((real_batch(rng, size=16),))
    assert [len(seen["generator"]), len(seen["discriminator"])] == [1, 2]  # D: the real, then the fake batch
    for role, layer in (("generator", generator.batchnorm_0), ("discriminator", discriminator.batchnorm_1)):
        mean, var = running_after(seen[role])
        np.testing.assert_allclose(layer.running_mean.numpy(), mean, rtol=1e-12)
        np.testing.assert_allclose(layer.running_var.numpy(), var, rtol=1e-12)

    buffers = generator.buffers() + discriminator.buffers()
    saved = snapshot(buffers)
    recipe = zoo.recipe("dcgan", "digits", image_size=16, latent_dim=6)
    with evaluation_mode([discriminator]):
        discriminator(recipe.generate({"generator": generator}, 4))
    assert_identical(buffers, saved)  # sampling and judging in eval mode move nothing


def test_dropout_is_off_in_eval_mode(rng):
    discriminator = gan.dcgan_discriminator(1, 16)
    x = real_batch(rng, size=16).astype(np.float32)
    with evaluation_mode([discriminator]):
        np.testing.assert_array_equal(discriminator(x).numpy(), discriminator(x).numpy())
    with tinygdl.no_grad():
        discriminator.train()
        assert not np.array_equal(discriminator(x).numpy(), discriminator(x).numpy())


# --------------------------------------------------------------------------- WGAN-GP: alternating players


def wgan_step(latent_dim=6, size=8, critic_steps=3, num_classes=None):
    if num_classes:
        generator = gan.ConditionalGenerator(latent_dim, num_classes, 1, size)
        critic = gan.ConditionalCritic(num_classes, 1, size)
    else:
        generator, critic = gan.wgan_gp_generator(latent_dim, 1, size), gan.wgan_gp_critic(1, size)
    optimizer = lambda model: Adam(model.parameters(), lr=2e-4, betas=(0.5, 0.9), eps_convention="keras")  # noqa
    return WassersteinGPStep(generator, critic, optimizer(generator), optimizer(critic), latent_dim, critic_steps,
                             num_classes=num_classes)


@pytest.mark.parametrize("num_classes", [None, 2])
def test_the_alternation_updates_only_the_intended_player(rng, num_classes):
    step = wgan_step(num_classes=num_classes)
    real = real_batch(rng).astype(np.float32)
    batch = (real, tinygdl.tensor(np.array([0, 1] * 4))) if num_classes else (real,)
    generate, score = step.players(batch)
    g_params, c_params = step.generator.parameters(), step.critic.parameters()
    g_saved, c_saved, g_stats = snapshot(g_params), snapshot(c_params), snapshot(step.generator.buffers())

    step.train_critic(real, generate, score)
    assert_identical(g_params, g_saved)  # bit-identical
    assert all(p.grad is None for p in g_params)
    assert_changed(c_params, c_saved)
    assert_changed(step.generator.buffers(), g_stats)  # G ran in training mode: its BatchNorm statistics moved

    c_saved, c_grads = snapshot(c_params), [p.grad for p in c_params]
    step.train_generator(8, generate, score, real)
    assert_identical(c_params, c_saved)
    assert all(p.grad is g for p, g in zip(c_params, c_grads))  # no critic gradient was even computed
    assert_changed(g_params, g_saved)


def test_a_full_step_runs_three_critic_updates_on_the_same_real_batch(rng):
    step = wgan_step()
    seen = []
    step.critic.register_forward_hook(lambda m, inputs, out: seen.append(inputs[0].numpy()))
    real = real_batch(rng).astype(np.float32)
    logs = step((real,))
    assert set(logs) == {"c_loss", "c_wass_loss", "c_gp", "g_loss"}
    # per critic step: C(real), C(fake), C(interpolates); then C(G(z)) for the generator
    assert len(seen) == 3 * 3 + 1
    for k in range(3):
        np.testing.assert_array_equal(seen[3 * k], real.numpy())
    assert math.isclose(logs["c_loss"], logs["c_wass_loss"] + 10 * logs["c_gp"], rel_tol=1e-5, abs_tol=1e-6)


def test_the_recipes_take_uniform_alpha_unless_told_the_books_normal():
    for name in ("wgan_gp", "cgan"):
        recipe = zoo.recipe(name, "digits", image_size=8)
        models = recipe.build()
        assert recipe.train_step(models, recipe.optimizers(models)).alpha_dist == "uniform"
        book = zoo.recipe(name, "digits", image_size=8, alpha_dist="normal")
        assert book.train_step(models, book.optimizers(models)).alpha_dist == "normal"
        typo = zoo.recipe(name, "digits", image_size=8, alpha_dist="gaussian")
        with pytest.raises(ValueError, match="alpha_dist"):
            typo.train_step(models, typo.optimizers(models))


# --------------------------------------------------------------------------- the tricks


def test_replay_buffer_mixes_earlier_fakes_after_the_new_ones():
    buffer = ReplayBuffer(capacity=6, fraction=0.5)
    first = tinygdl.tensor(np.arange(4, dtype=np.float32)[:, None])
    assert buffer.mix(first) is first and len(buffer) == 4  # nothing to replay yet
    second = tinygdl.tensor(np.arange(10, 14, dtype=np.float32)[:, None])
    mixed = buffer.mix(second).numpy()[:, 0]
    np.testing.assert_array_equal(mixed[:4], [10, 11, 12, 13])
    assert len(mixed) == 6 and set(mixed[4:]) <= {0, 1, 2, 3}
    np.testing.assert_array_equal(buffer.images.numpy()[:, 0], [2, 3, 10, 11, 12, 13])  # the oldest dropped


def test_replay_buffer_keeps_no_graph(rng):
    generator, _ = dcgan_players()
    buffer = ReplayBuffer(capacity=8)
    buffer.push(generator(tinygdl.randn(4, 6)))
    assert not buffer.images.requires_grad and buffer.images.creator is None


def test_dcgan_with_replay_shows_d_the_extra_fakes_and_g_only_its_own(rng):
    generator, discriminator = dcgan_players()
    step = DCGANStep(generator, discriminator, adam(generator), adam(discriminator), 6, replay=ReplayBuffer(64, 0.5))
    sizes = []
    discriminator.register_forward_hook(lambda m, inputs, out: sizes.append(inputs[0].shape[0]))
    for _ in range(2):
        logs = step((real_batch(rng).astype(np.float32),))
    assert sizes == [8, 8, 8, 12] and all(math.isfinite(v) for v in logs.values())


def test_weight_clipping_keeps_the_critic_in_the_box(rng):
    critic = gan.wgan_critic(1, 8)
    clip_weights(critic, 0.01)
    assert all(np.abs(p.numpy()).max() <= 0.01 for p in critic.parameters())
    generator = gan.wgan_generator(4, 1, 8)
    rmsprop = lambda model: tinygdl.optim.RMSprop(model.parameters(), lr=5e-3)  # noqa: E731
    step = ClippedWGANStep(generator, critic, rmsprop(generator), rmsprop(critic), 4, critic_steps=5, clip=0.01)
    seen = []
    critic.register_forward_hook(lambda m, inputs, out: seen.append(inputs[0].shape[0]))
    logs = step((real_batch(rng, n=10).astype(np.float32),))
    assert seen == [2, 2] * 5 + [2]  # five critic iterations of two updates on their own slices, then G
    assert max(np.abs(p.numpy()).max() for p in critic.parameters()) <= 0.01
    assert math.isclose(logs["c_loss"], (logs["c_loss_real"] + logs["c_loss_fake"]) / 2)


# --------------------------------------------------------------------------- short runs on the digits


@functools.cache
def short_run(name, steps, batch_size, image_size=None):
    """``steps`` training steps of zoo model ``name`` on the 8x8 digits (no files needed); shared by
    the tests that only look at the result."""
    tinygdl.manual_seed(0)
    recipe = zoo.recipe(name, "digits", **({"image_size": image_size} if image_size else {}))
    train, _ = recipe.load_data()
    models = recipe.build()
    step = recipe.train_step(models, recipe.optimizers(models))
    loader = tinygdl.data.DataLoader(train, batch_size, shuffle=True, seed=0)
    for model in models.values():
        model.train()
    history = []
    with tinygdl.train_mode(True):
        for _, batch in zip(range(steps), loader):
            history.append(step(batch))
    return recipe, models, batch, history


def scores(recipe, models, batch):
    """The second network's mean score of a real batch and of as many fresh fakes, in eval mode."""
    generator, judge = models.values()
    real, labels = batch
    with evaluation_mode(models.values()):
        z = tinygdl.randn(real.shape[0], recipe.latent_dim)
        if isinstance(generator, gan.ConditionalGenerator):
            condition = tinygdl.one_hot(labels, recipe.num_classes())
            return judge(real, condition).numpy().mean(), judge(generator(z, condition), condition).numpy().mean()
        return judge(real).numpy().mean(), judge(generator(z)).numpy().mean()


SHORT_RUNS = {  # steps, batch size, image size: a few seconds each
    "dcgan": (8, 32, 16),
    "gan": (8, 32, None),
    "wgan_gp": (5, 16, 8),
    "cgan": (5, 16, 8),
    "wgan": (4, 20, 8),  # 4 steps of 5 critic iterations
}


@pytest.mark.parametrize("name", list(SHORT_RUNS))
def test_the_discriminator_learns_to_separate_real_from_fake_in_the_first_steps(name):
    recipe, models, batch, history = short_run(name, *SHORT_RUNS[name])
    assert all(math.isfinite(v) for logs in history for v in logs.values())
    assert all(np.isfinite(p.numpy()).all() for model in models.values() for p in model.parameters())
    real_score, fake_score = scores(recipe, models, batch)
    assert real_score > fake_score


def test_dcgan_discriminator_is_right_about_most_images_after_a_few_steps():
    _, _, _, history = short_run("dcgan", *SHORT_RUNS["dcgan"])
    assert history[-1]["d_real_acc"] > 0.75 and history[-1]["d_acc"] > 0.75
    assert history[-1]["d_loss"] < history[0]["d_loss"]
