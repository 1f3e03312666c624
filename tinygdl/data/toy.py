"""Small synthetic datasets drawn with NumPy."""

from __future__ import annotations

import numpy as np

from .. import backend


def make_moons(n_samples: int = 100, noise: float | None = None, seed: int | None = None,
               shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles in 2-D: ``(points float64 (n, 2), labels int64 (n,))``.

    The same geometry as scikit-learn's ``make_moons``: ``n // 2`` points (label 0) on the upper
    half of the unit circle, and the rest (label 1) on the lower half of the unit circle centred
    at (1, 0.5) (the first moon turned by 180 degrees and shifted by (1, 0.5)); each set evenly
    spaced in angle over [0, pi].  Gaussian noise of standard deviation ``noise`` is then added to
    every coordinate.
    ``seed=None`` draws from ``tinygdl.backend.generator()`` (so ``manual_seed`` applies).
    The book's RealNVP trains on ``make_moons(30000, noise=0.05)``.
    """
    rng = np.random.default_rng(seed) if seed is not None else backend.generator()
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    outer_angle = np.linspace(0, np.pi, n_outer)
    inner_angle = np.linspace(0, np.pi, n_inner)
    outer = np.stack([np.cos(outer_angle), np.sin(outer_angle)], axis=1)
    inner = np.stack([1 - np.cos(inner_angle), 0.5 - np.sin(inner_angle)], axis=1)
    points = np.concatenate([outer, inner])
    labels = np.concatenate([np.zeros(n_outer, np.int64), np.ones(n_inner, np.int64)])
    if shuffle:
        order = rng.permutation(n_samples)
        points, labels = points[order], labels[order]
    if noise:
        points = points + rng.normal(scale=noise, size=points.shape)
    return points, labels
