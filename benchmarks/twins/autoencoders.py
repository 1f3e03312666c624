"""The PyTorch twins of chapter 3's autoencoder and Fashion-MNIST VAE, for ``benchmarks/models.py``
and ``benchmarks/vae.py``.

The encoder and decoder stacks are translated layer by layer (``sequential.torch_sequential``:
Keras "same" padding and cropping made explicit, weights copied).  The losses are the book's:
the autoencoder's Keras-clipped binary cross-entropy averaged over every pixel, and the VAE's
``β ×`` per-image mean BCE + the KL summed over the latent dimensions, averaged over the batch
(β = 500), with the reparameterization noise ε given from outside so that both engines can use
the same draws.
"""

from __future__ import annotations

import numpy as np

from benchmarks.twins import ModelRow
from benchmarks.twins.sequential import KERAS_EPS, torch_layer, torch_sequential

BOOK_BATCH = CPU_BATCH = 100  # the book's batch; a CPU trains these small models at it as they are


def torch_vae(torch, model):
    """The zoo's ``vae_fashion`` (a ``tinygdl.models.vae.VAE``) as a torch module with the same
    weights: ``forward(x, eps) -> (x̂, μ, log σ²)``."""
    nn = torch.nn

    class TorchVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch_sequential(torch, model.encoder.body)
            self.z_mean = torch_layer(torch, model.encoder.z_mean)
            self.z_log_var = torch_layer(torch, model.encoder.z_log_var)
            self.decoder = torch_sequential(torch, model.decoder)

        def forward(self, x, eps):
            h = self.body(x)
            mu, logvar = self.z_mean(h), self.z_log_var(h)
            return self.decoder(mu + torch.exp(0.5 * logvar) * eps), mu, logvar

    return TorchVAE()


def torch_autoencoder(torch, model):
    """The zoo's ``autoencoder`` (encoder then decoder) as one ``torch.nn.Sequential``."""
    return torch.nn.Sequential(torch_sequential(torch, model.encoder), torch_sequential(torch, model.decoder))


def torch_bce(torch, p, target, reduce_dims=None):
    """Keras's binary cross-entropy: probabilities clipped to [ε, 1 − ε], ε added inside the logs;
    the mean over ``reduce_dims`` (every axis when None)."""
    p = p.clamp(KERAS_EPS, 1 - KERAS_EPS)
    bce = -(target * torch.log(p + KERAS_EPS) + (1 - target) * torch.log(1 - p + KERAS_EPS))
    return bce.mean() if reduce_dims is None else bce.mean(dim=reduce_dims)


def torch_vae_loss(torch, x_hat, x, mu, logvar, beta: float = 500.0):
    """``β · mean_n(mean_pixels BCE) + mean_n(Σ_latent KL)``, as ``tinygdl.models.vae.vae_loss``."""
    recon = beta * torch_bce(torch, x_hat, x, reduce_dims=(1, 2, 3)).mean()
    kl = (-0.5 * (1 + logvar - mu * mu - logvar.exp())).sum(dim=1).mean()
    return recon + kl


def _adam_step(optimizer, loss):
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def make_autoencoder(torch, name: str, batch_size: int, device: str = "cpu", seed: int = 0):
    """``autoencoder`` or ``vae_fashion`` at the book's settings and its twin: the two train steps
    on one batch of random 32×32 images (the VAE's ε is drawn by each engine)."""
    import tinygdl
    from tinygdl import zoo

    tinygdl.manual_seed(seed)
    recipe = zoo.recipe(name)
    models = recipe.build()
    model = models["model"]
    twin = (torch_vae if name == "vae_fashion" else torch_autoencoder)(torch, model).to(device)
    model.to(device)
    ours = recipe.train_step(models, recipe.optimizers(models))
    optimizer = torch.optim.Adam(twin.parameters(), lr=recipe.lr, eps=KERAS_EPS)
    x = np.random.default_rng(seed).uniform(0, 1, (batch_size,) + recipe.input_shape()).astype(np.float32)
    batch, x_t = (tinygdl.tensor(x, device=device),), torch.from_numpy(x).to(device)
    if name == "vae_fashion":
        def theirs():
            eps = torch.randn(batch_size, model.latent_dim, device=device)
            x_hat, mu, logvar = twin(x_t, eps)
            _adam_step(optimizer, torch_vae_loss(torch, x_hat, x_t, mu, logvar, recipe.beta))
    else:
        def theirs():
            _adam_step(optimizer, torch_bce(torch, twin(x_t), x_t))
    return (lambda: ours(batch)), theirs


def _row(name):
    def make(torch, batch_size, device="cpu"):
        return make_autoencoder(torch, name, batch_size, device)
    return ModelRow(name, "", BOOK_BATCH, CPU_BATCH, make)


ROWS = [_row("autoencoder"), _row("vae_fashion")]
