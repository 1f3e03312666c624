"""Time the NumPy reference kernels against the Numba ones, in float32, and print a markdown table.

    python benchmarks/kernels.py --repeat 7 [--threads 1] [--skip-elementwise]

The convolution shapes are the layers of the book's models: the CIFAR-10 CNN (batch 32), the DCGAN
at 64x64 (batch 128, 4x4 kernels, stride 2, padding 1), an MNIST-sized CNN (batch 64) and, for
the volumes of im2col with a ``VolGeometry`` (vol2col), MuseGAN's critic (batch 32).  Each
time is the median of ``--repeat`` runs after one warm-up run (which also pays Numba's compilation);
the NumPy and Numba runs alternate, so that a busy spell of the machine hits both.  The Numba
kernels use every core, so other programs competing for the CPU slow them more than the
single-threaded reference: the load average is printed before and after, to tell a quiet run from
a disturbed one; ``--threads 1`` (Numba and BLAS on one thread) compares the loops themselves.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from tinygdl import kernels

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import set_threads  # noqa: E402

# (name, batch, in channels, image size, kernel, stride, ((top, bottom), (left, right)) padding)
CONV_LAYERS = [
    ("cifar 3->32 k3 s1 32x32", 32, 3, 32, 3, 1, ((1, 1), (1, 1))),
    ("cifar 32->32 k3 s2 32x32 pad (0,1)", 32, 32, 32, 3, 2, ((0, 1), (0, 1))),
    ("cifar 32->64 k3 s1 16x16", 32, 32, 16, 3, 1, ((1, 1), (1, 1))),
    ("cifar 64->64 k3 s2 16x16", 32, 64, 16, 3, 2, ((0, 1), (0, 1))),
    ("dcgan 1->64 k4 s2 64x64", 128, 1, 64, 4, 2, ((1, 1), (1, 1))),
    ("dcgan 64->128 k4 s2 32x32", 128, 64, 32, 4, 2, ((1, 1), (1, 1))),
    ("dcgan 128->256 k4 s2 16x16", 128, 128, 16, 4, 2, ((1, 1), (1, 1))),
    ("dcgan 256->512 k4 s2 8x8", 128, 256, 8, 4, 2, ((1, 1), (1, 1))),
    ("mnist 1->32 k3 s1 28x28", 64, 1, 28, 3, 1, ((1, 1), (1, 1))),
    ("mnist 32->64 k3 s2 28x28", 64, 32, 28, 3, 2, ((0, 1), (0, 1))),
]

ELEMENTWISE_SIZES = [10**3, 10**5, 10**6, 10**7]


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(label: str, name: str, make_call, repeat: int) -> str:
    """One table row: ``make_call(fn)`` returns a no-argument call of kernel implementation ``fn``.

    Each flavour runs once untimed (Numba compiles then), then the two alternate, so that both see
    the same machine; the row shows the median of each.
    """
    calls = [make_call(kernels.implementation(name, flavour)) for flavour in ("numpy", "numba")]
    for call in calls:
        call()
    times = [[seconds(call) for call in calls] for _ in range(repeat)]
    t_numpy, t_numba = (statistics.median(column) for column in zip(*times))
    return f"| {name} | {label} | {t_numpy * 1e3:.3f} | {t_numba * 1e3:.3f} | {t_numpy / t_numba:.2f}x |"


# MuseGAN's critic (batch 32): (name, input shape, kernel, stride, padding), the volumes of vol2col
VOLUME_LAYERS = [
    ("musegan 1->128 k2x1x1 (N, C, 2, 16, 84)", (32, 1, 2, 16, 84), (2, 1, 1), 1, 0),
    ("musegan 64->64 k1x1x12 s12 (N, C, 2, 16, 84)", (32, 64, 2, 16, 84), (1, 1, 12), (1, 1, 12), 0),
    ("musegan 128->128 k1x4x1 s2 (N, C, 1, 16, 1)", (32, 128, 1, 16, 1), (1, 4, 1), (1, 2, 1), (0, 1, 0)),
]


def conv_rows(rng, repeat: int):
    """im2col and col2im on the images of CONV_LAYERS, then on the volumes of VOLUME_LAYERS."""
    windows = [((n, c, size, size), k, s, pad, 1) for _, n, c, size, k, s, pad in CONV_LAYERS]
    windows += [(shape, k, s, pad, 1) for _, shape, k, s, pad in VOLUME_LAYERS]
    labels = [layer[0] for layer in CONV_LAYERS + VOLUME_LAYERS]
    for label, (shape, *window) in zip(labels, windows):
        x = rng.standard_normal(shape, dtype=np.float32)
        make = kernels.conv_geometry if len(shape) == 4 else kernels.vol_geometry
        g = make(shape, *window)  # what an op works out once per call and hands to the kernels
        cols = kernels.implementation("im2col", "numpy")(x, g)
        # compare() times each call at once, inside this iteration: the loop variables are current
        yield compare(label, "im2col", lambda fn: lambda: fn(x, g), repeat)  # noqa: B023
        yield compare(label, "col2im", lambda fn: lambda: fn(cols, g), repeat)  # noqa: B023


def elementwise_rows(rng, repeat: int):
    for size in ELEMENTWISE_SIZES:
        param, grad = (rng.standard_normal(size, dtype=np.float32) for _ in range(2))
        m, v = np.zeros(size, np.float32), np.ones(size, np.float32)
        label = f"{size:.0e} elements"
        adam_args = (param, grad, m, v, 1e-3, 0.9, 0.999, 1e-8, 1.0)
        yield compare(label, "adam_update", lambda fn: lambda: fn(*adam_args), repeat)  # noqa: B023
        yield compare(label, "leaky_relu", lambda fn: lambda: fn(param, 0.2), repeat)  # noqa: B023
        yield compare(label, "leaky_relu_grad", lambda fn: lambda: fn(param, grad, 0.2), repeat)  # noqa: B023


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per kernel (the median is shown)")
    parser.add_argument("--skip-conv", action="store_true", help="time only the element-wise kernels")
    parser.add_argument("--skip-elementwise", action="store_true", help="time only im2col and col2im")
    parser.add_argument("--threads", type=int, default=None, help="threads for Numba and BLAS (default: all)")
    args = parser.parse_args(argv)
    if not kernels.numba_available():
        parser.error("Numba is not available here, so there is nothing to compare the reference with")
    if args.threads:
        set_threads(args.threads)

    rng = np.random.default_rng(0)
    threads = f"{args.threads} thread(s)" if args.threads else f"{os.cpu_count()} CPUs"
    print(f"float32, median of {args.repeat} runs, times in ms, {threads}, load average {load()}\n")
    print("| kernel | shape | numpy | numba | numba speed-up |")
    print("| --- | --- | ---: | ---: | ---: |")
    if not args.skip_conv:
        for row in conv_rows(rng, args.repeat):
            print(row, flush=True)
    if not args.skip_elementwise:
        for row in elementwise_rows(rng, args.repeat):
            print(row, flush=True)
    print(f"\nload average after: {load()}")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
