"""Per-op Python overhead of tinygdl against PyTorch eager on the CPU, in one process.

On tiny tensors the arithmetic costs almost nothing, so the time per op is the framework's own
bookkeeping: creating the graph node, dispatching, and walking the graph backward.  Two workloads:

* ``chain``: forward + backward of a long chain of small elementwise ops on a 16x16 tensor
  (``y = tanh(y * 1.01 + 0.1)`` repeated), reported per op;
* ``mlp``: one training step of a tiny MLP (64 -> 32 -> 10, batch 16): forward, cross-entropy,
  backward, and an Adam update.

The two engines take turns within each round (``_common.time_rounds``), so a change in the
machine's speed hits both; the ratio is the median of the per-round ratios.

Run:  python benchmarks/overhead.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import time_rounds  # noqa: E402

import tinygdl  # noqa: E402
from tinygdl import losses, nn, optim  # noqa: E402

CHAIN_LINKS = 50  # each link is three ops: mul, add, tanh


# --------------------------------------------------------------------------- tinygdl


def chain(lib):
    """The same code for both engines: tinygdl mirrors PyTorch's names here."""
    x = lib.randn(16, 16, requires_grad=True)

    def run():
        y = x
        for _ in range(CHAIN_LINKS):
            y = (y * 1.01 + 0.1).tanh()
        y.sum().backward()

    return run


def tinygdl_mlp():
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x = tinygdl.randn(16, 64)
    y = tinygdl.randint(0, 10, shape=(16,))

    def run():
        opt.zero_grad()
        loss = losses.sparse_categorical_cross_entropy_with_logits(model(x), y)
        loss.backward()
        opt.step()

    return run


# --------------------------------------------------------------------------- PyTorch


def torch_mlp(torch):
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(16, 64)
    y = torch.randint(0, 10, (16,))

    def run():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30, help="timed rounds (medians reported)")
    args = parser.parse_args()
    import torch

    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))
    torch.set_num_threads(threads)
    tinygdl.manual_seed(0)
    torch.manual_seed(0)
    ops_per_chain = 3 * CHAIN_LINKS + 1
    rows = [
        ("chain of small elementwise ops, fwd+bwd (per op)", chain(tinygdl), chain(torch), ops_per_chain),
        ("tiny MLP training step (64-32-10, batch 16, Adam)", tinygdl_mlp(), torch_mlp(torch), 1),
    ]
    print(f"numpy {np.__version__}, torch {torch.__version__}, threads {threads}\n")
    print("| workload | tinygdl (us) | PyTorch eager (us) | ratio |")
    print("|---|---:|---:|---:|")
    for name, ours, theirs, per in rows:
        times = time_rounds({"tinygdl": ours, "torch": theirs}, args.repeat, warmup=3)
        a, b = (statistics.median(times[engine]) / per * 1e6 for engine in ("tinygdl", "torch"))
        ratio = statistics.median(t / u for t, u in zip(times["tinygdl"], times["torch"]))
        print(f"| {name} | {a:.1f} | {b:.1f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
