"""Checkpoints: everything a training run needs to carry on exactly where it stopped, in one file.

A checkpoint is a single ``.npz`` archive (``numpy.savez``, no pickle) holding

* ``model/<name>/<parameter>``       every array of every model's ``state_dict()``
* ``optimizer/<name>/<key>``         every array of every optimizer's ``state_dict()`` (moment
                                     estimates, ``betas`` ...)
* ``__checkpoint__``                 one JSON string with everything else:

  ``format``, ``version``            ``"tinygdl-checkpoint"``, ``1``
  ``epoch``, ``step``                completed epochs and completed optimisation steps
  ``rng_state``                      ``tinygdl.backend.get_rng_state()`` (seed and the CPU generator)
  ``loaders``                        ``{loader name: {"epoch", "seed"}}``: the next epoch each DataLoader
                                     runs and its shuffling seed (its order is a function of both)
  ``history``                        the metrics so far (``History.to_dict()``, or a plain dict)
  ``optimizer_scalars``              the numbers and strings of each optimizer's ``state_dict()``
                                     (learning rates, step counters ...), exact through JSON
  ``trainer_state``                  what a Trainer needs to resume in the middle of an epoch
* ``state/<key>``                   arrays that belong to the run but are not weights: a vocabulary,
                                     normalisation statistics, a replay buffer (a zoo recipe's
                                     ``state_dict()``)
  ``extra``                          the caller's own JSON blob: the zoo name and its overrides, so
                                     that ``tinygdl sample <checkpoint>`` can rebuild the model
  ``metadata``                       for people reading it: tinygdl version, time, model classes and
                                     parameter counts

The file is written to a temporary file next to its destination and renamed over it (the rename is
atomic), so a crash or Ctrl-C while saving leaves the previous checkpoint intact, never half a file
(and the next save in that folder removes the temporary file a killed save left behind).  Weights
that are not finite (a diverged run) are refused: ``save_checkpoint`` raises
``NonFiniteWeightsError`` and the good file already there stays.

Loading gives a ``Checkpoint``; ``Checkpoint.restore(models, optimizers, loaders)`` copies its state
into freshly built objects.
"""

from __future__ import annotations

import datetime
import json
import os
import zipfile
from dataclasses import dataclass, field

import numpy as np

from . import backend
from .errors import CheckpointError, ConfigError
from .io import save_arrays
from .version import __version__

FORMAT = "tinygdl-checkpoint"
VERSION = 1
META_KEY = "__checkpoint__"


class NonFiniteWeightsError(CheckpointError):
    """``save_checkpoint`` was given models whose weights hold NaN or infinity."""

    def __init__(self, path, names: list):
        self.names = names
        super().__init__(f"not saving {os.fspath(path)}: {self.names_in_words()} are not finite "
                         "(the run diverged); the file already there is kept")

    def names_in_words(self) -> str:
        return ", ".join(self.names[:3]) + (f" and {len(self.names) - 3} more" if len(self.names) > 3 else "")


@dataclass
class Checkpoint:
    """The contents of a checkpoint file, as plain NumPy arrays and JSON values."""

    path: str
    models: dict  # name -> {parameter name: array}
    optimizers: dict  # name -> the optimizer's state_dict (arrays and numbers)
    epoch: int
    step: int
    rng_state: dict | None
    loaders: dict  # name -> {"epoch": next epoch, "seed": shuffling seed}
    history: dict
    trainer_state: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict)  # key -> array (a recipe's vocabulary, statistics ...)

    def restore(self, models: dict, optimizers: dict | None = None, loaders: dict | None = None,
                rng: bool = True) -> "Checkpoint":
        """Copy the saved state into live objects, matched by name.

        Every model and optimizer passed must be in the checkpoint (and the other way round);
        ``optimizers=None`` restores the models only (to sample from them);
        ``loaders`` get their epoch and shuffling seed back; ``rng=True`` restores the random
        generator, so that dropout masks and noise continue as if training had never stopped.
        """
        _check_names("model", self.models, models, self.path)
        if optimizers is not None:
            _check_names("optimizer", self.optimizers, optimizers, self.path)
            for name, optimizer in optimizers.items():
                _check_optimizer_entries(self.path, name, self.optimizers[name], optimizer)
        for name, model in models.items():
            model.load_state_dict(self.models[name])
        for name, optimizer in (optimizers or {}).items():
            optimizer.load_state_dict(self.optimizers[name])
        for name, loader in (loaders or {}).items():
            if name in self.loaders:
                loader.set_epoch(self.loaders[name]["epoch"])
                loader.seed = self.loaders[name]["seed"]
        if rng and self.rng_state is not None:
            backend.set_rng_state(self.rng_state)
        return self

    def non_finite(self) -> list:
        """The names (``model/<name>/<key>``) of the saved weights that hold NaN or infinity."""
        return _non_finite({f"model/{name}/{key}": array for name, arrays in self.models.items()
                            for key, array in arrays.items()})


# --------------------------------------------------------------------------- saving


def save_checkpoint(path, models: dict, optimizers: dict | None = None, epoch: int = 0, step: int = 0,
                    history=None, loaders: dict | None = None, extra: dict | None = None,
                    trainer_state: dict | None = None, state: dict | None = None,
                    allow_non_finite: bool = False) -> str:
    """Write a checkpoint to ``path`` atomically and return the path.

    ``models`` and ``optimizers`` map names (without ``/``) to Modules and Optimizers; ``history``
    is a ``History`` (anything with ``to_dict()``) or a dict of lists; ``loaders`` maps names to
    DataLoaders, whose epochs and seeds are stored; ``extra`` is any JSON-serialisable dict;
    ``state`` maps names to arrays that are not weights (a vocabulary, normalisation statistics).
    Models whose weights are not finite raise ``NonFiniteWeightsError`` (unless ``allow_non_finite``).
    """
    optimizers = optimizers or {}
    arrays, optimizer_scalars = {}, {}
    for name, model in models.items():
        for key, tensor in model.state_dict().items():
            arrays[_array_key("model", name, key)] = tensor.numpy()
    broken = [] if allow_non_finite else _non_finite(arrays)
    if broken:
        raise NonFiniteWeightsError(path, broken)
    for name, optimizer in optimizers.items():
        optimizer_scalars[name] = {}
        for key, value in optimizer.state_dict().items():
            if backend.is_array(value):
                arrays[_array_key("optimizer", name, key)] = backend.to_numpy(value)
            else:
                optimizer_scalars[name][key] = value.item() if isinstance(value, np.generic) else value
    for key, value in (state or {}).items():
        arrays[f"state/{key}"] = backend.to_numpy(value) if backend.is_array(value) else np.asarray(value)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": int(epoch),
        "step": int(step),
        "rng_state": backend.get_rng_state(),
        "loaders": {name: {"epoch": int(loader.epoch), "seed": int(loader.seed)}
                    for name, loader in (loaders or {}).items()},
        "history": _history_dict(history),
        "model_names": list(models),
        "optimizer_names": list(optimizers),
        "optimizer_scalars": optimizer_scalars,
        "trainer_state": trainer_state or {},
        "extra": extra or {},
        "metadata": _describe(models),
    }
    arrays[META_KEY] = np.array(_to_json(meta, path))
    save_arrays(path, arrays)
    return os.fspath(path)


def _non_finite(arrays: dict) -> list:
    return [key for key, array in arrays.items() if array.dtype.kind in "fc" and not np.isfinite(array).all()]


def _array_key(kind: str, name: str, key: str) -> str:
    if not name or "/" in name:
        raise ConfigError(f"save_checkpoint: {kind} names must be non-empty and contain no '/', got {name!r}")
    return f"{kind}/{name}/{key}"


def _history_dict(history) -> dict:
    if history is None:
        return {}
    return history.to_dict() if hasattr(history, "to_dict") else dict(history)


def _describe(models: dict) -> dict:
    """Facts for a person inspecting the file; nothing here is needed to resume."""
    return {
        "tinygdl_version": __version__,
        "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "models": {name: {"class": f"{type(m).__module__}.{type(m).__qualname__}",
                          "parameters": int(m.num_parameters())} for name, m in models.items()},
    }


def _to_json(meta: dict, path) -> str:
    try:
        return json.dumps(meta)
    except TypeError as error:
        raise TypeError(f"save_checkpoint({os.fspath(path)!r}): the history, extra or optimizer hyperparameters "
                        f"hold something JSON cannot store ({error})") from None


# --------------------------------------------------------------------------- loading


def load_checkpoint(path) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint``.

    Raises ``FileNotFoundError`` if there is no such file and ``CheckpointError`` (naming the file)
    if it is truncated, corrupt, or not a tinygdl checkpoint.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    _check_is_zip(path)
    arrays = _read_arrays(path)
    if META_KEY not in arrays:
        raise CheckpointError(f"{path} is an .npz archive but not a tinygdl checkpoint (it has no "
                              f"{META_KEY!r} entry); a file written by Module.save is read with module.load(path)")
    meta = _read_meta(path, arrays.pop(META_KEY))
    optimizers = {name: dict(meta["optimizer_scalars"].get(name, {})) for name in meta["optimizer_names"]}
    models = {name: {} for name in meta["model_names"]}
    state = {key[len("state/"):]: arrays.pop(key) for key in list(arrays) if key.startswith("state/")}
    for key, array in arrays.items():
        kind, name, entry = _split_key(path, key)
        group = models if kind == "model" else optimizers
        if name not in group:
            raise CheckpointError(f"{path}: the file holds arrays of {kind} {name!r}, which its metadata does not "
                                  f"list ({kind}s: {', '.join(group) or 'none'}); the file was edited or damaged")
        group[name][entry] = array
    return Checkpoint(path=path, models=models, optimizers=optimizers, epoch=meta["epoch"], step=meta["step"],
                      rng_state=meta["rng_state"], loaders=meta["loaders"], history=meta["history"],
                      trainer_state=meta["trainer_state"], extra=meta["extra"], metadata=meta["metadata"],
                      state=state)


def _check_is_zip(path: str) -> None:
    """An .npz file is a zip archive: anything else is named as such (not numpy's pickle hint)."""
    with open(path, "rb") as f:
        start = f.read(4)
    if start not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise CheckpointError(f"{path} is not a checkpoint: it is not an .npz (zip) archive at all "
                              "(wrong file, or its first bytes are damaged)")


def _read_arrays(path: str) -> dict:
    """Every array of the archive, read now, so that a damaged member fails here with a clear message."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as error:
        raise CheckpointError(f"{path} is not a readable checkpoint: the file is truncated or corrupt "
                              f"({type(error).__name__}: {error})") from error


def _read_meta(path: str, blob: np.ndarray) -> dict:
    try:
        meta = json.loads(str(blob))
    except ValueError as error:
        raise CheckpointError(f"{path}: the checkpoint's {META_KEY!r} entry is not valid JSON ({error})") from error
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a tinygdl checkpoint (its {META_KEY!r} entry has no "
                              f"format {FORMAT!r})")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path} is a version {meta.get('version')} checkpoint; this tinygdl reads "
                              f"version {VERSION}")
    for key, kinds in META_FIELDS.items():
        if not isinstance(meta.get(key), kinds) or isinstance(meta.get(key), bool) and bool not in kinds:
            found = "missing" if key not in meta else f"a {type(meta[key]).__name__}"
            wanted = " or ".join(kind.__name__ for kind in kinds)
            raise CheckpointError(f"{path}: the checkpoint's metadata entry {key!r} should be a {wanted} but is "
                                  f"{found}; the file was edited or damaged")
    if meta["epoch"] < 0 or meta["step"] < 0:
        raise CheckpointError(f"{path}: the checkpoint's metadata says epoch {meta['epoch']}, step {meta['step']}; "
                              "the file was edited or damaged")
    return meta


# what the metadata must hold, and of which types (anything else means an edited or damaged file)
META_FIELDS = {"epoch": (int,), "step": (int,), "rng_state": (dict, type(None)), "loaders": (dict,),
               "history": (dict,), "model_names": (list,), "optimizer_names": (list,),
               "optimizer_scalars": (dict,), "trainer_state": (dict,), "extra": (dict,), "metadata": (dict,)}


def _split_key(path: str, key: str) -> tuple:
    kind, _, rest = key.partition("/")
    name, _, entry = rest.partition("/")
    if kind not in ("model", "optimizer") or not entry:
        raise CheckpointError(f"{path}: unexpected entry {key!r} in the checkpoint")
    return kind, name, entry


def _check_names(kind: str, saved: dict, given: dict, path: str) -> None:
    if set(saved) != set(given):
        raise CheckpointError(f"{path} holds {kind}s {sorted(saved)}, but {kind}s {sorted(given)} were given "
                              "to restore")


def _check_optimizer_entries(path: str, name: str, saved: dict, optimizer) -> None:
    """The saved state must hold every hyperparameter the live optimizer has, and every parameter
    that has state must have all of it (Adam: step, exp_avg, exp_avg_sq), so that a partial load
    never happens."""
    missing = [key for key in optimizer.state_dict() if key.startswith("group.") and key not in saved]
    per_parameter = {}
    for key in saved:
        kind, _, rest = key.partition(".")
        index, _, entry = rest.partition(".")
        if kind == "state" and entry:
            per_parameter.setdefault(index, set()).add(entry)
    every_entry = set().union(*per_parameter.values()) if per_parameter else set()
    missing += [f"state.{index}.{entry}" for index, entries in per_parameter.items()
                for entry in sorted(every_entry - entries)]
    if missing:
        raise CheckpointError(f"{path}: the state of optimizer {name!r} is incomplete: it lacks "
                              f"{'; '.join(_entry_in_words(key) for key in missing[:4])}"
                              f"{' ...' if len(missing) > 4 else ''} (the file was edited, or written for "
                              "another optimizer)")


def _entry_in_words(key: str) -> str:
    """``state.3.exp_avg`` -> "the exp_avg of parameter 3"; ``group.0.lr`` -> "the lr of parameter group 0"."""
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "state":
        return f"the {parts[2]} of parameter {parts[1]} ({key!r})"
    if len(parts) == 3 and parts[0] == "group":
        return f"the {parts[2]} of parameter group {parts[1]} ({key!r})"
    return repr(key)
