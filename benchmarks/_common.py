"""Timing helpers shared by the benchmark scripts.

* ``time_interleaved`` / ``time_rounds``: medians (or every round's time) of several functions
  timed in turn, round after round, so that a burst of load on a shared machine hits all of them
  alike (timing one fully, then the other, can hand one of them the quiet minute); ``quartiles``;
* ``set_threads`` / ``thread_report``: set and show how many threads NumPy's BLAS, Numba and
  PyTorch use (compare like with like); ``avx512_note`` warns when OpenBLAS leaves AVX-512 unused;
* ``matmul_gflops``: this machine's float32 matrix-product speed through NumPy — the ceiling for
  anything built on im2col + GEMM;
* ``markdown_table``: rows of strings -> a markdown table.

Importing this module opts the process in to ``tinygdl.backend.keep_freed_host_memory()``, as
``tinygdl train`` does (``TINYGDL_MALLOC=default`` refuses it).
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np

from tinygdl.backend import keep_freed_host_memory

# What ``tinygdl train`` runs with: glibc keeps freed memory for reuse (TINYGDL_MALLOC=default
# refuses it; ``tinygdl.backend.host_memory_setting()`` says which is in force).
keep_freed_host_memory()


def time_rounds(fns: dict, repeat: int, warmup: int = 2, clock=time.perf_counter) -> dict:
    """``{name: [seconds of each round]}`` of each no-argument function in ``fns``.

    Every function runs ``warmup`` untimed times first (Numba compilation, allocator and cache
    warm-up); then ``repeat`` rounds, each timing every function once, in turn.  ``clock``: the
    wall clock by default; ``time.process_time`` (the CPU time of every thread of the process)
    shuts out the other programs of a loaded machine, and at one thread it is the work itself.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return times


def time_interleaved(fns: dict, repeat: int, warmup: int = 2, clock=time.perf_counter) -> dict:
    """``{name: median seconds}`` of ``time_rounds``."""
    return {name: statistics.median(ts) for name, ts in time_rounds(fns, repeat, warmup, clock).items()}


def quartiles(values) -> tuple:
    """``(first quartile, median, third quartile)`` of a few numbers (``statistics``' exclusive
    method; with fewer than two values all three are the one value)."""
    values = list(values)
    if len(values) < 2:
        return (values[0],) * 3
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return q1, statistics.median(values), q3


def _blas_pools() -> list:
    """threadpoolctl's description of the BLAS libraries loaded (empty without threadpoolctl)."""
    try:
        import threadpoolctl
    except ImportError:
        return []
    return [pool for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]


def set_threads(n: int, torch=None) -> None:
    """Use ``n`` threads in NumPy's BLAS (needs threadpoolctl), Numba and (if given) PyTorch."""
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(n, user_api="blas")
    except ImportError:
        print("threadpoolctl is not installed: NumPy's BLAS keeps its own thread count", file=sys.stderr)
    try:
        import numba

        numba.set_num_threads(n)
    except ImportError:
        pass
    if torch is not None:
        torch.set_num_threads(n)


def thread_report(torch=None) -> str:
    """One line: the thread counts of NumPy's BLAS, Numba and (if given) PyTorch."""
    pools = _blas_pools()
    if pools:
        parts = [f"NumPy BLAS: {p['internal_api']} {p.get('version')}, {p['num_threads']} threads, "
                 f"{p.get('architecture')} kernels" for p in pools]
    else:
        parts = [f"NumPy BLAS threads: {os.environ.get('OPENBLAS_NUM_THREADS', os.cpu_count())} (unverified)"]
    try:
        import numba

        parts.append(f"Numba threads: {numba.get_num_threads()}")
    except ImportError:
        parts.append("Numba: not installed")
    if torch is not None:
        parts.append(f"PyTorch threads: {torch.get_num_threads()}")
    return "; ".join(parts)


def avx512_note() -> str | None:
    """A note when OpenBLAS runs AVX2 kernels on a CPU that has AVX-512.

    OpenBLAS picks its kernels from the CPU model when it loads, unless ``OPENBLAS_CORETYPE`` names
    them.  An environment that pins ``OPENBLAS_CORETYPE=Haswell`` (this project's machines do, for
    every process), or a CPU that OpenBLAS does not recognise, leaves AVX-512 unused, while
    PyTorch's oneDNN uses it regardless: on the project's 2-core EPYC the float32 products of the
    book models ran 1.3-1.45x slower.  ``OPENBLAS_CORETYPE=SkylakeX`` (set before starting Python,
    and only on a CPU that has AVX-512: elsewhere its kernels crash) selects the AVX-512 ones.
    """
    try:
        with open("/proc/cpuinfo") as f:
            has_avx512 = " avx512f " in f.read()
    except OSError:
        return None
    slow = [p for p in _blas_pools() if p.get("internal_api") == "openblas"
            and str(p.get("architecture")).lower() in ("haswell", "zen", "sandybridge")]
    if has_avx512 and slow:
        pinned = os.environ.get("OPENBLAS_CORETYPE")
        why = f"OPENBLAS_CORETYPE={pinned} in the environment" if pinned else "OpenBLAS's CPU detection"
        return (f"note: the CPU has AVX-512 but OpenBLAS runs its {slow[0]['architecture']} (AVX2) kernels ({why}); "
                "PyTorch uses AVX-512; OPENBLAS_CORETYPE=SkylakeX selects OpenBLAS's AVX-512 kernels")
    return None


def matmul_gflops(n: int = 1024, repeat: int = 5) -> float:
    """GFLOP/s of a float32 ``(n, n) @ (n, n)`` product in NumPy (2·n³ flops), median of ``repeat``."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    seconds = time_interleaved({"matmul": lambda: a @ b}, repeat)["matmul"]
    return 2 * n**3 / seconds / 1e9


def load_average() -> str:
    """The 1-minute load average, to judge how busy a shared machine was during the run."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def markdown_table(header, rows) -> str:
    """A markdown table; numeric-looking columns are right-aligned."""
    lines = ["| " + " | ".join(header) + " |"]
    align = ["---:" if rows and _numeric(rows[0][i]) else "---" for i in range(len(header))]
    lines.append("| " + " | ".join(align) + " |")
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _numeric(cell) -> bool:
    try:
        float(str(cell).rstrip("x"))
        return True
    except ValueError:
        return False
