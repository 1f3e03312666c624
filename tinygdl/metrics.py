"""Sample-quality metrics: how close is a set of generated samples to the real data?

Each metric compares two NumPy arrays of *features*, shape ``(N, D)``, real first.  Features come
from a classifier trained on the same data (``tinygdl.evaluation.FeatureNetwork``), the role the
Inception network plays for FID; these functions do not care where the features came from.

* ``frechet_distance``: fit a Gaussian to each set and compute the Fréchet (2-Wasserstein)
  distance between the two Gaussians (Heusel et al. 2017, the "FID" formula):

      d² = |μ_r − μ_g|² + tr(Σ_r + Σ_g − 2 (Σ_r^½ Σ_g Σ_r^½)^½)

  The matrix square roots are taken by eigendecomposition of symmetric positive semi-definite
  matrices, so the result is real and stable even when a covariance is singular (fewer samples
  than features); a general ``sqrtm`` of the non-symmetric ``Σ_r Σ_g`` returns complex noise there.
  It is biased for small N (it grows as N shrinks): compare figures computed with the same N.
* ``kernel_distance``: the squared maximum mean discrepancy with the cubic polynomial kernel
  ``k(x, y) = (x·y / D + 1)³`` (Bińkowski et al. 2018, "KID"), averaged over random subsets, with
  the unbiased estimator (self-pairs left out) — its expectation is 0 when both sets come from the
  same distribution, whatever N — and its standard error over the subsets.
* ``precision_recall``: k-nearest-neighbour manifolds (Kynkäänniemi et al. 2019).  Each real
  point gets a ball reaching its k-th nearest real neighbour; *precision* is the fraction of
  generated points inside some real ball (are the samples realistic?), *recall* the fraction of
  real points inside some generated ball (is the data's variety covered?).
* ``bootstrap``: the standard error of the Fréchet distance (or any metric that tolerates
  repeated points), by resampling both sets with replacement; precision and recall are
  proportions, with the binomial standard error ``proportion_se`` (resampling would put repeated
  points at distance 0 from each other and shrink the k-NN balls).
"""

from __future__ import annotations

import numpy as np


def _as_features(real, fake) -> tuple[np.ndarray, np.ndarray]:
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"expected two feature arrays (N, D) with the same D, got {real.shape} and {fake.shape}")
    if len(real) < 2 or len(fake) < 2:
        raise ValueError(f"need at least 2 samples in each set, got {len(real)} and {len(fake)}")
    return real, fake


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix (round-off negatives clipped)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance_gaussians(mu1, cov1, mu2, cov2) -> float:
    """The squared Fréchet distance between N(mu1, cov1) and N(mu2, cov2) (see the module docstring)."""
    root1 = _psd_sqrt(cov1)
    middle = root1 @ cov2 @ root1  # symmetric PSD, with the same eigenvalues as cov1 @ cov2
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2 * cross)


def frechet_distance(real, fake) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula)."""
    real, fake = _as_features(real, fake)
    return frechet_distance_gaussians(real.mean(0), np.cov(real, rowvar=False),
                                      fake.mean(0), np.cov(fake, rowvar=False))


def _polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def mmd2_unbiased(real: np.ndarray, fake: np.ndarray) -> float:
    """Unbiased squared MMD with the cubic polynomial kernel (self-pairs excluded)."""
    m, n = len(real), len(fake)
    k_rr, k_ff, k_rf = _polynomial_kernel(real, real), _polynomial_kernel(fake, fake), _polynomial_kernel(real, fake)
    within_real = (k_rr.sum() - np.trace(k_rr)) / (m * (m - 1))
    within_fake = (k_ff.sum() - np.trace(k_ff)) / (n * (n - 1))
    return float(within_real + within_fake - 2 * k_rf.mean())


def kernel_distance(real, fake, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """``(mean, standard error)`` of the unbiased MMD² over ``subsets`` random subsets (the KID)."""
    real, fake = _as_features(real, fake)
    size = min(subset_size, len(real), len(fake))
    rng = np.random.default_rng(seed)
    values = [mmd2_unbiased(real[rng.choice(len(real), size, replace=False)],
                            fake[rng.choice(len(fake), size, replace=False)]) for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values, ddof=1) / np.sqrt(subsets)) if subsets > 1 else 0.0


def _pairwise_distances(a: np.ndarray, b: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Euclidean distances between the rows of a and b, computed in chunks of a."""
    b_sq = (b ** 2).sum(1)
    rows = []
    for start in range(0, len(a), chunk):
        part = a[start:start + chunk]
        squared = (part ** 2).sum(1)[:, None] + b_sq[None, :] - 2 * part @ b.T
        rows.append(np.sqrt(np.clip(squared, 0, None)))
    return np.concatenate(rows)


def _knn_radii(points: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point to its k-th nearest neighbour in the same set (itself excluded)."""
    distances = _pairwise_distances(points, points)
    return np.partition(distances, k, axis=1)[:, k]  # column 0 of the sorted row is the point itself


def _coverage(centres: np.ndarray, radii: np.ndarray, queries: np.ndarray) -> float:
    """Fraction of queries that fall inside at least one ball (centre, radius)."""
    return float((_pairwise_distances(queries, centres) <= radii[None, :]).any(axis=1).mean())


def precision_recall(real, fake, k: int = 3) -> tuple[float, float]:
    """``(precision, recall)`` of the generated set with k-nearest-neighbour manifolds."""
    real, fake = _as_features(real, fake)
    if k >= min(len(real), len(fake)):
        raise ValueError(f"k={k} needs more than {k} samples in each set, got {len(real)} and {len(fake)}")
    precision = _coverage(real, _knn_radii(real, k), fake)
    recall = _coverage(fake, _knn_radii(fake, k), real)
    return precision, recall


def proportion_se(p: float, n: int) -> float:
    """The binomial standard error of a proportion ``p`` measured on ``n`` points."""
    return float(np.sqrt(p * (1 - p) / n))


def bootstrap(metric, real, fake, rounds: int = 10, seed: int = 0) -> float:
    """Standard error of ``metric(real, fake)`` (a number) by resampling both sets with replacement."""
    real, fake = _as_features(real, fake)
    rng = np.random.default_rng(seed)
    values = [metric(real[rng.integers(0, len(real), len(real))], fake[rng.integers(0, len(fake), len(fake))])
              for _ in range(rounds)]
    return float(np.std(values, ddof=1))


__all__ = ["bootstrap", "frechet_distance", "frechet_distance_gaussians", "kernel_distance", "mmd2_unbiased",
           "precision_recall", "proportion_se"]
