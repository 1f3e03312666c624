"""Layers made for GAN discriminators: ``MinibatchStdDev``, ProGAN's fight against mode collapse.

A discriminator judges one image at a time, so it cannot see that a generator turns out the same
image again and again (mode collapse).  The minibatch standard deviation layer (Karras et al. 2018,
"Progressive Growing of GANs", §3; Géron, *Hands-On Machine Learning*, ch. 17) shows it: it
measures how much the samples of a (group of the) batch vary and appends that number as one extra
constant feature map.  A batch of near-copies has a tell-tale small value, which the
discriminator learns to punish, pushing the generator towards variety.
"""

from __future__ import annotations

from ...ops.shape import concatenate, reshape, tile
from ..module import Module

__all__ = ["MinibatchStdDev", "minibatch_stddev"]

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


class MinibatchStdDev(Module):
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
