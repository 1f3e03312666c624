"""Callbacks: code the Trainer runs at fixed points of training, as Keras's callbacks.

A callback overrides any of

    on_train_begin()                 before the first epoch of a ``fit`` call
    on_epoch_begin(epoch)            ``epoch`` counts from 0, as in Keras
    on_batch_end(step, logs)         after each optimisation step; ``step`` counts steps from 1,
                                     ``logs`` are the running means of the epoch so far
    on_epoch_end(epoch, logs)        after validation; ``logs`` hold the epoch's means (``val_*`` too)
    on_train_end(logs)               however training ends: finished, stopped early or interrupted

and reads the run through ``self.trainer`` (its ``history``, ``epoch``, ``global_step``, ``models``,
``out_dir``; setting ``trainer.stop_training = True`` ends training: at the end of the epoch from
``on_epoch_end``, at the end of the step from ``on_batch_end``, which cuts that epoch short).

Callbacks run in the order given, except that those with ``runs_last = True`` (``ModelCheckpoint``)
run after all others: a checkpoint then captures the state the next epoch starts from, including
the random generator after a ``SampleSaver`` drew its noise.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time

from tqdm import tqdm


class Callback:
    """Base class: every hook does nothing."""

    runs_last = False
    trainer = None

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer

    def on_train_begin(self) -> None:
        pass

    def on_epoch_begin(self, epoch: int) -> None:
        pass

    def on_batch_end(self, step: int, logs: dict) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        pass

    def on_train_end(self, logs: dict) -> None:
        pass


def format_logs(logs: dict) -> str:
    """Keras's progress-line style: ``loss: 0.2534 - accuracy: 0.9100``."""
    return " - ".join(f"{name}: {_format_number(value)}" for name, value in logs.items())


def _format_number(value: float) -> str:
    return f"{value:.4e}" if value != 0 and abs(value) < 1e-3 else f"{value:.4f}"


class ProgressBar(Callback):
    """One tqdm bar per epoch showing the running means; the Trainer adds it when ``progress=True``."""

    def __init__(self, file=None):
        self.file = file
        self.bar = None

    def on_epoch_begin(self, epoch):
        self.close()
        trainer = self.trainer
        self.bar = tqdm(total=trainer.steps_in_epoch(), initial=trainer.batch_in_epoch, unit="step",
                        desc=f"Epoch {epoch + 1}/{trainer.epochs}", file=self.file or sys.stderr,
                        dynamic_ncols=True)

    def on_batch_end(self, step, logs):
        self.bar.set_postfix_str(format_logs(logs), refresh=False)
        self.bar.update()

    def on_epoch_end(self, epoch, logs):
        self.bar.set_postfix_str(format_logs(logs))
        self.close()

    def on_train_end(self, logs):
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _WritesFiles(Callback):
    """A callback whose ``filename`` is relative to the Trainer's ``out_dir`` (or absolute)."""

    filename: str

    def set_trainer(self, trainer):
        if trainer.out_dir is None and not os.path.isabs(self.filename):
            raise ValueError(f"{type(self).__name__} writes {self.filename!r} into the run folder: "
                             "give the Trainer an out_dir (or the callback an absolute filename)")
        super().set_trainer(trainer)

    def path(self, **fields) -> str:
        return self.trainer.output_path(self.filename.format(**fields))


class ModelCheckpoint(_WritesFiles):
    """Save a checkpoint every ``every`` epochs.

    ``filename`` may contain ``{epoch}`` (epochs completed, e.g. ``"checkpoint-{epoch:04d}.npz"``)
    and ``{step}``; the default keeps one file, replaced atomically each time.
    """

    runs_last = True

    def __init__(self, filename: str = "checkpoint.npz", every: int = 1):
        if every < 1:
            raise ValueError(f"ModelCheckpoint: every must be at least 1, got {every}")
        self.filename, self.every = filename, every
        self.last_path = None

    def on_epoch_end(self, epoch, logs):
        if (epoch + 1) % self.every == 0:
            path = self.path(epoch=epoch + 1, step=self.trainer.global_step)
            self.last_path = self.trainer.save_checkpoint(path)


class SampleSaver(_WritesFiles):
    """Call ``fn(path)`` every ``every_epochs`` epochs, or every ``every_steps`` steps, to write
    samples (usually a PNG made with ``tinygdl.plot``) under the run folder.

    ``fn`` runs with every model in eval mode and without recording gradients.  ``filename`` may
    contain ``{epoch}`` (1-based) and ``{step}``.
    """

    def __init__(self, fn, every_epochs: int = 1, every_steps: int | None = None, filename: str | None = None):
        if every_epochs < 1 or (every_steps is not None and every_steps < 1):
            raise ValueError(f"SampleSaver: every_epochs and every_steps must be at least 1, "
                             f"got {every_epochs} and {every_steps}")
        self.fn, self.every_epochs, self.every_steps = fn, every_epochs, every_steps
        default = "samples/step-{step:07d}.png" if every_steps else "samples/epoch-{epoch:04d}.png"
        self.filename = filename or default

    def on_batch_end(self, step, logs):
        if self.every_steps and step % self.every_steps == 0:
            self.save(epoch=self.trainer.epoch + 1, step=step)

    def on_epoch_end(self, epoch, logs):
        if not self.every_steps and (epoch + 1) % self.every_epochs == 0:
            self.save(epoch=epoch + 1, step=self.trainer.global_step)

    def save(self, epoch: int, step: int) -> str:
        path = self.path(epoch=epoch, step=step)
        with self.trainer.evaluating():
            self.fn(path)
        return path


class TimeLimit(Callback):
    """Stop training once ``seconds`` of it have passed (checked after every step; the epoch in
    progress ends there, and is then saved and logged like any other)."""

    def __init__(self, seconds: float):
        if not seconds > 0:
            raise ValueError(f"TimeLimit: seconds must be positive, got {seconds}")
        self.seconds = seconds

    def on_train_begin(self):
        self.started = time.perf_counter()

    def on_batch_end(self, step, logs):
        if time.perf_counter() - self.started > self.seconds:
            self.trainer.stop_training = True


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs in a row.

    An improvement is a change of more than ``min_delta`` in the right direction: down for
    ``mode="min"``, up for ``"max"``; ``"auto"`` picks ``max`` for accuracies and ``min`` otherwise.
    The decision is read from the trainer's history, so it carries over a resumed run.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 1, min_delta: float = 0.0, mode: str = "auto",
                 verbose: bool = True):
        if patience < 1:
            raise ValueError(f"EarlyStopping: patience must be at least 1, got {patience}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, abs(min_delta), mode
        self.verbose = verbose
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs):
        history = self.trainer.history
        if self.monitor not in history:
            raise KeyError(f"EarlyStopping monitors {self.monitor!r}, but the run logs {sorted(history.keys())}")
        if self.epochs_without_improvement(history[self.monitor]) >= self.patience:
            self.trainer.stop_training = True
            self.stopped_epoch = epoch
            if self.verbose:
                print(f"Early stopping after epoch {epoch + 1}: {self.monitor} has not improved for "
                      f"{self.patience} epoch(s)", file=sys.stderr)

    def epochs_without_improvement(self, values: list) -> int:
        best, waited = values[0], 0
        for value in values[1:]:
            if self.improves(value, best):
                best, waited = value, 0
            else:
                waited += 1
        return waited

    def improves(self, value: float, best: float) -> bool:
        if math.isnan(best):
            return not math.isnan(value)
        return value < best - self.min_delta if self.mode == "min" else value > best + self.min_delta


class CSVLogger(_WritesFiles):
    """Write the per-epoch history to a CSV file (one row per epoch), rewritten after every epoch,
    so that it always matches the history, also after a resume."""

    def __init__(self, filename: str = "history.csv"):
        self.filename = filename

    def on_epoch_end(self, epoch, logs):
        history = self.trainer.history
        with open(self.path(), "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["epoch", *history.keys()])
            for row, index in enumerate(history.epoch):
                writer.writerow([index + 1, *(repr(history[name][row]) for name in history.keys())])
