"""The PyTorch twin of the energy-based model (``tinygdl.models.energy``), for the parity tests and
the benchmark table.

``torch_energy_network(torch, model)`` copies the score network (Keras "same" padding made
explicit: 5×5 stride 2 pads 1 before and 2 after, 3×3 stride 2 pads 0 and 1); ``TorchEnergyStep``
is one training step — the Langevin chains through ``torch.autograd.grad``, the replay buffer, the
contrastive divergence and Keras-ε Adam — that takes the same ``StepDraws`` as tinygdl's
``EnergyStep.run``, so that both engines see exactly the same random numbers.
"""

from __future__ import annotations

import numpy as np

from benchmarks.twins import ModelRow
from benchmarks.twins.flows import KerasAdam, copy_dense

BOOK_BATCH = 128
CPU_BATCH = 32


def _same_padding(size: int, kernel: int, stride: int) -> tuple:
    """Keras's "same" padding of one axis: (before, after), the odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def torch_energy_network(torch, model, image_size: int = 32):
    """``model`` (``tinygdl.models.energy.energy_network``) in PyTorch with the same weights and dtype."""
    nn = torch.nn
    dtype = getattr(torch, model.conv_0.weight.numpy().dtype.name)

    class PaddedConv(nn.Module):
        def __init__(self, layer, size):
            super().__init__()
            kernel, stride = layer.kernel_size[0], layer.stride[0]
            before, after = _same_padding(size, kernel, stride)
            self.padding = (before, after, before, after)
            self.conv = nn.Conv2d(layer.in_channels, layer.out_channels, kernel, stride=stride, dtype=dtype)
            with torch.no_grad():
                self.conv.weight.copy_(torch.from_numpy(layer.weight.numpy().copy()))
                self.conv.bias.copy_(torch.from_numpy(layer.bias.numpy().copy()))

        def forward(self, x):
            return self.conv(nn.functional.pad(x, self.padding))

    layers, size = [], image_size
    for layer in model.children():
        kind = type(layer).__name__
        if kind == "Conv2d":
            layers.append(PaddedConv(layer, size))
            size = -(-size // layer.stride[0])
        elif kind == "Linear":
            layers.append(copy_dense(torch, layer))
        elif kind == "Flatten":
            layers.append(nn.Flatten())
        else:  # swish
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


def torch_langevin(torch, net, x, normals, step_size=10.0, noise=0.005, gradient_clip=0.03):
    """The book's Langevin steps (``tinygdl.models.energy.langevin_step``) with given normal draws."""
    for normal in normals:
        x = (x + noise * normal).clamp(-1.0, 1.0).requires_grad_(True)
        (g,) = torch.autograd.grad(net(x).sum(), [x])
        x = (x.detach() + step_size * g.clamp(-gradient_clip, gradient_clip)).clamp(-1.0, 1.0)
    return x


class TorchEnergyStep:
    """One training step of the EBM in PyTorch, driven by a ``tinygdl.models.energy.StepDraws``."""

    def __init__(self, torch, net, buffer_images: np.ndarray, lr=1e-4, capacity=8192, steps=60, step_size=10.0,
                 noise=0.005, gradient_clip=0.03, alpha=0.1):
        self.torch, self.net = torch, net
        self.buffer = torch.from_numpy(np.array(buffer_images))
        self.optimizer = KerasAdam(net.parameters(), lr=lr)
        self.capacity, self.steps, self.step_size, self.noise = capacity, steps, step_size, noise
        self.gradient_clip, self.alpha = gradient_clip, alpha

    def __call__(self, real: np.ndarray, draws) -> dict:
        torch = self.torch
        real = (torch.from_numpy(real) + self.noise * torch.from_numpy(draws.real_noise)).clamp(-1.0, 1.0)
        start = torch.cat([torch.from_numpy(draws.fresh), self.buffer[torch.from_numpy(draws.picks)]])
        fakes = torch_langevin(torch, self.net, start, torch.from_numpy(draws.normals)[:self.steps], self.step_size,
                               self.noise, self.gradient_clip)
        self.buffer = torch.cat([fakes, self.buffer])[:self.capacity]
        self.optimizer.zero_grad()
        scores = self.net(torch.cat([real, fakes]))
        real_scores, fake_scores = scores[:len(real)], scores[len(real):]
        cdiv = fake_scores.mean() - real_scores.mean()
        reg = self.alpha * (real_scores ** 2 + fake_scores ** 2).mean()
        loss = cdiv + reg
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item(), "cdiv": cdiv.item(), "reg": reg.item(),
                "real": real_scores.mean().item(), "fake": fake_scores.mean().item()}


def make_pair(torch, batch_size: int, image_size: int = 32, steps: int = 60, seed: int = 0):
    """A tinygdl ``EnergyStep`` and its twin with the same weights and the same starting buffer."""
    import tinygdl
    from tinygdl.models import energy
    from tinygdl.optim import Adam

    tinygdl.manual_seed(seed)
    model = energy.energy_network(image_size)
    dtype = model.conv_0.weight.numpy().dtype
    start = energy.uniform_images(np.random.default_rng(seed), (batch_size, 1, image_size, image_size), dtype)
    ours = energy.EnergyStep(model, Adam(model.parameters(), lr=1e-4, eps_convention="keras"),
                             energy.ReplayBuffer(start.copy()), steps=steps)
    theirs = TorchEnergyStep(torch, torch_energy_network(torch, model, image_size), start, steps=steps)
    return ours, theirs


def _make_row(torch, batch_size):
    import tinygdl
    from tinygdl.models import energy

    ours, theirs = make_pair(torch, batch_size)
    real = np.random.default_rng(1).uniform(-1, 1, (batch_size, 1, 32, 32)).astype(np.float32)
    draws = energy.draw_step(real.shape, ours.steps, batch_size, 0.05, np.float32)
    return (lambda: ours.run(tinygdl.tensor(real), draws)), (lambda: theirs(real, draws))


ROWS = [ModelRow("ebm", "", BOOK_BATCH, CPU_BATCH, _make_row)]
