"""The ``ddm`` recipe: data standardisation kept in the checkpoint, the EMA network's two starts,
resume keeping the EMA network bit-identical, ``tinygdl sample --set`` options, the image-folder
loader, and the real flowers where they are present."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinygdl import zoo
from tinygdl.checkpoint import load_checkpoint
from tinygdl.cli import main
from tinygdl.errors import ConfigError
from tinygdl.zoo.diffusion import RepeatedDataset, channel_statistics, folder_images
from tinygdl.zoo.run import train

SHARED_DATA = Path(os.environ.get("TINYGDL_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data")
# A U-Net of two small stages on 8x8 digits (widths as a list: as a checkpoint's JSON records them)
TINY = dict(image_size=8, widths=[4, 8], block_depth=1, repeat=1, limit=48)


def test_standardisation_statistics_travel_with_the_recipe_state():
    recipe = zoo.recipe("ddm", "digits", **TINY)
    train_data, _ = recipe.load_data()
    assert len(train_data) == 48
    x = train_data[np.arange(48)][0]
    np.testing.assert_allclose(x.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=(0, 2, 3)), 1, atol=1e-4)
    other = zoo.recipe("ddm", "digits", **TINY)
    other.load_state_dict(recipe.state_dict())
    np.testing.assert_array_equal(other.destandardise(x), recipe.destandardise(x))
    assert other.destandardise(x).min() >= 0 and other.destandardise(x).max() <= 1
    with pytest.raises(ConfigError, match="mean and std"):
        zoo.recipe("ddm", "digits", **TINY).destandardise(x)


def test_channel_statistics_and_repeated_dataset():
    images = np.stack([np.zeros((2, 2)), np.full((2, 2), 2.0), np.ones((2, 2))])[None].repeat(3, 0)
    mean, std = channel_statistics(images.astype(np.float32))
    np.testing.assert_allclose(mean, [0, 2, 1])
    np.testing.assert_allclose(std, [1e-7, 1e-7, 1e-7])  # floored as Keras's Normalization
    recipe = zoo.recipe("ddm", "digits", **{**TINY, "repeat": 5})
    data, _ = recipe.load_data()
    assert isinstance(data, RepeatedDataset) and len(data) == 5 * 48
    np.testing.assert_array_equal(data[47][0], data[47 + 3 * 48][0])


def test_ema_starts_as_a_copy_by_default_and_fresh_as_the_book():
    copy = zoo.recipe("ddm", "digits", **TINY).build()
    for name, t in copy["unet"].state_dict().items():
        np.testing.assert_array_equal(t.numpy(), copy["ema"].state_dict()[name].numpy())
    fresh = zoo.recipe("ddm", "digits", ema_start="fresh", **TINY).build()
    conv = "down.0.conv1.weight"
    assert not np.array_equal(fresh["unet"].state_dict()[conv].numpy(), fresh["ema"].state_dict()[conv].numpy())
    assert not fresh["ema"].training and not any(p.requires_grad for p in fresh["ema"].parameters())
    with pytest.raises(ConfigError, match="ema_start"):
        zoo.recipe("ddm", "digits", ema_start="zeros")


def test_resume_keeps_the_ema_network_bit_identical(tmp_path):
    settings = dict(batch_size=16, progress=False, **TINY)
    train("ddm", "digits", epochs=2, out_dir=str(tmp_path / "straight"), **settings)
    train("ddm", "digits", epochs=1, out_dir=str(tmp_path / "halves"), **settings)
    train("ddm", "digits", epochs=2, out_dir=str(tmp_path / "halves"), resume=str(tmp_path / "halves/checkpoint.npz"),
          **settings)
    straight, halves = (load_checkpoint(tmp_path / run / "checkpoint.npz") for run in ("straight", "halves"))
    ema = straight.models["ema"]
    assert len(ema) > 10 and any("running_var" in key for key in ema)
    assert not np.array_equal(ema["image_out.weight"], 0)  # it has moved away from the zero start
    for key in ema:
        np.testing.assert_array_equal(ema[key], halves.models["ema"][key], err_msg=key)
    np.testing.assert_array_equal(straight.state["mean"], halves.state["mean"])
    for figure in ("samples.png", "interpolation.png", "trajectory.png"):
        assert (tmp_path / "straight" / figure).is_file(), figure


def test_sample_options_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "run"
    train("ddm", "digits", epochs=1, batch_size=16, out_dir=str(out), progress=False, **TINY)
    checkpoint = str(out / "checkpoint.npz")
    grid, trajectory = tmp_path / "grid.png", tmp_path / "trajectory.png"
    assert main(["sample", checkpoint, "-n", "4", "--set", "steps=3", "--set", "eta=1", "--out", str(grid)]) == 0
    assert main(["sample", checkpoint, "--set", "steps=5", "--set", "figure=trajectory", "--set", "network=unet",
                 "--out", str(trajectory)]) == 0
    assert main(["sample", checkpoint, "--set", "figure=interpolation", "--set", "steps=2",
                 "--out", str(tmp_path / "mix.png")]) == 0
    wide, square = (np.asarray(Image.open(path)).shape for path in (trajectory, grid))
    assert wide[1] > 2 * wide[0] and abs(square[0] - square[1]) < square[0] / 3  # 2 rows of 5 against 2x2
    assert main(["sample", checkpoint, "--set", "figure=movie", "--out", str(tmp_path / "x.png")]) != 0


def test_folder_loader_reads_nested_folders(tmp_path):
    rng = np.random.default_rng(0)
    for i, sub in enumerate(["train/1", "train/2", "valid/1"]):
        (tmp_path / sub).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(tmp_path / sub / f"{i}.jpg")
    images = folder_images(str(tmp_path), 16, None)
    assert images.shape == (3, 3, 16, 16) and images.dtype == np.float32 and 0 <= images.min() <= images.max() <= 1
    recipe = zoo.recipe("ddm", folder=str(tmp_path), image_size=16, repeat=1)
    data, _ = recipe.load_data()
    assert len(data) == 3 and recipe.mean.shape == (3,)


def test_flowers_at_32_pixels(monkeypatch):
    if not (SHARED_DATA / "flowers12").is_dir():
        pytest.skip(f"flowers12 not found in {SHARED_DATA} (set TINYGDL_DATA to run this test)")
    monkeypatch.setenv("TINYGDL_DATA", str(SHARED_DATA))
    recipe = zoo.recipe("ddm", image_size=32)
    data, _ = recipe.load_data()
    assert len(data) == 5 * 960 and data[0][0].shape == (3, 32, 32)
    assert recipe.mean.shape == recipe.std.shape == (3,) and np.all((recipe.std > 0.1) & (recipe.std < 0.5))
