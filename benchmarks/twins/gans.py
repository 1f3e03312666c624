"""The PyTorch twins of chapter 4's GANs (``dcgan``, ``wgan_gp``, ``cgan``), for
``benchmarks/models.py`` and ``benchmarks/gan.py``.

A *full step* is what one call of the zoo's training step does: for ``dcgan`` one forward pass of
G and two of D, then both updates (as the book); for ``wgan_gp`` three critic updates with the
gradient penalty (double backpropagation through the critic) and one generator update;
``cgan`` is the same with the one-hot label after z and as constant planes beside the image.
The networks are translated layer by layer (``sequential.torch_sequential``), weights copied; both
engines draw their own z, α, label noise and dropout masks (the same amount of work, not the same
numbers), and both use Adam with the recipe's learning rate and betas.
"""

from __future__ import annotations

import numpy as np

from benchmarks.twins import ModelRow
from benchmarks.twins.sequential import KERAS_EPS, torch_sequential

CPU_BATCH = 32


def _torch_bce(torch, p, target):
    """Keras's clipped binary cross-entropy, as ``tinygdl.losses.binary_cross_entropy``."""
    p = p.clamp(KERAS_EPS, 1 - KERAS_EPS)
    return -(target * (p + KERAS_EPS).log() + (1 - target) * (1 - p + KERAS_EPS).log()).mean()


def _adam(torch, model, lr, betas):
    return torch.optim.Adam(model.parameters(), lr=lr, betas=betas, eps=KERAS_EPS)


def torch_dcgan_step(torch, generator, discriminator, latent_dim, label_noise=0.1, lr=2e-4, betas=(0.5, 0.999)):
    """The book's DCGAN step: one forward pass, D's gradient of d_loss and G's of g_loss, both Adams."""
    g_optimizer, d_optimizer = _adam(torch, generator, lr, betas), _adam(torch, discriminator, lr, betas)

    def step(real):
        fake = generator(torch.randn(real.shape[0], latent_dim, device=real.device))
        p_real, p_fake = discriminator(real), discriminator(fake)
        d_loss = (_torch_bce(torch, p_real, 1 + label_noise * torch.rand_like(p_real))
                  + _torch_bce(torch, p_fake, -label_noise * torch.rand_like(p_fake))) / 2
        g_loss = _torch_bce(torch, p_fake, torch.ones_like(p_fake))
        d_params, g_params = list(discriminator.parameters()), list(generator.parameters())
        d_grads = torch.autograd.grad(d_loss, d_params, retain_graph=True)
        g_grads = torch.autograd.grad(g_loss, g_params)
        for optimizer, params, grads in ((d_optimizer, d_params, d_grads), (g_optimizer, g_params, g_grads)):
            for param, grad in zip(params, grads):
                param.grad = grad
            optimizer.step()

    return step


def torch_wgan_gp_step(torch, generator, critic, latent_dim, critic_steps=3, gp_weight=10.0, lr=2e-4,
                       betas=(0.5, 0.9)):
    """Three critic updates with the gradient penalty (α ~ U[0, 1]), then one generator update.

    ``step(real, condition=None)``: with a condition (the one-hot labels of a conditional GAN) the
    networks are called ``generator(z, condition)`` and ``critic(x, condition)``."""
    g_optimizer, c_optimizer = _adam(torch, generator, lr, betas), _adam(torch, critic, lr, betas)

    def step(real, condition=None):
        extra = () if condition is None else (condition,)

        def noise():
            return torch.randn(real.shape[0], latent_dim, device=real.device)

        def penalty(fake):
            alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
            interpolated = (real + alpha * (fake - real)).requires_grad_()
            (gradient,) = torch.autograd.grad(critic(interpolated, *extra).sum(), interpolated, create_graph=True)
            return (((gradient ** 2).sum(dim=(1, 2, 3)) + 1e-12).sqrt() - 1).pow(2).mean()

        for _ in range(critic_steps):
            with torch.no_grad():
                fake = generator(noise(), *extra)
            c_loss = critic(fake, *extra).mean() - critic(real, *extra).mean() + gp_weight * penalty(fake)
            c_optimizer.zero_grad()
            c_loss.backward()
            c_optimizer.step()
        g_loss = -critic(generator(noise(), *extra), *extra).mean()
        g_optimizer.zero_grad()
        g_loss.backward()
        g_optimizer.step()

    return step


def torch_conditional(torch, model, role: str):
    """A ``ConditionalGenerator`` (``role="generator"``: z and the one-hot label concatenated) or a
    ``ConditionalCritic`` (``"critic"``: the label as constant planes beside the image) in torch."""

    class Conditional(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch_sequential(torch, model.net)

        def forward(self, x, one_hot):
            if role == "generator":
                return self.net(torch.cat([x, one_hot], dim=1))
            n, _, h, w = x.shape
            return self.net(torch.cat([x, one_hot[:, :, None, None].expand(n, one_hot.shape[1], h, w)], dim=1))

    return Conditional()


def torch_twins(torch, name: str, models: dict):
    """The (generator, critic/discriminator) twins of a zoo GAN's ``models``."""
    generator, critic = models.values()
    if name == "cgan":
        return torch_conditional(torch, generator, "generator"), torch_conditional(torch, critic, "critic")
    return torch_sequential(torch, generator), torch_sequential(torch, critic)


def make_gan(torch, name: str, batch_size: int, device: str = "cpu", image_size: int | None = None, seed: int = 0):
    """The zoo GAN ``name`` (at ``image_size``, default the book's) and its twins: the two full
    train steps on one batch of random images (and labels, for ``cgan``)."""
    import tinygdl
    from tinygdl import zoo

    tinygdl.manual_seed(seed)
    torch.manual_seed(seed)
    recipe = zoo.recipe(name, **({} if image_size is None else {"image_size": image_size}))
    models = recipe.build()
    twins = [twin.to(device) for twin in torch_twins(torch, name, models)]
    for model in models.values():
        model.to(device).train()
    ours = recipe.train_step(models, recipe.optimizers(models))
    betas = (recipe.beta1, recipe.beta2)
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (batch_size,) + recipe.image_shape()).astype(np.float32)
    real_t = torch.from_numpy(images).to(device)
    if name == "dcgan":
        theirs = torch_dcgan_step(torch, *twins, recipe.latent_dim, recipe.label_noise, recipe.lr, betas)
        batch = (tinygdl.tensor(images, device=device),)
        return (lambda: ours(batch)), (lambda: theirs(real_t))
    theirs = torch_wgan_gp_step(torch, *twins, recipe.latent_dim, recipe.critic_steps, recipe.gp_weight, recipe.lr,
                                betas)
    if name == "wgan_gp":
        batch = (tinygdl.tensor(images, device=device),)
        return (lambda: ours(batch)), (lambda: theirs(real_t))
    k = recipe.num_classes()
    labels = rng.integers(0, k, batch_size)
    condition = torch.nn.functional.one_hot(torch.from_numpy(labels), k).float().to(device)
    batch = (tinygdl.tensor(images, device=device), tinygdl.tensor(labels, device=device))
    return (lambda: ours(batch)), (lambda: theirs(real_t, condition))


def _row(name, book_batch, setting="", image_size=None):
    def make(torch, batch_size, device="cpu"):
        return make_gan(torch, name, batch_size, device, image_size)
    return ModelRow(name, setting, book_batch, CPU_BATCH, make)


ROWS = [_row("dcgan", 128), _row("wgan_gp", 512), _row("cgan", 128), _row("dcgan", 128, "32x32", 32),
        _row("wgan_gp", 512, "32x32", 32)]
