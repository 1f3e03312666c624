"""``History``: the metrics a training run logged, and ``RunningMeans``, which averages them."""

from __future__ import annotations

import math


class History:
    """What ``fit`` returns, as Keras's ``History``:

    * ``history.history``: ``{metric: [mean of epoch 1, mean of epoch 2, ...]}``, e.g. ``"loss"``,
      ``"accuracy"``, ``"val_loss"``; ``history["loss"]`` is a shortcut;
    * ``history.epoch``: the (0-based) epoch index of each entry;
    * ``history.steps`` and ``history.step``: the same for single steps, filled only when the
      Trainer is asked to log every step (``log_steps=True``).

    A metric missing from some entries is NaN there, so every list has one value per entry.
    """

    def __init__(self):
        self.epoch: list[int] = []
        self.history: dict[str, list[float]] = {}
        self.step: list[int] = []
        self.steps: dict[str, list[float]] = {}

    def record_epoch(self, epoch: int, logs: dict) -> None:
        _append_row(self.epoch, self.history, epoch, logs)

    def record_step(self, step: int, logs: dict) -> None:
        _append_row(self.step, self.steps, step, logs)

    def __getitem__(self, metric: str) -> list[float]:
        return self.history[metric]

    def __contains__(self, metric: str) -> bool:
        return metric in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def keys(self):
        return self.history.keys()

    def last(self) -> dict:
        """The metrics of the latest epoch."""
        return {name: values[-1] for name, values in self.history.items()}

    def to_dict(self) -> dict:
        """A JSON-ready copy (checkpoints store it)."""
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()},
                "step": list(self.step), "steps": {k: list(v) for k, v in self.steps.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        history = cls()
        history.epoch = list(data.get("epoch", []))
        history.history = {k: list(v) for k, v in data.get("history", {}).items()}
        history.step = list(data.get("step", []))
        history.steps = {k: list(v) for k, v in data.get("steps", {}).items()}
        return history

    def __repr__(self):
        return f"History({len(self.epoch)} epochs: {', '.join(self.history) or 'no metrics'})"


def _append_row(index: list, table: dict, position: int, logs: dict) -> None:
    """Append one row to a column table, padding columns that this row or earlier rows lack with NaN."""
    for name in logs:
        table.setdefault(name, [math.nan] * len(index))
    index.append(position)
    for name, column in table.items():
        column.append(float(logs.get(name, math.nan)))


class RunningMeans:
    """Weighted means of metrics over the steps of an epoch (what the progress bar shows).

    Each step's values are weighted by its batch size, so that the epoch's ``loss`` is the mean over
    examples even when the last batch is smaller (as Keras averages it).
    """

    def __init__(self, sums: dict | None = None, weights: dict | None = None):
        self.sums = dict(sums or {})
        self.weights = dict(weights or {})

    def update(self, logs: dict, weight: float = 1.0) -> None:
        for name, value in logs.items():
            self.sums[name] = self.sums.get(name, 0.0) + value * weight
            self.weights[name] = self.weights.get(name, 0.0) + weight

    def means(self) -> dict:
        return {name: self.sums[name] / self.weights[name] for name in self.sums}

    def state(self) -> dict:
        """The sums so far, to continue an interrupted epoch from a checkpoint."""
        return {"sums": dict(self.sums), "weights": dict(self.weights)}
