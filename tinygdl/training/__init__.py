"""Training: the ``Trainer`` loop, callbacks, the ``History`` it returns, and Keras's ``fit`` /
``evaluate`` / ``predict`` on top of it.

Read ``trainer.py`` first (the loop and what a *step* is), then ``callbacks.py``;
``supervised.py`` shows a step for the simplest case, a classifier.  Checkpoints are written by
``tinygdl.checkpoint``.
"""

from .callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    ModelCheckpoint,
    ProgressBar,
    SampleSaver,
    TimeLimit,
    format_logs,
)
from .history import History, RunningMeans
from .supervised import evaluate, fit, predict
from .trainer import Trainer, evaluate_loader, evaluation_mode

__all__ = [
    "Trainer", "History", "RunningMeans", "evaluate_loader", "evaluation_mode",
    "Callback", "ProgressBar", "ModelCheckpoint", "SampleSaver", "EarlyStopping", "CSVLogger", "TimeLimit",
    "format_logs",
    "fit", "evaluate", "predict",
]
