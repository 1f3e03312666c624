"""The matrix products of one tinygdl training step, each timed alone in NumPy and in PyTorch.

An im2col engine's step is mostly matrix products; PyTorch's convolutions (oneDNN) run other
algorithms, but its ``matmul`` on the same shapes shows what a different BLAS would give the same
engine.  For one row of ``benchmarks/models.py`` (``--model``, ``--setting``), this script

1. runs the tinygdl step under ``tinygdl.profile(record_shapes=True)`` and collects every product's
   operand shapes and layouts (C- or Fortran-ordered: a transposed view reaches BLAS as such);
2. times each shape alone, NumPy ``a @ b`` against ``torch.matmul`` on the same values and layouts,
   in interleaved rounds with the process's CPU time (``--clock cpu``, for a loaded machine);
3. prints a table (calls per step, ms per call in each, ratio) and the totals per step next to
   both engines' whole steps.

    python benchmarks/gemm_shapes.py --model cnn --threads 1
    OPENBLAS_CORETYPE=SkylakeX python benchmarks/gemm_shapes.py --model dcgan --batch 32
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import load_average, markdown_table, set_threads, thread_report, time_interleaved  # noqa: E402

import tinygdl  # noqa: E402
from benchmarks.twins import all_rows  # noqa: E402

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _layout(array) -> str:
    return "C" if array.flags.c_contiguous else "F" if array.flags.f_contiguous else "strided"


def step_products(tinygdl_step) -> dict:
    """``{((shape, layout), ...): calls}`` of the matrix products of one step (after a warm-up)."""
    tinygdl_step()
    seen = {}
    original = tinygdl.profiler.Profile._record_shapes

    def record(self, arrays, flops):
        key = tuple((tuple(a.shape), _layout(a)) for a in arrays)
        seen[key] = seen.get(key, 0) + 1
        original(self, arrays, flops)

    tinygdl.profiler.Profile._record_shapes = record
    try:
        with tinygdl.profile(record_shapes=True):
            tinygdl_step()
    finally:
        tinygdl.profiler.Profile._record_shapes = original
    return seen


def operand(rng, shape, layout):
    array = rng.standard_normal(shape, dtype=np.float32)
    return np.asfortranarray(array) if layout == "F" and len(shape) == 2 else array


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--setting", default="", help="the row's setting ('' for the book's)")
    parser.add_argument("--batch", type=int, help="batch size (default: the row's CPU batch)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="cpu")
    args = parser.parse_args(argv)
    import torch

    set_threads(args.threads, torch)
    row = next(r for r in all_rows() if r.model == args.model and r.setting in (args.setting, "cifar10"))
    batch = args.batch or row.cpu_batch
    ours, theirs = row.make(torch, batch)
    steps = time_interleaved({"tinygdl": ours, "torch": theirs}, args.repeat, clock=CLOCKS[args.clock])
    products = step_products(ours)
    rng = np.random.default_rng(0)
    table, totals = [], {"numpy": 0.0, "torch": 0.0}
    for key, calls in sorted(products.items(), key=lambda item: -np.prod(item[0][0][0]) * item[0][1][0][-1]):
        a, b = (operand(rng, shape, layout) for shape, layout in key)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        if key[0][1] == "F":
            ta = torch.from_numpy(np.ascontiguousarray(a.T)).T
        if key[1][1] == "F":
            tb = torch.from_numpy(np.ascontiguousarray(b.T)).T
        times = time_interleaved({"numpy": lambda: a @ b, "torch": lambda: ta @ tb},  # noqa: B023
                                 args.repeat, clock=CLOCKS[args.clock])
        for engine in totals:
            totals[engine] += calls * times[engine]
        flops = 2 * np.prod(np.broadcast_shapes(a.shape[:-1], b.shape[:-2] + (1,))) * a.shape[-1] * b.shape[-1]
        table.append(((" @ ".join(f"{shape}{'ᵀ' if layout == 'F' else ''}" for shape, layout in key)), str(calls),
                      f"{times['numpy'] * 1e3:.2f}", f"{times['torch'] * 1e3:.2f}",
                      f"{flops / times['numpy'] / 1e9:.0f}", f"{flops / times['torch'] / 1e9:.0f}",
                      f"{times['numpy'] / times['torch']:.2f}x"))
    print(f"{args.model} {row.setting or 'book'}, batch {batch}; {thread_report(torch)}; clock {args.clock}")
    print(markdown_table(("operands (ᵀ: Fortran order)", "calls/step", "NumPy ms", "torch ms", "NumPy GFLOP/s",
                          "torch GFLOP/s", "ratio"), table))
    print(f"\nper step: the products alone take {totals['numpy'] * 1e3:.1f} ms in NumPy, "
          f"{totals['torch'] * 1e3:.1f} ms in torch.matmul; whole steps: tinygdl {steps['tinygdl'] * 1e3:.1f} ms, "
          f"PyTorch {steps['torch'] * 1e3:.1f} ms (ratio {steps['tinygdl'] / steps['torch']:.2f}x); "
          f"outside the products tinygdl spends {(steps['tinygdl'] - totals['numpy']) * 1e3:.1f} ms")
    print(f"load average (1 min): {load_average()}")


if __name__ == "__main__":
    main()
