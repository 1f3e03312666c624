"""Seconds per full GAN step, tinygdl against PyTorch twins of the same networks, in one process.

The twins and the steps are ``benchmarks/twins/gans.py``'s.  A *full step* is what one call of
the zoo's training step does: for ``dcgan`` one forward pass of
G and two of D, then both updates (as the book); for ``wgan_gp`` three critic updates with the
gradient penalty (double backpropagation through the critic) and one generator update.
The PyTorch twins run the same layers with the same initial weights, the same batch and the same
algorithm (Adam on both sides); both get the same number of threads.  Each configuration times
the two engines in turn, step after step after warm-up, and reports the medians and their ratio.

    python benchmarks/gan.py                 (dcgan and wgan_gp at 32 and 64 px, batch 32)
    python benchmarks/gan.py --quick         (batch 16, fewer steps: a minute)
    python benchmarks/gan.py --threads 1 --batch-size 32 --steps 5

On a machine shared with other work, run ``--threads 1`` as well: a parallel region (BLAS, Numba)
ends with its slowest thread, so when another program holds a core, two-thread tinygdl steps stall
far more than PyTorch's; one thread each compares the engines themselves.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

import tinygdl
from tinygdl import zoo
from tinygdl.training import evaluation_mode

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import set_threads, thread_report, time_interleaved  # noqa: E402

from benchmarks.twins.gans import make_gan, torch_twins  # noqa: E402

CONFIGS = (("dcgan", 32), ("dcgan", 64), ("wgan_gp", 32), ("wgan_gp", 64))


def compare(torch, name: str, size: int, batch_size: int, warmup: int, repeat: int) -> tuple:
    """``(tinygdl seconds, PyTorch seconds, twins agree)`` of one full step of ``name`` at ``size``."""
    agree = _same_function(torch, name, size)
    ours, theirs = make_gan(torch, name, batch_size, image_size=size)
    seconds = time_interleaved({"tinygdl": ours, "torch": theirs}, repeat, warmup)
    return seconds["tinygdl"], seconds["torch"], agree


def _same_function(torch, name: str, size: int) -> bool:
    """Checked before training: the twins turn the same z into the same scores (eval mode, no dropout)."""
    tinygdl.manual_seed(0)
    recipe = zoo.recipe(name, image_size=size)
    models = recipe.build()
    generator, critic = models.values()
    twins = torch_twins(torch, name, models)
    z = np.random.default_rng(1).standard_normal((2, recipe.latent_dim)).astype(np.float32)
    with evaluation_mode(models.values()):
        ours = critic(generator(tinygdl.tensor(z))).numpy()
    for twin in twins:
        twin.eval()
    with torch.no_grad():
        theirs = twins[1](twins[0](torch.from_numpy(z))).numpy()
    return bool(np.allclose(ours, theirs, rtol=1e-4, atol=1e-5))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="batch 16, 1 warm-up and 2 timed steps")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per engine (median)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args(argv)
    if args.quick:
        args.batch_size, args.steps, args.warmup = 16, 2, 1
    import torch

    set_threads(args.threads, torch)
    print(thread_report(torch))
    print(f"batch {args.batch_size}; median of {args.steps} steps after {args.warmup} warm-up; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print("| model | image | tinygdl s/step | PyTorch s/step | tinygdl / PyTorch | twins agree |")
    print("|---|---|---|---|---|---|")
    for name, size in CONFIGS:
        ours, theirs, agree = compare(torch, name, size, args.batch_size, args.warmup, args.steps)
        row = (name, f"{size}x{size}", f"{ours:.3f}", f"{theirs:.3f}", f"{ours / theirs:.2f}", "yes" if agree else "NO")
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
