"""Variational autoencoders (Kingma & Welling 2014; the book's chapter 3), their loss, and the two
numbers by which VAEs are compared: the ELBO and the importance-weighted bound on log p(x).

The model
---------
A VAE is a latent-variable model ``p(x, z) = p(x | z)·p(z)`` with a prior ``p(z) = N(0, I)`` and a
decoder network giving the likelihood ``p(x | z)`` (Bernoulli pixels with probabilities ``d(z)``,
or a Gaussian around ``d(z)``).  The encoder does not output a point but a distribution, the
approximate posterior ``q(z | x) = N(μ(x), diag σ²(x))``; it outputs ``μ`` and ``log σ²`` (the book's
``z_mean`` and ``z_log_var``: the log keeps the variance positive, ``σ² = exp(log σ²)``).

The evidence lower bound (ELBO)
-------------------------------
For any ``q``, by Jensen's inequality::

    log p(x) ≥ E_q[ log p(x | z) ] − KL( q(z | x) ‖ p(z) )  =  ELBO(x)

The first term rewards reconstructions, the second keeps the codes close to the prior.  Training
maximises it (minimises ``−ELBO``) with respect to encoder and decoder at once.

* **The reparameterization trick** (Kingma & Welling §2.4): sampling ``z ~ q`` is not
  differentiable in ``μ, σ``, but ``z = μ + σ·ε`` with ``ε ~ N(0, I)`` drawn independently is — the
  randomness moves into an input, and gradients flow through ``μ`` and ``σ = exp(½·log σ²)``.
  ``reparameterize`` / the ``Sampling`` layer.
* **The analytic KL** of two Gaussians (Kingma & Welling, appendix B), per latent dimension::

      KL( N(μ, σ²) ‖ N(0, 1) ) = −½·(1 + log σ² − μ² − σ²)

  summed over the dimensions (``tinygdl.losses.gaussian_kl``).
* **The book's weighting** (``docs/models/autoencoders.md``): ``loss = β·recon + KL`` with ``recon`` a
  *per-pixel mean*: β = 500 on the binary cross-entropy (fashion, 1,024 pixels), β = 2000 on the
  squared error (faces).  Against the true ELBO (a *sum* over pixels) this reweights the two
  terms; ``vae_loss`` computes the book's version, ``elbo`` the real one.

Evaluation in nats
------------------
``elbo(model, x)`` estimates ``E_q[log p(x | z)]`` with one sample of ``z`` and subtracts the
analytic KL: an unbiased estimate of the ELBO, in nats per image.  The **importance-weighted
bound** (Burda, Grosse & Salakhutdinov 2016, "IWAE") is tighter::

    log p(x) ≥ L_k(x) = E[ log (1/k)·Σ_{i=1..k} p(x | z_i)·p(z_i) / q(z_i | x) ],   z_i ~ q(z | x)

with ``L_1 = ELBO ≤ L_k ≤ L_{k+1} → log p(x)`` as k grows; ``iwae_bound`` computes it with
``logsumexp`` over the k log-weights.  With k = 50 to 5000 it is the number by which VAEs are
usually compared.

The likelihoods
---------------
* ``bernoulli_log_likelihood``: ``Σ_pixels x·log p + (1 − x)·log(1 − p)`` (p clipped to
  [1e-7, 1 − 1e-7]).  Fashion-MNIST pixels are grey levels in [0, 1], not binarised, so this is the
  usual "continuous pixels, Bernoulli likelihood" convention: not a normalised density over [0, 1],
  and only comparable between models evaluated the same way.
* ``gaussian_log_likelihood``: ``−½·Σ_pixels [(x − x̂)²/s² + log 2πs²]`` with a fixed variance s².
  The faces VAE's loss ``β·mean (x − x̂)²`` is exactly ``Σ (x − x̂)²/(2s²)`` for
  ``s² = D/(2β)`` (D pixels): ``gaussian_variance(β, D)`` is the variance the book's weighting
  implies, and the one its ELBO is measured with.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from .. import losses, nn
from ..nn.module import evaluation_mode
from ..ops.creation import randn
from ..ops.reduce import logsumexp
from ..ops.shape import stack
from ..tensor import Tensor
from .autoencoders import Autoencoder, conv_decoder, conv_stages, encoded_shape

LOG_2PI = math.log(2 * math.pi)
PROBABILITY_CLIP = losses.KERAS_EPSILON


# --------------------------------------------------------------------------- the model


def reparameterize(mu: Tensor, logvar: Tensor, eps=None) -> Tensor:
    """``z = μ + exp(½·log σ²)·ε``, ε ~ N(0, I) (or the ``eps`` given): a sample of N(μ, σ²) that is
    differentiable with respect to ``μ`` and ``log σ²`` (the reparameterization trick)."""
    if eps is None:
        eps = randn(mu.shape, dtype=mu.dtype, device=mu.device)
    return mu + (0.5 * logvar).exp() * eps


class Sampling(nn.Module):
    """The book's ``Sampling`` layer: ``(μ, log σ²) -> z`` by ``reparameterize``."""

    def forward(self, mu, logvar, eps=None):
        return reparameterize(mu, logvar, eps)


class GaussianEncoder(nn.Module):
    """``x -> (μ, log σ²)``: a ``body`` (any network ending in ``features`` numbers per example) and
    two linear heads, ``z_mean`` and ``z_log_var`` (the book's layer names)."""

    def __init__(self, body: nn.Module, features: int, latent_dim: int):
        super().__init__()
        self.body = body
        self.z_mean = nn.Linear(features, latent_dim)
        self.z_log_var = nn.Linear(features, latent_dim)

    def forward(self, x):
        h = self.body(x)
        return self.z_mean(h), self.z_log_var(h)


class VAEOutput(NamedTuple):
    reconstruction: Tensor  # d(z): pixel probabilities (Bernoulli) or means (Gaussian)
    mu: Tensor
    logvar: Tensor
    z: Tensor


class VAE(Autoencoder):
    """An autoencoder whose encoder outputs a distribution: encoder ``x -> (μ, log σ²)``, ``Sampling``,
    decoder ``z -> x̂``.  ``forward(x)`` returns a ``VAEOutput`` (reconstruction, μ, log σ², z);
    ``eps`` fixes the noise of the sampling."""

    def __init__(self, encoder: GaussianEncoder, decoder: nn.Module, latent_dim: int):
        super().__init__(encoder, decoder)
        self.sampling = Sampling()
        self.latent_dim = latent_dim

    def embed(self, x):
        """The mean μ(x) of q(z | x): where ``x`` sits in the latent space."""
        return self.encode(x)[0]

    def forward(self, x, eps=None) -> VAEOutput:
        mu, logvar = self.encode(x)
        z = self.sampling(mu, logvar, eps)
        return VAEOutput(self.decode(z), mu, logvar, z)

    def sample(self, n: int):
        """Decode ``n`` draws of the prior N(0, I): new images."""
        p = self.parameters()[0]
        return self.decode(randn((n, self.latent_dim), dtype=p.dtype, device=p.device))


def conv_vae(input_shape=(1, 32, 32), channels=(32, 64, 128), latent_dim: int = 2, norm: bool = False,
             output_layer: str = "conv") -> VAE:
    """A VAE with the book's convolutional encoder body and decoder (``tinygdl.models.autoencoders``)."""
    c, h, w = encoded_shape(input_shape, channels)
    encoder = GaussianEncoder(nn.Sequential(conv_stages(input_shape[0], channels, norm)), c * h * w, latent_dim)
    decoder = conv_decoder(input_shape, tuple(reversed(channels)), latent_dim, norm, output_layer)
    return VAE(encoder, decoder, latent_dim)


def vae_fashion(input_shape=(1, 32, 32), channels=(32, 64, 128), latent_dim: int = 2) -> VAE:
    """The chapter-3 Fashion-MNIST VAE: the autoencoder's layers with a mean / log-variance
    head; 100,868 (encoder) + 246,273 (decoder) = 347,141 parameters."""
    return conv_vae(input_shape, channels, latent_dim)


def vae_faces(input_shape=(3, 32, 32), channels=(128, 128, 128, 128), latent_dim: int = 200) -> VAE:
    """The chapter-3 faces VAE (the book repository's current 32x32 version): four Conv + BN + LeakyReLU(0.3)
    stages to 2×2×128, 200-D latent, Dense + BN, four ConvT + BN + LeakyReLU stages, a stride-1
    transposed convolution to RGB with a sigmoid; 653,584 + 700,803 = 1,354,387 parameters
    (3,072 of them BatchNorm running statistics)."""
    return conv_vae(input_shape, channels, latent_dim, norm=True, output_layer="conv_transpose")


# --------------------------------------------------------------------------- the book's training loss


def per_image_mean(values: Tensor) -> Tensor:
    """The mean over every axis but the first: (N, C, H, W) -> (N,)."""
    return values.mean(axis=tuple(range(1, values.ndim)))


RECONSTRUCTION_LOSSES = {
    "bce": functools.partial(losses.binary_cross_entropy, reduction="none"),
    "mse": functools.partial(losses.mse_loss, reduction="none"),
}


def vae_loss(output: VAEOutput, x, beta: float, reconstruction: str = "bce") -> dict:
    """The book's VAE loss, as Tensors ``{"loss", "reconstruction_loss", "kl_loss"}``::

        reconstruction_loss = mean over the batch of β · (per-image mean of BCE(x, x̂) or (x − x̂)²)
        kl_loss             = mean over the batch of Σ_d −½·(1 + log σ²_d − μ_d² − σ²_d)
        loss                = reconstruction_loss + kl_loss

    (fashion: ``reconstruction="bce"``, β = 500; faces: ``"mse"``, β = 2000).
    """
    if reconstruction not in RECONSTRUCTION_LOSSES:
        raise ValueError(f"reconstruction must be one of {sorted(RECONSTRUCTION_LOSSES)}, got {reconstruction!r}")
    recon = beta * per_image_mean(RECONSTRUCTION_LOSSES[reconstruction](output.reconstruction, x)).mean()
    kl = losses.gaussian_kl(output.mu, output.logvar)
    return {"loss": recon + kl, "reconstruction_loss": recon, "kl_loss": kl}


# --------------------------------------------------------------------------- log-densities, per example


def bernoulli_log_likelihood(probs: Tensor, x) -> Tensor:
    """``log p(x | z) = Σ_pixels x·log p + (1 − x)·log(1 − p)`` per example, (N,) nats."""
    return -losses.sum_per_sample(losses.binary_cross_entropy(probs, x, reduction="none", eps=PROBABILITY_CLIP))


def gaussian_log_likelihood(mean: Tensor, x, variance: float) -> Tensor:
    """``log N(x; mean, variance·I) = −½·Σ_pixels [(x − mean)²/variance + log 2π·variance]``, (N,) nats."""
    squared = losses.sum_per_sample(losses.mse_loss(mean, x, reduction="none"))
    pixels = math.prod(mean.shape[1:])
    return -0.5 * (squared / variance + pixels * (LOG_2PI + math.log(variance)))


def gaussian_variance(beta: float, pixels: int) -> float:
    """The variance s² for which ``β·mean (x − x̂)²`` over ``pixels`` values equals the Gaussian
    negative log-likelihood up to a constant: ``β/D·Σ(x − x̂)² = Σ(x − x̂)²/(2s²)``, so ``s² = D/(2β)``."""
    return pixels / (2.0 * beta)


def log_likelihood_fn(kind: str, variance: float | None = None):
    """``log p(x | z)`` as a function ``(decoder output, x) -> (N,)``: ``"bernoulli"`` or
    ``"gaussian"`` (which needs ``variance``)."""
    if kind == "bernoulli":
        return bernoulli_log_likelihood
    if kind == "gaussian":
        if variance is None:
            raise ValueError("a Gaussian likelihood needs its variance (see gaussian_variance)")
        return functools.partial(gaussian_log_likelihood, variance=variance)
    raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {kind!r}")


def log_normal(z: Tensor, mu=None, logvar=None) -> Tensor:
    """``Σ_d log N(z_d; μ_d, σ²_d)`` per example; the standard normal when ``mu``/``logvar`` are None."""
    if mu is None:
        return -0.5 * losses.sum_per_sample(z * z + LOG_2PI)
    return -0.5 * losses.sum_per_sample((z - mu) ** 2 / logvar.exp() + logvar + LOG_2PI)


# --------------------------------------------------------------------------- the bounds


def elbo(model: VAE, x: Tensor, log_likelihood=bernoulli_log_likelihood) -> dict:
    """One-sample estimate of the ELBO of each example, in nats: ``{"elbo", "log_likelihood",
    "kl"}``, each (N,) — ``elbo = log p(x | z) − KL(q(z | x) ‖ p(z))`` with z ~ q(z | x)."""
    output = model(x)
    expected = log_likelihood(output.reconstruction, x)
    kl = losses.gaussian_kl(output.mu, output.logvar, reduction="none")
    return {"elbo": expected - kl, "log_likelihood": expected, "kl": kl}


def iwae_bound(model: VAE, x: Tensor, k: int = 50, log_likelihood=bernoulli_log_likelihood) -> Tensor:
    """The importance-weighted bound ``L_k`` of each example (N,), in nats::

        log w_i = log p(x | z_i) + log N(z_i; 0, I) − log N(z_i; μ, σ²),   z_i = μ + σ·ε_i
        L_k     = logsumexp_i(log w_i) − log k

    The encoder runs once; the decoder once per sample (k batches the size of ``x``, so memory
    stays that of one forward pass).
    """
    mu, logvar = model.encode(x)
    log_weights = []
    for _ in range(k):
        z = reparameterize(mu, logvar)
        log_weights.append(log_likelihood(model.decode(z), x) + log_normal(z) - log_normal(z, mu, logvar))
    return logsumexp(stack(log_weights, axis=0), axis=0) - math.log(k)


def evaluate_vae(model: VAE, images, log_likelihood=bernoulli_log_likelihood, k: int = 50, batch_size: int = 100,
                 iwae_limit: int | None = None) -> dict:
    """Test-set numbers of a VAE, in nats per image (means over ``images``, an (N, C, H, W) array):
    ``elbo``, its two terms ``log_likelihood`` (E_q log p(x | z)) and ``kl``; ``iwae_k<k>``, the
    k-sample bound on log p(x) over the first ``iwae_limit`` images (all by default), and
    ``elbo_iwae_images``, the ELBO of those same images (the pair to compare).  Runs in eval mode
    without a graph; draws use tinygdl's generator (``tinygdl.manual_seed``)."""
    images = np.asarray(images)
    totals = OrderedDict(elbo=0.0, log_likelihood=0.0, kl=0.0)
    iwae_count = min(len(images), iwae_limit or len(images))
    iwae_total = elbo_subset_total = 0.0
    device, dtype = model.device, model.parameters()[0].dtype
    with evaluation_mode([model]):
        for start in range(0, len(images), batch_size):
            x = Tensor(images[start:start + batch_size], dtype=dtype, device=device)
            terms = elbo(model, x, log_likelihood)
            for name, values in terms.items():
                totals[name] += float(values.sum().item())
            if start < iwae_count:
                elbo_subset_total += float(terms["elbo"][:iwae_count - start].sum().item())
                iwae_total += float(iwae_bound(model, x[:iwae_count - start], k, log_likelihood).sum().item())
    result = {name: total / len(images) for name, total in totals.items()}
    result[f"iwae_k{k}"] = iwae_total / iwae_count
    result["elbo_iwae_images"] = elbo_subset_total / iwae_count
    return result


__all__ = [
    "GaussianEncoder", "Sampling", "VAE", "VAEOutput", "bernoulli_log_likelihood", "conv_vae", "elbo",
    "evaluate_vae", "gaussian_log_likelihood", "gaussian_variance", "iwae_bound", "log_likelihood_fn",
    "log_normal", "per_image_mean", "reparameterize", "vae_faces", "vae_fashion", "vae_loss",
]
