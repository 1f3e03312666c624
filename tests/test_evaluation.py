"""tinygdl evaluate: the quality table end to end on digits (tiny budgets), and its one-line errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tinygdl import evaluation
from tinygdl.features import FeatureNetwork


@pytest.fixture(scope="module")
def network():
    return FeatureNetwork.train("digits", epochs=4, progress=False)


def test_table_sheet_and_reload_from_checkpoints(network, tmp_path):
    options = dict(dataset="digits", n=60, progress=False, network=network, log=lambda *a: None,
                   overrides={"dcgan": {"image_size": 32}, "vae_fashion": {"iwae_limit": 20, "eval_limit": 40}})
    table = evaluation.evaluate(["vae_fashion", "dcgan"], budget_minutes=0.05, out_dir=str(tmp_path), **options)
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]
    assert [row.split(" | ")[0] for row in rows] == ["| vae_fashion", "| dcgan", "| (real test images)",
                                                   "| (Gaussian noise)"]
    assert "−ELBO (nats/image)" in table and "347,141" in table  # the VAE's likelihood and parameter count
    assert (tmp_path / "quality.md").read_text() == table and (tmp_path / "quality.png").exists()
    again = evaluation.evaluate(["dcgan"], from_checkpoints=str(tmp_path), out_dir=str(tmp_path / "again"),
                                **options)
    fd = lambda text: float(text.split("| dcgan | ")[1].split(" ")[0])  # noqa: E731
    assert fd(again) == pytest.approx(fd(table))  # the same generator, the same fixed noise


def test_anchor_rows_order_real_above_noise(network):
    from tinygdl.zoo.images import load_images

    splits = load_images("digits")
    f_train = network.features(splits.x_train)
    real, noise = evaluation.anchor_rows(network, f_train, splits.x_test, 100)
    assert real.scores["FD"][0] < noise.scores["FD"][0] / 3
    assert real.scores["precision"][0] > noise.scores["precision"][0]


def test_padded_samples_are_cropped_back_to_the_data():
    images = np.zeros((2, 1, 64, 64))
    assert evaluation.native_view(images, "fashion-mnist", padded=True).shape == (2, 1, 28, 28)
    assert evaluation.native_view(images, "digits", padded=True).shape == (2, 1, 64, 64)


@pytest.mark.parametrize("arguments, message", [
    ([], "name the models to evaluate"),
    (["cnn"], "no image-quality row for cnn"),
    (["dcgan", "--set", "image_size=32"], "MODEL.KEY=VALUE"),
    (["dcgan", "--budget-minutes", "0"], "--budget-minutes must be positive"),
])
def test_cli_errors_are_one_line(arguments, message):
    result = subprocess.run([sys.executable, "-m", "tinygdl", "evaluate", *arguments], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
