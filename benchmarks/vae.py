"""tinygdl's ``vae_fashion`` against a PyTorch twin: same architecture, same initial weights, same
batches, same noise — the two loss curves must agree, and the time per epoch is compared.

The twin is ``benchmarks/twins/autoencoders.torch_vae``: the zoo model translated layer by layer
with plain ``torch.nn`` layers, Keras's "same" padding and cropping made explicit (a 3×3 stride-2
convolution on an even size pads 0 before and 1 after; its transposed twin drops the last row and
column of the full output), weights copied.  Both sides use Keras-convention Adam (ε on the
uncorrected √v, ``benchmarks/twins/flows.KerasAdam`` for PyTorch), the book's loss (500 × per-image mean of the
Keras-clipped BCE + the KL summed over the latent dimensions, mean over the batch) and the same
ε ~ N(0, I) for the reparameterization at every step.

Timing: a *subset epoch* of ``--timing-steps`` training steps (batch 100) per framework, repeated
``--rounds`` times in alternation (so a burst of load on a shared machine hits both), median per
step, scaled to the book's 600 steps per epoch; both frameworks get ``--threads`` threads.

Run:  TINYGDL_DATA=/path/to/data python benchmarks/vae.py [--steps 50] [--timing-steps 30]
(Fashion-MNIST when it is found, else scikit-learn's digits resized to 32×32.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import tinygdl
from tinygdl import zoo
from tinygdl.data import DatasetNotFoundError
from tinygdl.models.vae import vae_loss
from tinygdl.optim import Adam

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import load_average, set_threads, thread_report, time_interleaved  # noqa: E402

from benchmarks.twins.autoencoders import torch_vae, torch_vae_loss  # noqa: E402
from benchmarks.twins.flows import KerasAdam  # noqa: E402

BATCH, BETA, LR, STEPS_PER_EPOCH = 100, 500.0, 5e-4, 600


# --------------------------------------------------------------------------- the two training steps


def tinygdl_trainer(model):
    optimizer = Adam(model.parameters(), lr=LR, eps_convention="keras")

    def step(x, eps):
        optimizer.zero_grad()
        x = tinygdl.tensor(x)
        loss = vae_loss(model(x, tinygdl.tensor(eps)), x, BETA)["loss"]
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def torch_trainer(torch, twin):
    optimizer = KerasAdam(twin.parameters(), LR)

    def step(x, eps):
        x = torch.from_numpy(x)
        x_hat, mu, logvar = twin(x, torch.from_numpy(eps))
        loss = torch_vae_loss(torch, x_hat, x, mu, logvar, BETA)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


# --------------------------------------------------------------------------- data, curves, timing


def training_images(count: int) -> tuple[np.ndarray, str]:
    """The first ``count`` training images of Fashion-MNIST padded to 32×32 (else digits at 32×32)."""
    try:
        return zoo.recipe("vae_fashion", limit=count).splits().x_train, "fashion-mnist"
    except DatasetNotFoundError:
        return zoo.recipe("vae_fashion", dataset="digits", limit=count).splits().x_train, "digits (resized to 32x32)"


def batches(images: np.ndarray, steps: int, seed: int = 0):
    """``steps`` (batch, ε) pairs: shuffled batches of 100 images and the N(0, I) noise of each step."""
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(images)) for _ in range(-(-steps * BATCH // len(images)))])
    for i in range(steps):
        yield images[order[i * BATCH:(i + 1) * BATCH]], rng.standard_normal((BATCH, 2)).astype(np.float32)


def compare_curves(torch, images, steps: int, seed: int, dtype=np.float32) -> np.ndarray:
    """Train both from the same initial weights on the same batches, in ``dtype``; return both loss
    curves (2, steps).  (In float64 the two must agree to ~1e-12: any larger gap in float32 is
    rounding, amplified by training, not a difference of algorithm.)"""
    tinygdl.manual_seed(seed)
    with tinygdl.default_dtype(dtype):
        model = zoo.build("vae_fashion")
        twin = torch_vae(torch, model)
        steps_of = (tinygdl_trainer(model), torch_trainer(torch, twin))
        return np.array([[step(x.astype(dtype), eps.astype(dtype)) for x, eps in batches(images, steps, seed)]
                         for step in steps_of])


def seconds_per_step(torch, images, steps: int, rounds: int) -> tuple[float, float]:
    """Seconds per training step of each framework: the median of ``rounds`` subset epochs of
    ``steps`` steps, the two frameworks timed in turn (``_common.time_interleaved``)."""
    model = zoo.build("vae_fashion")
    twin = torch_vae(torch, model)
    subset = list(batches(images, steps))

    def epoch_of(step):
        return lambda: [step(x, eps) for x, eps in subset]

    medians = time_interleaved({"tinygdl": epoch_of(tinygdl_trainer(model)),
                                "torch": epoch_of(torch_trainer(torch, twin))}, repeat=rounds, warmup=1)
    return medians["tinygdl"] / steps, medians["torch"] / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50, help="steps of the loss-curve comparison (default 50)")
    parser.add_argument("--timing-steps", type=int, default=30, help="steps per timed subset epoch (default 30)")
    parser.add_argument("--rounds", type=int, default=3, help="timed subset epochs per framework (default 3)")
    parser.add_argument("--rtol", type=float, default=1e-3, help="allowed relative difference of the losses")
    parser.add_argument("--threads", type=int, default=1, help="threads for both frameworks (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import torch

    set_threads(args.threads, torch)
    images, name = training_images(max(args.steps, args.timing_steps) * BATCH)
    print(f"data: {name}, {len(images)} images; torch {torch.__version__}; {thread_report(torch)}")

    for dtype, rtol in ((np.float32, args.rtol), (np.float64, 1e-9)):
        tiny, twin = compare_curves(torch, images, args.steps, args.seed, dtype)
        relative = np.abs(tiny - twin) / np.abs(twin)
        print(f"{np.dtype(dtype).name} loss curves over {args.steps} steps: tinygdl {tiny[0]:.4f} -> {tiny[-1]:.4f}, "
              f"torch {twin[0]:.4f} -> {twin[-1]:.4f}; max relative difference {relative.max():.2e} "
              f"(step {relative.argmax() + 1}), first step {relative[0]:.2e}")
        assert relative.max() < rtol, f"the {np.dtype(dtype).name} loss curves differ by {relative.max():.2e} > {rtol}"

    tiny_step, torch_step = seconds_per_step(torch, images, args.timing_steps, args.rounds)
    print(f"time per epoch ({STEPS_PER_EPOCH} steps of {BATCH}, from the median of {args.rounds} subset epochs "
          f"of {args.timing_steps} steps): tinygdl {tiny_step * STEPS_PER_EPOCH:.1f} s, "
          f"torch {torch_step * STEPS_PER_EPOCH:.1f} s, ratio tinygdl/torch {tiny_step / torch_step:.2f} "
          f"(load average {load_average()})")


if __name__ == "__main__":
    main()
