"""Learning-rate schedules: plain functions of the step, and a scheduler object that applies one.

A schedule is a function ``schedule(step, base_lr) -> lr``: the learning rate to use after
``step`` calls of ``scheduler.step()`` (0 at the start), given the learning rate the optimizer was
built with.  Four are provided, as functions (to plot, or to call from a custom loop) and as
ready-made schedulers::

    step_decay        lr = base·γ^floor(step/step_size)                            StepLR
    cosine_annealing  lr = min + (base − min)·(1 + cos(π·step/total))/2           CosineAnnealingLR
    linear_warmup     lr = base·(s + (1 − s)·min(step, warmup)/warmup)            LinearWarmupLR
    warmup_cosine     linear warm-up for ``warmup`` steps, then cosine to ``min``   WarmupCosineLR

Usage, as in PyTorch — step the scheduler after the optimizer::

    scheduler = WarmupCosineLR(optimizer, warmup_steps=500, total_steps=10_000)
    for batch in data:
        ...; optimizer.step(); scheduler.step()

Whether one step means a batch or an epoch is up to the loop that calls it.  (None of the book's
models uses a schedule; these are for the experiments built on top of them.)
"""

from __future__ import annotations

import functools
import math

import numpy as np


def step_decay(step: int, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    """Multiply the learning rate by ``gamma`` every ``step_size`` steps (``torch.optim.lr_scheduler.StepLR``)."""
    return base_lr * gamma ** (step // step_size)


def cosine_annealing(step: int, base_lr: float, total_steps: int, min_lr: float = 0.0) -> float:
    """Half a cosine from ``base_lr`` (step 0) down to ``min_lr`` (step ``total_steps``), then flat.

    Equals ``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=total_steps, eta_min=min_lr)`` for
    steps 0…total_steps (PyTorch then climbs back up; here it stays at ``min_lr``).
    """
    if total_steps <= 0:
        raise ValueError(f"cosine_annealing: total_steps must be positive, got {total_steps}")
    progress = min(step, total_steps) / total_steps
    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * progress)) / 2


def linear_warmup(step: int, base_lr: float, warmup_steps: int, start_factor: float = 0.0) -> float:
    """Rise linearly from ``start_factor·base_lr`` to ``base_lr`` over ``warmup_steps``, then flat.

    With the default ``start_factor=0`` the very first update uses lr = 0 (as Hugging Face's warm-up);
    ``torch.optim.lr_scheduler.LinearLR(start_factor, total_iters=warmup_steps)`` is the same
    schedule with a positive ``start_factor``.
    """
    if warmup_steps <= 0:
        raise ValueError(f"linear_warmup: warmup_steps must be positive, got {warmup_steps}")
    progress = min(step, warmup_steps) / warmup_steps
    return base_lr * (start_factor + (1 - start_factor) * progress)


def warmup_cosine(step: int, base_lr: float, warmup_steps: int, total_steps: int, min_lr: float = 0.0,
                  start_factor: float = 0.0) -> float:
    """``linear_warmup`` for the first ``warmup_steps``, then ``cosine_annealing`` from ``base_lr`` to
    ``min_lr`` over the remaining ``total_steps − warmup_steps`` (the usual Transformer schedule)."""
    if step < warmup_steps:
        return linear_warmup(step, base_lr, warmup_steps, start_factor)
    return cosine_annealing(step - warmup_steps, base_lr, total_steps - warmup_steps, min_lr)


class LRScheduler:
    """Set every parameter group's ``lr`` to ``schedule(step_count, base_lr)``.

    ``base_lrs`` are the groups' learning rates when the scheduler is created; the lr of step 0 is
    applied at once.  ``step()`` advances by one.  ``state_dict()`` holds the step count and the base
    learning rates (NumPy-savable); the optimizer's own state dict holds the current lr.
    """

    def __init__(self, optimizer, schedule):
        self.optimizer, self.schedule = optimizer, schedule
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.step_count = 0
        self._apply()

    def step(self) -> None:
        self.step_count += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        """The learning rate of each group, as set by the last ``step()``."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def _apply(self) -> None:
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.schedule(self.step_count, base_lr)

    def state_dict(self) -> dict:
        return {"step_count": self.step_count, "base_lrs": np.array(self.base_lrs, dtype=np.float64)}

    def load_state_dict(self, state) -> None:
        self.step_count = int(state["step_count"])
        self.base_lrs = [float(lr) for lr in np.asarray(state["base_lrs"])]
        self._apply()


class StepLR(LRScheduler):
    """``step_decay`` as a scheduler."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer, functools.partial(step_decay, step_size=step_size, gamma=gamma))


class CosineAnnealingLR(LRScheduler):
    """``cosine_annealing`` as a scheduler."""

    def __init__(self, optimizer, total_steps: int, min_lr: float = 0.0):
        super().__init__(optimizer, functools.partial(cosine_annealing, total_steps=total_steps, min_lr=min_lr))


class LinearWarmupLR(LRScheduler):
    """``linear_warmup`` as a scheduler."""

    def __init__(self, optimizer, warmup_steps: int, start_factor: float = 0.0):
        super().__init__(optimizer, functools.partial(linear_warmup, warmup_steps=warmup_steps,
                                                      start_factor=start_factor))


class WarmupCosineLR(LRScheduler):
    """``warmup_cosine`` as a scheduler."""

    def __init__(self, optimizer, warmup_steps: int, total_steps: int, min_lr: float = 0.0,
                 start_factor: float = 0.0):
        super().__init__(optimizer, functools.partial(warmup_cosine, warmup_steps=warmup_steps,
                                                      total_steps=total_steps, min_lr=min_lr,
                                                      start_factor=start_factor))
