"""``tinygdl gradcheck``: the gradient checks of every op and every layer, as a pass/fail table.

The checks are the two tables ``ops.py`` (one entry per op and argument pattern) and
``layers.py`` (one entry per layer); the test suite runs the same tables.
"""

from __future__ import annotations

import time

import numpy as np

from ..backend import default_dtype
from ..ops import manual_seed
from ..tensor import Tensor
from ..testing import GradcheckError, gradcheck, gradgradcheck

RTOL, ATOL = 1e-3, 1e-5


def layer_inputs(spec, seed: int = 0):
    """The float64 module of a layer spec, and its input tensors (floats require grad)."""
    rng = np.random.default_rng(seed)
    with default_dtype(np.float64):
        module = spec.build()
    module.train(spec.train)
    arrays = spec.make(rng, spec.inputs) if spec.make else [rng.standard_normal(s) for s in spec.inputs]
    inputs = [Tensor(np.asarray(a), requires_grad=np.asarray(a).dtype.kind == "f") for a in arrays]
    return module, inputs


def check_layer(spec, order: int = 1) -> None:
    """Gradient check of a layer w.r.t. its inputs and all its parameters (raises GradcheckError)."""
    module, inputs = layer_inputs(spec)
    params = module.parameters()
    n = len(inputs)
    call = spec.call or (lambda m, *xs: m(*xs))

    def fn(*tensors):
        manual_seed(0)  # the same dropout mask at every evaluation
        return call(module, *tensors[:n])

    check = gradcheck if order == 1 else gradgradcheck
    check(fn, inputs + params, atol=ATOL, rtol=RTOL, name=spec.id)


def check_op(spec, case: int = 0, order: int = 1) -> None:
    """Gradient check of one op-table entry on one of its cases (raises GradcheckError)."""
    from .ops import make_inputs

    inputs = [Tensor(a, requires_grad=a.dtype.kind == "f") for a in make_inputs(spec, case)]
    check = gradcheck if order == 1 else gradgradcheck
    check(spec.fn, inputs, atol=ATOL, rtol=RTOL, name=spec.id)


def run_all(only: str | None = None, verbose: bool = True) -> list:
    """Run every check (those whose name contains ``only``); print a table; return the failures."""
    from .layers import SPECS as LAYER_SPECS
    from .ops import SPECS as OP_SPECS

    jobs = [("op", s.id, s, check_op, s.second_order) for s in OP_SPECS if s.grad and s.numeric]
    jobs += [("layer", s.id, s, check_layer, s.second_order) for s in LAYER_SPECS]
    jobs = [job for job in jobs if only is None or only in job[1]]
    failures = []
    if verbose:
        print(f"{'kind':<6} {'check':<40} {'1st order':<10} {'2nd order':<10} time")
    for kind, name, spec, check, second in jobs:
        start = time.perf_counter()
        results = [_outcome(check, spec, 1), _outcome(check, spec, 2) if second else "-"]
        failures += [(name, r) for r in results if r not in ("pass", "-")]
        if verbose:
            cells = ["pass" if r == "pass" else ("-" if r == "-" else "FAIL") for r in results]
            print(f"{kind:<6} {name:<40} {cells[0]:<10} {cells[1]:<10} {time.perf_counter() - start:.2f}s")
    if verbose:
        print(f"\n{len(jobs)} checks, {len(failures)} failures")
        for name, message in failures:
            print(f"FAILED {name}: {message}")
    return failures


def _outcome(check, spec, order) -> str:
    try:
        check(spec, order=order)
    except GradcheckError as error:
        return str(error)
    return "pass"
