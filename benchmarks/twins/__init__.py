"""PyTorch twins of the zoo's models, shared by ``benchmarks/models.py`` and the parity tests.

One module per model family (``twins/gans.py``, ``twins/diffusion.py`` ...).  Each defines
``ROWS``: a list of ``ModelRow``s, one per (model, setting) that ``benchmarks/models.py`` times,
and whatever twin builders its tests import (``from benchmarks.twins.diffusion import ...``;
``tests/conftest.py`` puts the repository root on ``sys.path``).

A row's ``make(torch, batch_size)`` builds the tinygdl model and its PyTorch twin with *the same
weights*, draws one batch, and returns two functions of no arguments, each running one full
training step (forward, loss, backward, optimizer update) of its engine on that batch:
``(tinygdl_step, torch_step)``.  Adding a model to the benchmark table is one such function.
A ``make`` that also takes ``device="cuda"`` (tinygdl on CuPy, PyTorch on CUDA) gives the row a
GPU measurement too (``benchmarks/gpu/run.sh``); rows without it are CPU-only.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class ModelRow:
    model: str  # the zoo name
    setting: str  # what differs from the book's defaults, e.g. "32x32" ("" for the book's)
    book_batch: int  # the book's batch size
    cpu_batch: int  # a CPU-scale batch size
    make: Callable  # make(torch, batch_size[, device="cuda"]) -> (tinygdl_step, torch_step)


def all_rows() -> list:
    """Every family module's ``ROWS``, in module-name order."""
    rows = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        rows += getattr(importlib.import_module(f"{__name__}.{info.name}"), "ROWS", [])
    return rows
