"""tinygdl.latent: the points of a latent space (grids, samples, interpolations, attribute vectors),
subspace angles, and the figures, on small untrained models."""

import math
from statistics import NormalDist

import numpy as np
import pytest

import tinygdl
from tinygdl import latent
from tinygdl.models import autoencoders as ae
from tinygdl.models import vae as V

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG_MAGIC


@pytest.fixture
def images():
    return np.random.default_rng(0).random((12, 1, 8, 8)).astype(np.float32)


@pytest.fixture
def model():
    tinygdl.manual_seed(0)
    return ae.stacked_autoencoder((1, 8, 8), hidden=(16, 2))


@pytest.fixture
def vae():
    tinygdl.manual_seed(0)
    return V.vae_fashion((1, 8, 8), channels=(4,))


# --------------------------------------------------------------------------- running models over arrays


def test_codes_decode_and_reconstruct_in_batches(model, images):
    z = latent.codes(model, images, batch_size=5)
    assert z.shape == (12, 2) and isinstance(z, np.ndarray)
    np.testing.assert_allclose(z, model.encode(tinygdl.tensor(images)).numpy(), rtol=1e-6)
    assert latent.decode(model, z, batch_size=5).shape == (12, 1, 8, 8)
    np.testing.assert_allclose(latent.reconstruct(model, images), model(tinygdl.tensor(images)).numpy(), rtol=1e-6)


def test_a_vae_is_embedded_by_its_mean_and_sampled_on_request(vae, images):
    mu = latent.codes(vae, images)
    np.testing.assert_allclose(mu, vae.encode(tinygdl.tensor(images))[0].numpy(), rtol=1e-6)
    sampled = latent.codes(vae, images, sample=True)
    assert sampled.shape == mu.shape and not np.allclose(sampled, mu)


def test_models_run_in_eval_mode_and_get_their_mode_back(images):
    model = ae.stacked_autoencoder((1, 8, 8), hidden=(16, 2), corruption="dropout")
    first, second = latent.reconstruct(model, images), latent.reconstruct(model, images)
    np.testing.assert_array_equal(first, second)  # dropout off
    assert model.training


# --------------------------------------------------------------------------- points


def test_box_samples_stay_in_the_box():
    points = np.array([[0.0, -1.0], [2.0, 3.0], [1.0, 0.0]])
    samples = latent.box_samples(points, 500)
    assert samples.shape == (500, 2)
    assert (samples.min(axis=0) >= [0, -1]).all() and (samples.max(axis=0) <= [2, 3]).all()
    assert samples[:, 0].max() - samples[:, 0].min() > 1.9


def test_grid_points_put_the_largest_y_on_the_top_row():
    points = latent.grid_points([0, 1, 2], [10, 20])
    np.testing.assert_array_equal(points, [[0, 20], [1, 20], [2, 20], [0, 10], [1, 10], [2, 10]])
    grid = latent.linear_grid(4, (-1, 1), (0, 3))
    assert grid.shape == (16, 2) and grid[0].tolist() == [-1, 3] and grid[-1].tolist() == [1, 0]


def test_normal_grid_is_evenly_spaced_in_probability():
    quantiles = latent.normal_quantiles(5, edge=0.1)
    cdf = [NormalDist().cdf(q) for q in quantiles]
    np.testing.assert_allclose(cdf, [0.1, 0.3, 0.5, 0.7, 0.9], atol=1e-9)
    np.testing.assert_allclose(quantiles, -quantiles[::-1], atol=1e-9)
    assert latent.normal_grid(15).shape == (225, 2)
    assert np.isfinite(latent.normal_grid(15)).all()


def test_interpolation_runs_from_one_code_to_the_other():
    path = latent.interpolate([0.0, 2.0], [1.0, -2.0], steps=5)
    np.testing.assert_allclose(path[0], [0, 2])
    np.testing.assert_allclose(path[-1], [1, -2])
    np.testing.assert_allclose(path[2], [0.5, 0.0])


def test_attribute_vector_points_from_without_to_with():
    rng = np.random.default_rng(0)
    direction = np.array([3.0, 4.0, 0.0]) / 5
    without = rng.normal(size=(400, 3))
    with_it = rng.normal(size=(400, 3)) + 2 * direction
    vector = latent.attribute_vector(np.concatenate([without, with_it]), np.repeat([False, True], 400))
    assert np.linalg.norm(vector) == pytest.approx(1.0, rel=1e-6)
    assert vector @ direction > 0.98
    with pytest.raises(ValueError, match="both"):
        latent.attribute_vector(without, np.zeros(400, bool))


def test_shift_along_adds_each_factor_times_the_vector():
    shifted = latent.shift_along(np.zeros((2, 3)), np.array([1.0, 0, 0]), [-1, 0, 2])
    assert shifted.shape == (2, 3, 3)
    np.testing.assert_array_equal(shifted[1, :, 0], [-1, 0, 2])


def test_latent_statistics_of_standard_normal_codes():
    stats = latent.latent_statistics(np.random.default_rng(0).standard_normal((20000, 3)))
    np.testing.assert_allclose(stats["mean"], 0, atol=0.03)
    np.testing.assert_allclose(stats["std"], 1, atol=0.03)
    assert stats["mean_abs_mean"] < 0.03 and abs(stats["mean_std"] - 1) < 0.03


def test_normal_cdf_maps_the_prior_to_the_unit_square():
    np.testing.assert_allclose(latent.normal_cdf([[0.0, -1.959964], [1.959964, 0.0]]), [[0.5, 0.025], [0.975, 0.5]],
                               atol=1e-6)
    uniform = latent.normal_cdf(np.random.default_rng(0).standard_normal((4000, 2)))
    np.testing.assert_allclose(np.histogram(uniform, bins=4, range=(0, 1))[0] / uniform.size, 0.25, atol=0.02)


def test_active_dimensions_are_those_whose_mean_moves():
    rng = np.random.default_rng(0)
    means = np.stack([rng.normal(0, 1, 500), rng.normal(3, 0.01, 500), rng.normal(0, 0.3, 500)], axis=1)
    np.testing.assert_array_equal(latent.active_dimensions(means), [True, False, True])


def test_prior_samples_are_reproducible():
    np.testing.assert_array_equal(latent.prior_samples(4, 3, seed=1), latent.prior_samples(4, 3, seed=1))
    assert latent.prior_samples(4, 3).dtype == np.float32


# --------------------------------------------------------------------------- subspaces


def test_principal_angles_of_known_subspaces():
    e = np.eye(3)
    same_plane = latent.principal_angles(e[:, :2], e[:, :2] @ [[1, 2], [3, 4]])  # another basis of it
    assert same_plane.shape == (2,)
    np.testing.assert_allclose(same_plane, 0, atol=1e-7)
    np.testing.assert_allclose(latent.principal_angles(e[:, :1], e[:, 1:2]), [math.pi / 2])
    tilted = np.array([[1.0], [0.0], [1.0]])  # 45 degrees from the x axis
    np.testing.assert_allclose(latent.principal_angles(e[:, :1], tilted), [math.pi / 4])


def test_principal_subspace_against_a_known_covariance():
    rng = np.random.default_rng(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    data = (rng.normal(size=(5000, 4)) * [5.0, 2.0, 0.5, 0.1]) @ rotation.T + 7
    basis = latent.principal_subspace(data, 2)
    np.testing.assert_allclose(basis.T @ basis, np.eye(2), atol=1e-10)
    assert latent.principal_angles(basis, rotation[:, :2]).max() < 0.02


# --------------------------------------------------------------------------- figures


def test_every_figure_writes_a_png(tmp_path, model, vae, images):
    labels = np.arange(12) % 3
    vector = latent.attribute_vector(latent.codes(model, images), labels == 0)
    paths = [
        latent.reconstruction_figure(model, images[:4], tmp_path / "reconstructions.png"),
        latent.scatter_figure(model, images, labels, tmp_path / "scatter.png", class_names=["a", "b", "c"]),
        latent.grid_figure(model, latent.linear_grid(3, (-1, 1), (-1, 1)), tmp_path / "grid.png"),
        latent.decoded_figure(model, latent.box_samples(latent.codes(model, images), 6), tmp_path / "box.png", nrow=3),
        latent.interpolation_figure(model, images[:2], images[2:4], tmp_path / "interpolation.png", steps=4),
        latent.attribute_figure(model, images[:2], vector, tmp_path / "attribute.png", factors=(-1, 0, 1)),
        latent.histogram_figure(latent.codes(vae, images, sample=True), tmp_path / "histograms.png"),
        latent.decoded_figure(vae, latent.prior_samples(4, 2), tmp_path / "prior.png"),
    ]
    assert all(is_png(path) for path in paths)


def test_histogram_figure_lays_out_many_dimensions(tmp_path):
    path = latent.histogram_figure(np.random.default_rng(0).normal(size=(100, 60)), tmp_path / "h.png", max_dims=12)
    assert is_png(path)
