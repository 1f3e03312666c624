"""tinygdl.metrics against independent computations and known values."""

from __future__ import annotations

import numpy as np
import pytest

from tinygdl import metrics


def test_frechet_distance_of_a_set_with_itself_is_zero(rng):
    x = rng.standard_normal((200, 6))
    assert metrics.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_closed_form_for_diagonal_gaussians(rng):
    """Diagonal covariances commute: d² = |μ1 − μ2|² + Σ (σ1 − σ2)²."""
    mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
    s1, s2 = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 2, 5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((s1 - s2) ** 2)
    got = metrics.frechet_distance_gaussians(mu1, np.diag(s1**2), mu2, np.diag(s2**2))
    assert got == pytest.approx(expected, abs=1e-6)


def test_frechet_distance_closed_form_for_full_covariances(rng):
    """Against tr((Σ1 Σ2)^½) from the eigenvalues of Σ1 Σ2 (real and non-negative for PSD matrices)."""
    a, b = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    cov1, cov2 = a @ a.T + 0.1 * np.eye(4), b @ b.T + 0.1 * np.eye(4)
    mu1, mu2 = rng.standard_normal(4), rng.standard_normal(4)
    cross = np.sqrt(np.linalg.eigvals(cov1 @ cov2).real).sum()
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2 * cross
    assert metrics.frechet_distance_gaussians(mu1, cov1, mu2, cov2) == pytest.approx(expected, abs=1e-6)


def test_frechet_distance_is_symmetric_and_stable_when_singular(rng):
    real, fake = rng.standard_normal((10, 32)), rng.standard_normal((12, 32)) + 0.5  # fewer samples than features
    forward, backward = metrics.frechet_distance(real, fake), metrics.frechet_distance(fake, real)
    assert np.isfinite(forward) and forward > 0
    assert forward == pytest.approx(backward, rel=1e-6)  # sqrt of near-zero eigenvalues amplifies round-off


def test_kernel_distance_is_unbiased(rng):
    """Same distribution: the MMD² estimates average to 0 within their standard error, even at N = 20."""
    values = [metrics.mmd2_unbiased(rng.standard_normal((20, 4)), rng.standard_normal((20, 4))) for _ in range(400)]
    assert abs(np.mean(values)) < 3 * np.std(values) / np.sqrt(len(values))


def test_kernel_distance_separates_and_reports_its_error(rng):
    real = rng.standard_normal((300, 8))
    same, se_same = metrics.kernel_distance(real, rng.standard_normal((300, 8)), subsets=20, subset_size=100)
    shifted, se_shifted = metrics.kernel_distance(real, rng.standard_normal((300, 8)) + 1, subsets=20, subset_size=100)
    assert shifted > 10 * abs(same) and se_same > 0 and se_shifted > 0


def test_precision_recall_of_identical_sets_is_one(rng):
    x = rng.standard_normal((100, 3))
    assert metrics.precision_recall(x, x) == (1.0, 1.0)


def test_precision_recall_on_shifted_clusters(rng):
    """Fake = the real points plus as many far away: half the samples are unrealistic, all data is covered."""
    real = rng.standard_normal((80, 2))
    far = rng.standard_normal((80, 2)) * 0.1 + 100.0
    fake = np.concatenate([real, far])
    assert metrics.precision_recall(real, fake) == (0.5, 1.0)
    assert metrics.precision_recall(fake, real) == (1.0, 0.5)


def test_errors_and_standard_errors(rng):
    with pytest.raises(ValueError, match="same D"):
        metrics.frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="k=3"):
        metrics.precision_recall(np.zeros((3, 2)), np.zeros((3, 2)))
    assert metrics.proportion_se(0.5, 100) == pytest.approx(0.05)
    x, y = rng.standard_normal((100, 3)), rng.standard_normal((100, 3)) + 1
    assert metrics.bootstrap(metrics.frechet_distance, x, y, rounds=5) > 0
