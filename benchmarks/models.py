"""One training step of every zoo model that has a PyTorch twin, tinygdl against PyTorch, as a table.

Each row comes from a family module in ``benchmarks/twins/`` (see its ``__init__``): the same
architecture, the same weights and the same batch in both engines.  Both engines get the same
thread count (NumPy's BLAS, Numba and PyTorch alike); the two steps are timed in turn, round after
round (``_common.time_interleaved``), and the table gives the medians and their ratio
(tinygdl / PyTorch: lower is better for tinygdl).

    python benchmarks/models.py                       (every row, 1 and 2 threads, CPU batch)
    python benchmarks/models.py --only gpt,ddm --threads 1 --batch book
    python benchmarks/models.py --out results/models.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import load_average, markdown_table, set_threads, thread_report, time_interleaved  # noqa: E402

from benchmarks.twins import all_rows  # noqa: E402


def measure(torch, row, batch_size: int, repeat: int) -> tuple:
    tinygdl_step, torch_step = row.make(torch, batch_size)
    times = time_interleaved({"tinygdl": tinygdl_step, "torch": torch_step}, repeat)
    return times["tinygdl"], times["torch"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated zoo names")
    parser.add_argument("--threads", default="1,2", help="thread counts to run (default 1,2)")
    parser.add_argument("--batch", choices=("cpu", "book"), default="cpu", help="the CPU-scale or the book's batch")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds per row (default 5)")
    parser.add_argument("--out", help="also write the markdown table to this file")
    args = parser.parse_args(argv)

    import torch

    only = set(args.only.split(",")) if args.only else None
    rows = [row for row in all_rows() if only is None or row.model in only]
    table = []
    for threads in (int(t) for t in args.threads.split(",")):
        set_threads(threads, torch)
        print(thread_report(torch), file=sys.stderr)
        for row in rows:
            batch_size = row.cpu_batch if args.batch == "cpu" else row.book_batch
            ours, theirs = measure(torch, row, batch_size, args.repeat)
            table.append((row.model, row.setting or "book", str(batch_size), str(threads),
                          f"{ours * 1e3:.1f}", f"{theirs * 1e3:.1f}", f"{ours / theirs:.2f}x"))
            print(markdown_table(("model", "setting", "batch", "threads", "tinygdl ms", "torch ms", "ratio"),
                                 table[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    text = markdown_table(("model", "setting", "batch", "threads", "tinygdl ms", "torch ms", "ratio"), table)
    print(text)
    print(f"\nload average (1 min) at the end: {load_average()}")
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
