"""Chapter 7: an energy-based model of images, sampled by Langevin dynamics.

**Signs, once.**  An energy-based model defines ``p(x) ∝ exp(−E(x))``.  The book's network (and
this one) outputs the **score** ``S(x) = −E(x)``, so high scores mean likely images:
``p(x) ∝ exp(S(x))``.  Training pushes the scores of real images up and those of generated ones
down; Langevin sampling climbs the score (gradient **ascent** on ``S``, descent on the energy).

**The network** (``energy_network``): four stride-2 Keras-"same" convolutions with swish (16, 32,
64, 64 channels; 5×5 then 3×3 kernels: 32 → 16 → 8 → 4 → 2), flatten, Dense 64 swish, Dense 1 —
76,993 parameters on the book's 32×32 images.

**Langevin dynamics** (``langevin_step``), the book's form, each step on images in [−1, 1]::

    x ← clip(x + noise·ε, −1, 1)              ε ~ N(0, I)
    g ← clip(∇ₓ Σ S(x), −0.03, 0.03)          elementwise
    x ← clip(x + step_size·g, −1, 1)          (step_size 10, noise 0.005)

The gradient is taken with ``tinygdl.grad`` with respect to the images only: the network's
parameters are frozen during the step (so no weight gradient is even computed) and are never
changed.  (Textbook Langevin uses a noise of ``sqrt(2·step_size)``; the book's small fixed noise and
clipped gradient make it closer to noisy, clipped gradient ascent.)

**Training** (``EnergyStep``, contrastive divergence with a replay buffer): the real images get a
little noise; the fake batch starts as ``n_new ~ Binomial(N, 0.05)`` fresh U(−1, 1) images plus
``N − n_new`` images picked with replacement from the buffer, runs 60 Langevin steps and is put in
front of the buffer (which keeps its first 8,192 images); one forward pass over real and fake gives
``cdiv = mean S(fake) − mean S(real)`` and ``reg = 0.1·mean(S(real)² + S(fake)²)``, and Adam minimises
``cdiv + reg``.  The fake batch always has as many images as the real one (the book returns 128
fakes even for its last, 96-image batch, and then splits the 224 rows into halves that mix 16 fakes
into the "real" half; here the sizes match).

Every random number of a step is drawn up front into a ``StepDraws`` (``draw_step``), so that a
test can give exactly the same draws to another engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import backend, nn
from ..nn.module import evaluation_mode
from ..ops.reduce import mean
from ..ops.shape import concatenate
from ..tensor import Tensor, enable_grad, grad

__all__ = ["energy_network", "langevin_step", "langevin", "uniform_images", "ReplayBuffer", "StepDraws",
           "draw_step", "EnergyStep", "contrastive_divergence"]

WIDTHS = (16, 32, 64, 64)
KERNELS = (5, 3, 3, 3)
DENSE = 64


def energy_network(image_size: int = 32, channels: int = 1) -> nn.Sequential:
    """The book's score network: (N, channels, size, size) images -> (N, 1) scores.

    ``image_size`` must be a multiple of 16 (four halvings); 32 is the book's.
    """
    if image_size % 16:
        raise ValueError(f"energy_network: image_size must be a multiple of 16 (four stride-2 stages), "
                         f"got {image_size}")
    layers, in_channels = {}, channels
    for i, (width, kernel) in enumerate(zip(WIDTHS, KERNELS)):
        layers[f"conv_{i}"] = nn.Conv2d(in_channels, width, kernel, stride=2, padding="same")
        layers[f"swish_{i}"] = nn.Swish()
        in_channels = width
    layers["flatten"] = nn.Flatten()
    layers["dense"] = nn.Linear(in_channels * (image_size // 16) ** 2, DENSE)
    layers["swish_dense"] = nn.Swish()
    layers["score"] = nn.Linear(DENSE, 1)
    return nn.Sequential(layers)


# --------------------------------------------------------------------------- Langevin dynamics


def _input_gradient(model, x):
    """``∇ₓ Σ S(x)`` as an array, with the parameters frozen so that no weight gradient is computed
    (their ``requires_grad`` flags are restored afterwards; ``.grad`` is never touched)."""
    params = model.parameters()
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad = False
        with evaluation_mode([model]), enable_grad():  # eval mode turns recording off: back on
            images = Tensor(x, requires_grad=True)
            (g,) = grad(model(images).sum(), [images])
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad = flag
    return g.data


def langevin_step(model, x, normal, step_size: float = 10.0, noise: float = 0.005,
                  gradient_clip: float = 0.03):
    """One step of the book's Langevin dynamics on images ``x`` (an array in [−1, 1]), with
    ``normal`` a standard-normal array of x's shape (see the module doc).  Returns the new array."""
    xp = backend.get_array_module(x)
    x = xp.clip(x + noise * normal, -1.0, 1.0)
    g = xp.clip(_input_gradient(model, x), -gradient_clip, gradient_clip)
    return xp.clip(x + step_size * g, -1.0, 1.0)


def langevin(model, x, steps: int, step_size: float = 10.0, noise: float = 0.005, gradient_clip: float = 0.03,
             normals=None, every: int = 0):
    """``steps`` Langevin steps from images ``x`` (a Tensor or array); returns the final array, and
    with ``every > 0`` also the list of snapshots (the start, then every ``every`` steps).

    ``normals`` gives each step's standard-normal draw (an array of shape (steps, *x.shape), or any
    iterable of x-shaped arrays); by default they come from tinygdl's generator on x's device.
    """
    x = x.data if isinstance(x, Tensor) else x
    gen = backend.generator(backend.device_of(x))
    given = None if normals is None else iter(normals)
    snapshots = [x]
    for k in range(steps):
        normal = gen.standard_normal(x.shape, dtype=x.dtype) if given is None else next(given)
        x = langevin_step(model, x, normal, step_size, noise, gradient_clip)
        if every and (k + 1) % every == 0:
            snapshots.append(x)
    return (x, snapshots) if every else x


def uniform_images(gen, shape, dtype):
    """U(−1, 1) images from a NumPy or CuPy generator."""
    return gen.random(shape, dtype=dtype) * 2 - 1


# --------------------------------------------------------------------------- the replay buffer


class ReplayBuffer:
    """The Langevin chains' memory: the newest images first, at most ``capacity`` of them."""

    def __init__(self, images, capacity: int = 8192):
        self.images, self.capacity = images, capacity

    def __len__(self):
        return len(self.images)

    def start_batch(self, fresh, picks):
        """The images to run Langevin from: the ``fresh`` ones, then the buffer's images at ``picks``."""
        xp = backend.get_array_module(self.images)
        return xp.concatenate([fresh, self.images[xp.asarray(picks)]])

    def push(self, images):
        """Put ``images`` in front; forget the oldest beyond the capacity."""
        xp = backend.get_array_module(self.images)
        self.images = xp.concatenate([images, self.images])[:self.capacity]


# --------------------------------------------------------------------------- one training step


@dataclass
class StepDraws:
    """Every random number of one training step (arrays on the images' device)."""

    real_noise: object  # (N, C, H, W) standard normal, scaled by the Langevin noise for the real images
    fresh: object  # (n_new, C, H, W) U(−1, 1): new chains
    picks: np.ndarray  # (N − n_new,) buffer indices, drawn with replacement
    normals: object  # (steps, N, C, H, W) standard normal: each Langevin step's noise


def draw_step(shape, steps: int, buffer_size: int, fresh_fraction: float, dtype, device="cpu") -> StepDraws:
    """The draws of one step for a real batch of ``shape`` (N, C, H, W), in the book's order: the
    real images' noise, the number of fresh chains, the fresh images, the buffer picks, the Langevin
    noise.  Counts and picks come from the CPU generator, images from ``device``'s."""
    cpu, gen = backend.generator(), backend.generator(device)
    n = shape[0]
    real_noise = gen.standard_normal(shape, dtype=dtype)
    n_new = int(cpu.binomial(n, fresh_fraction))
    fresh = uniform_images(gen, (n_new, *shape[1:]), dtype)
    picks = cpu.integers(0, buffer_size, n - n_new)
    normals = gen.standard_normal((steps, *shape), dtype=dtype)
    return StepDraws(real_noise, fresh, picks, normals)


def contrastive_divergence(real_scores, fake_scores, alpha: float) -> dict:
    """The book's loss terms from the two batches' scores (N, 1): ``cdiv``, ``reg``, ``loss``."""
    cdiv = mean(fake_scores) - mean(real_scores)
    reg = alpha * mean(real_scores * real_scores + fake_scores * fake_scores)
    return {"loss": cdiv + reg, "cdiv": cdiv, "reg": reg}


class EnergyStep:
    """One contrastive-divergence step of the book's EBM (module doc); ``step((images,))`` returns
    ``loss, cdiv, reg`` and the mean scores ``real`` and ``fake``."""

    def __init__(self, model, optimizer, buffer: ReplayBuffer, steps: int = 60, step_size: float = 10.0,
                 noise: float = 0.005, gradient_clip: float = 0.03, alpha: float = 0.1, fresh_fraction: float = 0.05):
        self.model, self.optimizer, self.buffer = model, optimizer, buffer
        self.steps, self.step_size, self.noise, self.gradient_clip = steps, step_size, noise, gradient_clip
        self.alpha, self.fresh_fraction = alpha, fresh_fraction

    def __call__(self, batch) -> dict:
        real = batch[0]
        draws = draw_step(real.shape, self.steps, len(self.buffer), self.fresh_fraction, real.dtype, real.device)
        return self.run(real, draws)

    def fakes(self, draws: StepDraws):
        """The fake batch: buffer and fresh images after ``steps`` Langevin steps (pushed to the buffer)."""
        start = self.buffer.start_batch(draws.fresh, draws.picks)
        fakes = langevin(self.model, start, self.steps, self.step_size, self.noise, self.gradient_clip, draws.normals)
        self.buffer.push(fakes)
        return fakes

    def run(self, real, draws: StepDraws) -> dict:
        xp = backend.get_array_module(real.data)
        real = Tensor(xp.clip(real.data + self.noise * draws.real_noise, -1.0, 1.0))
        fakes = Tensor(self.fakes(draws))
        self.optimizer.zero_grad()
        scores = self.model(concatenate([real, fakes], axis=0))
        n = real.shape[0]
        terms = contrastive_divergence(scores[:n], scores[n:], self.alpha)
        terms["loss"].backward()
        self.optimizer.step()
        return {**{key: value.item() for key, value in terms.items()},
                "real": float(scores.data[:n].mean()), "fake": float(scores.data[n:].mean())}
