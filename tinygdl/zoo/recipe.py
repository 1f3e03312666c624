"""A ``Recipe`` is everything the command line needs to know about one model of the book.

Subclasses say which network(s) to build (``build``), on which data (``load_data``), with which
optimizers (``optimizers``), what one training step is (``train_step``), how to evaluate
(``eval_step``), how to draw samples (``sample``) and what to report at the end (``report``).
Their ``defaults`` are the book's hyperparameters; any of them can be overridden by keyword
(``tinygdl.zoo.build("cnn", dense=64)``, or ``tinygdl train cnn --set dense=64``).
"""

from __future__ import annotations

import math
import os

from ..errors import CheckpointError, ConfigError
from ..nn import Module

# Settings checked by name in every recipe, before any work starts (the zoo's shared vocabulary):
COUNTS = ("epochs", "batch_size", "latent_dim", "image_size", "critic_steps", "dense", "replay_size", "iwae_k",
          "hidden", "channels")  # whole numbers (or tuples of them) of at least 1
OPTIONAL_COUNTS = ("limit", "eval_limit")  # None (all of them) or at least 1
RATES = ("lr",)  # positive, finite
FRACTIONS = ("dropout",)  # in [0, 1)


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
            raise ConfigError(f"{self.name} trains on {', '.join(self.datasets)}, not {self.dataset!r}")
        self.config = {**self.defaults, **{k: _coerce(v, self.defaults[k], k) for k, v in overrides.items()}}
        self.overrides = dict(overrides)
        self.validate()

    def __getattr__(self, name):  # recipe.lr, recipe.epochs ... read from the config
        config = self.__dict__.get("config", {})
        if name in config:
            return config[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    # -- checking the settings before any work --------------------------------------------------

    def validate(self) -> None:
        """Refuse settings that cannot work (``--set batch_size=0``, ``latent_dim=0``, ``lr=-1``),
        with the setting's name, before anything is loaded or built.  Subclasses add their own checks
        (calling ``super().validate()``)."""
        for key, value in self.config.items():
            if key in COUNTS or (key in OPTIONAL_COUNTS and value is not None):
                values = value if isinstance(value, (tuple, list)) else (value,)
                if not values or not all(_is_count(v) for v in values):
                    raise ConfigError(f"{self.name}: setting {key} must be a whole number of at least 1"
                                      f"{' (or unset, for all)' if key in OPTIONAL_COUNTS else ''}, got {value!r}")
            elif key in RATES and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{self.name}: setting {key} must be a positive number, got {value!r}")
            elif key in FRACTIONS and not (isinstance(value, (int, float)) and 0 <= value < 1):
                raise ConfigError(f"{self.name}: setting {key} must be in [0, 1), got {value!r}")

    def check_networks(self, models: dict) -> None:
        """Run each network once on one example of zeros of its input shape: settings that build
        a network which cannot run (``--image-size 3`` for a model that halves the image four times)
        fail here, before the data is loaded, naming the setting."""
        from ..nn.module import evaluation_mode
        from ..ops.creation import zeros

        for role, model in models.items():
            shapes = self.input_shape(role)
            shapes = shapes if isinstance(shapes, list) else [shapes]
            dtype = next(iter(model.parameters())).dtype
            try:
                with evaluation_mode([model]):
                    model(*[zeros(1, *shape, dtype=dtype, device=model.device) for shape in shapes])
            except (TypeError, NotImplementedError):
                continue  # inputs that are not float arrays (token ids ...): the dry run cannot tell
            except (ValueError, IndexError, ArithmeticError) as error:
                sizes = {key: self.config[key] for key in ("image_size", "latent_dim") if key in self.config}
                settings = ", ".join(f"{key} {value}" for key, value in sizes.items()) or "these settings"
                raise ConfigError(f"{self.name}: the {role} cannot run with {settings} on {self.dataset} "
                                  f"(input {tuple(shapes[0])}): {error}") from None

    def check_data(self) -> None:
        """After ``load_data``, before training: check the settings used only at the end of the run
        (an attribute name for the latent plots, a class to sample), so a typo fails now, not after
        the training.  Subclasses override it."""

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


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _coerce(value, default, key: str = "setting"):
    """Command-line settings arrive as strings: convert them to the default's type."""
    try:
        return _convert(value, default)
    except ValueError:
        kind = "true or false" if isinstance(default, bool) else f"a {type(default).__name__}"
        raise ConfigError(f"setting {key}: expected {kind}, got {value!r}") from None


def _convert(value, default):
    if isinstance(default, tuple) and isinstance(value, list):  # a tuple setting read back from JSON
        return tuple(value)
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
