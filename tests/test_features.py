"""The feature network: trained deterministically, cached, and a good eye (real beats noise)."""

from __future__ import annotations

import numpy as np
import pytest

from tinygdl import metrics
from tinygdl.features import FeatureNetwork
from tinygdl.zoo.images import load_images


@pytest.fixture(scope="module")
def digits_network():
    return FeatureNetwork.train("digits", epochs=4, progress=False)  # the cached default trains 20


def test_trained_network_classifies_and_is_cached(digits_network, tmp_path):
    assert digits_network.test_accuracy > 0.85
    digits_network.save(tmp_path)
    cached = FeatureNetwork.load_or_train("digits", folder=tmp_path, progress=False)
    assert cached.test_accuracy == digits_network.test_accuracy
    images = load_images("digits").x_test[:20]
    np.testing.assert_array_equal(cached.features(images), digits_network.features(images))


def test_features_of_any_size_and_channels(digits_network):
    grey = np.random.default_rng(0).random((3, 1, 32, 32))
    assert digits_network.features(grey).shape == (3, 128)
    assert digits_network.features(np.repeat(grey, 3, axis=1)).shape == (3, 128)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        digits_network.features(np.zeros((3, 8, 8)))


def test_real_data_scores_far_better_than_noise_on_every_metric(digits_network):
    """Sanity of the pipeline: real test vs real train beats Gaussian noise and shuffled pixels."""
    splits = load_images("digits")
    rng = np.random.default_rng(0)
    real, other = splits.x_train[:300], splits.x_test[:300]
    noise = np.clip(rng.normal(0.5, 0.3, other.shape), 0, 1)
    shuffled = rng.permuted(other.reshape(len(other), -1), axis=1).reshape(other.shape)
    f_real = digits_network.features(real)
    scores = {}
    for name, images in (("real", other), ("noise", noise), ("shuffled", shuffled)):
        f = digits_network.features(images)
        fd = metrics.frechet_distance(f_real, f)
        kid, _ = metrics.kernel_distance(f_real, f, subsets=10, subset_size=200)
        precision, recall = metrics.precision_recall(f_real, f)
        scores[name] = (fd, kid, precision, recall)
    for bad in ("noise", "shuffled"):
        assert scores["real"][0] < scores[bad][0] / 5 and scores["real"][1] < scores[bad][1] / 5
        assert scores["real"][2] > scores[bad][2] and scores["real"][3] > scores[bad][3]
