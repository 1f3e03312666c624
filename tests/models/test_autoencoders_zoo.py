"""The chapter-3 zoo entries (tinygdl.zoo.autoencoders): registered, built with the spec's parameter
counts, printed by `tinygdl summary`, trained end to end offline on the bundled digits (checkpoints,
PNGs, report numbers), sampled from a checkpoint; the CelebA folder path on a fake CelebA; the
book's Fashion-MNIST padding on the real files when they are present."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tinygdl
from tinygdl import cli, zoo
from tinygdl.data import ArrayDataset
from tinygdl.zoo import autoencoders as recipes
from tinygdl.zoo.run import sample, train

BOOK = {"autoencoder": 343_043, "vae_fashion": 347_141, "vae_faces": 1_354_387}
HANDS_ON = ("ae_stacked", "ae_tied", "ae_conv", "ae_recurrent", "ae_denoising", "ae_sparse")
# Small and quick: 16x16 digits, a few steps, a short report.
QUICK = dict(dataset="digits", epochs=1, steps_per_epoch=2, progress=False, image_size=16, eval_limit=24)
SHARED_DATA = Path(os.environ.get("TINYGDL_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")


def test_every_model_is_registered():
    assert set(BOOK) | set(HANDS_ON) <= set(zoo.names())
    assert {recipe.name for recipe in recipes.RECIPES} == set(BOOK) | set(HANDS_ON)


@pytest.mark.parametrize("name", sorted(BOOK))
def test_book_models_have_the_spec_parameter_count(name, capsys):
    model = zoo.build(name)
    total = model.num_parameters() + sum(b.size for b in model.buffers(persistent_only=True))
    assert total == BOOK[name]
    assert cli.main(["summary", name]) == 0
    assert f"Total params: {BOOK[name]:,}" in capsys.readouterr().out


def test_the_models_table_lists_them(capsys):
    assert cli.main(["models"]) == 0
    table = capsys.readouterr().out
    for name, count in BOOK.items():
        assert any(line.split()[0] == name and f"{count:,}" in line for line in table.splitlines())


def test_book_defaults():
    fashion, faces = zoo.recipe("vae_fashion"), zoo.recipe("vae_faces")
    assert (fashion.dataset, fashion.epochs, fashion.batch_size, fashion.lr, fashion.beta) == \
        ("fashion-mnist", 5, 100, 5e-4, 500.0)
    assert (faces.dataset, faces.epochs, faces.batch_size, faces.lr, faces.beta, faces.latent_dim) == \
        ("cifar10", 10, 128, 5e-4, 2000.0, 200)
    autoencoder = zoo.recipe("autoencoder")
    assert (autoencoder.epochs, autoencoder.batch_size, autoencoder.lr) == (3, 100, 1e-3)
    assert autoencoder.input_shape() == (1, 32, 32)
    assert zoo.recipe("autoencoder", dataset="digits").image_options() == {"pad_to": None, "image_size": 32}
    assert zoo.recipe("ae_stacked").input_shape() == (1, 28, 28)


def test_train_vae_fashion_offline_writes_checkpoint_pngs_and_report(tmp_path):
    result = train("vae_fashion", out_dir=str(tmp_path), channels=(8, 16), iwae_k=3, iwae_limit=10, **QUICK)
    written = {os.path.basename(path) for path in result.files}
    assert {"checkpoint.npz", "loss.png", "report.json", "reconstructions.png", "prior_samples.png",
            "latent_histograms.png", "interpolation.png", "attribute_arithmetic.png", "latent_space.png",
            "latent_grid.png"} <= written
    assert (tmp_path / "samples" / "epoch-0001.png").exists()
    report = json.loads((tmp_path / "report.json").read_text())
    for key in ("test_loss", "test_reconstruction_loss", "test_kl_loss", "test_elbo", "test_iwae_k3"):
        assert np.isfinite(report[key])
    assert report["test_elbo"] < 0 and report["iwae_images"] == 10
    png = sample(str(tmp_path / "checkpoint.npz"), n=4, out=str(tmp_path / "drawn.png"))
    assert Path(png).read_bytes()[:4] == b"\x89PNG"


def test_train_book_autoencoder_offline(tmp_path):
    result = train("autoencoder", out_dir=str(tmp_path), channels=(8, 16), **QUICK)
    written = {os.path.basename(path) for path in result.files}
    assert {"reconstructions.png", "box_samples.png", "latent_space.png", "latent_grid.png"} <= written
    assert 0 < result.report["test_loss"] < 1


def test_cli_train_vae_fashion_on_digits(tmp_path, capsys):
    argv = ["train", "vae_fashion", "--dataset", "digits", "--epochs", "1", "--steps-per-epoch", "1",
            "--image-size", "16", "--limit", "64", "--set", "channels=4,8", "--set", "iwae_k=2",
            "--set", "eval_limit=16", "--quiet", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    assert "test_elbo" in capsys.readouterr().out


@pytest.mark.parametrize("name", HANDS_ON)
def test_hands_on_recipes_train_and_evaluate(name):
    recipe = zoo.recipe(name, dataset="digits", limit=16)
    train_data, test_data = recipe.load_data()
    models = recipe.build()
    step = recipe.train_step(models, recipe.optimizers(models))
    batch = tuple(tinygdl.tensor(array) for array in train_data[np.arange(8)])
    logs = step(batch)
    assert np.isfinite(logs["loss"])
    assert set(recipe.eval_step(models)(batch)) == set(logs)


def test_hands_on_reports(tmp_path):
    for name, extra in (("ae_denoising", "denoised.png"), ("ae_sparse", None)):
        recipe = zoo.recipe(name, dataset="digits", eval_limit=20)
        report = recipe.report(recipe.build(), str(tmp_path))
        assert np.isfinite(report["test_loss"])
        if extra:
            assert (tmp_path / extra).exists()
    assert 0 < report["mean_coding_activation"] < 1 and "test_penalty" in report


def test_vae_faces_on_a_fake_celeba_folder(tmp_path):
    """The image-folder path: CelebA's attribute CSV and img_align_celeba/ (Kaggle's nesting)."""
    folder = tmp_path / "img_align_celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = ["image_id,Smiling,Blond_Hair"]
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (20, 18, 3), dtype=np.uint8)).save(folder / f"{i:06d}.jpg")
        rows.append(f"{i:06d}.jpg,{1 if i % 2 else -1},{1 if i < 3 else -1}")
    (tmp_path / "list_attr_celeba.csv").write_text("\n".join(rows) + "\n")
    recipe = zoo.recipe("vae_faces", dataset="celeba", celeba_dir=str(tmp_path), image_size=8, channels=(4, 4),
                        latent_dim=3, iwae_k=2)
    train_data, test_data = recipe.load_data()
    assert (len(train_data), len(test_data)) == (8, 2)
    x, attributes = train_data[np.arange(4)]
    assert x.shape == (4, 3, 8, 8) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert attributes.shape == (4, 2)
    models = recipe.build()
    logs = recipe.train_step(models, recipe.optimizers(models))(tuple(tinygdl.tensor(a) for a in (x, attributes)))
    assert np.isfinite(logs["loss"])
    assert recipe.class_names() == ["Smiling", "Blond_Hair"]
    np.testing.assert_array_equal(recipe.has_attribute(np.array([[1, -1], [-1, 1]])), [True, False])
    with pytest.raises(ValueError, match="unknown CelebA attribute"):
        zoo.recipe("vae_faces", dataset="celeba", celeba_dir=str(tmp_path), attribute="Hat").has_attribute(attributes)


def test_class_labels_stand_in_for_attributes():
    recipe = zoo.recipe("vae_fashion", dataset="digits", attribute="3")
    np.testing.assert_array_equal(recipe.has_attribute(np.array([3, 1, 3])), [True, False, True])
    with pytest.raises(ValueError, match="unknown attribute"):
        zoo.recipe("vae_fashion", dataset="digits", attribute="ten").has_attribute(np.array([1]))


def test_load_data_gives_image_label_pairs():
    train_data, test_data = zoo.recipe("vae_fashion", dataset="digits", image_size=16).load_data()
    assert isinstance(train_data, ArrayDataset)
    x, y = test_data[np.arange(3)]
    assert x.shape == (3, 1, 16, 16) and y.dtype.kind == "i"


def test_fashion_mnist_is_zero_padded_to_32(monkeypatch):
    if not (SHARED_DATA / "fashion-mnist").is_dir():
        pytest.skip(f"Fashion-MNIST not found in {SHARED_DATA} (set TINYGDL_DATA to run this test)")
    monkeypatch.setenv("TINYGDL_DATA", str(SHARED_DATA))
    x = zoo.recipe("vae_fashion", limit=100).splits().x_train
    assert x.shape == (100, 1, 32, 32)
    assert np.all(x[:, :, :2] == 0) and np.all(x[:, :, :, -2:] == 0) and x.max() == 1.0
