"""Keras's ``fit`` / ``evaluate`` / ``predict`` for supervised models (the book's chapter-2 classifiers).

``fit`` builds the DataLoaders and a train step (forward, loss, backward, optimizer step) and hands
them to the ``Trainer``; everything the Trainer offers — progress bar, validation, callbacks,
checkpoints, resuming — is available here too.

Losses are given by Keras name or as a function ``loss(outputs, targets) -> Tensor``:

* ``"categorical_crossentropy"`` (alias ``"sparse_categorical_crossentropy"``): targets may be class
  ids (integers) or one-hot rows (floats); the right ``tinygdl.losses`` function is picked per batch.
* ``"binary_crossentropy"``, ``"mse"`` (``"mean_squared_error"``), ``"mae"`` (``"mean_absolute_error"``).

**Probabilities or logits.**  The book's classifiers end in a softmax and compute the cross-entropy
of those probabilities (clipped to [1e-7, 1 − 1e-7], as Keras does): that is the default,
``from_logits=False``.  A model that ends in a plain Linear layer outputs logits: pass
``from_logits=True`` and the cross-entropy is computed from them directly (log-softmax), which is
more accurate.  ``from_logits`` also sets the threshold of binary accuracy (0.5 or 0).
"""

from __future__ import annotations

import functools

import numpy as np

from .. import losses
from ..data.loader import ArrayDataset, DataLoader, Dataset
from ..optim import Adam
from ..tensor import Tensor
from .trainer import Trainer, evaluate_loader, evaluation_mode


def fit(model, x, y=None, *, epochs: int = 1, batch_size: int = 32, loss="categorical_crossentropy",
        optimizer=None, metrics=("accuracy",), from_logits: bool = False, validation_data=None,
        shuffle: bool = True, seed: int | None = None, callbacks=None, verbose: bool = True, out_dir=None,
        resume=None, steps_per_epoch: int | None = None, extra: dict | None = None):
    """Train ``model`` on inputs ``x`` and targets ``y`` (arrays, or a Dataset of (input, target)
    pairs as ``x``) and return the ``History``.

    ``optimizer`` defaults to Keras's Adam (lr 1e-3, ε 1e-7 on the uncorrected moment);
    ``validation_data`` is ``(x_val, y_val)`` or a Dataset, evaluated after every epoch (``val_*``);
    ``seed`` fixes the shuffling (None: drawn from ``tinygdl.manual_seed``'s generator).
    ``out_dir``, ``resume``, ``steps_per_epoch`` and ``extra`` are passed on to the ``Trainer``.
    """
    optimizer = optimizer or Adam(model.parameters(), eps_convention="keras")
    steps = SupervisedSteps(model, resolve_loss(loss, from_logits), resolve_metrics(metrics, from_logits), optimizer)
    loader = make_loader(x, y, batch_size, shuffle=shuffle, seed=seed, device=model.device)
    val_loader = None
    if validation_data is not None:
        pair = (validation_data,) if isinstance(validation_data, Dataset) else tuple(validation_data)
        val_loader = make_loader(*pair, batch_size=batch_size, device=model.device)
    trainer = Trainer(steps.train, loader, {"model": model}, {"optimizer": optimizer}, eval_step=steps.evaluate,
                      val_loader=val_loader, callbacks=callbacks or (), out_dir=out_dir,
                      steps_per_epoch=steps_per_epoch, progress=verbose, extra=extra)
    return trainer.fit(epochs, resume=resume)


def evaluate(model, x, y=None, batch_size: int = 32, loss="categorical_crossentropy", metrics=("accuracy",),
             from_logits: bool = False) -> dict:
    """The loss and metrics of ``model`` on ``(x, y)``, averaged over examples, in eval mode."""
    steps = SupervisedSteps(model, resolve_loss(loss, from_logits), resolve_metrics(metrics, from_logits))
    return evaluate_loader(steps.evaluate, make_loader(x, y, batch_size, device=model.device), [model])


def predict(model, x, batch_size: int = 32) -> np.ndarray:
    """``model``'s outputs for inputs ``x`` (an array, or a Dataset whose first array is the input)
    as one NumPy array, computed batch by batch in eval mode."""
    loader = make_loader(x, batch_size=batch_size, device=model.device)
    with evaluation_mode([model]):
        return np.concatenate([model(batch[0]).numpy() for batch in loader])


class SupervisedSteps:
    """The train and eval steps of a model trained on (input, target) batches with one loss."""

    def __init__(self, model, loss_fn, metrics: dict, optimizer=None):
        self.model, self.loss_fn, self.metrics, self.optimizer = model, loss_fn, metrics, optimizer

    def forward(self, batch):
        """The loss (a Tensor, to differentiate) and the numbers to log."""
        inputs, targets = batch
        outputs = self.model(inputs)
        loss = self.loss_fn(outputs, targets)
        logs = {"loss": loss.item()}
        logs.update({name: metric(outputs, targets) for name, metric in self.metrics.items()})
        return loss, logs

    def train(self, batch) -> dict:
        self.optimizer.zero_grad()
        loss, logs = self.forward(batch)
        loss.backward()
        self.optimizer.step()
        return logs

    def evaluate(self, batch) -> dict:
        return self.forward(batch)[1]


def make_loader(x, y=None, batch_size: int = 32, shuffle: bool = False, seed: int | None = None,
                device="cpu") -> DataLoader:
    """A DataLoader over a Dataset, or over arrays (NumPy arrays or Tensors) ``x`` and ``y``."""
    if isinstance(x, Dataset):
        if y is not None:
            raise ValueError("pass targets inside the Dataset, or arrays x and y, not a Dataset and y")
        dataset = x
    else:
        dataset = ArrayDataset(*(_as_numpy(a) for a in ((x,) if y is None else (x, y))))
    return DataLoader(dataset, batch_size, shuffle=shuffle, seed=seed, device=device)


def _as_numpy(array):
    return array.numpy() if isinstance(array, Tensor) else np.asarray(array)


# --------------------------------------------------------------------------- losses and metrics by name


def categorical_crossentropy(outputs: Tensor, targets: Tensor, from_logits: bool = False) -> Tensor:
    """Cross-entropy over the last axis for class-id targets (integers) or one-hot targets (floats)."""
    sparse = targets.dtype.kind in "iu"
    name = ("sparse_" if sparse else "") + "categorical_cross_entropy" + ("_with_logits" if from_logits else "")
    return getattr(losses, name)(outputs, targets)


def _binary_crossentropy(outputs, targets, from_logits=False):
    targets = targets.astype(outputs.dtype).reshape(outputs.shape)
    if from_logits:
        return losses.binary_cross_entropy_with_logits(outputs, targets)
    return losses.binary_cross_entropy(outputs, targets)


_LOSSES = {
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": categorical_crossentropy,
    "binary_crossentropy": _binary_crossentropy,
}
_REGRESSION_LOSSES = {
    "mse": "mse_loss", "mean_squared_error": "mse_loss",
    "mae": "mae_loss", "mean_absolute_error": "mae_loss",
}


def resolve_loss(loss, from_logits: bool = False):
    """A loss function ``(outputs, targets) -> Tensor`` from a Keras name or a function."""
    if callable(loss):
        return loss
    if loss in _LOSSES:
        return functools.partial(_LOSSES[loss], from_logits=from_logits)
    if loss in _REGRESSION_LOSSES:
        return getattr(losses, _REGRESSION_LOSSES[loss])
    raise ValueError(f"unknown loss {loss!r}: use one of {sorted(_LOSSES) + sorted(_REGRESSION_LOSSES)} "
                     "or a function (outputs, targets) -> Tensor")


def accuracy(outputs: Tensor, targets: Tensor, from_logits: bool = False) -> float:
    """The fraction of correct predictions.  Several outputs per example: the arg-max class against
    the class id (or the one-hot row's arg-max).  One output: above 0.5 (above 0 for logits)."""
    predicted, truth = outputs.numpy(), targets.numpy()
    if predicted.ndim == 1 or predicted.shape[-1] == 1:
        predicted = predicted.reshape(len(predicted), -1) > (0.0 if from_logits else 0.5)
        truth = truth.reshape(predicted.shape) > 0.5
    else:
        predicted = predicted.argmax(axis=-1)
        truth = truth if truth.dtype.kind in "iu" else truth.argmax(axis=-1)
    return float(np.mean(predicted == truth))


def resolve_metrics(metrics, from_logits: bool = False) -> dict:
    """``{name: metric(outputs, targets) -> float}`` from names (``"accuracy"``/``"acc"``) and functions
    (named after themselves)."""
    resolved = {}
    for metric in metrics or ():
        if callable(metric):
            resolved[metric.__name__] = metric
        elif metric in ("accuracy", "acc"):
            resolved[metric] = functools.partial(accuracy, from_logits=from_logits)
        else:
            raise ValueError(f"unknown metric {metric!r}: use 'accuracy' or a function (outputs, targets) -> float")
    return resolved
