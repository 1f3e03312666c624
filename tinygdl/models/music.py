"""The networks of chapter 11 (music): MuseGAN and the music Transformer.

**MuseGAN** (Dong et al. 2018, as the book builds it) generates 2 bars of a 4-track piano roll,
(N, tracks, bars, steps, pitches) = (N, 4, 2, 16, 84) in NCDHW order, values in (−1, 1).  Its noise
comes in four groups, which is the point of the design:

* **chords** z_c (32): shared by every track, unrolled over the bars by a *temporal network*;
* **style** z_s (32): shared by every track and every bar;
* **melody** z_m (4 × 32): one per track, unrolled over the bars by that track's temporal network;
* **groove** z_g (4 × 32): one per track, the same in every bar.

For bar b and track k the track's *bar generator* reads ``[c_b, z_s, m_{k,b}, z_g,k]`` (128 numbers)
and paints one (16 steps × 84 pitches) bar.  The critic is a stack of 3-D convolutions over
(tracks as channels, bars, steps, pitches).  Here the four groups travel as one flat vector
z (N, 320) = [z_c, z_s, z_m (track-major), z_g (track-major)] — so the generic WGAN-GP step can draw
it — and ``split_latent`` cuts it apart.

**The music Transformer** reads two token streams, pitches and durations, embeds each (he-uniform
tables) and adds a sinusoidal position code to each, concatenates them (256 features), runs one
post-LN Transformer block (5 heads of 256, causal, dropout 0.3) and predicts the next pitch and the
next duration with two dense heads.

Architectures: the book's notebooks ``11_music/02_musegan`` and ``11_music/01_transformer`` (see
docs/models/music.md for the tables, counts and deliberate differences).
"""

from __future__ import annotations

from collections import OrderedDict
from fractions import Fraction

import numpy as np

from .. import nn
from ..backend import get_default_dtype
from ..data.music import is_sounding
from ..errors import ShapeError
from ..losses import gradient_penalty, sparse_categorical_cross_entropy_with_logits
from ..nn import init
from ..nn.module import evaluation_mode
from ..ops.creation import rand, randn
from ..ops.shape import concatenate, reshape, stack, transpose
from ..tensor import Tensor, no_grad, tensor
from .gan_training import (
    WassersteinGPStep,
    apply_gradients,
    detached_losses,
    gradients,
    trainable_parameters,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)

__all__ = [
    "TemporalNetwork", "BarGenerator", "MuseGANGenerator", "musegan_critic", "MuseGANStep",
    "position_code", "MusicTransformer", "music_transformer_loss", "transformer_parameter_count",
    "generate_tokens", "sample_with_temperature",
]

# --------------------------------------------------------------------------- MuseGAN

N_TRACKS, N_BARS, N_STEPS, N_PITCHES, Z_DIM = 4, 2, 16, 84, 32
MUSEGAN_INIT = init.normal(0.02)  # N(0, 0.02): every transposed-conv kernel, every critic kernel
BN_MOMENTUM, BN_EPS = 0.9, 1e-3  # Keras's convention
CRITIC_SLOPE = 0.3  # the bare Keras LeakyReLU()


def _conv_transpose(in_channels, out_channels, kernel, stride, padding):
    return nn.ConvTranspose2d(in_channels, out_channels, kernel, stride, padding, init=MUSEGAN_INIT)


def _batchnorm(channels):
    return nn.BatchNorm2d(channels, momentum=BN_MOMENTUM, eps=BN_EPS)


class TemporalNetwork(nn.Module):
    """One 32-vector -> one 32-vector per bar: (N, z_dim) -> (N, n_bars, z_dim).

    Seen as a 1x1 image with z_dim channels: ConvT k(n_bars,1) ``valid`` to ``width`` channels at
    (n_bars, 1), BN, ReLU; ConvT k(1,1) back to z_dim channels, BN, ReLU.
    """

    def __init__(self, z_dim: int = Z_DIM, n_bars: int = N_BARS, width: int = 1024):
        super().__init__()
        self.z_dim, self.n_bars = z_dim, n_bars
        self.layers = nn.Sequential(OrderedDict(
            reshape=nn.Reshape((z_dim, 1, 1)),
            conv_transpose_0=_conv_transpose(z_dim, width, (n_bars, 1), 1, "valid"),
            batchnorm_0=_batchnorm(width), relu_0=nn.ReLU(),
            conv_transpose_1=_conv_transpose(width, z_dim, (1, 1), 1, "valid"),
            batchnorm_1=_batchnorm(z_dim), relu_1=nn.ReLU(),
        ))

    def forward(self, z):
        y = self.layers(z)  # (N, z_dim, n_bars, 1)
        return transpose(reshape(y, (z.shape[0], self.z_dim, self.n_bars)), (0, 2, 1))


class BarGenerator(nn.Module):
    """One bar of one track: (N, 4·z_dim) -> (N, 1, n_steps, n_pitches), tanh.

    Dense to ``2·widths[0]`` (glorot), BN, ReLU, reshape to (widths[0], 2, 1); three ConvT k(2,1)
    s(2,1) double the time axis 2 -> 4 -> 8 -> 16; ConvT k(1,7) s(1,7) and k(1,12) s(1,12) grow the
    pitch axis 1 -> 7 -> 84 (7 octaves of 12); BN + ReLU after each but the last, which is tanh.
    """

    def __init__(self, in_features: int = 4 * Z_DIM, widths=(512, 512, 256, 256, 256)):
        super().__init__()
        first = widths[0]
        layers = OrderedDict(
            dense=nn.Linear(in_features, 2 * first), batchnorm_dense=nn.BatchNorm1d(2 * first, momentum=BN_MOMENTUM,
                                                                                   eps=BN_EPS),
            relu_dense=nn.ReLU(), reshape=nn.Reshape((first, 2, 1)),
        )
        shapes = [((2, 1), (2, 1))] * 3 + [((1, 7), (1, 7))]
        for i, ((kernel, stride), (c_in, c_out)) in enumerate(zip(shapes, zip(widths, widths[1:]))):
            layers[f"conv_transpose_{i}"] = _conv_transpose(c_in, c_out, kernel, stride, "same")
            layers[f"batchnorm_{i}"] = _batchnorm(c_out)
            layers[f"relu_{i}"] = nn.ReLU()
        layers["conv_transpose_out"] = _conv_transpose(widths[-1], 1, (1, 12), (1, 12), "same")
        layers["tanh"] = nn.Tanh()
        self.layers = nn.Sequential(layers)

    def forward(self, x):
        return self.layers(x)


class MuseGANGenerator(nn.Module):
    """z (N, 320) -> piano rolls (N, n_tracks, n_bars, 16, 84) in (−1, 1).

    ``scale`` divides every hidden width (the book's is 1), for quick runs and tests; the time and
    pitch geometry (16 steps, 84 pitches) is fixed by the bar generator's strides.
    """

    def __init__(self, z_dim: int = Z_DIM, n_tracks: int = N_TRACKS, n_bars: int = N_BARS, scale: int = 1):
        super().__init__()
        self.z_dim, self.n_tracks, self.n_bars = z_dim, n_tracks, n_bars
        temporal = 1024 // scale
        bar_widths = tuple(w // scale for w in (512, 512, 256, 256, 256))
        self.chords = TemporalNetwork(z_dim, n_bars, temporal)
        self.melody = nn.ModuleList([TemporalNetwork(z_dim, n_bars, temporal) for _ in range(n_tracks)])
        self.bars = nn.ModuleList([BarGenerator(4 * z_dim, bar_widths) for _ in range(n_tracks)])

    @property
    def latent_dim(self) -> int:
        return (2 + 2 * self.n_tracks) * self.z_dim

    def split_latent(self, z):
        """The flat z cut into its groups: chords (N, d), style (N, d), melody and groove (N, tracks, d)."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ShapeError(f"MuseGANGenerator: expected z of shape (N, {self.latent_dim}) = chords, style, "
                             f"{self.n_tracks} melodies, {self.n_tracks} grooves of {self.z_dim}; got {z.shape}")
        d, k, n = self.z_dim, self.n_tracks, z.shape[0]
        chords, style = z[:, :d], z[:, d:2 * d]
        melody = reshape(z[:, 2 * d:(2 + k) * d], (n, k, d))
        groove = reshape(z[:, (2 + k) * d:], (n, k, d))
        return chords, style, melody, groove

    def forward(self, z):
        chords, style, melody, groove = self.split_latent(z)
        chord_bars = self.chords(chords)  # (N, bars, d)
        melody_bars = [network(melody[:, k]) for k, network in enumerate(self.melody)]
        tracks = []
        for k, bar_generator in enumerate(self.bars):
            # The same bar generator paints every bar of track k, called once per bar (as the book's
            # shared Keras model is), so its BatchNorm sees one bar's batch at a time.
            bars = [bar_generator(concatenate([chord_bars[:, b], style, melody_bars[k][:, b], groove[:, k]], axis=1))
                    for b in range(self.n_bars)]
            tracks.append(concatenate(bars, axis=1))  # (N, bars, 16, 84)
        return stack(tracks, axis=1)  # (N, tracks, bars, 16, 84)


def musegan_critic(n_tracks: int = N_TRACKS, n_bars: int = N_BARS, scale: int = 1) -> nn.Sequential:
    """Piano rolls (N, n_tracks, n_bars, 16, 84) -> scores (N, 1).

    Conv3d k(bars,1,1) merges the bars; k1 mixes channels; k(1,1,12) s(1,1,12) and k(1,1,7) s(1,1,7)
    fold the pitch axis 84 -> 7 -> 1; k(1,2,1) s(1,2,1) twice, k(1,4,1) and k(1,3,1) with s(1,2,1)
    fold time 16 -> 8 -> 4 -> 2 -> 1 (Keras ``same``: the last two pad 1/1 and 0/1); LeakyReLU(0.3)
    after each; Dense to 1024, LeakyReLU(0.3); Dense to 1.  Every kernel N(0, 0.02), biases zero.
    """
    w = [v // scale for v in (128, 128, 128, 128, 128, 128, 256, 512)]
    geometry = [((n_bars, 1, 1), 1, "valid"), ((1, 1, 1), 1, "valid"), ((1, 1, 12), (1, 1, 12), "same"),
                ((1, 1, 7), (1, 1, 7), "same"), ((1, 2, 1), (1, 2, 1), "same"), ((1, 2, 1), (1, 2, 1), "same"),
                ((1, 4, 1), (1, 2, 1), "same"), ((1, 3, 1), (1, 2, 1), "same")]
    layers = OrderedDict()
    in_channels = n_tracks
    for i, ((kernel, stride, padding), width) in enumerate(zip(geometry, w)):
        layers[f"conv_{i}"] = nn.Conv3d(in_channels, width, kernel, stride, padding, init=MUSEGAN_INIT)
        layers[f"leaky_relu_{i}"] = nn.LeakyReLU(CRITIC_SLOPE)
        in_channels = width
    layers["flatten"] = nn.Flatten()
    layers["dense"] = nn.Linear(in_channels, 1024 // scale, init=MUSEGAN_INIT)
    layers["leaky_relu_dense"] = nn.LeakyReLU(CRITIC_SLOPE)
    layers["score"] = nn.Linear(1024 // scale, 1, init=MUSEGAN_INIT)
    return nn.Sequential(layers)


class MuseGANStep(WassersteinGPStep):
    """The book's MuseGAN step: WGAN-GP (``critic_steps`` = 5 critic updates on the same real batch,
    then one generator update), with the gradient-penalty norm taken **per (sample, track)**, over
    the bar, step and pitch axes (2, 3, 4) of the NCDHW rolls, and α ~ N(0, 1) as the book draws it.

    The random draws go through ``draw_noise(n, like)`` and ``draw_alpha(real)``, so a test can feed
    the same noise to a PyTorch twin.
    """

    NORM_AXES = (2, 3, 4)

    def __init__(self, generator, critic, g_optimizer, c_optimizer, critic_steps: int = 5,
                 gp_weight: float = 10.0, alpha_dist: str = "normal"):
        super().__init__(generator, critic, g_optimizer, c_optimizer, generator.latent_dim, critic_steps,
                         gp_weight, alpha_dist)

    def draw_noise(self, n: int, like):
        return randn(n, self.latent_dim, dtype=like.dtype, device=like.device)

    def draw_alpha(self, real):
        draw = randn if self.alpha_dist == "normal" else rand
        return draw(real.shape[0], 1, 1, 1, 1, dtype=real.dtype, device=real.device)

    def train_critic(self, real, generate, score) -> dict:
        with no_grad():
            fake = generate(self.draw_noise(real.shape[0], real))
        c_wass = wasserstein_critic_loss(score(real), score(fake))
        c_gp = gradient_penalty(score, real, fake, alpha=self.draw_alpha(real), norm_axes=self.NORM_AXES)
        c_loss = c_wass + self.gp_weight * c_gp
        params = trainable_parameters(self.critic)
        apply_gradients(self.c_optimizer, params, gradients(c_loss, params))
        return detached_losses({"c_loss": c_loss, "c_wass_loss": c_wass, "c_gp": c_gp})

    def train_generator(self, n: int, generate, score, like) -> dict:
        g_loss = wasserstein_generator_loss(score(generate(self.draw_noise(n, like))))
        params = trainable_parameters(self.generator)
        apply_gradients(self.g_optimizer, params, gradients(g_loss, params))
        return {"g_loss": g_loss.item()}


# --------------------------------------------------------------------------- the music Transformer


def position_code(length: int, dim: int) -> np.ndarray:
    """The interleaved sinusoidal position code (Vaswani et al. 2017, §3.5), (length, dim)::

        PE[p, 2j] = sin(p / 10000^(2j/dim)),   PE[p, 2j+1] = cos(p / 10000^(2j/dim))

    Each pair of features turns at its own speed, from one radian per position (j = 0) down to
    1/10000; sines and cosines alternate (the book's order), unlike the diffusion model's blocks.
    """
    positions = np.arange(length)[:, None]
    speeds = 10000.0 ** (-2 * (np.arange(dim) // 2) / dim)
    angles = positions * speeds
    return np.where(np.arange(dim) % 2 == 0, np.sin(angles), np.cos(angles))


class MusicTransformer(nn.Module):
    """Pitch and duration ids (N, T), (N, T) -> pitch logits (N, T, n_notes), duration logits (N, T, n_durations).

    Each stream: an Embedding (he_uniform, ``U(±sqrt(6/V))``) of ``embed_dim`` plus the position
    code; the two concatenated (2·embed_dim); one ``nn.TransformerBlock`` (causal: position t sees
    positions ≤ t only); a Dense head per stream.  The heads return logits (the book's heads end in
    softmax; the loss takes the logits, which is the same model computed stably).
    """

    def __init__(self, n_notes: int = 59, n_durations: int = 24, embed_dim: int = 128, num_heads: int = 5,
                 key_dim: int = 256, ff_dim: int = 256, dropout: float = 0.3, max_length: int = 1024):
        super().__init__()
        self.n_notes, self.n_durations, self.embed_dim, self.max_length = n_notes, n_durations, embed_dim, max_length
        self.note_embedding = nn.Embedding(n_notes, embed_dim, init="he_uniform")
        self.duration_embedding = nn.Embedding(n_durations, embed_dim, init="he_uniform")
        self.register_buffer("positions", position_code(max_length, embed_dim).astype(get_default_dtype()),
                             persistent=False)
        self.block = nn.TransformerBlock(2 * embed_dim, num_heads, key_dim, ff_dim, dropout)
        self.note_head = nn.Linear(2 * embed_dim, n_notes)
        self.duration_head = nn.Linear(2 * embed_dim, n_durations)

    def embed(self, notes, durations):
        """The block's input (N, T, 2·embed_dim): each stream's embedding plus the position code, concatenated."""
        notes, durations = _ids(notes), _ids(durations)
        if notes.shape != durations.shape or len(notes.shape) != 2:
            raise ShapeError(f"MusicTransformer: expected note and duration ids of the same shape (N, T), "
                             f"got {tuple(notes.shape)} and {tuple(durations.shape)}")
        length = notes.shape[1]
        if length > self.max_length:
            raise ShapeError(f"MusicTransformer: sequences of {length} tokens are longer than max_length="
                             f"{self.max_length}")
        code = self.positions[:length]
        return concatenate([self.note_embedding(notes) + code, self.duration_embedding(durations) + code], axis=-1)

    def decode(self, x, return_weights: bool = False):
        """The block and the two heads on an embedded sequence: ``(note_logits, duration_logits)``."""
        h, weights = self.block(x, return_weights=True)
        logits = (self.note_head(h), self.duration_head(h))
        return logits + (weights,) if return_weights else logits

    def forward(self, notes, durations, return_weights: bool = False):
        return self.decode(self.embed(notes, durations), return_weights)

    def load_state_dict(self, state, strict: bool = True):
        """Also reads the states saved before the block moved to ``tinygdl.nn``, which named its
        layers ``block.norm_1``, ``block.ff_1`` ... (now ``block.norm1``, ``block.ff1`` ...)."""
        return super().load_state_dict({_current_name(key): value for key, value in state.items()}, strict)


# The parameter names of the music Transformer's block before it became nn.TransformerBlock.
_OLD_BLOCK_NAMES = {f"block.{layer}_{i}.": f"block.{layer}{i}." for layer in ("norm", "ff") for i in (1, 2)}


def _current_name(key: str) -> str:
    for old, new in _OLD_BLOCK_NAMES.items():
        if key.startswith(old):
            return new + key[len(old):]
    return key


def music_transformer_loss(model, notes, durations) -> tuple:
    """``(loss, note_loss, duration_loss)`` on windows of T + 1 tokens: inputs ``[:, :-1]``, targets
    ``[:, 1:]``; each loss is the mean cross-entropy over N·T positions, and ``loss`` their sum."""
    note_logits, duration_logits = model(notes[:, :-1], durations[:, :-1])
    note_loss = sparse_categorical_cross_entropy_with_logits(note_logits, notes[:, 1:])
    duration_loss = sparse_categorical_cross_entropy_with_logits(duration_logits, durations[:, 1:])
    return note_loss + duration_loss, note_loss, duration_loss


def transformer_parameter_count(n_notes: int, n_durations: int, embed_dim: int = 128, num_heads: int = 5,
                                key_dim: int = 256, ff_dim: int = 256) -> int:
    """The music Transformer's parameter count as a formula of its vocabulary sizes (the book:
    59 notes and 24 durations give 1,479,379)."""
    d = 2 * embed_dim
    embeddings = embed_dim * (n_notes + n_durations)
    attention = 3 * (d * num_heads * key_dim + num_heads * key_dim) + (num_heads * key_dim * d + d)
    block = attention + 2 * (2 * d) + (d * ff_dim + ff_dim) + (ff_dim * d + d)
    heads = (d + 1) * (n_notes + n_durations)
    return embeddings + block + heads


def _ids(ids) -> Tensor:
    """Token ids as an int64 Tensor; whole-number floats too (the zeros ``summary`` feeds a model)."""
    data = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
    if data.dtype.kind == "f" and bool((data == data.round()).all()):
        return tensor(data.astype(np.int64), device=ids.device if isinstance(ids, Tensor) else "cpu")
    return ids if isinstance(ids, Tensor) else tensor(data)


# --------------------------------------------------------------------------- generating music from tokens

def sample_with_temperature(logits: np.ndarray, temperature: float, rng, excluded=(0, 1)) -> int:
    """One draw from ``softmax(logits / T)``, redrawn while it lands on an ``excluded`` id (padding,
    [UNK]) — the same as drawing from the distribution without them."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    p = np.exp(z - z.max())
    while True:
        token = int(rng.choice(len(p), p=p / p.sum()))
        if token not in excluded:
            return token


def generate_tokens(model, note_vocabulary, duration_vocabulary, temperature: float = 0.5, max_tokens: int = 50,
                    rng=None) -> tuple:
    """The book's generation loop, from the prompt (START, 0.0) until the piece has ``max_tokens``
    pairs or START is drawn: run the model on the whole prefix; draw the next note and the next
    duration from the last position at ``temperature`` ([UNK] redrawn); a pitch or rest with a
    zero duration is redrawn (both).  Returns ``(notes, durations)`` as token strings.  A model with
    more outputs than its vocabulary has tokens (unused rows) draws among the vocabulary only."""
    rng = np.random.default_rng() if rng is None else rng
    notes, durations = ["START"], ["0.0"]
    note_index = {token: i for i, token in enumerate(note_vocabulary)}
    duration_index = {token: i for i, token in enumerate(duration_vocabulary)}
    with evaluation_mode([model]):
        while len(notes) < max_tokens:
            ids = [[note_index.get(t, 1) for t in notes]], [[duration_index.get(t, 1) for t in durations]]
            note_logits, duration_logits = model(*(np.array(i, dtype=np.int64) for i in ids))
            while True:
                note = note_vocabulary[sample_with_temperature(
                    note_logits.numpy()[0, -1, :len(note_vocabulary)], temperature, rng)]
                duration = duration_vocabulary[sample_with_temperature(
                    duration_logits.numpy()[0, -1, :len(duration_vocabulary)], temperature, rng)]
                if not (is_sounding(note) and Fraction(duration) == 0):
                    break
            if note == "START":
                break
            notes.append(note)
            durations.append(duration)
    return notes, durations
