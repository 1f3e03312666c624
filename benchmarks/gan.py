"""Seconds per full GAN step, tinygdl against PyTorch twins of the same networks, in one process.

A *full step* is what one call of the zoo's training step does: for ``dcgan`` one forward pass of
G and two of D, then both updates (book §3.6); for ``wgan_gp`` three critic updates with the
gradient penalty (double backpropagation through the critic) and one generator update (§3.7).
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
import statistics
import time

import numpy as np

import tinygdl
from tinygdl import nn, zoo
from tinygdl.training import evaluation_mode

KERAS_EPS = 1e-7  # Keras's clipping bound of probabilities in binary cross-entropy
CONFIGS = (("dcgan", 32), ("dcgan", 64), ("wgan_gp", 32), ("wgan_gp", 64))


# --------------------------------------------------------------------------- the PyTorch twins


def torch_twin(torch, model: nn.Sequential):
    """A torch.nn.Sequential of the same layers as a zoo generator or critic, weights copied."""
    return torch.nn.Sequential(*(_torch_layer(torch, layer) for layer in model.children()))


def _padding(layer) -> int:
    """Keras's padding of a 4x4 kernel: "same" with stride 2 pads 1 on each side (PyTorch padding=1)."""
    return {"same": 1, "valid": 0}[layer.padding]


def _torch_layer(torch, layer):
    tnn = torch.nn
    if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
        kind = tnn.Conv2d if isinstance(layer, nn.Conv2d) else tnn.ConvTranspose2d
        twin = kind(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, _padding(layer),
                    bias=layer.bias is not None)
        _copy(torch, twin, weight=layer.weight, bias=layer.bias)
        return twin
    if isinstance(layer, nn.BatchNorm2d):
        twin = tnn.BatchNorm2d(layer.num_features, eps=layer.eps, momentum=layer.new_value_weight)
        _copy(torch, twin, weight=layer.weight, bias=layer.bias)
        return twin
    if isinstance(layer, nn.Reshape):
        return tnn.Unflatten(1, layer.shape)
    simple = {nn.LeakyReLU: lambda: tnn.LeakyReLU(layer.negative_slope), nn.Dropout: lambda: tnn.Dropout(layer.p),
              nn.Flatten: tnn.Flatten, nn.Tanh: tnn.Tanh, nn.Sigmoid: tnn.Sigmoid}
    return simple[type(layer)]()


def _copy(torch, twin, **tensors):
    with torch.no_grad():
        for name, value in tensors.items():
            if value is not None:
                getattr(twin, name).copy_(torch.from_numpy(value.numpy()))


def _torch_bce(torch, p, target):
    """Keras's clipped binary cross-entropy, as ``tinygdl.losses.binary_cross_entropy``."""
    p = p.clamp(KERAS_EPS, 1 - KERAS_EPS)
    return -(target * (p + KERAS_EPS).log() + (1 - target) * (1 - p + KERAS_EPS).log()).mean()


def torch_dcgan_step(torch, generator, discriminator, latent_dim, label_noise=0.1):
    """The book's DCGAN step: one forward pass, D's gradient of d_loss and G's of g_loss, both Adams."""
    adam = lambda model: torch.optim.Adam(model.parameters(), lr=2e-4, betas=(0.5, 0.999))  # noqa: E731
    g_optimizer, d_optimizer = adam(generator), adam(discriminator)

    def step(real):
        fake = generator(torch.randn(real.shape[0], latent_dim))
        p_real, p_fake = discriminator(real), discriminator(fake)
        d_loss = (_torch_bce(torch, p_real, 1 + label_noise * torch.rand_like(p_real))
                  + _torch_bce(torch, p_fake, -label_noise * torch.rand_like(p_fake))) / 2
        g_loss = _torch_bce(torch, p_fake, torch.ones_like(p_fake))
        d_params, g_params = list(discriminator.parameters()), list(generator.parameters())
        d_grads = torch.autograd.grad(d_loss, d_params, retain_graph=True)
        g_grads = torch.autograd.grad(g_loss, g_params)
        for optimizer, params, grads in ((d_optimizer, d_params, d_grads), (g_optimizer, g_params, g_grads)):
            for param, grad in zip(params, grads):
                param.grad = grad
            optimizer.step()

    return step


def torch_wgan_gp_step(torch, generator, critic, latent_dim, critic_steps=3, gp_weight=10.0):
    """Three critic updates with the gradient penalty (α ~ U[0, 1]), then one generator update."""
    adam = lambda model: torch.optim.Adam(model.parameters(), lr=2e-4, betas=(0.5, 0.9))  # noqa: E731
    g_optimizer, c_optimizer = adam(generator), adam(critic)

    def penalty(real, fake):
        alpha = torch.rand(real.shape[0], 1, 1, 1)
        interpolated = (real + alpha * (fake - real)).requires_grad_()
        (gradient,) = torch.autograd.grad(critic(interpolated).sum(), interpolated, create_graph=True)
        return (((gradient ** 2).sum(dim=(1, 2, 3)) + 1e-12).sqrt() - 1).pow(2).mean()

    def step(real):
        for _ in range(critic_steps):
            with torch.no_grad():
                fake = generator(torch.randn(real.shape[0], latent_dim))
            c_loss = critic(fake).mean() - critic(real).mean() + gp_weight * penalty(real, fake)
            c_optimizer.zero_grad()
            c_loss.backward()
            c_optimizer.step()
        g_loss = -critic(generator(torch.randn(real.shape[0], latent_dim))).mean()
        g_optimizer.zero_grad()
        g_loss.backward()
        g_optimizer.step()

    return step


# --------------------------------------------------------------------------- timing


def median_step_seconds(steps: dict, real: dict, warmup: int, repeat: int) -> dict:
    """``{engine: median seconds}``, the engines timed in turn step after step (a burst of load
    from elsewhere on a shared machine then hits both alike)."""
    for name, step in steps.items():
        for _ in range(warmup):
            step(real[name])
    times = {name: [] for name in steps}
    for _ in range(repeat):
        for name, step in steps.items():
            start = time.perf_counter()
            step(real[name])
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def compare(torch, name: str, size: int, batch_size: int, warmup: int, repeat: int) -> tuple:
    tinygdl.manual_seed(0)
    torch.manual_seed(0)
    recipe = zoo.recipe(name, image_size=size)
    models = recipe.build()
    generator, critic = models.values()
    ours = recipe.train_step(models, recipe.optimizers(models))
    twins = torch_twin(torch, generator), torch_twin(torch, critic)
    theirs = (torch_dcgan_step if name == "dcgan" else torch_wgan_gp_step)(torch, *twins, recipe.latent_dim)
    agree = _same_function(torch, recipe, models.values(), twins)
    images = np.random.default_rng(0).uniform(-1, 1, (batch_size,) + recipe.image_shape()).astype(np.float32)
    for model in models.values():
        model.train()
    with tinygdl.train_mode(True):
        seconds = median_step_seconds({"tinygdl": lambda x: ours((x,)), "torch": theirs},
                                      {"tinygdl": tinygdl.tensor(images), "torch": torch.from_numpy(images)},
                                      warmup, repeat)
    return seconds["tinygdl"], seconds["torch"], agree


def _same_function(torch, recipe, models, twins) -> bool:
    """Checked before training: the twins turn the same z into the same scores (eval mode, no dropout)."""
    z = np.random.default_rng(1).standard_normal((2, recipe.latent_dim)).astype(np.float32)
    generator, critic = models
    with evaluation_mode(models):
        ours = critic(generator(tinygdl.tensor(z))).numpy()
    for twin in twins:
        twin.eval()
    with torch.no_grad():
        theirs = twins[1](twins[0](torch.from_numpy(z))).numpy()
    for twin in twins:
        twin.train()
    return bool(np.allclose(ours, theirs, rtol=1e-4, atol=1e-5))


def set_threads(torch, threads: int) -> str:
    """The same thread count for PyTorch, Numba and NumPy's BLAS (through threadpoolctl, if installed)."""
    torch.set_num_threads(threads)
    import numba

    numba.set_num_threads(threads)
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(threads, user_api="blas")
        blas = f"{threads}"
    except ImportError:
        blas = "unchanged (no threadpoolctl)"
    return f"threads: PyTorch {torch.get_num_threads()}, Numba {numba.get_num_threads()}, NumPy BLAS {blas}"


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

    print(set_threads(torch, args.threads))
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
