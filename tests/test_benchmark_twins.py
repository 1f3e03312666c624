"""The PyTorch twins of the chapter 2–4 models (``benchmarks/twins/{sequential,classifiers,
autoencoders,gans}.py``) compute the same function as the zoo models, and every benchmark row builds
two steps that run."""

import numpy as np
import pytest

import tinygdl
from benchmarks.twins import autoencoders, classifiers, gans
from benchmarks.twins.sequential import torch_sequential
from tinygdl import zoo
from tinygdl.training import evaluation_mode

pytestmark = pytest.mark.torch


def _same(ours, theirs):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["mlp", "cnn", "autoencoder"])
def test_sequential_twins_compute_the_same_function(torch_one_thread, rng, name):
    torch = torch_one_thread
    recipe = zoo.recipe(name)
    model = recipe.build()["model"]
    twin = (autoencoders.torch_autoencoder if name == "autoencoder" else torch_sequential)(torch, model).eval()
    x = rng.uniform(0, 1, (3,) + recipe.input_shape()).astype(np.float32)
    with evaluation_mode([model]):
        _same(model(tinygdl.tensor(x)).numpy(), twin(torch.from_numpy(x)))


def test_vae_twin_computes_the_same_function_and_loss(torch_one_thread, rng):
    from tinygdl.models.vae import vae_loss

    torch = torch_one_thread
    model = zoo.build("vae_fashion")
    twin = autoencoders.torch_vae(torch, model)
    x = rng.uniform(0, 1, (3, 1, 32, 32)).astype(np.float32)
    eps = rng.standard_normal((3, 2)).astype(np.float32)
    output = model(tinygdl.tensor(x), tinygdl.tensor(eps))
    x_hat, mu, logvar = twin(torch.from_numpy(x), torch.from_numpy(eps))
    _same(output.reconstruction.numpy(), x_hat)
    _same(vae_loss(output, tinygdl.tensor(x), 500.0)["loss"].numpy(),
          autoencoders.torch_vae_loss(torch, x_hat, torch.from_numpy(x), mu, logvar))


@pytest.mark.parametrize("name", ["dcgan", "wgan_gp", "cgan"])
def test_gan_twins_compute_the_same_function(torch_one_thread, rng, name):
    torch = torch_one_thread
    recipe = zoo.recipe(name, image_size=16)
    models = recipe.build()
    generator, critic = models.values()
    twins = [twin.eval() for twin in gans.torch_twins(torch, name, models)]
    z = rng.standard_normal((3, recipe.latent_dim)).astype(np.float32)
    condition = ()
    if name == "cgan":
        condition = (np.eye(recipe.num_classes(), dtype=np.float32)[[0, 1, 0]],)
    with evaluation_mode(models.values()):
        ours = critic(generator(tinygdl.tensor(z), *map(tinygdl.tensor, condition)), *map(tinygdl.tensor, condition))
    theirs_condition = tuple(map(torch.from_numpy, condition))
    _same(ours.numpy(), twins[1](twins[0](torch.from_numpy(z), *theirs_condition), *theirs_condition))


class Float64Watch(tinygdl.profiler.Profile):
    """A profile that also counts the ops whose results are float64 (none should be, in float32 models)."""

    def __init__(self):
        super().__init__()
        self.float64 = set()

    def forward(self, fn, arrays):
        return self._watch(fn.name, super().forward(fn, arrays))

    def backward(self, fn, grads):
        return self._watch(f"{fn.name} (backward)", super().backward(fn, grads))

    def _watch(self, name, results):
        for result in results if isinstance(results, (tuple, list)) else (results,):
            if getattr(result, "dtype", None) == np.float64:
                self.float64.add(name)
        return results


def _rows():
    """Every chapter 2–4 row; the 64×64 GANs (seconds per step even at batch 2) only in slow runs."""
    for row in classifiers.ROWS + autoencoders.ROWS + gans.ROWS:
        slow = row in gans.ROWS and not row.setting
        yield pytest.param(row, id=f"{row.model}-{row.setting or 'book'}", marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("row", _rows())
def test_every_row_makes_two_steps_that_run_in_float32(torch_one_thread, row):
    tinygdl_step, torch_step = row.make(torch_one_thread, 2)
    with Float64Watch() as watch:
        tinygdl_step()
    torch_step()
    assert watch.stats and not watch.float64, f"ops computing in float64: {sorted(watch.float64)}"
