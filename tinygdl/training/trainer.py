"""The ``Trainer``: one training loop for every model family in the book.

The model-specific part is a *step*: a function that takes one batch, does whatever one
training step of that model is (a classifier: forward, loss, backward, optimizer step; a GAN:
several critic updates and a generator update; a VAE, a flow, a diffusion model ...) and returns
a dict of numbers to log, e.g. ``{"loss": loss.item()}``.  The Trainer owns everything else:

* iterating over the epochs and batches (``loader.set_epoch(e)`` before epoch ``e``, so a seeded
  DataLoader shuffles the same way whether or not the run was resumed);
* the models' modes: ``model.train()`` during steps, ``model.eval()`` without gradients during
  validation (``eval_step`` over ``val_loader``, its metrics logged with a ``val_`` prefix);
* averaging the logged numbers over each epoch into a ``History`` (and showing the running means
  on a progress bar);
* callbacks (``tinygdl.training.callbacks``);
* checkpoints: ``save_checkpoint``, ``fit(..., resume=path)``, and on Ctrl-C a checkpoint
  ``<out_dir>/interrupted.npz`` written before the ``KeyboardInterrupt`` goes on.  Ctrl-C does not
  cut a step in half: the first one asks the loop to stop after the current step (or after the
  current epoch's validation and callbacks, when it comes during those), so the checkpoint holds
  the state as of the last completed step and a resumed run is bit-identical to one never stopped.
  A second Ctrl-C stops at once, part-way through a step, and saves nothing.
* divergence (``on_nan``): a step whose logged numbers are not finite stops training with a
  ``TrainingError`` naming the step and the values (``"stop"``, the default), is undone and skipped
  (``"skip-batch"``: the weights and optimizer state from before the step are put back), or is
  kept (``"ignore"``).  Checkpoints are never written from non-finite weights, so the last good
  file on disk survives a diverging run.

Example (a classifier)::

    def step(batch):
        x, y = batch
        optimizer.zero_grad()
        loss = losses.sparse_categorical_cross_entropy_with_logits(model(x), y)
        loss.backward()
        optimizer.step()
        return {"loss": loss.item()}

    trainer = Trainer(step, loader, models={"model": model}, optimizers={"optimizer": optimizer},
                      callbacks=[ModelCheckpoint()], out_dir="runs/mlp")
    history = trainer.fit(epochs=10)
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import signal
import sys
import threading

from ..checkpoint import Checkpoint, NonFiniteWeightsError, load_checkpoint, save_checkpoint
from ..errors import CheckpointError, ConfigError, TrainingError
from ..nn.module import evaluation_mode
from ..tensor import Tensor, train_mode
from .callbacks import ProgressBar
from .history import History, RunningMeans


class Trainer:
    """Run ``step`` over ``loader`` for a number of epochs.

    ``models`` and ``optimizers`` are dicts of name -> Module / Optimizer: the Trainer switches the
    models between train and eval mode, and checkpoints save both under these names.
    ``steps_per_epoch`` cuts each epoch to the first that many batches of the loader's order for
    that epoch (Keras's argument, as the book's WGAN-GP uses it).  ``log_steps=True`` also records
    every step's numbers in ``history.steps``.  ``extra`` is a JSON dict stored in every
    checkpoint (the zoo name and overrides that rebuild the model).  ``state`` is an object with
    ``state_dict()`` / ``load_state_dict(arrays)`` (a zoo recipe) whose arrays that are not weights
    (a vocabulary, normalisation statistics, a replay buffer) every checkpoint keeps too.
    ``on_nan`` is what a non-finite loss does: ``"stop"`` (default), ``"skip-batch"`` or ``"ignore"``.
    """

    def __init__(self, step, loader, models: dict | None = None, optimizers: dict | None = None, *,
                 eval_step=None, val_loader=None, callbacks=(), out_dir=None, steps_per_epoch: int | None = None,
                 log_steps: bool = False, progress: bool = True, extra: dict | None = None, state=None,
                 on_nan: str = "stop"):
        if val_loader is not None and eval_step is None:
            raise ValueError("Trainer: a val_loader needs an eval_step (the training step would update the model)")
        if on_nan not in ON_NAN:
            raise ConfigError(f"Trainer: on_nan must be one of {', '.join(ON_NAN)}, got {on_nan!r}")
        self.on_nan, self.skipped_steps = on_nan, 0
        self.resumed_from = None  # the checkpoint path fit(resume=...) started from
        self._stop_requested = False  # set by the first Ctrl-C: stop at the next step boundary
        self.train_step, self.eval_step = step, eval_step
        self.loader, self.val_loader = loader, val_loader
        self.models, self.optimizers = dict(models or {}), dict(optimizers or {})
        self.out_dir = None if out_dir is None else os.fspath(out_dir)
        self.steps_per_epoch, self.log_steps, self.extra = steps_per_epoch, log_steps, dict(extra or {})
        self.state = state
        self.history = History()
        self.epoch = 0  # epochs completed
        self.epochs = 0  # the epoch count the current fit() runs to
        self.global_step = 0  # steps completed, over all epochs
        self.batch_in_epoch = 0  # steps completed in the current epoch
        self.stop_training = False
        self._running = RunningMeans()
        callbacks = ([ProgressBar()] if progress else []) + list(callbacks)
        self.callbacks = sorted(callbacks, key=lambda callback: callback.runs_last)  # stable: order kept
        for callback in self.callbacks:
            callback.set_trainer(self)

    # -- the loop --------------------------------------------------------------------------------

    def fit(self, epochs: int, resume=None) -> History:
        """Train until ``epochs`` epochs are complete (counting those of a resumed run, as Keras's
        ``epochs`` with ``initial_epoch``) or a callback stops training; return the history.

        ``resume`` is a checkpoint path: models, optimizers, random generator, history and the
        position in the data are restored first.
        """
        if resume is not None:
            self.load_checkpoint(resume)
        self.epochs, self.stop_training = epochs, False
        self._check_steps_per_epoch()
        self._notify("on_train_begin")
        try:
            with self._ctrl_c_stops_between_steps():
                while self.epoch < epochs and not self.stop_training:
                    self._run_epoch()
                    self._stop_if_asked()
        except KeyboardInterrupt:
            at_boundary, self._stop_requested = self._stop_requested, False
            path = self._save_after_interrupt() if at_boundary else None
            self._notify("on_train_end", self.history.last())  # closes the progress bar
            self._report_interrupt(path, at_boundary)
            raise
        except TrainingError:
            self._notify("on_train_end", self.history.last())
            raise
        self._notify("on_train_end", self.history.last())
        return self.history

    def _run_epoch(self) -> None:
        epoch = self.epoch
        self._notify("on_epoch_begin", epoch)
        for model in self.models.values():
            model.train()
        with train_mode(True):
            for batch in self._batches(epoch):
                self._run_step(batch)
                if self.stop_training:  # a callback's on_batch_end (TimeLimit) cuts the epoch short
                    break
        logs = self._running.means()
        if self.val_loader is not None:
            logs.update({f"val_{name}": value for name, value in self.evaluate().items()})
        self.epoch, self.batch_in_epoch, self._running = epoch + 1, 0, RunningMeans()
        self.history.record_epoch(epoch, logs)
        self._notify("on_epoch_end", epoch, logs)

    def _batches(self, epoch: int):
        """The batches of ``epoch`` not yet trained on (all of them, unless resuming mid-epoch)."""
        resumable = hasattr(self.loader, "set_epoch")
        if resumable:
            self.loader.set_epoch(epoch)
        yield from itertools.islice(self.loader, self.batch_in_epoch, self.steps_in_epoch())
        if resumable:  # islice stops before the loader sees its own end, so it has not counted the epoch
            self.loader.set_epoch(epoch + 1)

    def _run_step(self, batch) -> None:
        before = self._snapshot() if self.on_nan == "skip-batch" else None
        logs = metrics_as_floats(self.train_step(batch))
        self.global_step += 1
        self.batch_in_epoch += 1
        bad = {name: value for name, value in logs.items() if not math.isfinite(value)}
        if bad and self.on_nan == "stop":
            raise TrainingError(self._divergence_message(bad))
        if bad and self.on_nan == "skip-batch":
            self._restore(before)
            self.skipped_steps += 1
            print(f"\nstep {self.global_step}: {_values(bad)}; the step is undone and its batch skipped "
                  f"({self.skipped_steps} so far)", file=sys.stderr)
        else:
            self._running.update(logs, batch_size(batch))
        if self.log_steps:
            self.history.record_step(self.global_step, logs)
        self._notify("on_batch_end", self.global_step, self._running.means())
        self._stop_if_asked()

    # -- divergence ---------------------------------------------------------------------------------

    def _divergence_message(self, bad: dict) -> str:
        rates = sorted({group["lr"] for optimizer in self.optimizers.values()
                        for group in getattr(optimizer, "param_groups", ()) if "lr" in group})
        rate = f" (learning rate {', '.join(f'{lr:g}' for lr in rates)})" if rates else ""
        return (f"training diverged at step {self.global_step} (epoch {self.epoch + 1}, batch {self.batch_in_epoch}): "
                f"{_values(bad)}. Likely cause: a learning rate too high{rate} or exploding gradients; "
                f"{self._kept_checkpoint()}. Lower the learning rate, or pass --on-nan skip-batch / ignore")

    def _kept_checkpoint(self) -> str:
        paths = [getattr(callback, "last_path", None) for callback in self.callbacks] + [self.resumed_from]
        kept = next((path for path in paths if path), None)
        return f"the last good checkpoint, {kept}, is kept" if kept else "no checkpoint was written from these weights"

    def _snapshot(self) -> tuple:
        """Copies of every model's and optimizer's state (what ``skip-batch`` puts back)."""
        models = {name: {key: t.data.copy() for key, t in model.state_dict().items()}
                  for name, model in self.models.items()}
        return models, {name: optimizer.state_dict() for name, optimizer in self.optimizers.items()}

    def _restore(self, snapshot: tuple) -> None:
        models, optimizers = snapshot
        for name, model in self.models.items():
            model.load_state_dict(models[name])
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(optimizers[name])

    # -- Ctrl-C ----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _ctrl_c_stops_between_steps(self):
        """While training, the first Ctrl-C (SIGINT) only asks to stop at the next step boundary;
        the second one interrupts at once (Python's default).  Only the main thread can catch signals:
        elsewhere Ctrl-C keeps its default meaning."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.getsignal(signal.SIGINT)

        def ask_to_stop(signum, frame):
            if self._stop_requested:  # the second Ctrl-C
                self._stop_requested = False
                raise KeyboardInterrupt
            self._stop_requested = True
            print("\nCtrl-C: stopping after the current step (press Ctrl-C again to stop at once, unsaved)",
                  file=sys.stderr)

        signal.signal(signal.SIGINT, ask_to_stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _stop_if_asked(self) -> None:
        if self._stop_requested:
            raise KeyboardInterrupt

    def steps_in_epoch(self) -> int | None:
        """Steps per epoch: ``steps_per_epoch``, else the loader's length (None if it has none)."""
        if self.steps_per_epoch is not None:
            return self.steps_per_epoch
        return len(self.loader) if hasattr(self.loader, "__len__") else None

    def _check_steps_per_epoch(self) -> None:
        if self.steps_per_epoch is not None and hasattr(self.loader, "__len__") \
                and not 1 <= self.steps_per_epoch <= len(self.loader):
            raise ValueError(f"Trainer: steps_per_epoch={self.steps_per_epoch}, but the loader has "
                             f"{len(self.loader)} batches per epoch")

    def _notify(self, hook: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    # -- evaluation ---------------------------------------------------------------------------------

    def evaluate(self, loader=None) -> dict:
        """Means of ``eval_step``'s numbers over ``loader`` (default: the validation loader)."""
        loader = self.val_loader if loader is None else loader
        if loader is None or self.eval_step is None:
            raise ValueError("Trainer.evaluate needs an eval_step and a loader (or a val_loader)")
        return evaluate_loader(self.eval_step, loader, self.models.values())

    def evaluating(self):
        """``with trainer.evaluating():`` — models in eval mode, no gradients (callbacks sample so)."""
        return evaluation_mode(self.models.values())

    # -- files and checkpoints -----------------------------------------------------------------------

    def output_path(self, filename: str) -> str:
        """``filename`` inside ``out_dir`` (its folder created); absolute filenames stay as they are."""
        if not os.path.isabs(filename):
            if self.out_dir is None:
                raise ValueError(f"Trainer has no out_dir to write {filename!r} into")
            filename = os.path.join(self.out_dir, filename)
        os.makedirs(os.path.dirname(filename) or ".", exist_ok=True)
        return filename

    def save_checkpoint(self, path) -> str | None:
        """Write everything needed to resume (see ``tinygdl.checkpoint``) and return the path.

        Weights that are not finite are never saved (the file already there stays): with
        ``on_nan="ignore"`` the save is skipped with a warning (returns None), otherwise it is a
        ``TrainingError``."""
        position = {"batch_in_epoch": self.batch_in_epoch, "running": self._running.state()}
        try:
            return save_checkpoint(path, self.models, self.optimizers, epoch=self.epoch, step=self.global_step,
                                   history=self.history, loaders=self._loaders(), extra=self.extra,
                                   trainer_state=position,
                                   state=None if self.state is None else self.state.state_dict())
        except NonFiniteWeightsError as error:
            message = (f"after step {self.global_step} (epoch {self.epoch + 1}) the weights are not finite "
                       f"({error.names_in_words()}), though the logged numbers were; not saved to {path}: "
                       f"{self._kept_checkpoint()}")
            if self.on_nan != "ignore":
                raise TrainingError(message + ". Likely cause: a learning rate too high or exploding gradients") \
                    from None
            print(f"\nwarning: {message}", file=sys.stderr)
            return None

    def load_checkpoint(self, path):
        """Restore a checkpoint (a path or a loaded ``Checkpoint``) into this trainer's models,
        optimizers and loaders; return it.  A checkpoint holding non-finite weights is refused."""
        checkpoint = path if isinstance(path, Checkpoint) else load_checkpoint(path)
        broken = checkpoint.non_finite()
        if broken:
            raise CheckpointError(f"{checkpoint.path} holds non-finite weights ({', '.join(broken[:3])}"
                                  f"{' ...' if len(broken) > 3 else ''}): it was saved from a run that had diverged "
                                  "and cannot be resumed; resume from an earlier checkpoint")
        checkpoint.restore(self.models, self.optimizers, self._loaders())
        if self.state is not None:
            self.state.load_state_dict(checkpoint.state)
        self.epoch, self.global_step = checkpoint.epoch, checkpoint.step
        self.history = History.from_dict(checkpoint.history)
        self.batch_in_epoch = checkpoint.trainer_state.get("batch_in_epoch", 0)
        self._running = RunningMeans(**checkpoint.trainer_state.get("running", {}))
        self.resumed_from = checkpoint.path
        return checkpoint

    def _loaders(self) -> dict:
        """The DataLoaders whose position (epoch and shuffling seed) checkpoints keep."""
        loaders = {"train": self.loader, "val": self.val_loader}
        return {name: loader for name, loader in loaders.items()
                if all(hasattr(loader, attribute) for attribute in ("epoch", "seed", "set_epoch"))}

    def _save_after_interrupt(self) -> str | None:
        """Checkpoint ``<out_dir>/interrupted.npz`` (if there is an out_dir); return its path."""
        if self.out_dir is None:
            return None
        try:
            return self.save_checkpoint(self.output_path("interrupted.npz"))
        except TrainingError as error:
            print(f"\n{error}", file=sys.stderr)
            return None

    def _report_interrupt(self, path: str | None, at_boundary: bool = True) -> None:
        where = f"in epoch {self.epoch + 1} after {self.batch_in_epoch} steps"
        if not at_boundary:
            print(f"\nTraining stopped at once {where}, part-way through a step: nothing saved "
                  f"(a half-done step cannot be resumed exactly); {self._kept_checkpoint()}", file=sys.stderr)
        elif path is None:
            print(f"\nTraining interrupted {where}; nothing saved (the Trainer has no out_dir)", file=sys.stderr)
        else:
            print(f"\nTraining interrupted {where}: checkpoint saved to {path}\n"
                  f"Resume with fit(..., resume={path!r}) or `tinygdl train --resume {path}`", file=sys.stderr)


# --------------------------------------------------------------------------- helpers shared with supervised.py

ON_NAN = ("stop", "skip-batch", "ignore")


def _values(logs: dict) -> str:
    return ", ".join(f"{name} = {value}" for name, value in logs.items())



def evaluate_loader(eval_step, loader, models=()) -> dict:
    """Batch-size-weighted means of ``eval_step(batch)``'s numbers over ``loader``, in eval mode."""
    means = RunningMeans()
    with evaluation_mode(list(models)):
        for batch in loader:
            means.update(metrics_as_floats(eval_step(batch)), batch_size(batch))
    return means.means()


def metrics_as_floats(logs) -> dict:
    """A step's returned dict with every value (Tensor, NumPy scalar, number) as a Python float."""
    if logs is None:
        return {}
    if not isinstance(logs, dict):
        raise TypeError(f"a training or evaluation step must return a dict of metric names to numbers "
                        f"(e.g. {{'loss': loss.item()}}), got {type(logs).__name__}")
    return {name: float(value.item() if isinstance(value, Tensor) else value) for name, value in logs.items()}


def batch_size(batch) -> int:
    """The number of examples in a batch: the length of its first array (1 if it has none)."""
    first = batch[0] if isinstance(batch, (tuple, list)) and batch else batch
    shape = getattr(first, "shape", None)
    return int(shape[0]) if shape else 1
