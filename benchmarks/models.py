"""One training step of every zoo model that has a PyTorch twin, tinygdl against PyTorch, as a table.

Each row comes from a family module in ``benchmarks/twins/`` (see its ``__init__``): the same
architecture, the same weights and the same batch in both engines.  Both engines get the same
thread count (NumPy's BLAS, Numba and PyTorch alike); the two steps are timed in turn, round after
round (``_common.time_interleaved``), and the table gives the medians and their ratio
(tinygdl / PyTorch: lower is better for tinygdl).

    python benchmarks/models.py                       (every row, 1 and 2 threads, CPU batch)
    python benchmarks/models.py --only gpt,ddm --threads 1 --batch book
    python benchmarks/models.py --out results/models.md     (each row appended as soon as measured)
    python benchmarks/models.py --device cuda --threads 1   (tinygdl on CuPy vs PyTorch on CUDA)

On the GPU each step is followed by a device synchronisation in both engines, so the time is the
step's, not the time to queue its kernels; rows whose ``make`` takes no ``device`` are skipped.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import load_average, markdown_table, set_threads, thread_report, time_interleaved  # noqa: E402

from benchmarks.twins import all_rows  # noqa: E402

HEADER = ("model", "setting", "device", "batch", "threads", "tinygdl ms", "torch ms", "ratio")


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


def measure(steps, repeat: int) -> tuple:
    tinygdl_step, torch_step = steps
    times = time_interleaved({"tinygdl": tinygdl_step, "torch": torch_step}, repeat)
    return times["tinygdl"], times["torch"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated zoo names")
    parser.add_argument("--threads", default="1,2", help="thread counts to run (default 1,2)")
    parser.add_argument("--batch", choices=("cpu", "book"), default="cpu", help="the CPU-scale or the book's batch")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds per row (default 5)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--out", help="also write the markdown table to this file, row by row")
    args = parser.parse_args(argv)

    import torch

    only = set(args.only.split(",")) if args.only else None
    rows = [row for row in all_rows() if only is None or row.model in only]
    out = Path(args.out) if args.out else None
    if out is not None:
        out.write_text(markdown_table(HEADER, []) + "\n")
    table = []
    for threads in (int(t) for t in args.threads.split(",")):
        set_threads(threads, torch)
        print(thread_report(torch), file=sys.stderr)
        for row in rows:
            batch_size = row.cpu_batch if args.batch == "cpu" else row.book_batch
            steps = make_steps(torch, row, batch_size, args.device)
            if steps is None:
                print(f"{row.model}: no {args.device} twin, skipped", file=sys.stderr)
                continue
            ours, theirs = measure(steps, args.repeat)
            table.append((row.model, row.setting or "book", args.device, str(batch_size), str(threads),
                          f"{ours * 1e3:.1f}", f"{theirs * 1e3:.1f}", f"{ours / theirs:.2f}x"))
            line = markdown_table(HEADER, table[-1:]).splitlines()[-1]
            print(line, file=sys.stderr, flush=True)
            if out is not None:
                with out.open("a") as f:
                    f.write(line + "\n")
    print(markdown_table(HEADER, table))
    print(f"\nload average (1 min) at the end: {load_average()}")


if __name__ == "__main__":
    main()
