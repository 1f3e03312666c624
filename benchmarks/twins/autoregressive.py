"""PyTorch twins of the chapter-5 image models (``tinygdl.models.pixelcnn``), for the parity tests and
the benchmark table.

The twins are written *functionally*: a dict of PyTorch tensors keyed by the tinygdl model's own
parameter names (``"blocks.0.reduce.weight"``, ``"down.0.vertical.0.conv_in.v"`` ...), and forward
functions that read them with ``torch.nn.functional``.  Copying weights is then one loop, and the
twins build their own masks (from the tap offsets, not from tinygdl's masks), their own weight
normalisation with its data-dependent initialisation, and their own mixture likelihood
(``log(−expm1(−1/s))`` where tinygdl uses ``log tanh + softplus``).

Dropout: ``MaskStream`` draws the keep-masks from one seeded NumPy generator in call order; two
streams with the same seed, one in each engine (``feed_dropout`` puts one into the tinygdl model),
give both the same masks, so training runs can be compared step by step.

    python benchmarks/models.py --only pixelcnn,pixelcnn_md --threads 1
"""

from __future__ import annotations

import math

import numpy as np

import tinygdl as tg
from benchmarks.twins import ModelRow
from benchmarks.twins.flows import KerasAdam
from tinygdl.models import pixelcnn as pc
from tinygdl.nn import Module
from tinygdl.optim import Adam

PIXELCNN_LR, PIXELCNN_MD_LR = 5e-4, 1e-3


# --------------------------------------------------------------------------- shared dropout masks


class MaskStream:
    """Inverted-dropout multipliers ``keep/(1 − p)`` drawn in call order from ``default_rng(seed)``."""

    def __init__(self, p: float, seed: int):
        self.p, self.rng = p, np.random.default_rng(seed)

    def __call__(self, shape, dtype) -> np.ndarray:
        return ((self.rng.random(shape) >= self.p) / (1.0 - self.p)).astype(dtype)


class FedDropout(Module):
    """A tinygdl dropout layer that takes its masks from a ``MaskStream`` (training mode only)."""

    def __init__(self, stream: MaskStream):
        super().__init__()
        self.stream = stream

    def forward(self, x):
        return x * tg.tensor(self.stream(x.shape, x.dtype)) if self.training else x


def feed_dropout(model, stream: MaskStream):
    """Replace the dropout of every gated layer of a ``PixelCNNPlusPlus`` by masks from ``stream``."""
    for module in model.modules():
        if isinstance(module, pc.GatedResidual):
            module.dropout = FedDropout(stream)
    return model


# --------------------------------------------------------------------------- functional twins


def _tensors(torch, model) -> dict:
    return {name: torch.tensor(p.numpy(), requires_grad=True) for name, p in model.named_parameters()}


def _mask(torch, kernel, on_taps, dtype):
    """A (kh, kw) mask with the listed (row, col) taps on."""
    mask = torch.zeros(kernel, dtype=dtype)
    for row, col in on_taps:
        mask[row, col] = 1
    return mask


class TorchPixelCNN:
    """The book's PixelCNN on PyTorch tensors (``model``'s weights copied)."""

    def __init__(self, torch, model: pc.PixelCNN):
        self.torch, self.params = torch, _tensors(torch, model)
        self.blocks, self.head = len(model.blocks), len(model.head)
        dtype = self.params["first.weight"].dtype
        k = model.first.kernel_size[0]
        c = k // 2
        taps_a = [(r, col) for r in range(k) for col in range(k) if r < c or (r == c and col < c)]
        self.mask_a = _mask(torch, (k, k), taps_a, dtype)
        self.mask_b3 = _mask(torch, (3, 3), [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)], dtype)

    def parameters(self):
        return list(self.params.values())

    def _conv(self, name, x, mask=None):
        weight = self.params[name + ".weight"]
        weight = weight if mask is None else weight * mask
        return self.torch.nn.functional.conv2d(x, weight, self.params[name + ".bias"], padding=weight.shape[-1] // 2)

    def __call__(self, x):
        relu = self.torch.relu
        h = relu(self._conv("first", x, self.mask_a))
        for i in range(self.blocks):
            b = f"blocks.{i}."
            t = relu(self._conv(b + "reduce", h))
            t = relu(self._conv(b + "masked", t, self.mask_b3))
            h = h + relu(self._conv(b + "expand", t))
        for i in range(self.head):
            h = relu(self._conv(f"head.{i}", h))
        return self._conv("logits", h)

    def loss(self, x, levels):
        return self.torch.nn.functional.cross_entropy(self(x), levels[:, 0])


class TorchPixelCNNPlusPlus:
    """PixelCNN++ on PyTorch tensors (``model``'s weights and initialisation state copied), with
    weight normalisation and its data-dependent initialisation written out here."""

    def __init__(self, torch, model: pc.PixelCNNPlusPlus, stream: MaskStream | None = None):
        self.torch, self.params = torch, _tensors(torch, model)
        self.initialized = {name[: -len(".initialized")]: bool(b.numpy()) for name, b in model.named_buffers()
                            if name.endswith("initialized")}
        self.levels, self.mixtures = model.num_hierarchies, model.mixtures
        self.resnets = len(model.down[0].vertical)
        self.stream, self.training = stream, True
        dtype = self.params["head.v"].dtype
        m = lambda kernel, taps: _mask(torch, kernel, taps, dtype)  # noqa: E731
        full = lambda rows, cols: [(r, c) for r in rows for c in cols]  # noqa: E731
        # (mask, padding, stride, transposed) by layer kind; offsets as in the model's docstring
        self.kinds = {
            "v_first": (m((5, 3), full((0, 1), (0, 1, 2))), (2, 1), 1, False),     # rows i−2, i−1
            "h_first_up": (m((3, 3), full((0,), (0, 1, 2))), 1, 1, False),         # row i−1
            "h_first_left": (m((3, 3), full((0, 1), (0,))), 1, 1, False),          # column j−1
            "vertical": (m((3, 3), full((0, 1), (0, 1, 2))), 1, 1, False),
            "horizontal": (m((3, 3), full((0, 1), (0, 1))), 1, 1, False),
            "skip": (m((1, 1), [(0, 0)]), 0, 1, False),
            "v_down": (m((4, 4), full((0, 1), (0, 1, 2))), 1, 2, False),
            "h_down": (m((4, 4), full((0, 1), (0, 1))), 1, 2, False),
            "v_up": (m((2, 4), full((0, 1), (0, 1, 2))), (0, 1), 2, True),
            "h_up": (m((2, 2), full((0, 1), (0, 1))), 0, 2, True),
            "head": (m((1, 1), [(0, 0)]), 0, 1, False),
        }

    def parameters(self):
        return list(self.params.values())

    def _layer(self, name, kind, x):
        """A weight-normalised (shifted) convolution; the first training call initialises g and b."""
        F = self.torch.nn.functional
        mask, padding, stride, transposed = self.kinds[kind]
        v, g, b = self.params[name + ".v"] * mask, self.params[name + ".g"], self.params[name + ".layer.bias"]
        out_axis = 1 if transposed else 0
        axes = tuple(i for i in range(4) if i != out_axis)
        shape = [1, 1, 1, 1]
        shape[out_axis] = -1

        def run(gain, bias):
            weight = gain.reshape(shape) * v / v.pow(2).sum(dim=axes, keepdim=True).sqrt()
            op = F.conv_transpose2d if transposed else F.conv2d
            return op(x, weight, bias, stride=stride, padding=padding)

        if self.training and not self.initialized[name]:
            with self.torch.no_grad():
                y = run(self.torch.ones_like(g), self.torch.zeros_like(b))
                scale = 1.0 / (y.var(dim=(0, 2, 3), unbiased=False) + 1e-10).sqrt()
                g.copy_(scale)
                b.copy_(-y.mean(dim=(0, 2, 3)) * scale)
            self.initialized[name] = True
        return run(g, b)

    def _concat_elu(self, x):
        return self.torch.nn.functional.elu(self.torch.cat([x, -x], dim=1))

    def _gated(self, name, stream, u, a=None):
        t = self._layer(name + ".conv_in", stream, self._concat_elu(u))
        if a is not None:
            t = t + self._layer(name + ".skip", "skip", self._concat_elu(a))
        t = self._concat_elu(t)
        if self.training:
            t = t * self.torch.from_numpy(self.stream(tuple(t.shape), np.dtype(str(t.dtype).split(".")[-1])))
        t = self._layer(name + ".conv_out", stream, t)
        p, q = t.chunk(2, dim=1)
        return u + p * self.torch.sigmoid(q)

    def __call__(self, x):
        v = self._layer("v_first", "v_first", x)
        h = self._layer("h_first_up", "h_first_up", x) + self._layer("h_first_left", "h_first_left", x)
        skips = [(v, h)]
        for level in range(self.levels):
            if level > 0:
                v = self._layer(f"v_down.{level - 1}", "v_down", v)
                h = self._layer(f"h_down.{level - 1}", "h_down", h)
                skips.append((v, h))
            for i in range(self.resnets):
                v = self._gated(f"down.{level}.vertical.{i}", "vertical", v)
                h = self._gated(f"down.{level}.horizontal.{i}", "horizontal", h, v)
                skips.append((v, h))
        v, h = skips.pop()
        for level in range(self.levels):
            if level > 0:
                v = self._layer(f"v_up.{level - 1}", "v_up", v)
                h = self._layer(f"h_up.{level - 1}", "h_up", h)
            for i in range(self.resnets + (level > 0)):
                v_skip, h_skip = skips.pop()
                v = self._gated(f"up.{level}.vertical.{i}", "vertical", v, v_skip)
                h = self._gated(f"up.{level}.horizontal.{i}", "horizontal", h, self.torch.cat([v, h_skip], dim=1))
        return self._layer("head", "head", self.torch.nn.functional.elu(h))

    def log_prob(self, params, k, high: int = 255):
        """Per-pixel log-likelihood of integers ``k`` (N, 1, H, W) under the mixture ``params``."""
        torch, F = self.torch, self.torch.nn.functional
        logits, loc, raw = params.split(self.mixtures, dim=1)
        s = (high / 2) * (F.softplus(raw) + math.exp(-7.0))
        mu = (high / 2) * (loc + 1)
        a, b = (k + 0.5 - mu) / s, (k - 0.5 - mu) / s
        top, bottom = F.logsigmoid(a), F.logsigmoid(-b)
        interior = top + bottom + torch.log(-torch.expm1(-1.0 / s))
        log_p = torch.where(k == 0, top, torch.where(k == high, bottom, interior))
        return torch.logsumexp(F.log_softmax(logits, dim=1) + log_p, dim=1)

    def loss(self, x, k):
        log_p = self.log_prob(self(x), k.to(x.dtype))
        return -log_p.sum() / log_p.shape[0]


# --------------------------------------------------------------------------- training steps


def tinygdl_steps(model, loss_fn, lr: float):
    """A function ``step(x, target) -> loss`` training ``model`` with Keras-convention Adam."""
    optimizer = Adam(model.parameters(), lr=lr, eps_convention="keras")

    def step(x, target):
        optimizer.zero_grad()
        loss = loss_fn(model(tg.tensor(x)), target)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def torch_steps(torch, twin, lr: float):
    optimizer = KerasAdam(twin.parameters(), lr)

    def step(x, target):
        optimizer.zero_grad()
        loss = twin.loss(torch.from_numpy(x), torch.from_numpy(target))
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def pixelcnn_pair(torch, model):
    """(tinygdl step, twin step) of the book's PixelCNN."""
    return tinygdl_steps(model, pc.pixelcnn_loss, PIXELCNN_LR), torch_steps(torch, TorchPixelCNN(torch, model),
                                                                             PIXELCNN_LR)


def pixelcnn_md_pair(torch, model, seed: int = 0, p: float = 0.3):
    """(tinygdl step, twin step) of PixelCNN++, both fed the same dropout masks."""
    feed_dropout(model, MaskStream(p, seed))
    twin = TorchPixelCNNPlusPlus(torch, model, MaskStream(p, seed))
    return (tinygdl_steps(model, lambda params, k: pc.mixture_nll(params, k, model.mixtures), PIXELCNN_MD_LR),
            torch_steps(torch, twin, PIXELCNN_MD_LR))


def pixelcnn_batch(rng, n: int, size: int, levels: int = 4):
    """Random levels (N, 1, size, size) and the network's input ``level/levels``."""
    target = rng.integers(0, levels, (n, 1, size, size))
    return (target / levels).astype(tg.get_default_dtype()), target


def pixelcnn_md_batch(rng, n: int, size: int):
    """Random grey values: the input ``2v/255 − 1`` and the integers (here v is an integer)."""
    target = rng.integers(0, 256, (n, 1, size, size))
    return (2 * target / 255 - 1).astype(tg.get_default_dtype()), target


def _row(build, pair, batch, size):
    def make(torch, batch_size):
        tg.manual_seed(0)
        ours, theirs = pair(torch, build())
        x, target = batch(np.random.default_rng(0), batch_size, size)
        return (lambda: ours(x, target)), (lambda: theirs(x, target))

    return make


ROWS = [
    ModelRow("pixelcnn", "", 128, 32, _row(pc.PixelCNN, pixelcnn_pair, pixelcnn_batch, 16)),
    ModelRow("pixelcnn_md", "", 128, 16, _row(pc.PixelCNNPlusPlus, pixelcnn_md_pair, pixelcnn_md_batch, 32)),
]
