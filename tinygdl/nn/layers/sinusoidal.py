"""The diffusion U-Net's noise-level input: a sinusoidal embedding, broadcast over the image.

A diffusion network is told *how noisy* its input is by one number per image, the noise variance
``v`` (between 0.1 and 1 for the book's schedule).  One number is a weak signal for a network of
convolutions, so it is spread over many features first, as the Transformer spreads a position
(Vaswani et al. 2017, §3.5; Mildenhall et al. 2020's "positional encoding")::

    f_k = exp(ln f_min + k/(F − 1) · (ln f_max − ln f_min)),   k = 0 … F − 1   (log-spaced, 1 … 1000)
    e(v) = [sin(2π f_0 v), …, sin(2π f_{F−1} v),  cos(2π f_0 v), …, cos(2π f_{F−1} v)]

2F features, the sines first (the book's order).  Low frequencies vary slowly with ``v`` (coarse
position on the schedule), high ones quickly (fine differences between close noise levels).  The
book then repeats the (N, 2F, 1, 1) embedding over the image (``UpSampling2D(size=64)``, nearest):
every pixel gets the same 2F channels, which the U-Net concatenates to its image features.
Here that repetition is a broadcast (``expand``), whose gradient sums over the pixels.

The derivative is ``d sin(ωv)/dv = ω cos(ωv)`` and ``d cos(ωv)/dv = −ω sin(ωv)``, formed by the
autograd ops ``sin``, ``cos`` and ``mul`` (no hand-written backward is needed).
"""

from __future__ import annotations

import math

import numpy as np

from ...backend import get_default_dtype
from ...errors import ShapeError
from ...ops.elementwise import cos, sin
from ...ops.shape import concatenate, expand
from ..module import Module

__all__ = ["SinusoidalEmbedding"]


class SinusoidalEmbedding(Module):
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
