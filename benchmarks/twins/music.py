"""PyTorch twins of the chapter-11 music models (``tinygdl.models.music``): MuseGAN's generator and
3-D convolutional critic with their WGAN-GP step, and the music Transformer.

``torch_musegan(torch, generator, critic)`` and ``torch_music_transformer(torch, model)`` build the
same networks in PyTorch with the tinygdl models' weights.  Every random draw is made outside and
fed to both engines: MuseGAN's noise and penalty α through ``FedDraws`` (tinygdl's ``MuseGANStep``
reads them through ``draw_noise``/``draw_alpha``, the twin step takes them as arguments), the
Transformer's dropout masks through ``FixedDropout`` (its block's twin and the masks come from
``twins/text.py``, shared with the GPT).  Keras's "same" padding is applied with ``F.pad`` before
PyTorch's convolutions (the critic's k(1,3,1) s(1,2,1) pads 0 before, 1 after).
"""

from __future__ import annotations

import numpy as np

import tinygdl as tg
from benchmarks.twins import ModelRow
from benchmarks.twins.flows import KerasAdam, copy_dense
from benchmarks.twins.text import draw_masks, torch_transformer_block, use_fixed_dropout
from tinygdl import nn
from tinygdl.models import music

# --------------------------------------------------------------------------- weight copying


def _t(torch, array):
    return torch.from_numpy(np.ascontiguousarray(array))


def _copy(torch, target, source) -> None:
    with torch.no_grad():
        target.copy_(_t(torch, source.numpy()))


def _conv_transpose(torch, layer):
    """``torch.nn.ConvTranspose2d`` with a tinygdl ``ConvTranspose2d``'s weights; the padding is
    the crop of Keras's "same" with kernel = stride (none) or of "valid" (none)."""
    weight = layer.weight.numpy()
    twin = torch.nn.ConvTranspose2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                                    dtype=getattr(torch, weight.dtype.name))
    _copy(torch, twin.weight, layer.weight)
    _copy(torch, twin.bias, layer.bias)
    return twin


def _batchnorm(torch, layer):
    kind = torch.nn.BatchNorm1d if isinstance(layer, nn.BatchNorm1d) else torch.nn.BatchNorm2d
    twin = kind(layer.num_features, eps=layer.eps, momentum=1 - 0.9, dtype=getattr(torch, layer.weight.dtype.name))
    _copy(torch, twin.weight, layer.weight)
    _copy(torch, twin.bias, layer.bias)
    return twin


def _sequential_twin(torch, sequential):
    """The layers of a tinygdl ``Sequential`` (of the kinds MuseGAN uses) as a torch ``Sequential``."""
    layers = []
    for layer in sequential:
        if isinstance(layer, nn.ConvTranspose2d):
            layers.append(_conv_transpose(torch, layer))
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
            layers.append(_batchnorm(torch, layer))
        elif isinstance(layer, nn.Linear):
            layers.append(copy_dense(torch, layer))
        elif isinstance(layer, nn.Conv3d):
            layers.append(KerasConv3d(torch, layer))
        elif isinstance(layer, nn.ReLU):
            layers.append(torch.nn.ReLU())
        elif isinstance(layer, nn.Tanh):
            layers.append(torch.nn.Tanh())
        elif isinstance(layer, nn.LeakyReLU):
            layers.append(torch.nn.LeakyReLU(layer.negative_slope))
        elif isinstance(layer, nn.Flatten):
            layers.append(torch.nn.Flatten())
        elif isinstance(layer, nn.Reshape):
            layers.append(torch.nn.Unflatten(1, layer.shape))
        else:
            raise TypeError(f"no PyTorch twin for {type(layer).__name__}")
    return torch.nn.Sequential(*layers)


def KerasConv3d(torch, layer):
    """``torch.nn.Conv3d`` with a tinygdl ``Conv3d``'s weights, after Keras's padding (``F.pad``)."""

    class Twin(torch.nn.Module):
        def __init__(self):
            super().__init__()
            weight = layer.weight.numpy()
            self.conv = torch.nn.Conv3d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                                        dtype=getattr(torch, weight.dtype.name))
            _copy(torch, self.conv.weight, layer.weight)
            _copy(torch, self.conv.bias, layer.bias)

        def forward(self, x):
            if layer.padding == "same":
                pads = []
                for n, k, s in zip(x.shape[2:], layer.kernel_size, layer.stride):
                    total = max((-(-n // s) - 1) * s + k - n, 0)
                    pads.append((total // 2, total - total // 2))
                x = torch.nn.functional.pad(x, [v for pair in reversed(pads) for v in pair])
            return self.conv(x)

    return Twin()


# --------------------------------------------------------------------------- MuseGAN


def torch_musegan(torch, generator: music.MuseGANGenerator, critic):
    """``(generator_twin, critic_twin)`` with the weights of the tinygdl networks."""

    class Generator(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.chords = _sequential_twin(torch, generator.chords.layers)
            self.melody = torch.nn.ModuleList([_sequential_twin(torch, t.layers) for t in generator.melody])
            self.bars = torch.nn.ModuleList([_sequential_twin(torch, b.layers) for b in generator.bars])

        def forward(self, z):
            d, k, n, bars = generator.z_dim, generator.n_tracks, z.shape[0], generator.n_bars
            chords, style = z[:, :d], z[:, d:2 * d]
            melody, groove = z[:, 2 * d:(2 + k) * d].reshape(n, k, d), z[:, (2 + k) * d:].reshape(n, k, d)

            def unroll(network, x):  # (N, d) -> (N, bars, d)
                return network(x).reshape(n, d, bars).transpose(1, 2)

            chord_bars = unroll(self.chords, chords)
            melody_bars = [unroll(network, melody[:, i]) for i, network in enumerate(self.melody)]
            tracks = [torch.cat([bar_gen(torch.cat([chord_bars[:, b], style, melody_bars[i][:, b], groove[:, i]], 1))
                                 for b in range(bars)], 1) for i, bar_gen in enumerate(self.bars)]
            return torch.stack(tracks, 1)

    return Generator(), _sequential_twin(torch, critic)


def torch_gradient_penalty(torch, critic, real, fake, alpha):
    """The book's penalty with the per-(sample, track) norm over (bar, step, pitch) = axes (2, 3, 4)."""
    interpolated = (real + alpha * (fake - real)).detach().requires_grad_()
    (gradient,) = torch.autograd.grad(critic(interpolated).sum(), interpolated, create_graph=True)
    norms = ((gradient * gradient).sum(dim=(2, 3, 4)) + 1e-12).sqrt()
    return ((norms - 1) ** 2).mean()


def torch_musegan_step(torch, generator, critic, g_optimizer, c_optimizer, real, draws, gp_weight=10.0) -> dict:
    """One MuseGAN step in PyTorch with the draws given: ``draws`` = [(z, α) per critic step] + [z]."""
    for z, alpha in draws[:-1]:
        with torch.no_grad():
            fake = generator(z)
        c_wass = critic(fake).mean() - critic(real).mean()
        c_gp = torch_gradient_penalty(torch, critic, real, fake, alpha)
        c_loss = c_wass + gp_weight * c_gp
        c_optimizer.zero_grad()
        grads = torch.autograd.grad(c_loss, list(critic.parameters()))
        for p, g in zip(critic.parameters(), grads):
            p.grad = g
        c_optimizer.step()
    g_loss = -critic(generator(draws[-1])).mean()
    g_optimizer.zero_grad()
    grads = torch.autograd.grad(g_loss, list(generator.parameters()))
    for p, g in zip(generator.parameters(), grads):
        p.grad = g
    g_optimizer.step()
    return {"c_loss": c_loss.item(), "c_wass_loss": c_wass.item(), "c_gp": c_gp.item(), "g_loss": g_loss.item()}


def draw_musegan(rng, batch: int, latent_dim: int, critic_steps: int, dtype) -> list:
    """One step's random numbers: (z, α ~ N(0, 1)) per critic step, then the generator's z."""
    draws = [(rng.standard_normal((batch, latent_dim)).astype(dtype),
              rng.standard_normal((batch, 1, 1, 1, 1)).astype(dtype)) for _ in range(critic_steps)]
    return draws + [rng.standard_normal((batch, latent_dim)).astype(dtype)]


class FedDraws(music.MuseGANStep):
    """``MuseGANStep`` taking its noise and α from ``self.draws`` (one step's list, see ``draw_musegan``)."""

    draws: list = []

    def draw_noise(self, n, like):
        item = self.draws.pop(0)
        z, self.alpha = item if isinstance(item, tuple) else (item, None)  # a critic step's α comes with its z
        return tg.tensor(z)

    def draw_alpha(self, real):
        return tg.tensor(self.alpha)


def he_critic(critic) -> None:
    """Redraw the critic's kernels with He's scale, N(0, 2/fan_in), in place.  The book's N(0, 0.02)
    makes a narrow critic's scores vanish (about 1e-11 at ``scale=16``: every loss term is then a
    constant and a comparison of training runs shows nothing); tests use this instead."""
    rng = np.random.default_rng(1)
    for layer in critic:
        if isinstance(layer, (nn.Conv3d, nn.Linear)):
            fan_in = layer.weight.size // (layer.out_channels if isinstance(layer, nn.Conv3d) else layer.out_features)
            layer.weight.data[...] = rng.normal(0, np.sqrt(2 / fan_in), layer.weight.shape)


def make_musegan(torch, scale: int = 1, batch: int = 32, seed: int = 0, critic_steps: int = 5, he: bool = False):
    """tinygdl's networks and step, their twins and Keras-style Adam, and one real batch (``he``:
    the critic's kernels redrawn by ``he_critic``)."""
    tg.manual_seed(seed)
    generator, critic = music.MuseGANGenerator(scale=scale), music.musegan_critic(scale=scale)
    if he:
        he_critic(critic)
    g_twin, c_twin = torch_musegan(torch, generator, critic)
    dtype = generator.bars[0].layers.dense.weight.dtype
    optimizers = [tg.optim.Adam(m.parameters(), lr=1e-3, betas=(0.5, 0.9), eps_convention="keras")
                  for m in (generator, critic)]
    twin_optimizers = [KerasAdam(m.parameters(), lr=1e-3, betas=(0.5, 0.9)) for m in (g_twin, c_twin)]
    step = FedDraws(generator, critic, *optimizers, critic_steps=critic_steps)
    rng = np.random.default_rng(seed)
    pitches = rng.integers(0, music.N_PITCHES, (batch, music.N_TRACKS, music.N_BARS, music.N_STEPS))
    real = (2 * np.eye(music.N_PITCHES)[pitches] - 1).astype(dtype)
    return dict(generator=generator, critic=critic, step=step, g_twin=g_twin, c_twin=c_twin,
                twin_optimizers=twin_optimizers, real=real, rng=rng, dtype=dtype, critic_steps=critic_steps)


def _musegan_row(torch, batch_size):
    setup = make_musegan(torch, batch=batch_size)
    draws = draw_musegan(setup["rng"], batch_size, setup["generator"].latent_dim, 5, setup["dtype"])
    real, treal = tg.tensor(setup["real"]), _t(torch, setup["real"])
    tdraws = [(_t(torch, z), _t(torch, a)) for z, a in draws[:-1]] + [_t(torch, draws[-1])]

    def ours():
        setup["step"].draws = list(draws)
        setup["step"](real)

    def theirs():
        torch_musegan_step(torch, setup["g_twin"], setup["c_twin"], *setup["twin_optimizers"], treal, tdraws)

    return ours, theirs


# --------------------------------------------------------------------------- the music Transformer


def torch_music_transformer(torch, model: music.MusicTransformer, masks: dict | None = None):
    """``model`` in PyTorch: the embeddings and position code, ``torch_transformer_block`` (the
    attention written out with einsum: the per-head key size 256 is not ``embed_dim / heads``, which
    ``torch.nn.MultiheadAttention`` requires), the heads; ``masks``, when given, are the dropout
    masks (a dict the caller may refill between steps), applied in training mode."""

    class Twin(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.note_embedding = torch.nn.Parameter(_t(torch, model.note_embedding.weight.numpy()).clone())
            self.duration_embedding = torch.nn.Parameter(_t(torch, model.duration_embedding.weight.numpy()).clone())
            self.block = torch_transformer_block(torch, model.block)
            self.note_head = copy_dense(torch, model.note_head)
            self.duration_head = copy_dense(torch, model.duration_head)
            self.register_buffer("positions", _t(torch, model.positions.numpy()))

        def forward(self, notes, durations):
            code = self.positions[:notes.shape[1]]
            x = torch.cat([self.note_embedding[notes] + code, self.duration_embedding[durations] + code], -1)
            y, _ = self.block(x, masks if self.training else None)
            return self.note_head(y), self.duration_head(y)

    return Twin()


def torch_transformer_loss(torch, twin, notes, durations):
    note_logits, duration_logits = twin(notes[:, :-1], durations[:, :-1])
    cross_entropy = torch.nn.functional.cross_entropy
    note_loss = cross_entropy(note_logits.reshape(-1, note_logits.shape[-1]), notes[:, 1:].reshape(-1))
    duration_loss = cross_entropy(duration_logits.reshape(-1, duration_logits.shape[-1]), durations[:, 1:].reshape(-1))
    return note_loss + duration_loss


def make_transformer(torch, batch: int, length: int = 50, n_notes: int = 59, n_durations: int = 24, seed: int = 0,
                     **sizes):
    """tinygdl's model with fixed dropout, its twin, Keras-style Adam for both, and token windows."""
    tg.manual_seed(seed)
    model = music.MusicTransformer(n_notes, n_durations, **sizes)
    rng = np.random.default_rng(seed)
    dtype = model.note_head.weight.dtype
    masks = draw_masks(rng, (batch, length, 2 * model.embed_dim), model.block.dropout1.p, dtype)
    use_fixed_dropout(model.block, masks)
    twin = torch_music_transformer(torch, model, masks)
    notes = rng.integers(2, n_notes, (batch, length + 1))
    durations = rng.integers(2, n_durations, (batch, length + 1))
    return dict(model=model, twin=twin, masks=masks, notes=notes, durations=durations, rng=rng, dtype=dtype,
                optimizer=tg.optim.Adam(model.parameters(), lr=1e-3, eps_convention="keras"),
                twin_optimizer=KerasAdam(twin.parameters(), lr=1e-3))


def _transformer_row(torch, batch_size):
    setup = make_transformer(torch, batch_size)
    model, twin = setup["model"], setup["twin"]
    notes, durations = tg.tensor(setup["notes"]), tg.tensor(setup["durations"])
    tnotes, tdurations = _t(torch, setup["notes"]), _t(torch, setup["durations"])

    def ours():
        loss = music.music_transformer_loss(model, notes, durations)[0]
        setup["optimizer"].zero_grad()
        loss.backward()
        setup["optimizer"].step()

    def theirs():
        loss = torch_transformer_loss(torch, twin, tnotes, tdurations)
        setup["twin_optimizer"].zero_grad()
        loss.backward()
        setup["twin_optimizer"].step()

    return ours, theirs


ROWS = [
    ModelRow("musegan", "", 32, 8, _musegan_row),
    ModelRow("music_transformer", "", 256, 32, _transformer_row),
]


# --------------------------------------------------------------------------- conv3d alone: the critic's layers


def _layer_steps(torch, layer, x) -> tuple:
    """Two functions running one forward + backward of ``layer`` on ``x``: tinygdl's and its twin's."""
    twin = KerasConv3d(torch, layer)
    ours_x, theirs_x = tg.tensor(x, requires_grad=True), _t(torch, x).requires_grad_()

    def ours():
        tg.grad(layer(ours_x).sum(), [ours_x, layer.weight, layer.bias])

    def theirs():
        torch.autograd.grad(twin(theirs_x).sum(), [theirs_x, twin.conv.weight, twin.conv.bias])

    return ours, theirs


def time_critic_layers(torch, batch: int = 32, repeat: int = 5) -> list:
    """Forward + backward (input and weight gradients) of each of the critic's eight Conv3d layers
    at the book's shapes, tinygdl against PyTorch (same weights, same input): table rows."""
    from benchmarks._common import time_interleaved

    rows = []
    critic = music.musegan_critic()
    x = np.random.default_rng(0).standard_normal((batch, 4, 2, 16, 84)).astype(np.float32)
    for layer in [m for m in critic if isinstance(m, nn.Conv3d)]:
        ours, theirs = _layer_steps(torch, layer, x)
        times = time_interleaved({"tinygdl": ours, "torch": theirs}, repeat)
        rows.append((f"k{layer.kernel_size} s{layer.stride}", f"{tuple(x.shape)}", f"{times['tinygdl'] * 1e3:.1f}",
                     f"{times['torch'] * 1e3:.1f}", f"{times['tinygdl'] / times['torch']:.2f}x"))
        x = layer(tg.tensor(x)).numpy()
    return rows


def main(argv=None) -> None:
    import argparse

    import torch

    from benchmarks._common import load_average, markdown_table, set_threads, thread_report

    parser = argparse.ArgumentParser(description="MuseGAN critic's Conv3d layers: tinygdl vs PyTorch, fwd + bwd")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    set_threads(args.threads, torch)
    print(thread_report(torch))
    rows = time_critic_layers(torch, args.batch, args.repeat)
    print(markdown_table(("layer", "input", "tinygdl ms", "torch ms", "ratio"), rows))
    print(f"\nload average (1 min): {load_average()}")


if __name__ == "__main__":
    main()
