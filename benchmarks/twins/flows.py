"""The PyTorch twin of RealNVP (``tinygdl.models.flows``), for the parity tests and the benchmark table.

``torch_realnvp(torch, model)`` builds the same flow in PyTorch with ``model``'s weights;
``KerasAdam`` is Adam with Keras's placement of ε (as ``tinygdl.optim.Adam(eps_convention="keras")``),
so that both engines take exactly the same update; ``train_losses`` runs either engine over given
batch orders.  Run as a script, it measures the chapter's closing figures (a few minutes):

    python -m benchmarks.twins.flows --steps 3000         test NLL: tinygdl, the twin, a 10-component GMM
    python -m benchmarks.twins.flows --layers 2,4,8 --engines tinygdl     2, 4, 8 couplings, the same budget
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from benchmarks._common import set_threads
from benchmarks.twins import ModelRow

BOOK_BATCH = 256


class KerasAdam:
    """Adam with ε added to the *uncorrected* sqrt(v) (Keras/TensorFlow), on PyTorch tensors."""

    def __init__(self, params, lr: float, betas=(0.9, 0.999), eps: float = 1e-7):
        self.params, self.lr, self.betas, self.eps = list(params), lr, betas, eps
        self.m = [p.detach() * 0 for p in self.params]
        self.v = [p.detach() * 0 for p in self.params]
        self.t = 0

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        self.t += 1
        beta1, beta2 = self.betas
        step_size = self.lr * math.sqrt(1 - beta2 ** self.t) / (1 - beta1 ** self.t)
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad.detach()
            m.mul_(beta1).add_(g, alpha=1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            p.data.sub_(step_size * m / (v.sqrt() + self.eps))


def copy_dense(torch, layer):
    """A ``torch.nn.Linear`` with a tinygdl ``Linear``'s weights (tinygdl stores the transpose)."""
    weight = layer.weight.numpy()
    twin = torch.nn.Linear(layer.in_features, layer.out_features, dtype=getattr(torch, weight.dtype.name))
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(weight.T.copy()))
        twin.bias.copy_(torch.from_numpy(layer.bias.numpy().copy()))
    return twin


def _copy_sequential(torch, sequential):
    layers = []
    for layer in sequential:
        kind = type(layer).__name__
        layers.append(copy_dense(torch, layer) if kind == "Linear" else getattr(torch.nn, kind)())
    return torch.nn.Sequential(*layers)


def torch_realnvp(torch, model):
    """``model`` (a ``tinygdl.models.flows.RealNVP``) in PyTorch, with the same weights and dtype."""
    nn = torch.nn

    class Coupling(nn.Module):
        def __init__(self, coupling):
            super().__init__()
            self.s, self.t = _copy_sequential(torch, coupling.net.s), _copy_sequential(torch, coupling.net.t)
            self.register_buffer("mask", torch.from_numpy(coupling.mask.numpy().copy()))

        def forward(self, x):  # data -> latent
            kept, free = x * self.mask, 1 - self.mask
            s, t = self.s(kept) * free, self.t(kept) * free
            return kept + free * (x - t) * torch.exp(-s), -s.sum(dim=1)

        def inverse(self, y):
            kept, free = y * self.mask, 1 - self.mask
            s, t = self.s(kept) * free, self.t(kept) * free
            return kept + free * (y * torch.exp(s) + t)

    class Flow(nn.Module):
        def __init__(self):
            super().__init__()
            self.couplings = nn.ModuleList(Coupling(c) for c in model.couplings)

        def forward(self, x):
            log_det = 0.0
            for coupling in reversed(self.couplings):
                x, layer_log_det = coupling(x)
                log_det = layer_log_det + log_det
            return x, log_det

        def log_prob(self, x):
            z, log_det = self(x)
            return -0.5 * (z * z).sum(dim=1) - 0.5 * z.shape[1] * math.log(2 * math.pi) + log_det

    dtype = torch.float64 if next(iter(model.parameters())).dtype == np.float64 else torch.float32
    return Flow().to(dtype)


def tinygdl_adam(model, lr=1e-4):
    from tinygdl.optim import Adam

    return Adam(model.parameters(), lr=lr, eps_convention="keras")


def tinygdl_step(model, optimizer):
    """One training step of the tinygdl flow on a NumPy batch; returns the loss."""
    import tinygdl
    from tinygdl.models.flows import flow_loss

    def step(batch: np.ndarray) -> float:
        optimizer.zero_grad()
        loss = flow_loss(model, tinygdl.tensor(batch))
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def torch_step(torch, twin, optimizer):
    def step(batch: np.ndarray) -> float:
        optimizer.zero_grad()
        loss = -twin.log_prob(torch.from_numpy(batch)).mean()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def batch_orders(rng, n: int, batch_size: int, steps: int) -> list:
    """The index of every batch of ``steps`` steps: shuffled epochs, the last partial batch kept."""
    batches = []
    while len(batches) < steps:
        order = rng.permutation(n)
        batches += [order[i:i + batch_size] for i in range(0, n, batch_size)]
    return batches[:steps]


def train_losses(step, data: np.ndarray, batches: list) -> list:
    return [step(data[index]) for index in batches]


def _make_row(torch, batch_size):
    from tinygdl.models.flows import RealNVP

    rng = np.random.default_rng(0)
    model = RealNVP()
    twin = torch_realnvp(torch, model)
    batch = rng.standard_normal((batch_size, 2)).astype(np.float32)
    ours = tinygdl_step(model, tinygdl_adam(model))
    theirs = torch_step(torch, twin, KerasAdam(twin.parameters(), lr=1e-4))
    return (lambda: ours(batch)), (lambda: theirs(batch))


ROWS = [ModelRow("realnvp", "", BOOK_BATCH, BOOK_BATCH, _make_row)]


# --------------------------------------------------------------------------- the closing note's figures


def _moons(seed: int, count: int):
    from tinygdl.data.toy import make_moons

    return make_moons(count, noise=0.05, seed=seed)[0]


def _standardise(train, *others):
    mean, std = train.mean(axis=0), np.maximum(train.std(axis=0), 1e-7)
    return [((x - mean) / std).astype(np.float32) for x in (train, *others)], float(np.log(std).sum())


def _nll(log_prob_fn, points) -> float:
    return float(-np.mean(log_prob_fn(points)))


def measure(steps: int, layers: list, engines: set, threads: int) -> None:
    import torch

    import tinygdl
    from tinygdl.models.flows import RealNVP

    set_threads(threads, torch)
    (train, test), log_std = _standardise(_moons(0, 30000), _moons(1, 10000))
    batches = batch_orders(np.random.default_rng(0), len(train), BOOK_BATCH, steps)
    print(f"{steps} steps of batch {BOOK_BATCH} ({steps * BOOK_BATCH / len(train):.1f} epochs); test NLL in nats "
          f"per point, standardised space (add {log_std:.4f} for data units)", flush=True)
    for count in layers:
        tinygdl.manual_seed(0)
        model = RealNVP(coupling_layers=count)
        twin = torch_realnvp(torch, model) if "torch" in engines else None
        if "tinygdl" in engines:
            start = time.perf_counter()
            losses = train_losses(tinygdl_step(model, tinygdl_adam(model)), train, batches)
            seconds = time.perf_counter() - start
            with tinygdl.no_grad():
                nll = _nll(lambda x, model=model: model.log_prob(tinygdl.tensor(x)).numpy(), test)
            print(f"tinygdl RealNVP, {count} couplings: test NLL {nll:.4f}, last-epoch train loss "
                  f"{np.mean(losses[-118:]):.4f}, {seconds:.0f} s", flush=True)
        if twin is not None:
            start = time.perf_counter()
            twin_losses = train_losses(torch_step(torch, twin, KerasAdam(twin.parameters(), lr=1e-4)), train, batches)
            seconds = time.perf_counter() - start
            with torch.no_grad():
                twin_nll = _nll(lambda x, twin=twin: twin.log_prob(torch.from_numpy(x)).numpy(), test)
            print(f"PyTorch twin, {count} couplings: test NLL {twin_nll:.4f}, last-epoch train loss "
                  f"{np.mean(twin_losses[-118:]):.4f}, {seconds:.0f} s", flush=True)
    from sklearn.mixture import GaussianMixture

    gmm = GaussianMixture(10, random_state=0).fit(train)
    print(f"GaussianMixture(10): test NLL {-gmm.score(test):.4f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--layers", default="2", help="comma-separated coupling counts (default 2)")
    parser.add_argument("--engines", default="tinygdl,torch", help="which to train (default tinygdl,torch)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    measure(args.steps, [int(n) for n in args.layers.split(",")], set(args.engines.split(",")), args.threads)


if __name__ == "__main__":
    main()
