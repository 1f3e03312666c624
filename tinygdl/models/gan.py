"""The networks of chapter 4 (GANs): the DCGAN, the WGAN-GP, the conditional WGAN-GP, plus a dense GAN
(Hands-On ML, ch. 17) and the 1st edition's weight-clipped WGAN.

Architectures, counts and settings: ``docs/models/gans.md``.  The three convolutional GANs of the
book share one shape:

* the **generator** reshapes z to a 1x1 image with z's length as channels, and a 4x4 ``valid``
  transposed convolution turns it into a 4x4 image; each further 4x4 stride-2 ``same`` transposed
  convolution doubles the size (4 → 8 → 16 → 32 → 64), the last one ending in tanh;
* the **discriminator/critic** mirrors it: 4x4 stride-2 ``same`` convolutions halve the size
  (64 → 32 → 16 → 8 → 4) and a final 4x4 ``valid`` convolution gives one number per image.

**Image size.**  With ``widths`` listing the channels of the hidden stages, the image side is
``4·2^len(widths)``: the book's four widths give 64x64.  ``image_size=32`` (or 16, 8) drops the
*deepest* stages, the widest ones farthest from the pixels — the generator's first layers and the
critic's last ones — and keeps the book's layers next to the image unchanged.  So at 32x32 the
DCGAN generator runs 100 → 256@4x4 → 128@8x8 → 64@16x16 → 1@32x32.  Sizes above the book's
are refused (there is no book layer to add).

Only the architectures are here; the objectives and training steps are in ``gan_training.py``.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from .. import nn
from ..nn import init
from ..ops.shape import concatenate, expand, reshape, tile

__all__ = [
    "stages", "scaled_widths",
    "conv_generator", "conv_critic",
    "dcgan_generator", "dcgan_discriminator",
    "wgan_gp_generator", "wgan_gp_critic",
    "ConditionalGenerator", "ConditionalCritic",
    "dense_generator", "dense_discriminator",
    "wgan_generator", "wgan_critic",
    "nearest_neighbours",
    "MinibatchStdDev", "minibatch_stddev",
]

# The book's hidden widths, generator deepest-first, critic shallowest-first (64x64 images).
DCGAN_GENERATOR_WIDTHS = (512, 256, 128, 64)
DCGAN_DISCRIMINATOR_WIDTHS = (64, 128, 256, 512)
CGAN_GENERATOR_WIDTHS = (128, 128, 128, 64)
CGAN_CRITIC_WIDTHS = (64, 128, 128, 128)
# The WGAN-GP and CGAN critics: explicit LeakyReLU(0.2) except a bare LeakyReLU() (slope 0.3) in layer 2.
WGAN_GP_CRITIC_SLOPES = (0.2, 0.3, 0.2, 0.2)

BN_MOMENTUM = 0.9  # Keras convention (PyTorch 0.1): every GAN generator of the book, and the DCGAN discriminator
SLOPE = 0.2  # the GANs' LeakyReLU slope
KERNEL = 4


# --------------------------------------------------------------------------- image size


def stages(image_size: int, available: int) -> int:
    """How many stride-2 stages make ``image_size`` from 4x4: ``image_size = 4·2^stages``."""
    count = round(math.log2(image_size / 4)) if image_size >= 8 else 0
    if count < 1 or count > available or 4 * 2 ** count != image_size:
        sizes = ", ".join(str(4 * 2 ** k) for k in range(1, available + 1))
        raise ValueError(f"image_size must be one of {sizes} (4·2^k for this architecture), got {image_size}")
    return count


def scaled_widths(book_widths, image_size: int, deepest_first: bool) -> tuple:
    """The book's widths for ``image_size``: the deepest stages are dropped for smaller images."""
    count = stages(image_size, len(book_widths))
    return tuple(book_widths[-count:] if deepest_first else book_widths[:count])


# --------------------------------------------------------------------------- the shared builders


def conv_generator(latent_dim: int, widths, out_channels: int, last_bias: bool) -> nn.Sequential:
    """z (N, latent_dim) -> images (N, out_channels, 4·2^len(widths), same) in [-1, 1].

    Reshape to (latent_dim, 1, 1); ConvT k4 ``valid`` to widths[0]@4x4; then for each further width
    ConvT k4 s2 ``same``; each followed by BatchNorm (momentum 0.9) and LeakyReLU(0.2); a last
    ConvT k4 s2 ``same`` to ``out_channels`` and tanh.  No biases (BatchNorm's β plays that part),
    except on the last layer when ``last_bias``.
    """
    layers = OrderedDict(reshape=nn.Reshape((latent_dim, 1, 1)))
    in_channels = latent_dim
    for i, width in enumerate(widths):
        stride, padding = (1, "valid") if i == 0 else (2, "same")
        layers[f"conv_transpose_{i}"] = nn.ConvTranspose2d(in_channels, width, KERNEL, stride, padding, bias=False)
        layers[f"batchnorm_{i}"] = nn.BatchNorm2d(width, momentum=BN_MOMENTUM)
        layers[f"leaky_relu_{i}"] = nn.LeakyReLU(SLOPE)
        in_channels = width
    layers["conv_transpose_out"] = nn.ConvTranspose2d(in_channels, out_channels, KERNEL, 2, "same", bias=last_bias)
    layers["tanh"] = nn.Tanh()
    return nn.Sequential(layers)


# --------------------------------------------------------------------------- the minibatch standard deviation layer
#
# A discriminator judges one image at a time, so it cannot see that a generator turns out the same
# image again and again (mode collapse).  The minibatch standard deviation layer (Karras et al. 2018,
# "Progressive Growing of GANs", §3; Géron, *Hands-On Machine Learning*, ch. 17) shows it: it
# measures how much the samples of a (group of the) batch vary and appends that number as one extra
# constant feature map.  A batch of near-copies has a tell-tale small value, which the
# discriminator learns to punish, pushing the generator towards variety.

STD_EPS = 1e-8  # inside the square root, as ProGAN: keeps the gradient finite where a group has no spread


def minibatch_stddev(x, group_size: int | None = 4):
    """(N, C, H, W) -> (N, C + 1, H, W): ``x`` with one feature map holding its group's spread.

    As ProGAN's reference code, with G = ``group_size`` (the whole batch if None or larger than N;
    lowered to a divisor of N if it does not divide it) and M = N / G groups, sample ``n``
    belonging to group ``n mod M``::

        y = x.reshape(G, M, C, H, W)
        s = sqrt(mean over the group axis of (y − mean over the group axis)² + 1e-8)   # (M, C, H, W)
        v = mean of s over (C, H, W)                                                  # (M,)
        out = concat([x, v of each sample's group, broadcast over (1, H, W)], channel axis)

    (Hands-On ML writes a variant: the std over batch and channels at each pixel, then one mean.)
    """
    if x.ndim != 4:
        raise ValueError(f"minibatch_stddev: expected images (N, C, H, W), got shape {x.shape}")
    n, c, h, w = x.shape
    group = _group_size(n, group_size)
    y = reshape(x, (group, n // group, c, h, w))
    deviation = y - y.mean(axis=0, keepdims=True)
    spread = ((deviation * deviation).mean(axis=0) + STD_EPS).sqrt()  # (M, C, H, W)
    per_group = spread.mean(axis=(1, 2, 3), keepdims=True)  # (M, 1, 1, 1)
    return concatenate([x, tile(per_group, (group, 1, h, w))], axis=1)


def _group_size(n: int, wanted: int | None) -> int:
    """``wanted`` (the whole batch if None), or else the largest divisor of ``n`` below it, so that a
    last, smaller batch still splits into equal groups (ProGAN simply requires N % G == 0)."""
    limit = n if wanted is None else min(wanted, n)
    return next(g for g in range(limit, 0, -1) if n % g == 0)


class MinibatchStdDev(nn.Module):
    """``minibatch_stddev`` as a layer (no parameters); place it before the discriminator's last
    convolution, which then takes one more input channel.  ``group_size=None``: the whole batch."""

    def __init__(self, group_size: int | None = 4):
        super().__init__()
        if group_size is not None and group_size < 2:
            raise ValueError(f"MinibatchStdDev: group_size must be at least 2 (or None), got {group_size}")
        self.group_size = group_size

    def forward(self, x):
        return minibatch_stddev(x, self.group_size)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


def conv_critic(in_channels: int, widths, slopes, *, batchnorm: bool, bias: bool, dropout: float,
                dropout_first: bool, sigmoid: bool, minibatch_std: bool = False) -> nn.Sequential:
    """Images (N, in_channels, 4·2^len(widths), same) -> scores (N, 1).

    Per width: Conv k4 s2 ``same`` -> [BatchNorm, not on the first] -> LeakyReLU(slope) ->
    [Dropout, on the first only when ``dropout_first``]; then [``MinibatchStdDev``, one more
    channel]; a Conv k4 ``valid`` to one channel at 1x1; Flatten; [sigmoid].
    """
    layers = OrderedDict()
    for i, (width, slope) in enumerate(zip(widths, slopes)):
        layers[f"conv_{i}"] = nn.Conv2d(in_channels, width, KERNEL, 2, "same", bias=bias)
        if batchnorm and i > 0:
            layers[f"batchnorm_{i}"] = nn.BatchNorm2d(width, momentum=BN_MOMENTUM)
        layers[f"leaky_relu_{i}"] = nn.LeakyReLU(slope)
        if dropout and (i > 0 or dropout_first):
            layers[f"dropout_{i}"] = nn.Dropout(dropout)
        in_channels = width
    if minibatch_std:
        layers["minibatch_std"] = MinibatchStdDev()
        in_channels += 1
    layers["conv_out"] = nn.Conv2d(in_channels, 1, KERNEL, 1, "valid", bias=bias)
    layers["flatten"] = nn.Flatten()
    if sigmoid:
        layers["sigmoid"] = nn.Sigmoid()
    return nn.Sequential(layers)


# --------------------------------------------------------------------------- DCGAN


def dcgan_generator(latent_dim: int = 100, channels: int = 1, image_size: int = 64) -> nn.Sequential:
    """The DCGAN generator: no biases anywhere; 3,576,576 parameters at 64x64 (the book's count)."""
    widths = scaled_widths(DCGAN_GENERATOR_WIDTHS, image_size, deepest_first=True)
    return conv_generator(latent_dim, widths, channels, last_bias=False)


def dcgan_discriminator(channels: int = 1, image_size: int = 64, dropout: float = 0.3,
                        minibatch_std: bool = False) -> nn.Sequential:
    """The DCGAN discriminator: no biases; BatchNorm (m 0.9) after every conv but the first;
    LeakyReLU(0.2) and Dropout(0.3) after every conv; sigmoid output (a probability)."""
    widths = scaled_widths(DCGAN_DISCRIMINATOR_WIDTHS, image_size, deepest_first=False)
    return conv_critic(channels, widths, (SLOPE,) * len(widths), batchnorm=True, bias=False, dropout=dropout,
                       dropout_first=True, sigmoid=True, minibatch_std=minibatch_std)


# --------------------------------------------------------------------------- WGAN-GP


def wgan_gp_generator(latent_dim: int = 128, channels: int = 3, image_size: int = 64) -> nn.Sequential:
    """The WGAN-GP generator: the DCGAN's, with z of 128 and a bias on the last layer only."""
    widths = scaled_widths(DCGAN_GENERATOR_WIDTHS, image_size, deepest_first=True)
    return conv_generator(latent_dim, widths, channels, last_bias=True)


def wgan_gp_critic(channels: int = 3, image_size: int = 64, dropout: float = 0.3,
                   minibatch_std: bool = False) -> nn.Sequential:
    """The WGAN-GP critic: convs with biases, **no normalisation** (the gradient penalty is per
    sample, and batch statistics would mix the samples), Dropout(0.3) after every conv but the
    first, a linear output (a score, not a probability)."""
    widths = scaled_widths(DCGAN_DISCRIMINATOR_WIDTHS, image_size, deepest_first=False)
    return conv_critic(channels, widths, WGAN_GP_CRITIC_SLOPES, batchnorm=False, bias=True, dropout=dropout,
                       dropout_first=False, sigmoid=False, minibatch_std=minibatch_std)


# --------------------------------------------------------------------------- conditional WGAN-GP


class ConditionalGenerator(nn.Module):
    """G(z, y): the one-hot label ``y`` (N, K) is concatenated to z (N, latent_dim), and the
    generator of the WGAN-GP family runs on the (N, latent_dim + K) result."""

    def __init__(self, latent_dim: int = 32, num_classes: int = 2, channels: int = 3, image_size: int = 64):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        widths = scaled_widths(CGAN_GENERATOR_WIDTHS, image_size, deepest_first=True)
        self.net = conv_generator(latent_dim + num_classes, widths, channels, last_bias=True)

    def forward(self, z, one_hot):
        return self.net(concatenate([z, one_hot], axis=1))


class ConditionalCritic(nn.Module):
    """C(x, y): the one-hot label ``y`` (N, K) is broadcast to K constant image-sized planes and
    concatenated to the image's channels; the WGAN-GP critic runs on the (N, C + K, H, W) result."""

    def __init__(self, num_classes: int = 2, channels: int = 3, image_size: int = 64, dropout: float = 0.3):
        super().__init__()
        self.num_classes = num_classes
        widths = scaled_widths(CGAN_CRITIC_WIDTHS, image_size, deepest_first=False)
        self.net = conv_critic(channels + num_classes, widths, WGAN_GP_CRITIC_SLOPES, batchnorm=False, bias=True,
                               dropout=dropout, dropout_first=False, sigmoid=False)

    def forward(self, x, one_hot):
        n, _, h, w = x.shape
        planes = expand(reshape(one_hot, (n, self.num_classes, 1, 1)), (n, self.num_classes, h, w))
        return self.net(concatenate([x, planes], axis=1))


# --------------------------------------------------------------------------- dense GAN (Hands-On ML, ch. 17)


def dense_generator(codings: int = 30, image_shape=(1, 28, 28), hidden=(100, 150)) -> nn.Sequential:
    """Hands-On ML's first GAN (3rd ed., ch. 17): Dense 100 ReLU -> Dense 150 ReLU -> Dense 784
    sigmoid -> reshape to the image; He-normal kernels.  Images in [0, 1]."""
    layers, width = OrderedDict(), codings
    for i, size in enumerate(hidden):
        layers[f"dense_{i}"] = nn.Linear(width, size, init="he_normal")
        layers[f"relu_{i}"] = nn.ReLU()
        width = size
    layers["dense_out"] = nn.Linear(width, int(np.prod(image_shape)))
    layers["sigmoid"] = nn.Sigmoid()
    layers["reshape"] = nn.Reshape(tuple(image_shape))
    return nn.Sequential(layers)


def dense_discriminator(image_shape=(1, 28, 28), hidden=(150, 100)) -> nn.Sequential:
    """Flatten -> Dense 150 ReLU -> Dense 100 ReLU -> Dense 1 sigmoid (He-normal kernels)."""
    layers, width = OrderedDict(flatten=nn.Flatten()), int(np.prod(image_shape))
    for i, size in enumerate(hidden):
        layers[f"dense_{i}"] = nn.Linear(width, size, init="he_normal")
        layers[f"relu_{i}"] = nn.ReLU()
        width = size
    layers["dense_out"] = nn.Linear(width, 1)
    layers["sigmoid"] = nn.Sigmoid()
    return nn.Sequential(layers)


# --------------------------------------------------------------------------- WGAN with weight clipping (1st edition)

WGAN_GENERATOR_WIDTHS = (128, 64, 32)  # after the 4x4x128 start; one 2x upsampling each
WGAN_CRITIC_WIDTHS = (32, 64, 128)  # stride-2 5x5 convs, then a stride-1 one of 128
WGAN_INIT = init.normal(0.02)  # RandomNormal(0, 0.02) on every kernel
WGAN_BN_MOMENTUM = 0.8


def wgan_generator(latent_dim: int = 100, channels: int = 3, image_size: int = 32) -> nn.Sequential:
    """The 1st edition's WGAN generator (``models/WGAN.py``, CIFAR horses): Dense to 4x4x128 ->
    BatchNorm (m 0.8) -> LeakyReLU(0.2) -> reshape; per width: 2x nearest upsampling -> Conv k5
    ``same`` -> BatchNorm -> LeakyReLU(0.2); a last Conv k5 to ``channels`` and tanh."""
    widths = scaled_widths(WGAN_GENERATOR_WIDTHS, image_size, deepest_first=True)
    start = 4 * 4 * 128
    layers = OrderedDict(dense=nn.Linear(latent_dim, start, init=WGAN_INIT),
                         batchnorm_dense=nn.BatchNorm1d(start, momentum=WGAN_BN_MOMENTUM),
                         leaky_relu_dense=nn.LeakyReLU(SLOPE), reshape=nn.Reshape((128, 4, 4)))
    in_channels = 128
    for i, width in enumerate(widths):
        layers[f"upsample_{i}"] = nn.Upsample(2)
        layers[f"conv_{i}"] = nn.Conv2d(in_channels, width, 5, padding="same", init=WGAN_INIT)
        layers[f"batchnorm_{i}"] = nn.BatchNorm2d(width, momentum=WGAN_BN_MOMENTUM)
        layers[f"leaky_relu_{i}"] = nn.LeakyReLU(SLOPE)
        in_channels = width
    layers["conv_out"] = nn.Conv2d(in_channels, channels, 5, padding="same", init=WGAN_INIT)
    layers["tanh"] = nn.Tanh()
    return nn.Sequential(layers)


def wgan_critic(channels: int = 3, image_size: int = 32) -> nn.Sequential:
    """The 1st edition's WGAN critic: Conv k5 s2 ``same`` per width, a Conv k5 s1 of 128, each with
    LeakyReLU(0.2), no normalisation or dropout; Flatten -> Dense 1 (linear)."""
    widths = scaled_widths(WGAN_CRITIC_WIDTHS, image_size, deepest_first=False)
    layers, in_channels = OrderedDict(), channels
    for i, (width, stride) in enumerate(zip(widths + (128,), (2,) * len(widths) + (1,))):
        layers[f"conv_{i}"] = nn.Conv2d(in_channels, width, 5, stride, "same", init=WGAN_INIT)
        layers[f"leaky_relu_{i}"] = nn.LeakyReLU(SLOPE)
        in_channels = width
    layers["flatten"] = nn.Flatten()
    layers["dense_out"] = nn.Linear(128 * 4 * 4, 1, init=WGAN_INIT)
    return nn.Sequential(layers)


# --------------------------------------------------------------------------- is the generator copying?


def nearest_neighbours(samples, images, chunk: int = 512) -> tuple:
    """For each sample, the index of the image with the smallest mean absolute pixel difference
    (L1) and that distance: ``(indices (S,), distances (S,))``.  The book shows generated images
    beside their nearest training images: a generator that only copied its data would show twins.

    NumPy arrays of the same per-image shape; ``images`` is compared ``chunk`` at a time.
    """
    samples = np.asarray(samples, dtype=np.float32).reshape(len(samples), -1)
    images = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    if samples.shape[1] != images.shape[1]:
        raise ValueError(f"nearest_neighbours: samples have {samples.shape[1]} values each, images {images.shape[1]}")
    best = np.full(len(samples), np.inf, dtype=np.float32)
    index = np.zeros(len(samples), dtype=np.int64)
    for start in range(0, len(images), chunk):
        distance = np.abs(samples[:, None, :] - images[None, start:start + chunk]).mean(axis=2)
        closest = distance.argmin(axis=1)
        found = distance[np.arange(len(samples)), closest]
        better = found < best
        best[better], index[better] = found[better], start + closest[better]
    return index, best
