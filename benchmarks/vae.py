"""tinygdl's ``vae_fashion`` against a PyTorch twin: same architecture, same initial weights, same
batches, same noise — the two loss curves must agree, and the time per epoch is compared.

The twin is written with plain ``torch.nn`` layers.  Two details make it the book's model rather
than PyTorch's defaults (book-models §1.2):

* a Keras-"same" 3×3 stride-2 convolution on an even size pads 0 rows/columns before and 1 after:
  ``F.pad(x, (0, 1, 0, 1))`` then ``padding=0`` (PyTorch's ``padding=1`` would pad 1/1);
* a Keras-"same" 3×3 stride-2 *transposed* convolution keeps the first ``2n`` rows and columns of the
  full ``(n − 1)·2 + 3`` output, dropping the last one: ``padding=0`` then ``[..., :-1, :-1]``
  (``padding=1, output_padding=1`` would crop at the start instead).

Weights are copied from the tinygdl model (tinygdl's ``Linear`` stores (in, out), PyTorch's
(out, in); the convolution layouts are the same).  Both sides use Keras-convention Adam (ε on the
uncorrected √v, written out here for PyTorch), the book's loss (500 × per-image mean of the
Keras-clipped BCE + the KL summed over the latent dimensions, mean over the batch) and the same
ε ~ N(0, I) for the reparameterization at every step.

Timing: a *subset epoch* of ``--timing-steps`` training steps (batch 100) per framework, repeated
``--rounds`` times in alternation (so a burst of load on a shared machine hits both), median per
step, scaled to the book's 600 steps per epoch; both frameworks get ``--threads`` threads.

Run:  TINYGDL_DATA=../shared/data python benchmarks/vae.py [--steps 50] [--timing-steps 30]
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
from _common import load_average, set_threads, thread_report, time_interleaved  # noqa: E402

BATCH, BETA, LR, STEPS_PER_EPOCH = 100, 500.0, 5e-4, 600
KERAS_EPSILON = 1e-7


# --------------------------------------------------------------------------- the PyTorch twin


def torch_twin(torch):
    """The book's fashion VAE in torch.nn, with Keras's "same" padding and cropping."""
    nn, F = torch.nn, torch.nn.functional

    class KerasSameConv(nn.Conv2d):
        """3×3 stride-2 conv, padding 0 before / 1 after (Keras "same" on an even size)."""

        def forward(self, x):
            return super().forward(F.pad(x, (0, 1, 0, 1)))

    class KerasSameConvTranspose(nn.ConvTranspose2d):
        """3×3 stride-2 transposed conv, the full output cropped by 1 at the end (Keras "same")."""

        def forward(self, x):
            return super().forward(x)[..., :-1, :-1]

    class TorchVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList([KerasSameConv(a, b, 3, stride=2) for a, b in ((1, 32), (32, 64), (64, 128))])
            self.z_mean, self.z_log_var = nn.Linear(2048, 2), nn.Linear(2048, 2)
            self.dense = nn.Linear(2, 2048)
            self.deconvs = nn.ModuleList([KerasSameConvTranspose(a, b, 3, stride=2)
                                          for a, b in ((128, 128), (128, 64), (64, 32))])
            self.output = nn.Conv2d(32, 1, 3, padding=1)

        def forward(self, x, eps):
            for conv in self.convs:
                x = F.relu(conv(x))
            h = x.flatten(1)
            mu, logvar = self.z_mean(h), self.z_log_var(h)
            z = mu + torch.exp(0.5 * logvar) * eps
            y = self.dense(z).reshape(-1, 128, 4, 4)
            for deconv in self.deconvs:
                y = F.relu(deconv(y))
            return torch.sigmoid(self.output(y)), mu, logvar

    return TorchVAE()


def copy_weights(torch, source, twin) -> None:
    """tinygdl ``vae_fashion`` -> the twin (Linear kernels transposed)."""
    encoder, decoder = source.encoder, source.decoder
    pairs = [(twin.convs[i], getattr(encoder.body, f"conv_{i}")) for i in range(3)]
    pairs += [(twin.deconvs[i], getattr(decoder, f"conv_transpose_{i}")) for i in range(3)]
    pairs += [(twin.output, decoder.output)]
    linears = [(twin.z_mean, encoder.z_mean), (twin.z_log_var, encoder.z_log_var), (twin.dense, decoder.dense)]
    with torch.no_grad():
        for target, layer in pairs:
            target.weight.copy_(torch.from_numpy(layer.weight.numpy()))
            target.bias.copy_(torch.from_numpy(layer.bias.numpy()))
        for target, layer in linears:
            target.weight.copy_(torch.from_numpy(layer.weight.numpy().T))
            target.bias.copy_(torch.from_numpy(layer.bias.numpy()))


class KerasAdam:
    """Adam as Keras applies it: ``θ ← θ − lr·√(1 − β2^t)/(1 − β1^t) · m / (√v + ε)``."""

    def __init__(self, torch, params, lr, betas=(0.9, 0.999), eps=KERAS_EPSILON):
        self.torch, self.params, self.lr, self.betas, self.eps, self.t = torch, list(params), lr, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def step(self):
        beta1, beta2 = self.betas
        self.t += 1
        step_size = self.lr * (1 - beta2 ** self.t) ** 0.5 / (1 - beta1 ** self.t)
        with self.torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v):
                m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                p.sub_(step_size * m / (v.sqrt() + self.eps))
                p.grad = None


def torch_loss(torch, x_hat, x, mu, logvar):
    p = x_hat.clamp(KERAS_EPSILON, 1 - KERAS_EPSILON)
    bce = -(x * torch.log(p + KERAS_EPSILON) + (1 - x) * torch.log(1 - p + KERAS_EPSILON))
    recon = BETA * bce.mean(dim=(1, 2, 3)).mean()
    kl = (-0.5 * (1 + logvar - mu * mu - logvar.exp())).sum(dim=1).mean()
    return recon + kl


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
    optimizer = KerasAdam(torch, twin.parameters(), LR)

    def step(x, eps):
        x = torch.from_numpy(x)
        x_hat, mu, logvar = twin(x, torch.from_numpy(eps))
        loss = torch_loss(torch, x_hat, x, mu, logvar)
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
        twin = torch_twin(torch).to(getattr(torch, np.dtype(dtype).name))
        copy_weights(torch, model, twin)
        steps_of = (tinygdl_trainer(model), torch_trainer(torch, twin))
        return np.array([[step(x.astype(dtype), eps.astype(dtype)) for x, eps in batches(images, steps, seed)]
                         for step in steps_of])


def seconds_per_step(torch, images, steps: int, rounds: int) -> tuple[float, float]:
    """Seconds per training step of each framework: the median of ``rounds`` subset epochs of
    ``steps`` steps, the two frameworks timed in turn (``_common.time_interleaved``)."""
    model = zoo.build("vae_fashion")
    twin = torch_twin(torch)
    copy_weights(torch, model, twin)
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
