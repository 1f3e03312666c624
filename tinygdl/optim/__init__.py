"""Optimizers, learning-rate schedules, gradient clipping and weight averaging.

Read ``optimizer.py`` first (parameter groups, the update loop, saving the state), then one
optimizer: ``sgd.py`` is the shortest, ``adam.py`` the one the book's models use.

A training step::

    optimizer = tinygdl.optim.Adam(model.parameters(), lr=2e-4, betas=(0.5, 0.999), eps_convention="keras")
    optimizer.zero_grad()
    loss.backward()
    tinygdl.optim.clip_grad_norm_(model.parameters(), 1.0)   # optional
    optimizer.step()
"""

from .adam import Adam, AdamW
from .clip import clip_grad_norm_, clip_grad_value_
from .ema import EMA
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .schedules import (
    CosineAnnealingLR,
    LinearWarmupLR,
    LRScheduler,
    StepLR,
    WarmupCosineLR,
    cosine_annealing,
    linear_warmup,
    step_decay,
    warmup_cosine,
)
from .sgd import SGD

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop",
    "clip_grad_norm_", "clip_grad_value_",
    "LRScheduler", "StepLR", "CosineAnnealingLR", "LinearWarmupLR", "WarmupCosineLR",
    "step_decay", "cosine_annealing", "linear_warmup", "warmup_cosine",
    "EMA",
]
