"""Chapter 8: a denoising diffusion model — the noise schedule, the U-Net, one training step, the samplers.

The idea (Ho et al. 2020, "Denoising Diffusion Probabilistic Models"; Song et al. 2021, "Denoising
Diffusion Implicit Models"): destroy images step by step with Gaussian noise, and train a network
to undo one step.  Generating is then undoing all the steps, starting from pure noise.

The noise schedule (continuous time)
------------------------------------
A noisy image at diffusion time t ∈ [0, 1] is a mix of the clean image x₀ and noise ε ~ N(0, I)::

    x_t = s(t)·x₀ + n(t)·ε          with s(t)² + n(t)² = 1 (the variance stays 1 for standardised x₀)

The book's **offset cosine** schedule (Nichol & Dhariwal 2021's cosine schedule, as the Keras DDIM
example writes it) moves an angle linearly in t::

    θ(t) = θ_min + t·(θ_max − θ_min),   θ_min = acos(0.95),  θ_max = acos(0.02)
    s(t) = cos θ(t),  n(t) = sin θ(t)

so the signal falls from 0.95 (t = 0: barely noisy) to 0.02 (t = 1: almost pure noise).  The
offsets keep both ends away from the degenerate 1 and 0.

Training (ε-prediction)
-----------------------
Draw t ~ U[0, 1) and ε per image, form x_t, and train the U-Net to name the noise it was given::

    loss = mean |ε − UNet(x_t, n(t)²)|          (mean absolute error; the noise *variance* is its second input)

After each optimizer step an exponential moving average (EMA, decay 0.999) of every weight —
batch norm's running statistics included — is updated; the averaged network is the one sampled.

Sampling (DDIM, Song et al. 2021, eq. 12)
-----------------------------------------
From x = z ~ N(0, I) at t = 1, for S steps of size 1/S: predict the noise, estimate the clean
image, and move to the next, less noisy time t' = t − 1/S::

    ε̂  = UNet_ema(x, n(t)²)
    x̂₀ = (x − n(t)·ε̂) / s(t)                                    (the current guess of the image)
    σ  = η · sqrt(n(t')²/n(t)²) · sqrt(1 − s(t)²/s(t')²)
    x  ← s(t')·x̂₀ + sqrt(n(t')² − σ²)·ε̂ + σ·z',   z' ~ N(0, I)

η = 0 is the book's deterministic sampler (the same z always gives the same image); η = 1 adds
fresh noise each step as the DDPM's ancestral sampler does (its variance choice σ² = β̃).  The
book returns the **last x̂₀** (not x), which it then de-standardises and clips to [0, 1].

The U-Net (book ch. 8, Keras DDIM example)
---------------------------------------
Inputs: the noisy image (N, C, H, W) and the noise variance (N, 1, 1, 1).  The image goes through
a 1x1 convolution to ``widths[0]`` channels; the variance through the sinusoidal embedding
(``SinusoidalEmbedding``, 32 channels broadcast over the image); the two are concatenated.
Then ``len(widths) − 1`` down stages (``block_depth`` residual blocks, each output kept for a skip
connection, then 2x2 average pooling), ``block_depth`` residual blocks at ``widths[-1]``, and the
mirror-image up stages (bilinear x2 upsampling, then per block: concatenate the last kept skip,
residual block).  A zero-initialised 1x1 convolution gives the predicted noise: at the start the
network predicts ε̂ = 0 everywhere.  H and W must be divisible by 2^(len(widths) − 1) (8 for
the book's four widths: 64 or 32 pixels both work with the same weights).
"""

from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..backend import get_default_dtype
from ..errors import ConfigError, ShapeError
from ..losses import mae_loss
from ..ops.creation import rand, randn
from ..ops.elementwise import cos, silu, sin
from ..ops.shape import concatenate, expand, reshape
from ..tensor import Tensor, no_grad, tensor

__all__ = [
    "MAX_SIGNAL_RATE", "MIN_SIGNAL_RATE", "offset_cosine_schedule",
    "SinusoidalEmbedding", "ResidualBlock", "UNet", "build_unet", "BOOK_WIDTHS",
    "DiffusionStep", "ddim_sample", "spherical_mix",
]

MAX_SIGNAL_RATE, MIN_SIGNAL_RATE = 0.95, 0.02  # s(0) and s(1)
BOOK_WIDTHS = (32, 64, 96, 128)
BOOK_BLOCK_DEPTH = 2
BOOK_EMBEDDING_FREQUENCIES = 16  # 32 embedding channels


# --------------------------------------------------------------------------- the noise schedule


def offset_cosine_schedule(t):
    """``(signal_rate, noise_rate)`` = (cos θ(t), sin θ(t)) of diffusion time ``t`` (module doc).

    ``t`` is a Python number (the samplers: one time for the whole batch) or a Tensor (training:
    one time per image, shape (N, 1, 1, 1)); the rates come back of the same kind.
    """
    start, end = math.acos(MAX_SIGNAL_RATE), math.acos(MIN_SIGNAL_RATE)
    angle = start + t * (end - start)
    if isinstance(angle, Tensor):
        return angle.cos(), angle.sin()
    return math.cos(angle), math.sin(angle)


# --------------------------------------------------------------------------- the noise-variance embedding
#
# A diffusion network is told *how noisy* its input is by one number per image, the noise variance
# ``v`` (between 0.1 and 1 for the book's schedule).  One number is a weak signal for a network of
# convolutions, so it is spread over many features first, as the Transformer spreads a position
# (Vaswani et al. 2017, §3.5; Mildenhall et al. 2020's "positional encoding")::
#
#     f_k = exp(ln f_min + k/(F − 1) · (ln f_max − ln f_min)),   k = 0 … F − 1   (log-spaced, 1 … 1000)
#     e(v) = [sin(2π f_0 v), …, sin(2π f_{F−1} v),  cos(2π f_0 v), …, cos(2π f_{F−1} v)]
#
# 2F features, the sines first (the book's order).  Low frequencies vary slowly with ``v`` (coarse
# position on the schedule), high ones quickly (fine differences between close noise levels).  The
# book then repeats the (N, 2F, 1, 1) embedding over the image (``UpSampling2D(size=64)``, nearest):
# every pixel gets the same 2F channels, which the U-Net concatenates to its image features.
# Here that repetition is a broadcast (``expand``), whose gradient sums over the pixels.
#
# The derivative is ``d sin(ωv)/dv = ω cos(ωv)`` and ``d cos(ωv)/dv = −ω sin(ωv)``, formed by the
# autograd ops ``sin``, ``cos`` and ``mul`` (no hand-written backward is needed).


class SinusoidalEmbedding(nn.Module):
    """Noise variances (N, 1, 1, 1) -> (N, 2F, 1, 1), or (N, 2F, H, W) with ``size=(H, W)``.

    ``num_frequencies`` F (the book: 16, so 32 channels), log-spaced between ``min_frequency`` and
    ``max_frequency`` (1 and 1000).  No weights: the angular speeds 2π·f_k are a non-persistent
    buffer (a constant of the architecture, not saved, not counted).
    """

    def __init__(self, num_frequencies: int = 16, min_frequency: float = 1.0, max_frequency: float = 1000.0):
        super().__init__()
        if num_frequencies < 1 or not 0 < min_frequency <= max_frequency:
            raise ValueError(f"SinusoidalEmbedding: need num_frequencies >= 1 and 0 < min_frequency <= "
                             f"max_frequency, got {num_frequencies}, {min_frequency}, {max_frequency}")
        self.num_frequencies, self.min_frequency, self.max_frequency = num_frequencies, min_frequency, max_frequency
        frequencies = np.exp(np.linspace(math.log(min_frequency), math.log(max_frequency), num_frequencies))
        speeds = (2 * math.pi * frequencies).astype(get_default_dtype())
        self.register_buffer("angular_speeds", speeds.reshape(1, num_frequencies, 1, 1), persistent=False)

    def forward(self, variance, size=None):
        if variance.ndim != 4 or variance.shape[1:] != (1, 1, 1):
            raise ShapeError(f"{self!r}: expected noise variances of shape (N, 1, 1, 1), got {variance.shape}")
        angles = variance * self.angular_speeds  # (N, F, 1, 1)
        embedding = concatenate([sin(angles), cos(angles)], axis=1)  # sines first
        if size is None:
            return embedding
        return expand(embedding, (variance.shape[0], 2 * self.num_frequencies) + tuple(size))

    def extra_repr(self) -> str:
        return f"{self.num_frequencies}, min_frequency={self.min_frequency}, max_frequency={self.max_frequency}"


# --------------------------------------------------------------------------- the U-Net


class ResidualBlock(nn.Module):
    """``x → conv3x3(swish(conv3x3(BN(x)))) + r`` with ``r = x``, or a 1x1 convolution of x when the
    width changes.  BN has no γ/β (Keras ``center=False, scale=False``: only running statistics,
    momentum 0.99, ε 1e-3); there is no activation after the sum."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        self.in_channels, self.width = in_channels, width
        self.project = nn.Conv2d(in_channels, width, 1) if in_channels != width else None
        self.norm = nn.BatchNorm2d(in_channels, affine=False)
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding="same")
        self.conv2 = nn.Conv2d(width, width, 3, padding="same")

    def forward(self, x):
        residual = x if self.project is None else self.project(x)
        return self.conv2(silu(self.conv1(self.norm(x)))) + residual

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> {self.width}"


class UNet(nn.Module):
    """The book's noise-predicting U-Net: ``unet(noisy_images, noise_variances) -> predicted noise``
    (module doc).  ``noise_variances`` has shape (N, 1, 1, 1) (or (N,), reshaped)."""

    def __init__(self, channels: int = 3, widths=BOOK_WIDTHS, block_depth: int = BOOK_BLOCK_DEPTH,
                 embedding_frequencies: int = BOOK_EMBEDDING_FREQUENCIES):
        super().__init__()
        if len(widths) < 2 or block_depth < 1:
            raise ConfigError(f"UNet: need at least two widths and block_depth >= 1, got {widths}, {block_depth}")
        self.channels, self.widths, self.block_depth = channels, tuple(widths), block_depth
        self.image_in = nn.Conv2d(channels, widths[0], 1)
        self.embedding = SinusoidalEmbedding(embedding_frequencies)
        self.pool = nn.AvgPool2d(2)
        self.upsample = nn.Upsample(2, mode="bilinear")
        width, skips = widths[0] + 2 * embedding_frequencies, []
        self.down = nn.ModuleList()
        for stage_width in widths[:-1]:
            for _ in range(block_depth):
                self.down.append(ResidualBlock(width, stage_width))
                width = stage_width
                skips.append(width)
        self.middle = nn.ModuleList()
        for _ in range(block_depth):
            self.middle.append(ResidualBlock(width, widths[-1]))
            width = widths[-1]
        self.up = nn.ModuleList()
        for stage_width in reversed(widths[:-1]):
            for _ in range(block_depth):
                self.up.append(ResidualBlock(width + skips.pop(), stage_width))
                width = stage_width
        self.image_out = nn.Conv2d(width, channels, 1, init="zeros")

    @property
    def downsampling(self) -> int:
        """The factor the image sides must be divisible by."""
        return 2 ** (len(self.widths) - 1)

    def forward(self, images, noise_variances):
        n, c, h, w = self._check(images)
        variances = reshape(noise_variances, (n, 1, 1, 1))
        x = concatenate([self.image_in(images), self.embedding(variances, (h, w))], axis=1)
        skips = []
        for index, block in enumerate(self.down):
            x = block(x)
            skips.append(x)
            if (index + 1) % self.block_depth == 0:
                x = self.pool(x)
        for block in self.middle:
            x = block(x)
        for index, block in enumerate(self.up):
            if index % self.block_depth == 0:
                x = self.upsample(x)
            x = block(concatenate([x, skips.pop()], axis=1))
        return self.image_out(x)

    def _check(self, images) -> tuple:
        if images.ndim != 4 or images.shape[1] != self.channels or images.shape[2] % self.downsampling \
                or images.shape[3] % self.downsampling:
            raise ShapeError(f"UNet: expected images (N, {self.channels}, H, W) with H and W divisible by "
                             f"{self.downsampling}, got {images.shape}")
        return images.shape

    def extra_repr(self) -> str:
        return f"channels={self.channels}, widths={self.widths}, block_depth={self.block_depth}"


def build_unet(channels: int = 3, widths=BOOK_WIDTHS, block_depth: int = BOOK_BLOCK_DEPTH) -> UNet:
    return UNet(channels, widths, block_depth)


# --------------------------------------------------------------------------- training


class DiffusionStep:
    """One training step: noise the batch, predict the noise, MAE, one optimizer step, the EMA update.

    ``draw(x0) -> (t, ε)`` gives the diffusion times (N, 1, 1, 1) and the noise (like ``x0``); by
    default ``t ~ U[0, 1)`` and ``ε ~ N(0, I)`` from tinygdl's generator (the parity tests pass
    the same draws to PyTorch).  ``ema`` (a ``tinygdl.optim.EMA``) may be None.

    The loss is the mean over every element.  (The book hands Keras's per-pixel MAE map to the
    gradient tape, which differentiates its *sum*; Adam divides any constant factor out again, up
    to its ε, so the two train alike.)
    """

    def __init__(self, unet: UNet, optimizer, ema=None, draw=None):
        self.unet, self.optimizer, self.ema = unet, optimizer, ema
        self.draw = draw or standard_draws

    def loss(self, x0):
        t, noise = self.draw(x0)
        signal_rate, noise_rate = offset_cosine_schedule(t)
        noisy = signal_rate * x0 + noise_rate * noise
        return mae_loss(self.unet(noisy, noise_rate * noise_rate), noise)

    def __call__(self, batch) -> dict:
        x0 = batch[0] if isinstance(batch, (tuple, list)) else batch
        self.optimizer.zero_grad()
        loss = self.loss(x0)
        loss.backward()
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update()
        return {"n_loss": loss.item()}


def standard_draws(x0):
    """``t ~ U[0, 1)`` per image, shape (N, 1, 1, 1), and ``ε ~ N(0, I)`` of x0's shape."""
    t = rand(x0.shape[0], 1, 1, 1, dtype=x0.dtype, device=x0.device)
    return t, randn(*x0.shape, dtype=x0.dtype, device=x0.device)


# --------------------------------------------------------------------------- sampling


def ddim_sample(network, initial_noise, steps: int, eta: float = 0.0, rng=None, trajectory: bool = False):
    """Generate from ``initial_noise`` (N, C, H, W) in ``steps`` DDIM steps (module doc); returns the
    last x̂₀ (standardised units; de-standardise and clip for display).

    ``eta`` 0: deterministic (the book); 1: DDPM-like.  The fresh noise of η > 0 comes from ``rng``
    (a NumPy Generator; default: seeded with 0).  ``trajectory=True`` returns ``(x̂₀, estimates,
    noisy)``: x̂₀ and the noisy x the network saw, at every step, as NumPy arrays (S, N, C, H, W).
    ``network`` is called as ``network(x, noise_variances)`` without gradients (pass the EMA U-Net
    in eval mode).
    """
    if steps < 1 or eta < 0:
        raise ConfigError(f"ddim_sample: need steps >= 1 and eta >= 0, got steps={steps}, eta={eta}")
    rng = np.random.default_rng(0) if rng is None else rng
    x = initial_noise
    n = x.shape[0]
    estimates, noisy = [], []
    with no_grad():
        for k in range(steps):
            t = 1.0 - k / steps
            signal_rate, noise_rate = offset_cosine_schedule(t)
            variances = tensor(np.full((n, 1, 1, 1), noise_rate**2), dtype=x.dtype, device=x.device)
            predicted_noise = network(x, variances)
            estimate = (x - noise_rate * predicted_noise) / signal_rate
            if trajectory:
                estimates.append(estimate.numpy())
                noisy.append(x.numpy())
            x = _ddim_update(estimate, predicted_noise, t, t - 1.0 / steps, eta, rng)
    if trajectory:
        return estimate, np.stack(estimates), np.stack(noisy)
    return estimate


def _ddim_update(estimate, predicted_noise, t: float, t_next: float, eta: float, rng):
    """x at the next time t' from the current estimates of x₀ and ε (Song et al. 2021, eq. 12)."""
    signal, noise = offset_cosine_schedule(t)
    next_signal, next_noise = offset_cosine_schedule(t_next)
    sigma = eta * (next_noise / noise) * math.sqrt(max(1.0 - (signal / next_signal) ** 2, 0.0))
    x = next_signal * estimate + math.sqrt(max(next_noise**2 - sigma**2, 0.0)) * predicted_noise
    if sigma > 0:
        fresh = rng.standard_normal(estimate.shape).astype(estimate.dtype)
        x = x + sigma * tensor(fresh, device=estimate.device)
    return x


def spherical_mix(a: np.ndarray, b: np.ndarray, count: int = 11) -> np.ndarray:
    """The book's interpolation between two noises: ``sin(πs/2)·a + cos(πs/2)·b`` for ``count``
    values of s from 0 to 1 (b at s = 0, a at s = 1).  As sin² + cos² = 1, a mix of two independent
    N(0, I) draws is N(0, I) again — a straight average would shrink its variance to 1/2 — so every
    image of the strip starts from noise the network knows.  Returns (count, *a.shape)."""
    s = np.linspace(0.0, 1.0, count).reshape((count,) + (1,) * a.ndim)
    return (np.sin(np.pi * s / 2) * a + np.cos(np.pi * s / 2) * b).astype(a.dtype)
