"""One quality table across the generative families: same data, same metrics, one command.

    tinygdl evaluate vae_fashion dcgan ddm --dataset fashion-mnist --budget-minutes 5
    tinygdl evaluate --all --from-checkpoints runs/          (evaluate finished runs, no training)

For each model: train it on the dataset within the time budget (or load ``<dir>/<model>/
checkpoint.npz``), draw the same number of samples as every other model, map real and generated
images to features with the dataset's feature network (``tinygdl.features``), and compute the
Fréchet distance, the kernel distance and precision/recall (``tinygdl.metrics``), each with its
standard error, plus the model's own likelihood where it has one (read from its run report, units
in the column name, never mixed), its parameter count, training time and sampling speed.  Anchor
rows put the numbers on a scale: real test images against the real training images (the best a
model can do at this sample count), and Gaussian noise (the worst).

``quality.md`` gets the table and ``quality.png`` a sample sheet, one labelled row per model.

Adding a model to the table is one small function in ``IMAGE_MODELS`` below: given the recipe and
its trained networks, return ``n`` samples as an (n, C, H, W) array in [0, 1].

Models that are not image models get small tables of their own in the same ``quality.md`` (text:
held-out perplexity; music; the 2-D flow: test NLL per point), one entry each in ``OTHER_MODELS``:
a function that returns the row's columns (titles with their units) from the recipe, the trained
networks, the run's report and its history.  They train on their own data, not ``--dataset``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import backend, latent, metrics, plot
from .checkpoint import load_checkpoint
from .data import resize
from .errors import ConfigError
from .features import FEATURE_DATASETS, FeatureNetwork
from .models import pixelcnn as pc
from .tensor import no_grad
from .zoo import recipe as make_recipe
from .zoo.images import SHAPES, load_images
from .zoo.run import train

# --------------------------------------------------------------------------- the models' sample functions


def _unit(images, value_range) -> np.ndarray:
    low, high = value_range
    return np.clip((np.asarray(images, dtype=np.float64) - low) / (high - low), 0.0, 1.0)


def _gan_samples(recipe, models, n):
    return _unit(recipe.generate(models, n), recipe.value_range)


def _vae_samples(recipe, models, n):
    model = models["model"]
    return _unit(latent.decode(model, latent.prior_samples(n, model.latent_dim, seed=1)), (0, 1))


def _autoencoder_samples(recipe, models, n):
    """The book's way: decode points drawn uniformly in the box of the test images' codes."""
    model = models["model"]
    points = latent.codes(model, recipe.test_arrays()[0][:5000])
    return _unit(latent.decode(model, latent.box_samples(points, n, seed=1)), (0, 1))


def _ddm_samples(recipe, models, n):
    return recipe.generate(models, recipe.noise(n, np.random.default_rng(1)), steps=20, eta=0.0)


def _pixelcnn_samples(recipe, models, n):
    """4 grey levels at 16x16, level k shown as k/3 (black to white), as the recipe's own grids."""
    backend.manual_seed(1)
    levels = pc.sample_pixelcnn(models["model"], n, recipe.image_size, device=models["model"].device)
    return backend.to_numpy(levels).astype(np.float64) / (recipe.levels - 1)


def _pixelcnn_md_samples(recipe, models, n):
    backend.manual_seed(1)
    values = pc.sample_pixelcnn_plus_plus(models["model"], n, recipe.image_size, device=models["model"].device)
    return backend.to_numpy(values).astype(np.float64) / 255.0


def _ebm_samples(recipe, models, n):
    chains = recipe.generate(models["model"], n, recipe.sample_steps, recipe.sample_steps, seed=1)
    return _unit(chains[-1], (-1, 1))


@dataclass(frozen=True)
class ImageModel:
    sample: Callable  # sample(recipe, models, n) -> (n, C, H, W) in [0, 1]
    likelihood: tuple = ()  # (column title, report key, sign) for the numbers of the run's report.json
    padded: bool = True  # 28x28 images are zero-padded to 32x32 for this model (the book's convention)


def native_view(images: np.ndarray, dataset: str, padded: bool) -> np.ndarray:
    """Samples of a model trained on zero-padded 28x28 images, brought back to the data's 28x28:
    resized to the padded 32x32 if needed, then the 2-pixel border cropped.  (Resizing 32 -> 28
    instead would shrink the content and bias every metric against the model.)"""
    native = SHAPES[dataset][-1]
    if not padded or native != 28 or images.shape[-1] == native:
        return images
    if images.shape[-1] != 32:
        images = resize(images, (32, 32))
    return images[..., 2:30, 2:30]


NELBO = ("−ELBO (nats/image)", "test_elbo", -1.0)
NIWAE = ("−IWAE k=50 bound (nats/image)", "test_iwae_k50", -1.0)
BITS_PER_PIXEL = ("NLL (bits/pixel over 4 levels, 16×16)", "test_bits_per_pixel", 1.0)
BITS_PER_DIM = ("NLL (bits/dim over 256 values)", "test_bits_per_dim", 1.0)
IMAGE_MODELS = {
    "autoencoder": ImageModel(_autoencoder_samples),
    "vae_fashion": ImageModel(_vae_samples, (NELBO, NIWAE)),
    "vae_faces": ImageModel(_vae_samples, (NELBO, NIWAE)),
    "gan": ImageModel(_gan_samples),
    "dcgan": ImageModel(_gan_samples),
    "wgan": ImageModel(_gan_samples),
    "wgan_gp": ImageModel(_gan_samples),
    "cgan": ImageModel(_gan_samples),
    "pixelcnn": ImageModel(_pixelcnn_samples, (BITS_PER_PIXEL,), padded=False),  # resized to 16x16
    "pixelcnn_md": ImageModel(_pixelcnn_md_samples, (BITS_PER_DIM,), padded=False),  # resized to 32x32
    "ebm": ImageModel(_ebm_samples),  # the book pads MNIST to 32x32 too
    "ddm": ImageModel(_ddm_samples, padded=False),  # resized to its image_size (64), not padded
}


# --------------------------------------------------------------------------- one row


@dataclass
class Row:
    model: str
    parameters: int = 0
    train_seconds: float = float("nan")
    samples_per_second: float = float("nan")
    scores: dict = field(default_factory=dict)  # metric -> (value, standard error)
    likelihood: dict = field(default_factory=dict)  # column -> value
    images: np.ndarray | None = None
    note: str = ""


def score(features_real: np.ndarray, features_fake: np.ndarray, seed: int = 0) -> dict:
    """Every metric of one feature set against the real one, each with its standard error."""
    fd = metrics.frechet_distance(features_real, features_fake)
    fd_se = metrics.bootstrap(metrics.frechet_distance, features_real, features_fake, rounds=5, seed=seed)
    kid, kid_se = metrics.kernel_distance(features_real, features_fake, subsets=20,
                                          subset_size=min(500, len(features_fake)), seed=seed)
    precision, recall = metrics.precision_recall(features_real, features_fake)
    return {"FD": (fd, fd_se), "KD ×1e3": (1e3 * kid, 1e3 * kid_se),
            "precision": (precision, metrics.proportion_se(precision, len(features_fake))),
            "recall": (recall, metrics.proportion_se(recall, len(features_real)))}


def _parameters(models: dict) -> int:
    """The trained networks' parameters; the diffusion model's EMA copy of its U-Net is not counted twice."""
    return int(sum(m.num_parameters() for role, m in models.items() if role != "ema"))


def _trained(name: str, dataset: str, budget_seconds: float, out_dir: str, from_checkpoints: str | None,
             overrides: dict, progress: bool):
    """(recipe, models, train seconds) of a model trained now, or loaded from a finished run."""
    seconds = float("nan")
    run_dir = os.path.join(from_checkpoints or out_dir, name)
    if from_checkpoints is None:
        start = time.perf_counter()
        train(name, dataset, epochs=10_000, out_dir=run_dir, time_limit=budget_seconds, progress=progress,
              **overrides)
        seconds = time.perf_counter() - start
    saved = load_checkpoint(os.path.join(run_dir, "checkpoint.npz"))
    recipe = make_recipe(name, saved.extra.get("dataset"), **saved.extra.get("overrides", {}))
    recipe.load_state_dict(saved.state)
    recipe.load_data()
    models = recipe.build()
    saved.restore(models, rng=False)
    return recipe, models, seconds, run_dir


def evaluate_model(name: str, network: FeatureNetwork, features_real: np.ndarray, n: int, *, dataset: str,
                   budget_seconds: float, out_dir: str, from_checkpoints: str | None = None,
                   overrides: dict | None = None, progress: bool = True) -> Row:
    spec = IMAGE_MODELS[name]
    recipe, models, seconds, run_dir = _trained(name, dataset, budget_seconds, out_dir, from_checkpoints,
                                                overrides or {}, progress)
    for model in models.values():
        model.eval()
    start = time.perf_counter()
    with no_grad():
        images = spec.sample(recipe, models, n)
    rate = n / (time.perf_counter() - start)
    report = _read_report(run_dir)
    likelihood = {title: sign * report[key] for title, key, sign in spec.likelihood if key in report}
    images = native_view(images, dataset, spec.padded)
    return Row(name, _parameters(models), seconds, rate, score(features_real, network.features(images)),
               likelihood, images)


def _read_report(run_dir: str) -> dict:
    path = os.path.join(run_dir, "report.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def anchor_rows(network: FeatureNetwork, f_train: np.ndarray, real_test: np.ndarray, n: int, seed: int = 0) -> list:
    """Real test images (the best score at this sample count) and Gaussian noise (the worst)."""
    noise = np.clip(np.random.default_rng(seed).normal(0.5, 0.25, real_test[:n].shape), 0, 1)
    return [Row("(real test images)", scores=score(f_train, network.features(real_test[:n])), images=real_test[:n]),
            Row("(Gaussian noise)", scores=score(f_train, network.features(noise)), images=noise)]


# --------------------------------------------------------------------------- the other families' small tables


def _rate(count: int, work: Callable) -> float:
    """``count`` items per second of ``work()``."""
    start = time.perf_counter()
    with no_grad():
        work()
    return count / (time.perf_counter() - start)


def _text_columns(recipe, models, report, history):
    """Held-out perplexity over the non-padding targets (the recipe's exact count) and generation speed."""
    model, rng = models["model"], np.random.default_rng(0)
    prompt = recipe.prompt_ids(recipe.default_prompt)
    start = time.perf_counter()
    with no_grad():
        generated = recipe.generate(model, recipe.default_prompt, max_tokens=recipe.sample_options["max_tokens"],
                                    rng=rng)
    seconds = time.perf_counter() - start
    measured = report if "held_out_perplexity" in report else recipe.held_out_perplexity(model)
    return {"held-out perplexity (per token, non-padding targets)": measured.get("held_out_perplexity", math.nan),
            "held-out tokens": measured.get("held_out_tokens", math.nan),
            "generated tokens/s": (len(generated) - len(prompt)) / seconds}


def _music_transformer_columns(recipe, models, report, history):
    """The last epoch's validation cross-entropies (nats per token; the loss is their sum) as perplexities."""
    last = history[-1] if history else {}
    start = time.perf_counter()
    with no_grad():
        notes, _ = recipe.generate(models["model"], **recipe.sample_options)  # stops early at a drawn START
    return {"val loss (nats/(note, duration) pair)": last.get("val_loss", math.nan),
            "note perplexity (val)": math.exp(last.get("val_note_loss", math.nan)),
            "duration perplexity (val)": math.exp(last.get("val_duration_loss", math.nan)),
            "generated pairs/s": (len(notes) - 1) / (time.perf_counter() - start)}  # less the (START, 0.0) prompt


def _musegan_columns(recipe, models, report, history):
    """A GAN has no likelihood: the last epoch's critic Wasserstein loss (E critic(fake) − E critic(real))."""
    generator, count = models["generator"], 16
    noise = recipe.fixed_noise(count, generator)
    return {"critic Wasserstein loss (last epoch)": (history[-1] if history else {}).get("c_wass_loss", math.nan),
            "pieces/s (4 tracks × 2 bars)": _rate(count, lambda: recipe.generate(generator, noise))}


def _realnvp_columns(recipe, models, report, history):
    """Test NLL in nats per 2-D point (data units) against a 10-component Gaussian mixture fitted on as
    many fresh training moons: a strong classical density estimator on the same test points."""
    from sklearn.mixture import GaussianMixture

    from .data.toy import make_moons
    from .zoo.flows import TEST_SEED

    test = make_moons(recipe.test_points, noise=recipe.noise, seed=TEST_SEED)[0]
    nll = report.get("test_nll_data_units")
    if nll is None:
        nll = -float(recipe.log_density(models["model"], test).mean())
    mixture = GaussianMixture(10, random_state=0).fit(make_moons(recipe.points, noise=recipe.noise, seed=0)[0])
    count = 10_000
    return {"test NLL (nats/point, data units)": nll,
            "GaussianMixture(10) test NLL (nats/point)": -float(mixture.score(test)),
            "points/s": _rate(count, lambda: recipe.generate(models["model"], count))}


@dataclass(frozen=True)
class OtherModel:
    table: str  # the small table the row goes in
    columns: Callable  # columns(recipe, models, report, history) -> {title with units: value}


TEXT, MUSIC, FLOW = "Text: held-out perplexity", "Music", "2-D flow: two moons"
OTHER_MODELS = {
    "lstm": OtherModel(TEXT, _text_columns),
    "gpt": OtherModel(TEXT, _text_columns),
    "music_transformer": OtherModel(MUSIC, _music_transformer_columns),
    "musegan": OtherModel(MUSIC, _musegan_columns),
    "realnvp": OtherModel(FLOW, _realnvp_columns),
}


@dataclass
class OtherRow:
    model: str
    dataset: str
    table: str
    parameters: int
    train_seconds: float
    columns: dict


def evaluate_other(name: str, *, budget_seconds: float, out_dir: str, from_checkpoints: str | None = None,
                   overrides: dict | None = None, progress: bool = True) -> OtherRow:
    """A text, music or flow model trained on its own data (``overrides["dataset"]``, else its default)."""
    overrides = dict(overrides or {})
    dataset = overrides.pop("dataset", None)
    recipe, models, seconds, run_dir = _trained(name, dataset, budget_seconds, out_dir, from_checkpoints,
                                                overrides, progress)
    for model in models.values():
        model.eval()
    spec = OTHER_MODELS[name]
    columns = spec.columns(recipe, models, _read_report(run_dir), _read_history(run_dir))
    return OtherRow(name, recipe.dataset, spec.table, _parameters(models), seconds, columns)


def _read_history(run_dir: str) -> list:
    """history.csv's rows as dicts of floats (empty cells left out)."""
    path = os.path.join(run_dir, "history.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


def other_tables(rows: list) -> str:
    """One small markdown table per family, its columns those its models report."""
    parts = []
    for table in dict.fromkeys(row.table for row in rows):
        members = [row for row in rows if row.table == table]
        titles = list(dict.fromkeys(title for row in members for title in row.columns))
        header = ["model", "data", *titles, "parameters", "train s"]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in members:
            cells = [row.model, row.dataset, *(_value(row.columns.get(t, math.nan)) for t in titles),
                     f"{row.parameters:,}", _number(row.train_seconds)]
            lines.append("| " + " | ".join(cells) + " |")
        parts.append(f"## {table}\n\n" + "\n".join(lines) + "\n")
    return "\n".join(parts)


def _value(value: float) -> str:
    if value != value:
        return ""
    return f"{value:,.0f}" if isinstance(value, int) or abs(value) >= 1000 else f"{value:.3f}"



# --------------------------------------------------------------------------- the table


def markdown(rows: list, dataset: str, n: int, network: FeatureNetwork) -> str:
    metric_names = ["FD", "KD ×1e3", "precision", "recall"]
    likelihood_names = sorted({title for row in rows for title in row.likelihood})
    header = ["model", *metric_names, *likelihood_names, "parameters", "train s", "samples/s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row.model]
        cells += [f"{row.scores[m][0]:.3f} ± {row.scores[m][1]:.3f}" if m in row.scores else "" for m in metric_names]
        cells += [f"{row.likelihood[t]:.2f}" if t in row.likelihood else "" for t in likelihood_names]
        cells += [f"{row.parameters:,}" if row.parameters else "", _number(row.train_seconds),
                  _number(row.samples_per_second)]
        lines.append("| " + " | ".join(cells) + " |" + (f" {row.note}" if row.note else ""))
    return (f"# Sample quality on {dataset}\n\n"
            f"{n} samples per model; features: the {dataset} feature network "
            f"(test accuracy {network.test_accuracy:.4f}). FD: Fréchet distance; KD: kernel distance "
            "(unbiased MMD², cubic kernel) ×1e3; precision/recall: k-NN manifolds (k = 3); ± standard "
            "errors (bootstrap for FD, subsets for KD, binomial for precision/recall). Lower FD and KD "
            "are better, higher precision and recall.\n\n" + "\n".join(lines) + "\n")


def _number(value: float) -> str:
    return "" if value != value else f"{value:.1f}"  # NaN -> empty


def sample_sheet(rows: list, path: str, per_row: int = 10) -> str:
    images = [_as_grey_or_rgb(row.images[:per_row], rows) for row in rows if row.images is not None]
    titles = [row.model if i == 0 else "" for row in rows if row.images is not None for i in range(per_row)]
    return plot.image_grid(np.concatenate(images), path, nrow=per_row, titles=titles, value_range=(0, 1))


def _as_grey_or_rgb(images: np.ndarray, rows: list) -> np.ndarray:
    """Every row at one size and channel count, so the sheet is one grid."""
    size = max(r.images.shape[-1] for r in rows if r.images is not None)
    channels = max(r.images.shape[1] for r in rows if r.images is not None)
    images = resize(images, (size, size)) if images.shape[-1] != size else images
    return np.repeat(images, channels, axis=1) if images.shape[1] != channels else images


def evaluate(names: list, dataset: str = "fashion-mnist", budget_minutes: float = 5.0, n: int = 1000,
             out_dir: str = "runs/quality", from_checkpoints: str | None = None, progress: bool = True,
             overrides: dict | None = None, network: FeatureNetwork | None = None, log=print) -> str:
    """Train (or load) each model, score it, and write ``quality.md`` (and ``quality.png`` when image
    models are named); return the tables.

    ``overrides`` maps a model to its settings (``{"dcgan": {"image_size": 32}}``; a text, music or
    flow model may name its ``dataset`` there); ``network`` is the feature network (default: the
    dataset's cached one, trained on first use)."""
    unknown = [name for name in names if name not in IMAGE_MODELS and name not in OTHER_MODELS]
    if unknown:
        raise ConfigError(f"no quality row for {', '.join(unknown)}; evaluate covers "
                         f"{', '.join([*IMAGE_MODELS, *OTHER_MODELS])}")
    images = [name for name in names if name in IMAGE_MODELS]
    if images and dataset not in FEATURE_DATASETS:
        raise ConfigError(f"no feature network for {dataset!r}; choose one of {', '.join(FEATURE_DATASETS)}")
    os.makedirs(out_dir, exist_ok=True)
    settings = dict(budget_seconds=60 * budget_minutes, out_dir=out_dir, from_checkpoints=from_checkpoints,
                    progress=progress)
    parts, other_rows = [], []
    for name in (name for name in names if name in OTHER_MODELS):
        log(f"{name}: {'loading' if from_checkpoints else 'training'} (on its own data)")
        other_rows.append(evaluate_other(name, overrides=(overrides or {}).get(name), **settings))
    if images:
        parts.append(_image_table(images, dataset, n, network, overrides or {}, log, settings))
    if other_rows:
        parts.append(other_tables(other_rows))
    table = "\n".join(parts)
    with open(os.path.join(out_dir, "quality.md"), "w") as f:
        f.write(table)
    return table


def _image_table(names: list, dataset: str, n: int, network, overrides: dict, log, settings: dict) -> str:
    log(f"feature network for {dataset} (trained once, then cached)")
    network = network or FeatureNetwork.load_or_train(dataset, progress=settings["progress"])
    splits = load_images(dataset)
    f_train = network.features(splits.x_train[:max(n, 2000)])  # the real side of every comparison
    rows = []
    for index, name in enumerate(names, 1):
        log(f"[{index}/{len(names)}] {name}: {'loading' if settings['from_checkpoints'] else 'training'}")
        rows.append(evaluate_model(name, network, f_train, n, dataset=dataset, overrides=overrides.get(name),
                                   **settings))
        log(f"    FD {rows[-1].scores['FD'][0]:.2f}")
    rows += anchor_rows(network, f_train, splits.x_test, n)
    sample_sheet(rows, os.path.join(settings["out_dir"], "quality.png"))
    return markdown(rows, dataset, n, network)


__all__ = ["IMAGE_MODELS", "OTHER_MODELS", "ImageModel", "OtherModel", "Row", "evaluate", "evaluate_model",
           "evaluate_other", "markdown", "other_tables", "score"]
