"""The GAN recipes of the zoo: data as the book prepares it, the command line end to end, the sample
grids (one row per class for ``cgan``) and the nearest-training-image figure."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinygdl import zoo
from tinygdl.cli import main

SHARED_DATA = Path(os.environ.get("TINYGDL_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data")


@pytest.fixture
def shared_data(monkeypatch):
    """The real datasets ($TINYGDL_DATA or ../shared/data); the test is skipped where they are absent."""
    if not (SHARED_DATA / "fashion-mnist").is_dir() or not (SHARED_DATA / "cifar10-jpeg").is_dir():
        pytest.skip(f"real datasets not found in {SHARED_DATA} (set TINYGDL_DATA to run these tests)")
    monkeypatch.setenv("TINYGDL_DATA", str(SHARED_DATA))


def test_train_and_sample_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "dcgan", "--dataset", "digits", "--image-size", "8", "--epochs", "2",
                 "--steps-per-epoch", "2", "--batch-size", "16", "--out", str(out), "--quiet"]) == 0
    for name in ("samples/epoch-0001.png", "samples/epoch-0002.png", "loss.png", "samples.png", "nearest.png",
                 "history.csv", "checkpoint.npz"):
        assert (out / name).is_file(), name
    report = json.loads((out / "report.json").read_text())
    assert report["epochs"] == 2 and 0 < report["nearest_l1_mean"] < 2
    header = (out / "history.csv").read_text().splitlines()[0]
    assert all(key in header for key in ("d_loss", "g_loss", "d_real_acc", "d_fake_acc"))
    assert main(["sample", str(out / "checkpoint.npz"), "-n", "4", "--out", str(tmp_path / "more.png")]) == 0
    assert (tmp_path / "more.png").is_file()


def test_cgan_samples_one_row_per_class_or_a_chosen_class(tmp_path):
    recipe = zoo.recipe("cgan", "digits", image_size=8)
    models = recipe.build()
    assert recipe.class_names() == tuple(str(d) for d in range(10))
    three = recipe.generate_class(models, "3", 5)
    assert three.shape == (5, 1, 8, 8)
    np.testing.assert_array_equal(three, recipe.generate_class(models, 3, 5))  # by name or number, fixed z
    assert not np.array_equal(three, recipe.generate_class(models, 4, 5))
    grid = np.asarray(Image.open(recipe.sample(models, tmp_path / "rows.png", n=4)))
    chosen = zoo.recipe("cgan", "digits", image_size=8, sample_class="7")
    single = np.asarray(Image.open(chosen.sample(models, tmp_path / "seven.png", n=4)))
    assert grid.shape[0] > 4 * single.shape[0]  # ten rows against a 2x2 grid
    with pytest.raises(ValueError, match="no class"):
        recipe.generate_class(models, 12, 1)


def test_cgan_vehicle_label_needs_cifar10():
    with pytest.raises(ValueError, match="vehicle"):
        zoo.recipe("cgan", "digits", label="vehicle").build()


def test_dcgan_reads_a_folder_of_images_like_the_lego_bricks(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(tmp_path / f"brick_{i}.png")
    recipe = zoo.recipe("dcgan", folder=str(tmp_path), image_size=16, limit=4)
    train, _ = recipe.load_data()
    images, _ = train[np.arange(len(train))]
    assert images.shape == (4, 1, 16, 16) and images.dtype == np.float32
    assert -1 <= images.min() and images.max() <= 1


def test_every_gan_trains_offline_on_the_digits_at_the_models_size():
    for name, size in (("dcgan", 32), ("wgan_gp", 16), ("cgan", 16), ("gan", 28), ("wgan", 32)):
        recipe = zoo.recipe(name, "digits", image_size=size)
        train, val = recipe.load_data()
        images, labels = train[np.arange(4)]
        assert val is None and images.shape == (4,) + recipe.image_shape() and recipe.image_shape()[-1] == size
        low, high = recipe.value_range
        assert images.min() >= low and images.max() <= high


# --------------------------------------------------------------------------- the book's data (skipped without it)


def test_dcgan_fashion_mnist_is_padded_to_32_then_resized_to_64(shared_data):
    recipe = zoo.recipe("dcgan", limit=8)
    train, _ = recipe.load_data()
    images, _ = train[np.arange(8)]
    assert images.shape == (8, 1, 64, 64)
    assert images.min() == -1.0 and images.max() <= 1.0
    np.testing.assert_array_equal(images[:, :, :3, :], -1.0)  # the zero padding, black in [-1, 1]


def test_cgan_cifar10_label_is_vehicle_against_animal(shared_data):
    recipe = zoo.recipe("cgan", image_size=16)
    train, _ = recipe.load_data()
    assert recipe.class_names() == ("animal", "vehicle") and recipe.num_classes() == 2
    labels = recipe.splits.y_train
    assert set(np.unique(labels)) == {0, 1} and abs(labels.mean() - 0.4) < 0.01  # 4 of the 10 classes are vehicles
    assert len(train) == 8000


def test_wgan_trains_on_cifar10_horses(shared_data):
    recipe = zoo.recipe("wgan")
    recipe.load_data()
    assert recipe.splits.x_train.shape == (800, 3, 32, 32)
    assert set(recipe.splits.y_train) == {7}
