"""tinygdl evaluate: the quality table end to end on digits (tiny budgets), and its one-line errors."""

from __future__ import annotations

import csv
import json
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


def test_pixelcnn_row_and_the_flow_table(network, tmp_path):
    """The PixelCNN's bits/pixel column comes from its report; the flow gets its own table, not the image one."""
    overrides = {"pixelcnn": {"filters": 8, "blocks": 1, "limit": 256, "eval_limit": 64, "epoch_samples": 0,
                              "report_samples": 0},
                 "realnvp": {"points": 1000, "test_points": 500, "hidden": 8}}
    table = evaluation.evaluate(["pixelcnn", "realnvp"], dataset="digits", n=40, budget_minutes=0.02,
                                out_dir=str(tmp_path), progress=False, network=network, log=lambda *a: None,
                                overrides=overrides)
    image_table, flow_table = table.split("## 2-D flow: two moons")
    report = json.loads((tmp_path / "pixelcnn" / "report.json").read_text())
    assert f"| {report['test_bits_per_pixel']:.2f} |" in image_table.split("| pixelcnn |")[1].splitlines()[0]
    assert "NLL (bits/pixel over 4 levels, 16×16)" in image_table and "realnvp" not in image_table
    cells = flow_table.split("| realnvp | moons | ")[1].split(" | ")
    flow_nll = json.loads((tmp_path / "realnvp" / "report.json").read_text())["test_nll_data_units"]
    assert float(cells[0]) == pytest.approx(flow_nll, abs=1e-3)
    assert 0 < float(cells[1]) < flow_nll  # the 10-Gaussian mixture beats a flow trained for a second


def test_pixelcnn_samples_are_levels_scaled_to_unit_range():
    from tinygdl.zoo import recipe

    pixelcnn = recipe("pixelcnn", "digits", filters=4, blocks=1)
    images = evaluation.IMAGE_MODELS["pixelcnn"].sample(pixelcnn, pixelcnn.build(), 3)
    assert images.shape == (3, 1, 16, 16)
    assert set(np.unique(images)) <= {0.0, 1 / 3, 2 / 3, 1.0}


def test_text_table_perplexity_from_the_report(tmp_path, monkeypatch):
    """A language model's row: the held-out perplexity its run reported, the held-out token count, tokens/s."""
    from tinygdl.data import text as text_data

    words = "the cat sat on a mat . a dog ran to the red house , then slept".split()
    rng = np.random.default_rng(0)
    documents = [" ".join(rng.choice(words, 12)) for _ in range(200)]
    monkeypatch.setattr(text_data, "load_corpus", lambda name, root=None: documents)
    table = evaluation.evaluate(["lstm"], budget_minutes=0.01, out_dir=str(tmp_path), progress=False,
                                log=lambda *a: None, overrides={"lstm": {"dataset": "pydocs", "vocab_size": 40,
                                                                         "embed_dim": 4, "hidden": 4}})
    report = json.loads((tmp_path / "lstm" / "report.json").read_text())
    assert table.startswith("## Text: held-out perplexity") and "Sample quality" not in table
    cells = table.split("| lstm | pydocs | ")[1].split(" | ")
    assert float(cells[0]) == pytest.approx(report["held_out_perplexity"], abs=1e-3)
    assert cells[1] == f"{report['held_out_tokens']:,}" and float(cells[2].replace(",", "")) > 0
    assert not (tmp_path / "quality.png").exists()  # no image models, no sample sheet


def test_music_table_validation_perplexities_from_the_history(tmp_path, monkeypatch):
    """The music Transformer's row: its last validation losses (history.csv) as perplexities, pairs/s."""
    from tinygdl.data import music as music_data

    rng = np.random.default_rng(0)
    notes = list(rng.choice(["START", "C4", "D4", "E4", "G4", "rest"], 400))
    durations = list(rng.choice(["0.0", "0.5", "1.0", "2.0"], 400))
    monkeypatch.setattr(music_data, "bach_chorale_tokens", lambda limit=None, cache=True: (notes, durations))
    settings = {"embed_dim": 4, "num_heads": 1, "key_dim": 4, "ff_dim": 4, "seq_len": 8, "held_out": 0.2}
    table = evaluation.evaluate(["music_transformer"], budget_minutes=0.01, out_dir=str(tmp_path), progress=False,
                                log=lambda *a: None, overrides={"music_transformer": settings})
    with open(tmp_path / "music_transformer" / "history.csv") as f:
        last = list(csv.DictReader(f))[-1]
    cells = table.split("| music_transformer | bach-chorales | ")[1].split(" | ")
    assert table.startswith("## Music") and float(cells[0]) == pytest.approx(float(last["val_loss"]), abs=1e-3)
    assert float(cells[1]) == pytest.approx(np.exp(float(last["val_note_loss"])), rel=1e-3)
    assert float(cells[2]) == pytest.approx(np.exp(float(last["val_duration_loss"])), rel=1e-3)


@pytest.mark.slow
def test_pixelcnn_md_row_bits_per_dim(network, tmp_path):
    """PixelCNN++ (1,024 network passes per sample at 32x32, so 8x8 here): its bits/dim column and scores."""
    settings = {"filters": 8, "image_size": 8, "limit": 256, "eval_limit": 64, "epoch_samples": 0,
                "report_samples": 0}
    table = evaluation.evaluate(["pixelcnn_md"], dataset="digits", n=20, budget_minutes=0.02, out_dir=str(tmp_path),
                                progress=False, network=network, log=lambda *a: None,
                                overrides={"pixelcnn_md": settings})
    report = json.loads((tmp_path / "pixelcnn_md" / "report.json").read_text())
    row = table.split("| pixelcnn_md | ")[1].splitlines()[0]
    assert f"| {report['test_bits_per_dim']:.2f} |" in row and "NLL (bits/dim over 256 values)" in table


def test_other_tables_one_per_family_with_units():
    rows = [evaluation.OtherRow("gpt", "pydocs", evaluation.TEXT, 1234, 5.0, {"perplexity": 99.5}),
            evaluation.OtherRow("musegan", "jsb-chorales", evaluation.MUSIC, 10, float("nan"), {"critic": -1.25}),
            evaluation.OtherRow("lstm", "pydocs", evaluation.TEXT, 10, 2.0, {"perplexity": 120.0, "tokens/s": 5e3})]
    text, music = evaluation.other_tables(rows).split("## Music")
    assert text.count("\n| ") == 3 and "| gpt | pydocs | 99.500 |  | 1,234 | 5.0 |" in text  # header, 2 rows
    assert "| musegan | jsb-chorales | -1.250 | 10 |  |" in music


def test_padded_samples_are_cropped_back_to_the_data():
    images = np.zeros((2, 1, 64, 64))
    assert evaluation.native_view(images, "fashion-mnist", padded=True).shape == (2, 1, 28, 28)
    assert evaluation.native_view(images, "digits", padded=True).shape == (2, 1, 64, 64)


@pytest.mark.parametrize("arguments, message", [
    ([], "name the models to evaluate"),
    (["cnn"], "no quality row for cnn"),
    (["dcgan", "--set", "image_size=32"], "MODEL.KEY=VALUE"),
    (["dcgan", "--budget-minutes", "0"], "--budget-minutes must be positive"),
])
def test_cli_errors_are_one_line(arguments, message):
    result = subprocess.run([sys.executable, "-m", "tinygdl", "evaluate", *arguments], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
