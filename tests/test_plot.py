"""PNG helpers: each writes a readable PNG, accepts every layout and value range, refuses bad shapes."""

import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest

import tinygdl
from tinygdl import plot
from tinygdl.training import History

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_png(path):
    """Check the file is a non-empty PNG and return its pixels (H, W, 4)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data.startswith(PNG_SIGNATURE) and len(data) > len(PNG_SIGNATURE)
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    return pixels


def batch(layout="NCHW", channels=1, value_range=(0, 1), n=4, size=8, dtype=np.float32):
    rng = np.random.default_rng(0)
    images = rng.uniform(*value_range, size=(n, channels, size, size)).astype(dtype)
    return images if layout == "NCHW" else images.transpose(0, 2, 3, 1)


# --------------------------------------------------------------------------- image conversion


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("value_range", [(0, 1), (0, 255), (-1, 1)])
def test_every_layout_and_range_maps_to_the_same_unit_images(layout, channels, value_range):
    unit = batch("NHWC", channels)
    low, high = value_range
    images = batch(layout, channels) * (high - low) + low
    images = images if layout == "NCHW" else images.reshape(unit.shape)
    converted = plot.to_images(images)
    assert converted.shape == (4, 8, 8, channels)
    assert np.allclose(converted, unit, atol=1e-6)
    assert np.allclose(plot.to_images(images, value_range=value_range, layout=layout), unit, atol=1e-6)


def test_uint8_grey_batches_and_tensors():
    images = (batch() * 255).astype(np.uint8)
    assert plot.to_images(images).max() <= 1.0
    assert plot.to_images(images[:, 0]).shape == (4, 8, 8, 1)  # (N, H, W) grey
    assert np.allclose(plot.to_images(tinygdl.tensor(batch())), plot.to_images(batch()))
    assert plot.to_images(np.full((1, 1, 2, 2), 5.0), value_range=(0, 10)).max() == 0.5


@pytest.mark.parametrize("shape", [(8, 8), (2, 5, 8, 8), (2, 1, 8, 8, 1)])
def test_bad_shapes_are_refused_clearly(shape, tmp_path):
    with pytest.raises(ValueError, match="shape|channel"):
        plot.image_grid(np.zeros(shape), tmp_path / "bad.png")


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="layout"):
        plot.to_images(batch(), layout="CHWN")
    with pytest.raises(ValueError, match="value_range"):
        plot.to_images(batch(), value_range=(1, 1))
    with pytest.raises(ValueError, match="3 titles for 4 images"):
        plot.image_grid(batch(), tmp_path / "a.png", titles=["a", "b", "c"])


# --------------------------------------------------------------------------- the figures


@pytest.mark.parametrize("layout, channels", [("NCHW", 1), ("NHWC", 3)])
def test_image_grid_writes_a_png_of_the_expected_size(tmp_path, layout, channels):
    path = plot.image_grid(batch(layout, channels), tmp_path / "grid.png", nrow=2)
    assert path == str(tmp_path / "grid.png")
    height, width, _ = read_png(path).shape
    # 2 × 2 cells of 8 px with 1 px gaps = 19 px, drawn at 8 px per inch and 100 dpi
    assert abs(height - 19 / 8 * 100) <= 1 and abs(width - 19 / 8 * 100) <= 1


def test_titles_make_room_under_each_image(tmp_path):
    plain = read_png(plot.image_grid(batch(), tmp_path / "plain.png", nrow=4))
    titled = read_png(plot.image_grid(batch(), tmp_path / "titled.png", nrow=4, titles=["a\nb"] * 4))
    assert titled.shape[0] > plain.shape[0] and titled.shape[1] == plain.shape[1]


def test_reconstructions_two_rows(tmp_path):
    originals = batch("NCHW", 3, value_range=(-1, 1))
    pixels = read_png(plot.reconstructions(originals, originals * 0.5, tmp_path / "rec.png", value_range=(-1, 1)))
    assert pixels.shape[1] > 1.5 * pixels.shape[0]  # four across, two down
    with pytest.raises(ValueError, match="same shape"):
        plot.reconstructions(originals, originals[:2], tmp_path / "bad.png")


def test_prediction_strip(tmp_path):
    names = ["cat", "dog", "ship"]
    predicted, actual = np.array([0, 1, 2, 2]), tinygdl.tensor(np.array([0, 1, 2, 0]))
    images = batch("NHWC", 3, (0, 255))
    path = plot.prediction_strip(images, predicted, actual, tmp_path / "strip.png", class_names=names)
    pixels = read_png(path)
    assert pixels.shape[1] > 2.5 * pixels.shape[0]  # one row of four, with two lines of text under each
    with pytest.raises(ValueError, match="3 predictions"):
        plot.prediction_strip(batch(), [0, 1, 2], [0, 1, 2, 3], tmp_path / "bad.png")


def test_latent_grid_decodes_points_top_row_highest(tmp_path):
    seen = []

    def decode(z):
        seen.append(z)
        return np.broadcast_to(((z[:, :1] + 2) / 4)[:, :, None, None], (len(z), 1, 6, 6))

    read_png(plot.latent_grid(decode, tmp_path / "latent.png", n=3, x_range=(-2, 2), y_range=(-1, 1)))
    (points,) = seen
    assert points.dtype == np.float32 and points.shape == (9, 2)
    assert points[:3].tolist() == [[-2, 1], [0, 1], [2, 1]] and points[-1].tolist() == [2, -1]


def test_loss_curves_from_a_history_or_a_dict(tmp_path):
    history = History()
    for epoch, (loss, acc) in enumerate([(1.0, 0.5), (0.6, 0.7), (0.4, 0.8)]):
        history.record_epoch(epoch, {"loss": loss, "accuracy": acc, "val_loss": loss + 0.1, "val_accuracy": acc})
    wide = read_png(plot.loss_curves(history, tmp_path / "curves.png"))
    narrow = read_png(plot.loss_curves({"loss": [3, 2, 1], "val_loss": [3, 3, 2]}, tmp_path / "loss.png"))
    assert wide.shape[1] == 2 * narrow.shape[1]  # one panel per metric, val_ drawn with its metric
    read_png(plot.loss_curves(history, tmp_path / "only_acc.png", keys=["accuracy"]))
    with pytest.raises(KeyError, match="kl"):
        plot.loss_curves(history, tmp_path / "bad.png", keys=["kl"])


@pytest.mark.parametrize("class_names", [None, ["a", "b", "c"]])
def test_latent_scatter(tmp_path, class_names):
    rng = np.random.default_rng(0)
    z, labels = rng.normal(size=(60, 2)), np.arange(60) % 3
    read_png(plot.latent_scatter(z, labels, tmp_path / "scatter.png", class_names=class_names))
    read_png(plot.latent_scatter(tinygdl.tensor(z), None, tmp_path / "plain.png"))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plot.latent_scatter(rng.normal(size=(5, 3)), None, tmp_path / "bad.png")
    with pytest.raises(ValueError, match="4 labels for 60 points"):
        plot.latent_scatter(z, labels[:4], tmp_path / "bad.png")


def test_folders_are_created(tmp_path):
    path = plot.image_grid(batch(), tmp_path / "samples" / "epoch-0001.png")
    read_png(path)


def test_headless_without_pyplot():
    """Importing and using tinygdl.plot never imports pyplot: no window, no global figure list."""
    code = ("import sys, numpy as np, tempfile, os; import tinygdl.plot as p; "
            "p.image_grid(np.zeros((2, 1, 4, 4)), os.path.join(tempfile.mkdtemp(), 'x.png')); "
            "print('matplotlib.pyplot' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
