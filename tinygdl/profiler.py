"""Where does the time go?  A per-op profiler, in the spirit of ``torch.profiler``'s key averages.

    with tinygdl.profile() as prof:
        loss = model(x).sum()
        loss.backward()
    print(prof.table())

Every ``Function`` call is timed: its forward under its name (``MatMul``, ``Im2Col``, ...), and its
backward under ``<name> (backward)``.  Backward formulas are themselves Tensor ops, so the ops
that a backward runs are timed under their own names too; each row therefore shows two times:

* ``self``: time spent in the op itself, not in ops it called (the rows' self times add up to
  the profiled time spent in ops, so ``share`` is the fraction of that);
* ``total``: time from the op's start to its end, the ops it called included.

Matrix products also get GFLOP/s (``2·M·N·K`` floating-point operations per product), the
number to compare with the machine's BLAS speed.  An op that runs several kernels inside one
Function times each of them as a nested row of its own (``inner``): a convolution
(``Convolution``) shows its ``im2col kernel``, ``GEMM`` and ``col2im kernel`` rows, whose times are
taken out of the op's self time.

When no profiler is active, ``Function.__call__`` and the backward walk test one module-level
variable and nothing else (``benchmarks/overhead.py`` shows it costs nothing measurable).
Profiles nest poorly: only one may be active at a time.
"""

from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass

# the module, not the function: ``tinygdl.tensor`` is the tensor() constructor at package level
_tensor = importlib.import_module(".tensor", __package__)


@dataclass
class OpStats:
    name: str
    calls: int = 0
    self_seconds: float = 0.0
    total_seconds: float = 0.0
    flops: float = 0.0  # floating-point operations, for the ops whose count is known


def _matmul_flops(inputs, output) -> float:
    """``2·K`` operations per output element of a (batched) matrix product, K the shared axis."""
    a = inputs[0]
    k = a.shape[-1] if a.ndim else 1
    return 2.0 * math.prod(output.shape) * k


# Function class name -> flops(input arrays, output array).  Products inside other ops are counted
# where they run (``inner(..., product=True)``).
FLOP_COUNTERS = {"MatMul": _matmul_flops}


def inner(name: str, run, *args, product: bool = False):
    """``run(*args)``: a kernel or BLAS call inside an op.  Under an active profile it is timed as
    a row of its own, ``name``, nested in the op (``product=True``: ``args[0] @ args[1]``, whose
    operations are counted and, with ``record_shapes``, whose operand shapes are recorded)."""
    profiler = _tensor._profiler
    if profiler is None:
        return run(*args)
    result = profiler._timed(name, run, args)
    if product:
        flops = _matmul_flops(args, result)
        profiler.stats[name].flops += flops
        if profiler.record_shapes:
            profiler._record_shapes(args, flops)
    return result


class Profile:
    """Collects per-op timings while active (use ``tinygdl.profile()``)."""

    def __init__(self, synchronize=None, clock=time.perf_counter, record_shapes: bool = False):
        self.clock = clock
        self.stats: dict[str, OpStats] = {}
        # with record_shapes: the matrix products by operand shapes, ``{(a.shape, b.shape): OpStats}``
        self.record_shapes = record_shapes
        self.matmul_shapes: dict[tuple, OpStats] = {}
        self.wall_seconds = 0.0
        self._stack: list[float] = []  # the child time accumulated by each op still running
        self._synchronize = synchronize or (lambda: None)

    # -- what tensor.py calls ------------------------------------------------------------------

    def forward(self, fn, arrays):
        results = self._timed(fn.name, fn.forward, arrays)
        counter = FLOP_COUNTERS.get(type(fn).__name__)
        if counter is not None and not isinstance(results, tuple):
            flops = counter(arrays, results)
            self.stats[fn.name].flops += flops
            if self.record_shapes:
                self._record_shapes(arrays, flops)
        return results

    def _record_shapes(self, arrays, flops: float) -> None:
        """Add the product just timed (the last ``MatMul`` call) to ``matmul_shapes``."""
        key = tuple(tuple(a.shape) for a in arrays)
        stats = self.matmul_shapes.get(key) or self.matmul_shapes.setdefault(key, OpStats(" @ ".join(map(str, key))))
        stats.calls += 1
        stats.self_seconds += self._last_seconds
        stats.total_seconds += self._last_seconds
        stats.flops += flops

    def backward(self, fn, grads):
        return self._timed(f"{fn.name} (backward)", fn.backward, grads)

    def _timed(self, name: str, run, args):
        self._stack.append(0.0)
        self._synchronize()
        start = self.clock()
        try:
            return run(*args)
        finally:
            self._synchronize()
            elapsed = self.clock() - start
            self._last_seconds = elapsed
            children = self._stack.pop()
            if self._stack:
                self._stack[-1] += elapsed
            stats = self.stats.get(name) or self.stats.setdefault(name, OpStats(name))
            stats.calls += 1
            stats.total_seconds += elapsed
            stats.self_seconds += elapsed - children

    # -- the context manager ---------------------------------------------------------------------

    def __enter__(self) -> "Profile":
        if _tensor._profiler is not None:
            raise RuntimeError("tinygdl.profile(): another profile is already active")
        _tensor._profiler = self
        self._started = self.clock()
        return self

    def __exit__(self, *exc) -> None:
        _tensor._profiler = None
        self.wall_seconds += self.clock() - self._started

    # -- results ---------------------------------------------------------------------------------

    @property
    def op_seconds(self) -> float:
        """Time spent inside ops (the rest of the wall time is Python between them)."""
        return sum(s.self_seconds for s in self.stats.values())

    def rows(self, sort_by: str = "self_seconds") -> list:
        return sorted(self.stats.values(), key=lambda s: getattr(s, sort_by), reverse=True)

    def table(self, limit: int | None = 25, sort_by: str = "self_seconds") -> str:
        """A text table, one row per op name, the most expensive first."""
        op_seconds = self.op_seconds or 1e-12
        header = f"{'op':<32}{'calls':>7}{'self ms':>10}{'share':>8}{'total ms':>10}{'GFLOP/s':>9}"
        lines = [header, "-" * len(header)]
        for s in self.rows(sort_by)[:limit]:
            gflops = f"{s.flops / s.self_seconds / 1e9:.1f}" if s.flops and s.self_seconds > 0 else ""
            lines.append(f"{s.name[:31]:<32}{s.calls:>7}{s.self_seconds * 1e3:>10.2f}"
                         f"{s.self_seconds / op_seconds:>8.1%}{s.total_seconds * 1e3:>10.2f}{gflops:>9}")
        lines.append("-" * len(header))
        outside = max(self.wall_seconds - op_seconds, 0.0)
        lines.append(f"in ops {op_seconds * 1e3:.2f} ms; wall {self.wall_seconds * 1e3:.2f} ms "
                     f"(Python between ops, optimizer kernels and data: {outside * 1e3:.2f} ms)")
        return "\n".join(lines)


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def profile(synchronize: bool = True, clock: str = "wall", record_shapes: bool = False) -> Profile:
    """A context manager that times every op run inside it (see the module docstring).

    On a GPU, ``synchronize=True`` waits for the device around each op, so that the times are the
    ops' own (without it, CuPy returns before the kernels finish and times mean little).
    ``clock="cpu"`` times with the process's CPU time (every thread's) instead of the wall clock:
    on a machine busy with other programs, with one thread, it is the work itself, without the
    time spent waiting for a core.  ``record_shapes=True`` also keeps every matrix product's operand
    shapes (``Profile.matmul_shapes``), to time those products alone (``benchmarks/gemm_shapes.py``).
    """
    if clock not in CLOCKS:
        raise ValueError(f"profile: clock must be one of {', '.join(CLOCKS)}, got {clock!r}")
    from . import backend

    sync = None
    if synchronize and backend.cuda_available():
        import cupy

        sync = cupy.cuda.get_current_stream().synchronize
    return Profile(sync, CLOCKS[clock], record_shapes)


__all__ = ["OpStats", "Profile", "inner", "profile"]
