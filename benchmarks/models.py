"""One training step of every zoo model that has a PyTorch twin, tinygdl against PyTorch, as a table.

Each row comes from a family module in ``benchmarks/twins/`` (see its ``__init__``): the same
architecture, the same weights and the same batch in both engines.  Both engines get the same
thread count (NumPy's BLAS, Numba and PyTorch alike); the two steps are timed in turn, round after
round (``_common.time_rounds``), so a burst of load from elsewhere hits both alike.

    python benchmarks/models.py                       (every row, 1 and 2 threads, CPU batch)
    python benchmarks/models.py --only gpt,ddm --threads 1 --batch book
    python benchmarks/models.py --out results/models.md     (each row appended as soon as measured)
    python benchmarks/models.py --device cuda --threads 1   (tinygdl on CuPy vs PyTorch on CUDA)
    TINYGDL_MALLOC=default python benchmarks/models.py      (glibc's default allocator thresholds)

Reading the time table: ``tinygdl ms`` and ``torch ms`` are the medians of the rounds, each with
its interquartile range (``q1–q3``); ``ratio`` is the median of the per-round ratios tinygdl/torch
(lower is better for tinygdl), with their interquartile range.  The per-round ratio compares two
steps run seconds apart, so it is the number to trust on a loaded machine; the milliseconds move
with the load.  The header states the threads, the allocator setting and the load average.
``--clock cpu`` times with the process's CPU time instead of the wall clock: at one thread on a
machine shared with other programs it measures the work, not the waits for a core (at two threads
it adds up both threads, idle spinning included: use the wall clock there).

Peak memory (``--memory``, on by default on the CPU; measured once, after the timings, at the
first thread count): one more step of each engine after a warm-up step, measured two ways:

* ``tinygdl traced``: the peak of the bytes NumPy had allocated during the step, above what was
  allocated before it (``tracemalloc``: NumPy reports every array buffer to it);
* ``RSS``: the growth of the process's resident memory high-water mark during the step (reset with
  ``/proc/self/clear_refs``, read from ``VmHWM``), for both engines alike: the peak above what the
  process held between steps (parameters, optimizer state, the previous step's gradients, which
  tinygdl's step frees at its start and the twins before their backward pass).  For the resident size to
  follow the bytes in use, glibc is told to give every block of 64 KiB or more its own pages and
  to return freed memory at once (``mallopt``: ``M_MMAP_THRESHOLD`` 64 KiB, ``M_TRIM_THRESHOLD``
  0) for this pass, and ``malloc_trim`` returns what it holds free before each measured step;
  PyTorch's CPU tensors come from the same malloc.  Smaller blocks (scalars,
  bookkeeping) stay in malloc's heap and are not seen: both engines' large arrays are.

On the GPU each step is followed by a device synchronisation in both engines, so the time is the
step's, not the time to queue its kernels; rows whose ``make`` takes no ``device`` are skipped.
"""

from __future__ import annotations

import argparse
import inspect
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import avx512_note, load_average, markdown_table, quartiles, set_threads, thread_report, time_rounds  # noqa: E402

from benchmarks.twins import all_rows  # noqa: E402
from tinygdl.backend import host_memory_setting  # noqa: E402

HEADER = ("model", "setting", "device", "batch", "threads", "tinygdl ms", "q1–q3", "torch ms", "q1–q3", "ratio",
          "ratio q1–q3")
MEMORY_HEADER = ("model", "setting", "batch", "tinygdl traced MB", "tinygdl RSS MB", "torch RSS MB", "RSS ratio")


def synchronized(step, synchronize):
    def run():
        step()
        synchronize()
    return run


def make_steps(torch, row, batch_size: int, device: str):
    if device == "cpu":
        return row.make(torch, batch_size)
    if "device" not in inspect.signature(row.make).parameters:
        return None
    import cupy

    ours, theirs = row.make(torch, batch_size, device=device)
    return synchronized(ours, cupy.cuda.Device().synchronize), synchronized(theirs, torch.cuda.synchronize)


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def timing_cells(steps, repeat: int, clock=time.perf_counter) -> list:
    """The time columns of one row: each engine's median and quartiles (ms), the per-round ratio's."""
    tinygdl_step, torch_step = steps
    times = time_rounds({"tinygdl": tinygdl_step, "torch": torch_step}, repeat, clock=clock)
    ratios = [a / b for a, b in zip(times["tinygdl"], times["torch"])]
    cells = []
    for seconds in (times["tinygdl"], times["torch"]):
        q1, median, q3 = quartiles(seconds)
        cells += [f"{median * 1e3:.1f}", f"{q1 * 1e3:.0f}–{q3 * 1e3:.0f}"]
    q1, median, q3 = quartiles(ratios)
    return cells + [f"{median:.2f}x", f"{q1:.2f}–{q3:.2f}"]


# --------------------------------------------------------------------------- peak memory


def _status_bytes(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {key} in /proc/self/status")


def _libc():
    import ctypes

    return ctypes.CDLL("libc.so.6")


def return_freed_memory_at_once() -> bool:
    """glibc: serve every request with its own pages and give them back on free (see the docstring)."""
    try:
        libc = _libc()
        # M_MMAP_THRESHOLD 64 KiB (not 0: a page per small block would exhaust the process's
        # mappings, and malloc would fall back to its heap), M_TRIM_THRESHOLD 0
        return libc.mallopt(-3, 1 << 16) == 1 and libc.mallopt(-1, 0) == 1
    except (OSError, AttributeError):
        return False


def rss_growth(step) -> int | None:
    """Bytes by which the resident high-water mark rose above the resident size during ``step()``."""
    try:
        _libc().malloc_trim(0)  # what malloc holds free (the timings' heap) goes back to the OS first
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current resident size
        before = _status_bytes("VmRSS")
    except OSError:
        return None
    step()
    return _status_bytes("VmHWM") - before


def traced_growth(step) -> int:
    """The peak of NumPy's (and Python's) traced allocations during ``step()``, above the start."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        step()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def memory_cells(steps) -> list:
    tinygdl_step, torch_step = steps
    tinygdl_step(), torch_step()  # warm-up: optimizer state, caches
    traced = traced_growth(tinygdl_step)
    ours = [rss_growth(tinygdl_step) for _ in range(3)]
    theirs = [rss_growth(torch_step) for _ in range(3)]
    mb = 2.0 ** 20
    if None in ours:
        return [f"{traced / mb:.1f}", "n/a", "n/a", "n/a"]
    ours, theirs = statistics.median(ours), statistics.median(theirs)
    return [f"{traced / mb:.1f}", f"{ours / mb:.1f}", f"{theirs / mb:.1f}", f"{ours / max(theirs, 1):.2f}x"]


# --------------------------------------------------------------------------- the table


def header_lines(torch, device: str, clock: str) -> list:
    return [f"benchmarks/models.py on {platform.node()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
            f"torch {torch.__version__}; device {device}; clock {clock}",
            f"allocator: glibc keep-freed-memory setting {host_memory_setting()} "
            "(tinygdl.backend.keep_freed_host_memory; TINYGDL_MALLOC=default refuses it)",
            f"load average (1 min) at the start: {load_average()}",
            *filter(None, [avx512_note()])]


def _emit(out, line: str) -> None:
    print(line, file=sys.stderr, flush=True)
    if out is not None:
        with out.open("a") as f:
            f.write(line + "\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated zoo names")
    parser.add_argument("--threads", default="1,2", help="thread counts to run (default 1,2)")
    parser.add_argument("--batch", choices=("cpu", "book"), default="cpu", help="the CPU-scale or the book's batch")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds per row (default 5)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="wall (default) or cpu: the process's CPU time (one thread, a loaded machine)")
    parser.add_argument("--memory", action=argparse.BooleanOptionalAction, default=None,
                        help="measure peak memory after the timings (default: on the CPU)")
    parser.add_argument("--out", help="also write the markdown tables to this file, row by row")
    args = parser.parse_args(argv)

    import torch

    only = set(args.only.split(",")) if args.only else None
    rows = [row for row in all_rows() if only is None or row.model in only]
    out = Path(args.out) if args.out else None
    if out is not None:
        out.write_text("")
    for line in header_lines(torch, args.device, args.clock):
        _emit(out, line)
    table = []
    thread_counts = [int(t) for t in args.threads.split(",")]
    for threads in thread_counts:
        set_threads(threads, torch)
        _emit(out, thread_report(torch))
        _emit(out, "\n".join(markdown_table(HEADER, []).splitlines()))
        for row in rows:
            batch_size = row.cpu_batch if args.batch == "cpu" else row.book_batch
            steps = make_steps(torch, row, batch_size, args.device)
            if steps is None:
                print(f"{row.model}: no {args.device} twin, skipped", file=sys.stderr)
                continue
            table.append([row.model, row.setting or "book", args.device, str(batch_size), str(threads)]
                         + timing_cells(steps, args.repeat, CLOCKS[args.clock]))
            _emit(out, markdown_table(HEADER, table[-1:]).splitlines()[-1])
    print("\n".join(header_lines(torch, args.device, args.clock)))
    print(markdown_table(HEADER, table))
    print(f"\nload average (1 min) at the end of the timings: {load_average()}")

    if args.memory if args.memory is not None else args.device == "cpu":
        set_threads(thread_counts[0], torch)
        return_freed_memory_at_once()
        _emit(out, "\npeak memory of one step (see benchmarks/models.py's docstring for the method)")
        _emit(out, markdown_table(MEMORY_HEADER, []))
        memory = []
        for row in rows:
            batch_size = row.cpu_batch if args.batch == "cpu" else row.book_batch
            memory.append([row.model, row.setting or "book", str(batch_size)]
                          + memory_cells(row.make(torch, batch_size)))
            _emit(out, markdown_table(MEMORY_HEADER, memory[-1:]).splitlines()[-1])
        print("\npeak memory of one step\n" + markdown_table(MEMORY_HEADER, memory))


if __name__ == "__main__":
    main()
