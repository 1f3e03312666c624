"""Train a zoo model end to end, or sample from a checkpoint: what ``tinygdl train`` and
``tinygdl sample`` run.

A run folder (``runs/<model>`` by default) receives ``checkpoint.npz`` (every epoch, atomically,
never from non-finite weights), ``samples/epoch-NNNN.png`` (every epoch), ``history.csv``,
``loss.png``, ``run.log`` (when the run started, was resumed, and what changed), whatever the
model's recipe reports at the end (for a classifier ``predictions.png`` and the test accuracy),
plus ``report.json`` with the final numbers.

Every setting is checked before any work starts (the settings, the run folder, the device, a dry
run of the networks), and the end-of-run settings right after the data is loaded.

**Resume means "continue the same run".**  Every checkpoint records the run's configuration (the
model, dataset, seed, steps per epoch and every setting: limit, image size, batch size, ``--set``
overrides) and the epoch count asked for.  ``train(name, resume=path)`` takes all of it from the
checkpoint: the caller repeats nothing.  An option given again must agree with the recorded one
(else a ``ConfigError`` lists each difference); ``epochs`` may change, and any setting may be
changed on purpose with ``override_on_resume`` (a new learning rate reaches the restored
optimizers too).  Both are written to ``run.log``.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from dataclasses import dataclass

from .. import backend, plot
from ..checkpoint import load_checkpoint
from ..data import DataLoader
from ..errors import CheckpointError, ConfigError, DeviceError
from ..tensor import no_grad
from ..training import CSVLogger, ModelCheckpoint, SampleSaver, TimeLimit, Trainer
from . import REGISTRY
from . import recipe as make_recipe
from .recipe import _coerce

# command-line spellings of the settings that have an option of their own (the rest are --set key=value)
OPTION_NAMES = {"limit": "--limit", "image_size": "--image-size", "batch_size": "--batch-size"}


@dataclass
class RunResult:
    out_dir: str
    history: object
    report: dict
    files: list


def train(name: str, dataset: str | None = None, epochs: int | None = None, batch_size: int | None = None,
          device: str = "cpu", out_dir: str | None = None, seed: int | None = None, resume: str | None = None,
          steps_per_epoch: int | None = None, progress: bool = True, on_nan: str = "stop",
          override_on_resume: dict | None = None, time_limit: float | None = None, **overrides) -> RunResult:
    """Train zoo model ``name`` with the book's settings (changed by the arguments) and write the run folder.

    ``overrides`` are the recipe's settings (``lr=1e-4``, ``limit=200`` ...); ``batch_size`` and
    ``epochs`` may be given either way.  ``resume`` continues the run recorded in a checkpoint
    (see the module docstring); ``on_nan`` is the Trainer's (``"stop"``, ``"skip-batch"``, ``"ignore"``);
    ``time_limit`` stops training after that many seconds (``tinygdl evaluate``'s budget).
    """
    settings, epochs = _settings(overrides, batch_size, epochs)
    given = {"dataset": dataset, "seed": seed, "steps_per_epoch": steps_per_epoch}
    checkpoint, changes = None, []
    if resume is not None:
        checkpoint = load_checkpoint(resume)
        run, changes = _resumed_run(checkpoint, name, given, settings, dict(override_on_resume or {}), epochs)
        out_dir = os.path.dirname(os.path.abspath(resume)) if out_dir is None else out_dir
    else:
        if override_on_resume:
            raise ConfigError("--override-on-resume changes a recorded run: it needs --resume")
        run = {"model": name, "dataset": dataset, "seed": 0 if seed is None else seed,
               "steps_per_epoch": steps_per_epoch, "settings": settings}
    out_dir = _check_out_dir(os.path.join("runs", name) if out_dir is None else out_dir)
    _check_seed(run["seed"])
    _check_device(device)
    on_nan_choices = ("stop", "skip-batch", "ignore")
    if on_nan not in on_nan_choices:
        raise ConfigError(f"--on-nan must be one of {', '.join(on_nan_choices)}, got {on_nan!r}")

    recipe = make_recipe(name, run["dataset"], **run["settings"])  # validates every setting
    run["dataset"] = recipe.dataset
    run["epochs"] = epochs or (checkpoint_target(checkpoint) if checkpoint else None) or recipe.epochs
    if checkpoint is not None:
        _check_epochs_left(checkpoint, run["epochs"], epochs is not None)
        recipe.load_state_dict(checkpoint.state)  # vocabularies and statistics the networks are built from
    backend.manual_seed(run["seed"])
    models = {role: model.to(device) for role, model in recipe.build().items()}
    recipe.check_networks(models)
    train_data, val_data = recipe.load_data()
    recipe.check_data()

    optimizers = recipe.optimizers(models)
    loader = DataLoader(train_data, recipe.batch_size, shuffle=True, seed=run["seed"], device=device)
    eval_step = recipe.eval_step(models)
    val_loader = DataLoader(val_data, recipe.batch_size, device=device) if val_data is not None and eval_step else None
    callbacks = [
        SampleSaver(lambda path: recipe.sample(models, path)),
        CSVLogger("history.csv"),
        ModelCheckpoint("checkpoint.npz"),
    ] + ([TimeLimit(time_limit)] if time_limit else [])
    extra = {**recipe.describe(), "batch_size": recipe.batch_size, "seed": run["seed"], "run": run}
    trainer = Trainer(recipe.train_step(models, optimizers), loader, models, optimizers, eval_step=eval_step,
                      val_loader=val_loader, callbacks=callbacks, out_dir=out_dir,
                      steps_per_epoch=run["steps_per_epoch"], progress=progress, extra=extra, state=recipe,
                      on_nan=on_nan)
    if checkpoint is not None:
        fresh = {name: optimizer.state_dict() for name, optimizer in optimizers.items()}
        trainer.load_checkpoint(checkpoint)
        changes += _apply_new_hyperparameters(optimizers, fresh)
        _log(out_dir, f"resumed from {resume} after epoch {checkpoint.epoch} (step {checkpoint.step})"
             + (f"; changed: {'; '.join(changes)}" if changes else ""), echo=True)
    else:
        _log(out_dir, f"started {name} on {recipe.dataset}: batch size {recipe.batch_size}, seed {run['seed']}, "
             f"{run['epochs']} epochs, settings {json.dumps(run['settings'])}", echo=False)
    history = trainer.fit(run["epochs"])
    plot.loss_curves(history, os.path.join(out_dir, "loss.png"))
    with trainer.evaluating():
        report = recipe.report(models, out_dir)
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump({"model": name, "dataset": recipe.dataset, "epochs": trainer.epoch, **report}, f, indent=2)
    files = sorted(os.path.join(out_dir, f) for f in os.listdir(out_dir)
                   if f.endswith((".png", ".npz", ".json", ".csv", ".log")))
    return RunResult(out_dir, history, report, files)


def sample(checkpoint: str, n: int = 16, out: str | None = None, device: str = "cpu", seed: int = 0,
           options: dict | None = None) -> str:
    """Rebuild the model saved in ``checkpoint`` (a ``tinygdl train`` run) and write a PNG of samples.

    ``options`` are the model's sampling settings (its recipe's ``sample_options``).  The PNG is a
    new file: ``samples-001.png``, ``samples-002.png`` ... beside the checkpoint, or ``out``, which
    must not exist yet (the run's own PNGs are never overwritten)."""
    _check_seed(seed)
    _check_device(device)
    saved = load_checkpoint(checkpoint)
    recipe = checkpoint_recipe(saved)
    options = recipe.sampling_options(options or {})
    broken = saved.non_finite()
    if broken:
        raise CheckpointError(f"{checkpoint} holds non-finite weights ({', '.join(broken[:3])}): nothing to sample "
                              "from a run that had diverged")
    out = _new_sample_path(checkpoint, out)
    backend.manual_seed(seed)
    recipe.load_state_dict(saved.state)
    models = {role: model.to(device) for role, model in recipe.build().items()}
    saved.restore(models, rng=False)
    for model in models.values():
        model.eval()
    with no_grad():
        return recipe.sample(models, out, n, **options)


def checkpoint_recipe(saved):
    """The zoo recipe a ``tinygdl train`` checkpoint was written by, with the run's settings."""
    if "zoo" not in saved.extra:
        raise CheckpointError(f"{saved.path} was not written by `tinygdl train` (it does not name a zoo model)")
    if saved.extra["zoo"] not in REGISTRY:
        raise CheckpointError(f"{saved.path} is a checkpoint of {saved.extra['zoo']!r}, which this tinygdl's zoo "
                              "does not have")
    return make_recipe(saved.extra["zoo"], saved.extra.get("dataset"), **saved.extra.get("overrides", {}))


def checkpoint_target(checkpoint) -> int | None:
    """The epoch count the run recorded in ``checkpoint`` was asked to reach."""
    return checkpoint.extra.get("run", {}).get("epochs")


# --------------------------------------------------------------------------- resuming


def _settings(overrides: dict, batch_size, epochs) -> tuple:
    """The recipe settings, with ``batch_size`` folded in; ``epochs`` (not a recorded setting) apart."""
    settings = dict(overrides)
    if batch_size is not None:
        if "batch_size" in settings and str(settings["batch_size"]) != str(batch_size):
            raise ConfigError(f"batch_size given twice: {batch_size} and {settings['batch_size']}")
        settings["batch_size"] = batch_size
    if epochs is not None and (not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1):
        raise ConfigError(f"epochs must be a whole number of at least 1, got {epochs!r}")
    return settings, epochs


def _resumed_run(checkpoint, name: str, given: dict, settings: dict, changed: dict, epochs) -> tuple:
    """The run recorded in ``checkpoint``, with the options that may change; conflicts are an error."""
    recorded = _recorded_run(checkpoint)
    if "run" not in checkpoint.extra:  # an older checkpoint did not record these: take them as given
        recorded.update({key: value for key, value in given.items() if value is not None and key != "dataset"})
    if recorded["model"] != name:
        raise ConfigError(f"{checkpoint.path} is a checkpoint of {recorded['model']!r}, not of {name!r}")
    defaults = REGISTRY[name].defaults
    unknown = sorted(set(changed) - set(defaults))
    if unknown:
        raise ConfigError(f"--override-on-resume: {name} has no setting(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(defaults))}")
    conflicts = [f"--{key.replace('_', '-')} {value} (the run: {recorded[key]})" for key, value in given.items()
                 if value is not None and value != recorded[key]]
    for key, value in settings.items():
        if key in changed or key not in defaults:
            continue  # a setting overridden on purpose; an unknown one is reported by the recipe
        ours, theirs = _coerce(value, defaults[key], key), _coerce(recorded["settings"].get(key, defaults[key]),
                                                                    defaults[key], key)
        if ours != theirs:
            conflicts.append(f"{OPTION_NAMES.get(key, '--set ' + key + '=')}{' ' if key in OPTION_NAMES else ''}"
                             f"{value} (the run: {theirs})")
    if conflicts:
        raise ConfigError(f"--resume {checkpoint.path} continues the run recorded in it, and these options differ "
                          f"from it: {'; '.join(conflicts)}. Leave them out (the recorded values are used), or "
                          "change a setting on purpose with --override-on-resume KEY=VALUE")
    run = {**recorded, "settings": {**recorded["settings"], **changed}}
    changes = [f"{key} {recorded['settings'].get(key, defaults[key])} -> {value} (--override-on-resume)"
               for key, value in changed.items()]
    target = recorded.get("epochs")
    if epochs is not None and target is not None and epochs != target:
        changes.insert(0, f"epochs {target} -> {epochs}")
    return run, changes


def _recorded_run(checkpoint) -> dict:
    """The run configuration of ``checkpoint`` (rebuilt from the older fields where it has no ``run``)."""
    extra = checkpoint.extra
    if "zoo" not in extra:
        raise CheckpointError(f"{checkpoint.path} was not written by `tinygdl train` (it does not name a zoo model)")
    if "run" in extra:
        return dict(extra["run"])
    settings = dict(extra.get("overrides", {}))
    if "batch_size" in extra:
        settings["batch_size"] = extra["batch_size"]
    return {"model": extra["zoo"], "dataset": extra.get("dataset"), "seed": extra.get("seed", 0),
            "steps_per_epoch": None, "settings": settings}


def _check_epochs_left(checkpoint, target: int, explicit: bool) -> None:
    done = checkpoint.epoch
    if target <= done:
        asked = f"--epochs {target}" if explicit else f"the run's own target of {target} epochs"
        raise ConfigError(f"{checkpoint.path} has already trained {done} epoch(s): {asked} leaves nothing to "
                          f"train; ask for more (e.g. --epochs {done + max(1, target)})")


def _apply_new_hyperparameters(optimizers: dict, fresh: dict) -> list:
    """After a restore, give the optimizers back the hyperparameters the (changed) settings built them
    with where those differ from the checkpoint's (a new learning rate); return what changed."""
    changes = []
    for name, optimizer in optimizers.items():
        for i, group in enumerate(optimizer.param_groups):
            for key, value in group.items():
                new = fresh[name].get(f"group.{i}.{key}")
                if key == "params" or new is None or isinstance(new, type(value)) and new == value:
                    continue
                if not isinstance(new, (int, float, str)):
                    continue
                changes.append(f"optimizer {name} {key} {value} -> {new}")
                group[key] = new
    return changes


# --------------------------------------------------------------------------- checks and files


def _check_out_dir(out_dir) -> str:
    out_dir = os.fspath(out_dir)
    if not out_dir.strip():
        raise ConfigError('--out "" is empty: give the run folder (the default is runs/<model>)')
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ConfigError(f"--out {out_dir} is a file, not a folder")
    os.makedirs(out_dir, exist_ok=True)  # an unwritable place fails now, as one line (an OSError)
    return out_dir


def _check_seed(seed) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ConfigError(f"--seed must be a whole number from 0 to 2**32 - 1, got {seed!r}")


def _check_device(device) -> None:
    try:
        where = backend.Device(device)
    except ValueError as error:
        raise DeviceError(f"--device {device}: {error}") from None
    if where.type == "cuda" and not backend.cuda_available():
        why = "CuPy is not installed (pip install -e '.[cuda]')" if backend.cupy is None else \
            "CuPy finds no CUDA device on this machine"
        raise DeviceError(f"--device {device}: {why}; use --device cpu")


def _new_sample_path(checkpoint: str, out: str | None) -> str:
    if out is not None:
        if not os.fspath(out).strip():
            raise ConfigError('--out "" is empty: give a PNG path')
        if os.path.exists(out):
            raise ConfigError(f"--out {out} exists; `tinygdl sample` never overwrites a file: choose another --out")
        return os.fspath(out)
    folder = os.path.dirname(os.path.abspath(checkpoint))
    number = 1
    while os.path.exists(os.path.join(folder, f"samples-{number:03d}.png")):
        number += 1
    return os.path.join(folder, f"samples-{number:03d}.png")


def _log(out_dir: str, line: str, echo: bool) -> None:
    """Append a dated line to ``<out_dir>/run.log`` (and show it on stderr when ``echo``)."""
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    with open(os.path.join(out_dir, "run.log"), "a") as f:
        f.write(f"{now} {line}\n")
    if echo:
        print(line, file=sys.stderr)
