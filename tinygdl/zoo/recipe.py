"""A ``Recipe`` is everything the command line needs to know about one model of the book.

Subclasses say which network(s) to build (``build``), on which data (``load_data``), with which
optimizers (``optimizers``), what one training step is (``train_step``), how to evaluate
(``eval_step``), how to draw samples (``sample``) and what to report at the end (``report``).
Their ``defaults`` are the book's hyperparameters; any of them can be overridden by keyword
(``tinygdl.zoo.build("cnn", dense=64)``, or ``tinygdl train cnn --set dense=64``).
"""

from __future__ import annotations

import os

from ..errors import CheckpointError, ConfigError
from ..nn import Module


class Recipe:
    name: str = ""
    chapter: int = 0
    title: str = ""  # one line for `tinygdl models`
    dataset: str = ""  # the default dataset
    datasets: tuple = ()  # every dataset the recipe accepts
    defaults: dict = {}  # the book's hyperparameters (epochs, batch_size, lr, architecture knobs)
    sample_options: dict = {}  # what `tinygdl sample CKPT --set key=value` accepts, with defaults

    def __init__(self, dataset: str | None = None, **overrides):
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            raise ConfigError(f"{self.name}: unknown setting(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(self.defaults))}")
        self.dataset = dataset or type(self).dataset
        if self.datasets and self.dataset not in self.datasets:
            raise ValueError(f"{self.name} trains on {', '.join(self.datasets)}, not {self.dataset!r}")
        self.config = {**self.defaults, **{k: _coerce(v, self.defaults[k], k) for k, v in overrides.items()}}
        self.overrides = dict(overrides)

    def __getattr__(self, name):  # recipe.lr, recipe.epochs ... read from the config
        config = self.__dict__.get("config", {})
        if name in config:
            return config[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    # -- what subclasses provide ----------------------------------------------------------------

    def input_shape(self, role: str | None = None) -> tuple:
        """The input shape (no batch axis) of network ``role`` (default: the first), for ``summary``."""
        raise NotImplementedError

    def build(self) -> "dict[str, Module]":
        """The networks, by role (``{"model": ...}``, ``{"generator": ..., "critic": ...}``)."""
        raise NotImplementedError

    def load_data(self):
        """``(train_dataset, val_dataset or None)`` of ``tinygdl.data.Dataset``s."""
        raise NotImplementedError

    def optimizers(self, models: dict) -> dict:
        raise NotImplementedError

    def train_step(self, models: dict, optimizers: dict):
        """A function ``step(batch) -> dict of numbers`` that trains on one batch."""
        raise NotImplementedError

    def eval_step(self, models: dict):
        """A function ``step(batch) -> dict of numbers`` for validation (None: no validation)."""
        return None

    def sample(self, models: dict, path: str, n: int = 16, **options) -> str:
        """Write a PNG of samples (or predictions) to ``path`` and return it.

        ``options`` are this model's sampling settings (``sample_options``: a prompt, a
        temperature, a number of steps ...), already checked and converted by ``sampling_options``.
        """
        raise NotImplementedError

    def sampling_options(self, given: dict) -> dict:
        """``sample_options`` changed by ``given`` (strings from the command line are converted)."""
        unknown = sorted(set(given) - set(self.sample_options))
        if unknown:
            known = ", ".join(sorted(self.sample_options)) or "none"
            raise ConfigError(f"{self.name}: unknown sampling option(s) {', '.join(unknown)}; known: {known}")
        return {**self.sample_options,
                **{key: _coerce(value, self.sample_options[key], key) for key, value in given.items()}}

    def state_dict(self) -> dict:
        """What a trained model needs later that is not a weight (a vocabulary, normalisation
        statistics, a replay buffer): name -> NumPy array.  Every checkpoint keeps it, and
        ``tinygdl sample`` / ``--resume`` give it back through ``load_state_dict`` before building."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            raise CheckpointError(f"{self.name}: the checkpoint holds recipe state {sorted(state)} "
                                  "that this recipe does not use")

    def report(self, models: dict, out_dir: str) -> dict:
        """After training: final numbers (and extra PNGs in ``out_dir``) worth printing."""
        return {}

    # -- helpers -----------------------------------------------------------------------------------

    def describe(self) -> dict:
        """What a checkpoint stores to rebuild this recipe (``tinygdl sample``)."""
        return {"zoo": self.name, "dataset": self.dataset, "overrides": self.overrides}

    def main_model(self, models: dict) -> Module:
        """The network whose table ``summary`` prints (the first one built)."""
        return next(iter(models.values()))

    @staticmethod
    def output(out_dir: str, name: str) -> str:
        os.makedirs(out_dir, exist_ok=True)
        return os.path.join(out_dir, name)


def _coerce(value, default, key: str = "setting"):
    """Command-line settings arrive as strings: convert them to the default's type."""
    try:
        return _convert(value, default)
    except ValueError:
        kind = "true or false" if isinstance(default, bool) else f"a {type(default).__name__}"
        raise ConfigError(f"setting {key}: expected {kind}, got {value!r}") from None


def _convert(value, default):
    if not isinstance(value, str) or isinstance(default, str):
        return value
    if isinstance(default, bool):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(value)
        return value.lower() in ("true", "1", "yes")
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, tuple):
        return tuple(type(default[0])(v) for v in value.split(",")) if default else tuple(value.split(","))
    if default is None:
        return _number_or_text(value)
    return value


def _number_or_text(value: str):
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value
