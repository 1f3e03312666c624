"""Train a zoo model end to end, or sample from a checkpoint: what ``tinygdl train`` and
``tinygdl sample`` run.

A run folder (``runs/<model>`` by default) receives ``checkpoint.npz`` (every epoch, atomically),
``samples/epoch-NNNN.png`` (every epoch), ``history.csv``, ``loss.png`` and whatever the model's
recipe reports at the end (for a classifier ``predictions.png`` and the test accuracy), plus
``report.json`` with the final numbers.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from .. import backend, plot
from ..checkpoint import load_checkpoint
from ..data import DataLoader
from ..tensor import no_grad
from ..training import CSVLogger, ModelCheckpoint, SampleSaver, Trainer
from . import recipe as make_recipe


@dataclass
class RunResult:
    out_dir: str
    history: object
    report: dict
    files: list


def train(name: str, dataset: str | None = None, epochs: int | None = None, batch_size: int | None = None,
          device: str = "cpu", out_dir: str | None = None, seed: int = 0, resume: str | None = None,
          steps_per_epoch: int | None = None, progress: bool = True, **overrides) -> RunResult:
    """Train zoo model ``name`` with the book's settings (changed by the arguments) and write the run folder."""
    if resume is not None:
        _check_resume_matches(resume, name)
    backend.manual_seed(seed)
    recipe = make_recipe(name, dataset, **overrides)
    out_dir = out_dir or os.path.join("runs", name)
    train_data, val_data = recipe.load_data()
    models = {role: model.to(device) for role, model in recipe.build().items()}
    optimizers = recipe.optimizers(models)
    batch_size = batch_size or recipe.batch_size
    loader = DataLoader(train_data, batch_size, shuffle=True, seed=seed, device=device)
    eval_step = recipe.eval_step(models)
    val_loader = DataLoader(val_data, batch_size, device=device) if val_data is not None and eval_step else None
    callbacks = [
        SampleSaver(lambda path: recipe.sample(models, path)),
        CSVLogger("history.csv"),
        ModelCheckpoint("checkpoint.npz"),
    ]
    trainer = Trainer(recipe.train_step(models, optimizers), loader, models, optimizers, eval_step=eval_step,
                      val_loader=val_loader if eval_step else None, callbacks=callbacks, out_dir=out_dir,
                      steps_per_epoch=steps_per_epoch, progress=progress,
                      extra={**recipe.describe(), "batch_size": batch_size, "seed": seed}, state=recipe)
    history = trainer.fit(epochs or recipe.epochs, resume=resume)
    plot.loss_curves(history, os.path.join(out_dir, "loss.png"))
    with trainer.evaluating():
        report = recipe.report(models, out_dir)
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump({"model": name, "dataset": recipe.dataset, "epochs": trainer.epoch, **report}, f, indent=2)
    files = sorted(os.path.join(out_dir, f) for f in os.listdir(out_dir)
                   if f.endswith((".png", ".npz", ".json", ".csv")))
    return RunResult(out_dir, history, report, files)


def sample(checkpoint: str, n: int = 16, out: str | None = None, device: str = "cpu", seed: int = 0,
           options: dict | None = None) -> str:
    """Rebuild the model saved in ``checkpoint`` (a ``tinygdl train`` run) and write a PNG of samples.

    ``options`` are the model's sampling settings (its recipe's ``sample_options``)."""
    saved = load_checkpoint(checkpoint)
    if "zoo" not in saved.extra:
        raise ValueError(f"{checkpoint} was not written by `tinygdl train` (it does not name a zoo model)")
    backend.manual_seed(seed)
    recipe = make_recipe(saved.extra["zoo"], saved.extra.get("dataset"), **saved.extra.get("overrides", {}))
    options = recipe.sampling_options(options or {})
    recipe.load_state_dict(saved.state)
    models = {role: model.to(device) for role, model in recipe.build().items()}
    saved.restore(models, rng=False)
    for model in models.values():
        model.eval()
    out = out or os.path.join(os.path.dirname(os.path.abspath(checkpoint)), "samples.png")
    with no_grad():
        return recipe.sample(models, out, n, **options)


def _check_resume_matches(path: str, name: str) -> None:
    saved = load_checkpoint(path).extra.get("zoo")
    if saved is not None and saved != name:
        raise ValueError(f"{path} is a checkpoint of {saved!r}, not of {name!r}")
