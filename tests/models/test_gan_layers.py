"""The GAN networks: the book's parameter counts, how the architectures scale with the image size,
the minibatch standard-deviation layer, and the nearest-neighbour search."""

import numpy as np
import pytest

import tinygdl
from tinygdl import nn, testing, zoo
from tinygdl.models import gan

# --------------------------------------------------------------------------- the spec's tables (book-models.md)

# Per-layer counts as listed in §3.6–3.8 (BatchNorm rows count γ, β and both running statistics).
DCGAN_DISCRIMINATOR_ROWS = (1_024, 131_072, 512, 524_288, 1_024, 2_097_152, 2_048, 8_192)
DCGAN_GENERATOR_ROWS = (819_200, 2_048, 2_097_152, 1_024, 524_288, 512, 131_072, 256, 1_024)
WGAN_GP_CRITIC_ROWS = (3_136, 131_200, 524_544, 2_097_664, 8_193)
WGAN_GP_GENERATOR_ROWS = (1_048_576, 2_048, 2_097_152, 1_024, 524_288, 512, 131_072, 256, 3_075)
CGAN_CRITIC_ROWS = (5_184, 131_200, 262_272, 262_272, 2_049)
CGAN_GENERATOR_ROWS = (69_632, 512, 262_144, 512, 262_144, 512, 131_072, 256, 3_075)


def count(module) -> int:
    """Keras's count: parameters plus persistent buffers (BatchNorm's running statistics)."""
    return module.num_parameters() + sum(b.size for b in module.buffers(persistent_only=True))


@pytest.mark.parametrize("name, roles", [
    ("dcgan", {"generator": DCGAN_GENERATOR_ROWS, "discriminator": DCGAN_DISCRIMINATOR_ROWS}),
    ("wgan_gp", {"generator": WGAN_GP_GENERATOR_ROWS, "critic": WGAN_GP_CRITIC_ROWS}),
    ("cgan", {"generator": CGAN_GENERATOR_ROWS, "critic": CGAN_CRITIC_ROWS}),
])
def test_parameter_counts_at_64x64_equal_the_spec_tables(name, roles):
    models = zoo.build(name)
    assert list(models) == list(roles)
    for role, rows in roles.items():
        assert count(models[role]) == sum(rows), (name, role)


def test_summary_shows_each_network_with_the_book_shapes(capsys):
    from tinygdl.cli import main

    assert main(["summary", "cgan"]) == 0
    text = capsys.readouterr().out
    assert "[generator]" in text and "[critic]" in text
    assert "(None, 34, 1, 1)" in text and "(None, 3, 64, 64)" in text  # z (32) + one-hot (2); the image
    assert f"Total params: {sum(CGAN_CRITIC_ROWS):,}" in text


def test_the_book_details_of_each_network():
    g, d = zoo.build("dcgan").values()
    convolutions = [m for m in list(d.modules()) + list(g.modules()) if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert len(convolutions) == 10 and all(m.bias is None for m in convolutions)  # no biases at all
    assert all(m.momentum == 0.9 for m in list(d.modules()) + list(g.modules()) if isinstance(m, nn.BatchNorm2d))
    assert isinstance(d.sigmoid, nn.Sigmoid) and isinstance(d.dropout_0, nn.Dropout)
    critic = zoo.build("wgan_gp")["critic"]
    kinds = [type(m) for m in critic.modules()]
    assert nn.BatchNorm2d not in kinds and nn.Sigmoid not in kinds  # no normalisation, a linear output
    assert [m.negative_slope for m in critic.modules() if isinstance(m, nn.LeakyReLU)] == [0.2, 0.3, 0.2, 0.2]
    assert "dropout_0" not in dict(critic.named_children()) and critic.dropout_1.p == 0.3
    generator = zoo.build("wgan_gp")["generator"]
    transposed = [m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [m.bias is not None for m in transposed] == [False] * 4 + [True]  # a bias on the last layer only


@pytest.mark.parametrize("size, generator_widths, critic_widths", [
    (64, (512, 256, 128, 64), (64, 128, 256, 512)),
    (32, (256, 128, 64), (64, 128, 256)),
    (16, (128, 64), (64, 128)),
    (8, (64,), (64,)),
])
def test_smaller_images_drop_the_deepest_stages(size, generator_widths, critic_widths):
    generator = gan.dcgan_generator(latent_dim=5, image_size=size)
    critic = gan.dcgan_discriminator(image_size=size)
    widths = lambda model, kind: tuple(m.out_channels for m in model.modules() if isinstance(m, kind))[:-1]  # noqa
    assert widths(generator, nn.ConvTranspose2d) == generator_widths
    assert widths(critic, nn.Conv2d) == critic_widths
    with tinygdl.no_grad():
        images = generator.eval()(tinygdl.randn(2, 5))
        assert images.shape == (2, 1, size, size)
        assert critic.eval()(images).shape == (2, 1)


@pytest.mark.parametrize("size", [4, 12, 48, 128])
def test_image_sizes_that_are_not_4_times_a_power_of_2_up_to_the_books_are_refused(size):
    with pytest.raises(ValueError, match="image_size must be one of 8, 16, 32, 64"):
        gan.dcgan_generator(image_size=size)


def test_conditional_networks_take_the_label_beside_z_and_as_image_planes():
    generator, critic = gan.ConditionalGenerator(4, 3, 1, 16), gan.ConditionalCritic(3, 1, 16)
    labels = tinygdl.tensor(np.eye(3, dtype=np.float32)[[0, 2]])
    seen = []
    critic.net.conv_0.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].numpy()))
    with tinygdl.no_grad():
        images = generator.eval()(tinygdl.randn(2, 4), labels)
        critic.eval()(images, labels)
    assert images.shape == (2, 1, 16, 16)
    planes = seen[0][:, 1:]  # the critic's input: the image, then one constant plane per class
    np.testing.assert_array_equal(planes, np.broadcast_to(labels.numpy()[:, :, None, None], (2, 3, 16, 16)))


def test_the_small_gans_build_and_run():
    for name, shape in (("gan", (1, 28, 28)), ("wgan", (3, 32, 32))):
        models = zoo.build(name)
        with tinygdl.no_grad():
            images = models["generator"].eval()(tinygdl.randn(3, zoo.recipe(name).latent_dim))
            assert images.shape == (3,) + shape
            assert list(models.values())[1].eval()(images).shape == (3, 1)


# --------------------------------------------------------------------------- minibatch standard deviation


def minibatch_stddev_reference(x, group_size):
    """ProGAN's formula in NumPy (float64)."""
    n, c, h, w = x.shape
    y = x.reshape(group_size, n // group_size, c, h, w)
    spread = np.sqrt(((y - y.mean(axis=0)) ** 2).mean(axis=0) + 1e-8).mean(axis=(1, 2, 3))
    return np.concatenate([x, np.tile(spread, group_size)[:, None, None, None] * np.ones((n, 1, h, w))], axis=1)


@pytest.mark.parametrize("group_size, expected_group", [(4, 4), (2, 2), (None, 8), (3, 2), (16, 8)])
def test_minibatch_stddev_matches_progans_formula(group_size, expected_group, rng, float64):
    x = rng.standard_normal((8, 3, 2, 5))
    out = gan.MinibatchStdDev(group_size)(tinygdl.tensor(x)).numpy()
    np.testing.assert_allclose(out, minibatch_stddev_reference(x, expected_group), rtol=1e-12)


def test_minibatch_stddev_sees_a_collapsed_batch(rng):
    varied = tinygdl.tensor(rng.standard_normal((4, 2, 3, 3)).astype(np.float32))
    copies = tinygdl.tensor(np.repeat(varied.numpy()[:1], 4, axis=0))
    spread = lambda x: gan.MinibatchStdDev()(x).numpy()[:, -1]  # noqa: E731
    assert spread(varied).min() > 0.5 and spread(copies).max() < 1e-3  # sqrt(1e-8) = 1e-4 for exact copies


def test_minibatch_stddev_matches_torch_and_its_gradient(rng, torch, float64):
    x = rng.standard_normal((6, 2, 3, 3))
    weights = rng.standard_normal((6, 3, 3, 3))
    mine = tinygdl.tensor(x, requires_grad=True)
    (gan.MinibatchStdDev(3)(mine) * tinygdl.tensor(weights)).sum().backward()
    theirs = torch.tensor(x, requires_grad=True)
    y = theirs.reshape(3, 2, 2, 3, 3)
    spread = ((y - y.mean(0)).pow(2).mean(0) + 1e-8).sqrt().mean((1, 2, 3)).repeat(3)
    out = torch.cat([theirs, spread[:, None, None, None].expand(6, 1, 3, 3)], 1)
    (out * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_minibatch_stddev_gradcheck_and_second_derivatives(rng):
    x = tinygdl.tensor(rng.standard_normal((4, 2, 2, 2)), requires_grad=True)
    testing.gradcheck(lambda t: gan.MinibatchStdDev(2)(t), [x])
    testing.gradgradcheck(lambda t: gan.MinibatchStdDev(2)(t), [x])


def test_minibatch_stddev_in_a_discriminator_adds_one_channel_to_the_last_conv():
    plain = gan.dcgan_discriminator(image_size=16)
    with_layer = gan.dcgan_discriminator(image_size=16, minibatch_std=True)
    assert with_layer.conv_out.in_channels == plain.conv_out.in_channels + 1
    assert count(with_layer) - count(plain) == 4 * 4  # one more input channel of the 4x4 final kernel
    with tinygdl.no_grad():
        assert with_layer.eval()(tinygdl.randn(6, 1, 16, 16)).shape == (6, 1)


def test_minibatch_stddev_refuses_groups_of_one_and_non_images():
    with pytest.raises(ValueError, match="group_size"):
        gan.MinibatchStdDev(1)
    with pytest.raises(ValueError, match="N, C, H, W"):
        gan.MinibatchStdDev()(tinygdl.randn(4, 3))


# --------------------------------------------------------------------------- nearest training images


def test_nearest_neighbours_finds_the_closest_image_by_mean_absolute_difference(rng):
    images = rng.uniform(-1, 1, (1000, 1, 4, 4)).astype(np.float32)
    picks = np.array([3, 511, 512, 999])
    samples = images[picks] + 0.01
    index, distance = gan.nearest_neighbours(samples, images, chunk=256)
    np.testing.assert_array_equal(index, picks)
    np.testing.assert_allclose(distance, 0.01, rtol=1e-4)
    with pytest.raises(ValueError, match="values each"):
        gan.nearest_neighbours(samples, images[:, :, :2])
