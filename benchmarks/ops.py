"""Time tinygdl's layers against PyTorch on the CPU (float32, forward and forward + backward) and
print a markdown table.

    python benchmarks/ops.py              # every layer, 7 timed runs each
    python benchmarks/ops.py --quick      # one layer per op, 3 runs
    python benchmarks/ops.py --repeat 15 --threads 1

The shapes are the layers of the book's models: the CIFAR-10 CNN (batch 32), the DCGAN at 64x64
(batch 128: the discriminator's k4 s2 convolutions, the generator's k4 s2 transposed ones) and an
MNIST-sized CNN (batch 64); batch norm and the dense layer where ``tinygdl.nn`` has them.  The
convolutions are timed once per CPU flavour of the im2col/col2im kernels (NumPy reference,
Numba), all in this one process.  NumPy's BLAS, Numba and PyTorch run on the same number of
threads (``--threads``, default one per core; the counts are printed).  Each time is the median
of ``--repeat`` runs after two warm-up runs; tinygdl and PyTorch are timed in turn, run after
run, so load on a shared machine hits both alike.

"GFLOP/s" counts the multiply-adds of the matrix products only: a convolution's forward pass is
``2·N·OC·oh·ow·C·kh·kw`` flops (for a transposed one, ``2·N·C_in·H·W·C_out·kh·kw``), the backward
pass twice that (weight and input gradients).  The NumPy float32 matrix-product speed printed
above the table is the ceiling an im2col engine can reach.

PyTorch has no Keras "same" padding for strided convolutions; it gets the symmetric padding with
the same output size (k3 s2 on an even size: padding 1), which costs the same.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    avx512_note,
    load_average,
    markdown_table,
    matmul_gflops,
    set_threads,
    thread_report,
    time_interleaved,
)

import tinygdl as tg  # noqa: E402
import tinygdl.nn.functional as F  # noqa: E402
from tinygdl import kernels, nn  # noqa: E402


@dataclass
class Bench:
    """One row of the table: ``build(torch, rng)`` returns the four timed functions and the flops."""

    op: str
    label: str
    build: Callable
    uses_kernels: bool = True  # timed once per im2col flavour
    quick: bool = False  # part of the --quick subset


@dataclass
class Timed:
    ours_forward: Callable
    ours_step: Callable
    torch_forward: Callable
    torch_step: Callable
    flops: float | None  # forward + backward


# --------------------------------------------------------------------------- building the workloads


def _pair_of_tensors(torch, array, requires_grad=True):
    return tg.tensor(array, requires_grad=requires_grad), torch.tensor(array, requires_grad=requires_grad)


def _steps(ours_call, ours_leaves, torch_call, torch_leaves, rng, torch) -> tuple:
    """Forward-only and forward+backward functions for both libraries (one fixed output gradient)."""
    gy = rng.standard_normal(ours_call().shape, dtype=np.float32)
    gy_ours, gy_torch = tg.tensor(gy), torch.tensor(gy)

    def ours_step():
        ours_call().backward(gy_ours)
        for t in ours_leaves:
            t.grad = None

    def torch_step():
        torch_call().backward(gy_torch)
        for t in torch_leaves:
            t.grad = None

    return ours_call, ours_step, torch_call, torch_step


def conv(label, batch, cin, cout, size, k, s, padding, torch_padding, bias=False, transposed=False, quick=False):
    """A conv2d (or conv_transpose2d) layer on a (batch, cin, size, size) input."""
    op = "conv_transpose2d" if transposed else "conv2d"

    def build(torch, rng):
        weight_shape = (cin, cout, k, k) if transposed else (cout, cin, k, k)
        arrays = [rng.standard_normal((batch, cin, size, size), dtype=np.float32),
                  rng.standard_normal(weight_shape, dtype=np.float32) * 0.05]
        if bias:
            arrays.append(rng.standard_normal(cout, dtype=np.float32))
        pairs = [_pair_of_tensors(torch, a) for a in arrays]
        ours, theirs = [p[0] for p in pairs], [p[1] for p in pairs]
        ours_fn = F.conv_transpose2d if transposed else F.conv2d
        torch_fn = torch.nn.functional.conv_transpose2d if transposed else torch.nn.functional.conv2d
        b_ours, b_torch = (ours[2], theirs[2]) if bias else (None, None)

        def ours_call():
            return ours_fn(ours[0], ours[1], b_ours, stride=s, padding=padding)

        def torch_call():
            return torch_fn(theirs[0], theirs[1], b_torch, stride=s, padding=torch_padding)

        y = ours_call()
        if y.shape != tuple(torch_call().shape):
            raise AssertionError(f"{label}: output shapes differ, {y.shape} vs {tuple(torch_call().shape)}")
        # The forward GEMM multiplies a (C*kh*kw)-long row into every output value (transposed:
        # every input value into a C_out*kh*kw-long column).
        forward = 2 * (batch * cin * size * size * cout * k * k if transposed else y.size * cin * k * k)
        return Timed(*_steps(ours_call, ours, torch_call, theirs, rng, torch), 3 * forward)

    return Bench(op, label, build, quick=quick)


def batchnorm(label, batch, channels, size, quick=False):
    """BatchNorm2d in training mode (batch statistics), Keras defaults on both sides."""

    def build(torch, rng):
        ours_layer = nn.BatchNorm2d(channels)
        torch_layer = torch.nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)
        x_ours, x_torch = _pair_of_tensors(torch, rng.standard_normal((batch, channels, size, size), dtype=np.float32))
        leaves_ours = [x_ours] + ours_layer.parameters()
        leaves_torch = [x_torch] + list(torch_layer.parameters())
        return Timed(*_steps(lambda: ours_layer(x_ours), leaves_ours, lambda: torch_layer(x_torch), leaves_torch,
                             rng, torch), None)

    return Bench("batchnorm2d", label, build, uses_kernels=False, quick=quick)


def linear(label, batch, features_in, features_out, quick=False):
    """A dense layer; PyTorch stores the weight transposed, which costs it nothing."""

    def build(torch, rng):
        ours_layer = nn.Linear(features_in, features_out)
        torch_layer = torch.nn.Linear(features_in, features_out)
        x_ours, x_torch = _pair_of_tensors(torch, rng.standard_normal((batch, features_in), dtype=np.float32))
        leaves_ours = [x_ours] + ours_layer.parameters()
        leaves_torch = [x_torch] + list(torch_layer.parameters())
        flops = 3 * 2 * batch * features_in * features_out
        return Timed(*_steps(lambda: ours_layer(x_ours), leaves_ours, lambda: torch_layer(x_torch), leaves_torch,
                             rng, torch), flops)

    return Bench("linear", label, build, uses_kernels=False, quick=quick)


def benchmarks() -> list[Bench]:
    """The table's rows, in order; layer families tinygdl.nn does not have yet are left out."""
    rows = [
        conv("cifar 3->32 k3 s1 same 32x32, b32", 32, 3, 32, 32, 3, 1, "same", 1, bias=True),
        conv("cifar 32->32 k3 s2 same 32x32, b32", 32, 32, 32, 32, 3, 2, "same", 1, bias=True, quick=True),
        conv("cifar 32->64 k3 s1 same 16x16, b32", 32, 32, 64, 16, 3, 1, "same", 1, bias=True),
        conv("cifar 64->64 k3 s2 same 16x16, b32", 32, 64, 64, 16, 3, 2, "same", 1, bias=True),
        conv("dcgan D 1->64 k4 s2 64x64, b128", 128, 1, 64, 64, 4, 2, "same", 1),
        conv("dcgan D 64->128 k4 s2 32x32, b128", 128, 64, 128, 32, 4, 2, "same", 1),
        conv("dcgan D 128->256 k4 s2 16x16, b128", 128, 128, 256, 16, 4, 2, "same", 1),
        conv("dcgan D 256->512 k4 s2 8x8, b128", 128, 256, 512, 8, 4, 2, "same", 1),
        conv("mnist 1->32 k3 s1 same 28x28, b64", 64, 1, 32, 28, 3, 1, "same", 1, bias=True),
        conv("mnist 32->64 k3 s2 same 28x28, b64", 64, 32, 64, 28, 3, 2, "same", 1, bias=True),
        conv("dcgan G 512->256 k4 s2 4x4, b128", 128, 512, 256, 4, 4, 2, "same", 1, transposed=True),
        conv("dcgan G 256->128 k4 s2 8x8, b128", 128, 256, 128, 8, 4, 2, "same", 1, transposed=True, quick=True),
        conv("dcgan G 128->64 k4 s2 16x16, b128", 128, 128, 64, 16, 4, 2, "same", 1, transposed=True),
        conv("dcgan G 64->1 k4 s2 32x32, b128", 128, 64, 1, 32, 4, 2, "same", 1, transposed=True),
    ]
    if hasattr(nn, "BatchNorm2d"):
        rows += [batchnorm("cifar BN(32) 32x32, b32", 32, 32, 32, quick=True),
                 batchnorm("dcgan BN(128) 16x16, b128", 128, 128, 16)]
    if hasattr(nn, "Linear"):
        rows += [linear("cifar dense 4096->128, b32", 32, 4096, 128, quick=True),
                 linear("vae dense 2048->2, b100", 100, 2048, 2)]
    return rows


# --------------------------------------------------------------------------- running


def run(bench: Bench, flavour: str, torch, repeat: int) -> list:
    timed = bench.build(torch, np.random.default_rng(0))
    t = time_interleaved({"ours": timed.ours_forward, "torch": timed.torch_forward}, repeat)
    s = time_interleaved({"ours": timed.ours_step, "torch": timed.torch_step}, repeat)
    gflops = f"{timed.flops / s['ours'] / 1e9:.1f}" if timed.flops else "-"
    return [bench.op, bench.label, flavour, f"{t['ours'] * 1e3:.2f}", f"{t['torch'] * 1e3:.2f}",
            f"{s['ours'] * 1e3:.2f}", f"{s['torch'] * 1e3:.2f}", f"{s['ours'] / s['torch']:.2f}x", gflops]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per measurement (default 7, --quick 3)")
    parser.add_argument("--quick", action="store_true", help="one layer per op and 3 runs")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for NumPy's BLAS, Numba and PyTorch alike (default: one per core)")
    parser.add_argument("--flavours", default=None,
                        help="comma-separated im2col flavours to time (default: every one available here)")
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 7)
    try:
        import torch
    except ImportError:
        parser.error("PyTorch is the reference here: pip install torch (CPU build)")
    available = kernels.flavours("im2col")
    flavours = [f for f in available if f != "cupy"] if args.flavours is None else args.flavours.split(",")
    for f in flavours:
        if f not in available:
            parser.error(f"kernel flavour {f!r} is not available here (available: {available})")

    set_threads(args.threads, torch)
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, PyTorch {torch.__version__}")
    print(thread_report(torch))
    if avx512_note():
        print(avx512_note())
    print(f"NumPy float32 matmul (1024x1024 @ 1024x1024): {matmul_gflops():.1f} GFLOP/s (the im2col ceiling)")
    print(f"float32; median of {repeat} runs; times in ms; ratio = tinygdl / torch (forward + backward); "
          f"load average before: {load_average()}\n")

    rows = []
    for bench in benchmarks():
        if args.quick and not bench.quick:
            continue
        for flavour in (flavours if bench.uses_kernels else ["-"]):
            if flavour != "-":
                kernels.set_preference(flavour)
            rows.append(run(bench, flavour, torch, repeat))
            print(f"  {bench.label} [{flavour}] done", file=sys.stderr, flush=True)
    kernels.set_preference(None)
    header = ["op", "layer", "kernels", "fwd tinygdl", "fwd torch", "fwd+bwd tinygdl", "fwd+bwd torch",
              "ratio", "GFLOP/s"]
    print(markdown_table(header, rows))
    print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    main()
