"""The VAEs of tinygdl.models.vae: the book's two models against their spec tables, the
reparameterization trick under gradcheck, the book's loss against its formula, the log-densities
against PyTorch, and the ELBO / importance-weighted bounds against the exact log-likelihood of a
linear Gaussian model."""

import math

import numpy as np
import pytest

import tinygdl
from tinygdl import nn
from tinygdl.models import vae as V
from tinygdl.optim import Adam
from tinygdl.testing import gradcheck

# book-models.md §3.4 and §3.5, per layer with parameters (BatchNorm: 2·C trainable + 2·C running).
FASHION_ENCODER = [320, 18_496, 73_856, 4_098, 4_098]
FASHION_DECODER = [6_144, 147_584, 73_792, 18_464, 289]
FACES_ENCODER = [3_584, 512, 147_584, 512, 147_584, 512, 147_584, 512, 102_600, 102_600]
FACES_DECODER = [102_912, 2_048, 147_584, 512, 147_584, 512, 147_584, 512, 147_584, 512, 3_459]


def counts(network):
    """Parameters plus persistent buffers (Keras's count) of every leaf layer that has some, in order."""
    leaves = [m for m in network.modules() if not m._modules]
    sizes = [m.num_parameters() + sum(b.size for b in m.buffers(persistent_only=True)) for m in leaves]
    return [n for n in sizes if n]


def rand(*shape, seed=0, dtype=np.float32):
    return tinygdl.tensor(np.random.default_rng(seed).random(shape).astype(dtype))


@pytest.mark.parametrize("build, encoder, decoder, total", [
    (V.vae_fashion, FASHION_ENCODER, FASHION_DECODER, 347_141),
    (V.vae_faces, FACES_ENCODER, FACES_DECODER, 1_354_387),
])
def test_book_vaes_match_the_spec_tables(build, encoder, decoder, total):
    model = build()
    assert counts(model.encoder) == encoder
    assert counts(model.decoder) == decoder
    assert sum(encoder) + sum(decoder) == total == sum(counts(model))


def test_faces_vae_trainable_and_running_statistics():
    model = V.vae_faces()
    running = sum(b.size for b in model.buffers(persistent_only=True))
    assert running == 2 * (4 * 128 + 512 + 4 * 128) == 3_072
    assert model.num_parameters() == 1_354_387 - running


@pytest.mark.parametrize("build, shape, latent", [(V.vae_fashion, (1, 32, 32), 2), (V.vae_faces, (3, 32, 32), 200)])
def test_forward_shapes(build, shape, latent):
    model = build()
    out = model(rand(3, *shape))
    assert out.reconstruction.shape == (3,) + shape
    assert out.mu.shape == out.logvar.shape == out.z.shape == (3, latent)
    assert model.sample(2).shape == (2,) + shape
    assert model.embed(rand(3, *shape)).shape == (3, latent)


# --------------------------------------------------------------------------- the reparameterization trick


def test_reparameterization_is_mu_plus_sigma_eps():
    mu, logvar = rand(4, 3, seed=1), rand(4, 3, seed=2) - 0.5
    eps = rand(4, 3, seed=3)
    expected = mu.numpy() + np.exp(0.5 * logvar.numpy()) * eps.numpy()
    np.testing.assert_allclose(V.reparameterize(mu, logvar, eps).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(V.Sampling()(mu, logvar, eps).numpy(), expected, rtol=1e-6)


def test_reparameterization_samples_have_the_right_moments():
    tinygdl.manual_seed(0)
    mu = tinygdl.full((20000, 2), 1.5)
    logvar = tinygdl.full((20000, 2), math.log(0.25))
    z = V.reparameterize(mu, logvar).numpy()
    np.testing.assert_allclose(z.mean(axis=0), 1.5, atol=0.02)
    np.testing.assert_allclose(z.std(axis=0), 0.5, atol=0.02)


def test_gradcheck_through_the_sampler_with_fixed_eps(float64):
    mu = tinygdl.randn(5, 3, requires_grad=True)
    logvar = tinygdl.randn(5, 3, requires_grad=True)
    eps = tinygdl.randn(5, 3)
    gradcheck(lambda m, s: V.reparameterize(m, s, eps), [mu, logvar])
    # and through a whole (small) VAE's book loss, from the encoder's outputs to the scalar
    decoder = nn.Sequential(nn.Linear(3, 6), nn.Sigmoid())
    x = tinygdl.rand(5, 6)

    def loss(m, s):
        z = V.reparameterize(m, s, eps)
        return V.vae_loss(V.VAEOutput(decoder(z), m, s, z), x, beta=10.0)["loss"]

    gradcheck(loss, [mu, logvar])


# --------------------------------------------------------------------------- the book's loss


def test_vae_loss_is_the_books_formula():
    rng = np.random.default_rng(0)
    x = rng.random((4, 1, 8, 8)).astype(np.float32)
    x_hat = rng.uniform(0.05, 0.95, (4, 1, 8, 8)).astype(np.float32)
    mu, logvar = rng.normal(size=(4, 2)).astype(np.float32), rng.normal(size=(4, 2)).astype(np.float32)
    output = V.VAEOutput(tinygdl.tensor(x_hat), tinygdl.tensor(mu), tinygdl.tensor(logvar), None)
    terms = V.vae_loss(output, tinygdl.tensor(x), beta=500.0)
    eps = 1e-7
    bce = -(x * np.log(x_hat + eps) + (1 - x) * np.log(1 - x_hat + eps))
    recon = np.mean(500 * bce.mean(axis=(1, 2, 3)))
    kl = np.mean(np.sum(-0.5 * (1 + logvar - mu ** 2 - np.exp(logvar)), axis=1))
    assert terms["reconstruction_loss"].item() == pytest.approx(recon, rel=1e-5)
    assert terms["kl_loss"].item() == pytest.approx(kl, rel=1e-5)
    assert terms["loss"].item() == pytest.approx(recon + kl, rel=1e-5)
    mse = V.vae_loss(output, tinygdl.tensor(x), beta=2000.0, reconstruction="mse")["reconstruction_loss"]
    assert mse.item() == pytest.approx(2000 * np.mean((x - x_hat) ** 2), rel=1e-5)
    with pytest.raises(ValueError, match="reconstruction"):
        V.vae_loss(output, tinygdl.tensor(x), 1.0, reconstruction="l1")


def test_short_training_lowers_the_vae_loss():
    """20 steps of the fashion VAE (small: 8x8 digits, two stages) on 32 real images."""
    from tinygdl.zoo.images import load_images

    tinygdl.manual_seed(0)
    model = V.vae_fashion((1, 8, 8), channels=(8, 16))
    optimizer = Adam(model.parameters(), lr=5e-3, eps_convention="keras")
    x = tinygdl.tensor(load_images("digits").x_train[:32])
    history = []
    for _ in range(20):
        optimizer.zero_grad()
        terms = V.vae_loss(model(x), x, beta=500.0)
        terms["loss"].backward()
        optimizer.step()
        history.append(terms["loss"].item())
    assert history[0] > 300 and history[-1] < 0.8 * history[0], history


# --------------------------------------------------------------------------- log-densities


def test_log_densities_against_torch(torch):
    rng = np.random.default_rng(0)
    z, mu, logvar = (rng.normal(size=(3, 4)) for _ in range(3))
    x = rng.integers(0, 2, size=(3, 1, 2, 2)).astype(np.float64)
    probs = rng.uniform(0.1, 0.9, size=(3, 1, 2, 2))
    normal = torch.distributions.Normal(torch.tensor(mu), torch.tensor(np.exp(0.5 * logvar)))
    np.testing.assert_allclose(V.log_normal(tinygdl.tensor(z), tinygdl.tensor(mu), tinygdl.tensor(logvar)).numpy(),
                               normal.log_prob(torch.tensor(z)).sum(1).numpy(), rtol=1e-10)
    standard = torch.distributions.Normal(0.0, 1.0).log_prob(torch.tensor(z)).sum(1).numpy()
    np.testing.assert_allclose(V.log_normal(tinygdl.tensor(z)).numpy(), standard, rtol=1e-10)
    bernoulli = torch.distributions.Bernoulli(probs=torch.tensor(probs)).log_prob(torch.tensor(x)).sum((1, 2, 3))
    np.testing.assert_allclose(V.bernoulli_log_likelihood(tinygdl.tensor(probs), tinygdl.tensor(x)).numpy(),
                               bernoulli.numpy(), rtol=1e-5)
    gaussian = torch.distributions.Normal(torch.tensor(probs), 0.3).log_prob(torch.tensor(x)).sum((1, 2, 3))
    np.testing.assert_allclose(V.gaussian_log_likelihood(tinygdl.tensor(probs), tinygdl.tensor(x), 0.09).numpy(),
                               gaussian.numpy(), rtol=1e-10)


def test_the_gaussian_implied_by_the_books_mse_weighting():
    """β·mean (x − x̂)² and the Gaussian NLL with variance D/(2β) differ by a constant only."""
    rng = np.random.default_rng(1)
    x = tinygdl.tensor(rng.random((2, 3, 4, 4)))
    variance = V.gaussian_variance(2000.0, 48)
    differences = []
    for seed in (2, 3):
        x_hat = tinygdl.tensor(np.random.default_rng(seed).random((2, 3, 4, 4)))
        nll = -V.gaussian_log_likelihood(x_hat, x, variance).numpy()
        weighted = 2000.0 * ((x_hat.numpy() - x.numpy()) ** 2).mean(axis=(1, 2, 3))
        differences.append(nll - weighted)
    np.testing.assert_allclose(differences[0], differences[1], rtol=1e-12)
    with pytest.raises(ValueError, match="variance"):
        V.log_likelihood_fn("gaussian")
    with pytest.raises(ValueError, match="likelihood"):
        V.log_likelihood_fn("poisson")


# ------------------------------------------------------------------ the bounds, on a model whose log p(x) is known


def linear_gaussian_vae(seed=0, noise=0.3, exact_posterior=True):
    """x = z·W + b + noise·ε with orthogonal rows of W: the marginal is N(b, WᵀW + s²I) and the
    posterior is the diagonal Gaussian N((x − b)·Wᵀ·Σ/s², Σ) with Σ = (I + WWᵀ/s²)⁻¹ — which the
    linear encoder below represents exactly (or, with ``exact_posterior=False``, approximately)."""
    rng = np.random.default_rng(seed)
    latent, pixels = 2, 5
    rows, _ = np.linalg.qr(rng.normal(size=(pixels, latent)))
    weight = rows.T * np.array([[2.0], [0.7]])  # (latent, pixels), orthogonal rows
    bias = rng.normal(size=pixels)
    variance = noise ** 2
    posterior_var = 1.0 / (1.0 + (weight ** 2).sum(axis=1) / variance)  # diagonal of Σ
    decoder = nn.Linear(latent, pixels)
    decoder.weight.data[...], decoder.bias.data[...] = weight, bias
    encoder = V.GaussianEncoder(nn.Identity(), pixels, latent)
    encoder.z_mean.weight.data[...] = weight.T * posterior_var / variance
    encoder.z_mean.bias.data[...] = -bias @ weight.T * posterior_var / variance
    encoder.z_log_var.weight.data[...] = 0.0
    encoder.z_log_var.bias.data[...] = np.log(posterior_var)
    if not exact_posterior:
        encoder.z_mean.bias.data[...] += 0.5
        encoder.z_log_var.bias.data[...] += 1.0
    model = V.VAE(encoder, decoder, latent)
    x = rng.normal(size=(400, latent)) @ weight + bias + noise * rng.normal(size=(400, pixels))
    covariance = weight.T @ weight + variance * np.eye(pixels)
    centred = x - bias
    log_px = -0.5 * (np.einsum("ni,ij,nj->n", centred, np.linalg.inv(covariance), centred)
                     + np.linalg.slogdet(covariance)[1] + pixels * math.log(2 * math.pi))
    return model, tinygdl.tensor(x), log_px, V.log_likelihood_fn("gaussian", variance)


def test_with_the_exact_posterior_every_importance_weight_is_p_of_x(float64):
    model, x, log_px, likelihood = linear_gaussian_vae()
    tinygdl.manual_seed(0)
    np.testing.assert_allclose(V.iwae_bound(model, x, k=1, log_likelihood=likelihood).numpy(), log_px, rtol=1e-9)
    np.testing.assert_allclose(V.iwae_bound(model, x, k=3, log_likelihood=likelihood).numpy(), log_px, rtol=1e-9)
    # the ELBO is then tight in expectation only (one sample of z per image)
    assert V.elbo(model, x, likelihood)["elbo"].numpy().mean() == pytest.approx(log_px.mean(), abs=0.05)


def test_the_bounds_tighten_with_k_towards_log_p_of_x(float64):
    model, x, log_px, likelihood = linear_gaussian_vae(exact_posterior=False)
    tinygdl.manual_seed(0)
    elbo = V.elbo(model, x, likelihood)["elbo"].numpy().mean()
    single = V.iwae_bound(model, x, 1, likelihood).numpy()
    bounds = [V.iwae_bound(model, x, k, likelihood).numpy().mean() for k in (10, 1000)]
    assert elbo < bounds[0] < bounds[1] < log_px.mean()
    # L_1 is the ELBO too, estimated without the analytic KL: equal within the sampling error
    assert abs(single.mean() - elbo) < 4 * single.std() / math.sqrt(len(single))
    assert log_px.mean() - bounds[1] < 0.05 < log_px.mean() - elbo - 0.5


def test_evaluate_vae_reports_nats_per_image():
    tinygdl.manual_seed(0)
    model = V.vae_fashion((1, 8, 8), channels=(4,))
    images = np.random.default_rng(0).random((12, 1, 8, 8)).astype(np.float32)
    result = V.evaluate_vae(model, images, k=4, batch_size=5, iwae_limit=7)
    assert set(result) == {"elbo", "log_likelihood", "kl", "iwae_k4", "elbo_iwae_images"}
    assert result["elbo"] == pytest.approx(result["log_likelihood"] - result["kl"])
    assert result["kl"] > 0 and result["elbo"] < 0
    assert result["elbo_iwae_images"] < result["iwae_k4"] < 0
    assert model.training  # its mode is given back
