"""The PyTorch twin of the diffusion U-Net (``ddm``, ``tinygdl/models/diffusion.py``), its training
step and its DDIM sampler, for the parity tests and ``benchmarks/models.py``.

The twin's modules carry the same names as tinygdl's, so weights copy over by ``state_dict`` key
(PyTorch's extra ``num_batches_tracked`` counters aside).  Batch norm: no γ/β, PyTorch momentum
0.01 (= Keras 0.99), ε 1e-3; both engines Bessel-correct the running variance of 4-D inputs.

    python -m benchmarks.twins.diffusion [--image-size 32] [--steps 20] [--count 16]     (from the repository root)

times DDIM sampling (images per second) in both engines, one thread each.
"""

from __future__ import annotations

import math

import numpy as np

from benchmarks.twins import ModelRow

BN_MOMENTUM_TORCH, BN_EPS = 0.01, 1e-3


def build_twin(torch, unet):
    """A PyTorch module with ``unet``'s architecture and a copy of its weights (same dtype)."""
    nn, functional = torch.nn, torch.nn.functional

    class ResidualBlock(nn.Module):
        def __init__(self, block):
            super().__init__()
            c, w = block.in_channels, block.width
            self.project = nn.Conv2d(c, w, 1) if block.project is not None else None
            self.norm = nn.BatchNorm2d(c, affine=False, momentum=BN_MOMENTUM_TORCH, eps=BN_EPS)
            self.conv1 = nn.Conv2d(c, w, 3, padding=1)
            self.conv2 = nn.Conv2d(w, w, 3, padding=1)

        def forward(self, x):
            residual = x if self.project is None else self.project(x)
            return self.conv2(functional.silu(self.conv1(self.norm(x)))) + residual

    class TwinUNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.block_depth = unet.block_depth
            self.image_in = nn.Conv2d(unet.channels, unet.widths[0], 1)
            self.register_buffer("speeds", torch.tensor(unet.embedding.angular_speeds.numpy()), persistent=False)
            self.down = nn.ModuleList(ResidualBlock(b) for b in unet.down)
            self.middle = nn.ModuleList(ResidualBlock(b) for b in unet.middle)
            self.up = nn.ModuleList(ResidualBlock(b) for b in unet.up)
            self.image_out = nn.Conv2d(unet.widths[0], unet.channels, 1)

        def forward(self, images, variances):
            n, _, h, w = images.shape
            angles = variances.reshape(n, 1, 1, 1) * self.speeds
            embedding = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).expand(-1, -1, h, w)
            x = torch.cat([self.image_in(images), embedding], dim=1)
            skips = []
            for index, block in enumerate(self.down):
                x = block(x)
                skips.append(x)
                if (index + 1) % self.block_depth == 0:
                    x = functional.avg_pool2d(x, 2)
            for block in self.middle:
                x = block(x)
            for index, block in enumerate(self.up):
                if index % self.block_depth == 0:
                    x = functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
                x = block(torch.cat([x, skips.pop()], dim=1))
            return self.image_out(x)

    twin = TwinUNet()
    copy_weights(torch, unet, twin)
    return twin


def copy_weights(torch, unet, twin) -> None:
    """tinygdl ``unet``'s parameters and running statistics into ``twin`` (in its dtype)."""
    ours = unet.state_dict()
    dtype = {"float32": torch.float32, "float64": torch.float64}[str(next(iter(ours.values())).dtype)]
    twin.to(dtype)
    state = {name: torch.tensor(ours[name].numpy()) for name in twin.state_dict() if name in ours}
    missing = twin.load_state_dict(state, strict=False).missing_keys
    if any(not key.endswith("num_batches_tracked") for key in missing):
        raise KeyError(f"the twin has weights tinygdl's U-Net lacks: {missing}")


def offset_cosine(torch, t):
    start, end = math.acos(0.95), math.acos(0.02)
    angle = start + t * (end - start)
    return torch.cos(angle), torch.sin(angle)


def twin_loss(torch, twin, x0, t, noise):
    """The ε-prediction MAE of ``tinygdl.models.diffusion.DiffusionStep.loss`` with given draws."""
    signal_rate, noise_rate = offset_cosine(torch, t)
    predicted = twin(signal_rate * x0 + noise_rate * noise, noise_rate * noise_rate)
    return (predicted - noise).abs().mean()


class KerasAdamW:
    """AdamW as Keras applies it (the book's optimizer): decay ``θ ← θ − lr·wd·θ`` first, then Adam
    with ε on the *uncorrected* sqrt(v): ``θ ← θ − lr·sqrt(1 − β2^t)/(1 − β1^t) · m/(sqrt(v) + ε)``."""

    def __init__(self, torch, params, lr=1e-3, weight_decay=1e-4, betas=(0.9, 0.999), eps=1e-7):
        self.torch, self.params = torch, list(params)
        self.lr, self.weight_decay, self.betas, self.eps, self.t = lr, weight_decay, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        beta1, beta2 = self.betas
        self.t += 1
        alpha = self.lr * math.sqrt(1 - beta2**self.t) / (1 - beta1**self.t)
        with self.torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v):
                p.mul_(1 - self.lr * self.weight_decay)
                m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                p.addcdiv_(m, v.sqrt().add_(self.eps), value=-alpha)


def ema_update(torch, ema_twin, twin, decay: float = 0.999) -> None:
    """``ema ← decay·ema + (1 − decay)·θ`` for every float entry of the state (running stats too)."""
    with torch.no_grad():
        pairs = [(a, b) for a, b in zip(ema_twin.state_dict().values(), twin.state_dict().values())
                 if a.is_floating_point()]
        torch._foreach_lerp_([a for a, _ in pairs], [b for _, b in pairs], 1 - decay)


def twin_ddim_sample(torch, twin, initial_noise, steps: int):
    """The book's deterministic DDIM sampler (η = 0) in PyTorch; returns the last x̂₀."""
    x = initial_noise
    with torch.no_grad():
        for k in range(steps):
            t = 1.0 - k / steps
            signal_rate, noise_rate = _rates(t)
            variances = torch.full((x.shape[0], 1, 1, 1), noise_rate**2, dtype=x.dtype)
            predicted = twin(x, variances)
            estimate = (x - noise_rate * predicted) / signal_rate
            next_signal, next_noise = _rates(t - 1.0 / steps)
            x = next_signal * estimate + next_noise * predicted
    return estimate


def _rates(t: float) -> tuple:
    """(signal rate, noise rate) of the offset cosine schedule at time ``t``."""
    start, end = math.acos(0.95), math.acos(0.02)
    angle = start + t * (end - start)
    return math.cos(angle), math.sin(angle)


# --------------------------------------------------------------------------- benchmark rows


def _make_row(image_size: int):
    def make(torch, batch_size: int):
        import tinygdl
        from tinygdl.models.diffusion import DiffusionStep, build_unet
        from tinygdl.optim import EMA, AdamW

        tinygdl.manual_seed(0)
        unet = build_unet()
        ema = EMA(unet, 0.999)
        twin, ema_twin = build_twin(torch, unet), build_twin(torch, unet)
        rng = np.random.default_rng(0)
        x0 = rng.standard_normal((batch_size, 3, image_size, image_size)).astype(np.float32)
        t = rng.uniform(size=(batch_size, 1, 1, 1)).astype(np.float32)
        noise = rng.standard_normal(x0.shape).astype(np.float32)
        draws = (tinygdl.tensor(t), tinygdl.tensor(noise))
        step = DiffusionStep(unet, AdamW(unet.parameters(), lr=1e-3, weight_decay=1e-4, eps_convention="keras"),
                             ema, draw=lambda x: draws)
        x0_tg = tinygdl.tensor(x0)
        optimizer = torch.optim.AdamW(twin.parameters(), lr=1e-3, weight_decay=1e-4, eps=1e-7)
        x0_t, t_t, noise_t = (torch.from_numpy(a) for a in (x0, t, noise))

        def torch_step():
            optimizer.zero_grad()
            twin_loss(torch, twin, x0_t, t_t, noise_t).backward()
            optimizer.step()
            ema_update(torch, ema_twin, twin)

        return (lambda: step((x0_tg,))), torch_step

    return make


ROWS = [
    ModelRow("ddm", "32x32", 64, 64, _make_row(32)),
    ModelRow("ddm", "", 64, 64, _make_row(64)),
]


# --------------------------------------------------------------------------- sampling speed


def main(argv=None) -> None:
    import argparse

    import torch

    import tinygdl
    from benchmarks._common import load_average, set_threads, time_interleaved
    from tinygdl.models.diffusion import build_unet, ddim_sample

    parser = argparse.ArgumentParser(description="DDIM sampling speed, tinygdl vs PyTorch")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--count", type=int, default=16, help="images per call")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    set_threads(args.threads, torch)
    tinygdl.manual_seed(0)
    unet = build_unet().eval()
    twin = build_twin(torch, unet).eval()
    noise = np.random.default_rng(0).standard_normal((args.count, 3, args.image_size, args.image_size))
    noise = noise.astype(np.float32)
    ours, theirs = tinygdl.tensor(noise), torch.from_numpy(noise)
    times = time_interleaved({"tinygdl": lambda: ddim_sample(unet, ours, args.steps),
                              "torch": lambda: twin_ddim_sample(torch, twin, theirs, args.steps)},
                             args.repeat, warmup=1)
    rates = {name: args.count / seconds for name, seconds in times.items()}
    print(f"DDIM, {args.steps} steps, {args.count} images of {args.image_size}x{args.image_size}, "
          f"{args.threads} thread(s): tinygdl {rates['tinygdl']:.2f} images/s, torch {rates['torch']:.2f} images/s, "
          f"time ratio tinygdl/torch {times['tinygdl'] / times['torch']:.2f}x; load average {load_average()}")


if __name__ == "__main__":
    main()
