"""Autoencoders: the book's convolutional autoencoder (chapter 3) and the family of *Hands-On Machine
Learning* (A. Géron, 3rd ed.), chapter 17.

An autoencoder is two networks trained as one: an **encoder** that maps an input ``x`` to a short
code ``z = e(x)`` (the *codings*, a point of the *latent space*) and a **decoder** that maps the
code back, ``x̂ = d(z)``.  Training minimises a reconstruction loss ``L(x, d(e(x)))``; because the
code is smaller than the input (*undercomplete*) or otherwise constrained (noise, sparsity), the
network has to keep what matters about ``x`` and drop the rest.

What is here
------------
* ``Autoencoder(encoder, decoder)``: the container every model below is; ``encode``, ``decode``,
  ``forward = decode ∘ encode`` and an optional penalty on the codings (sparse autoencoders).
* The book's model (``docs/models/autoencoders.md``): ``conv_encoder`` / ``conv_decoder``,
  3×3 stride-2 Keras-"same" convolutions (32, 64, 128 channels) down to a 2-D code, transposed
  convolutions back up, a sigmoid output trained with per-pixel binary cross-entropy.  The same
  builders with ``norm=True`` give the BatchNorm + LeakyReLU stages of the faces VAE.
* Hands-On ML ch. 17 (Fashion-MNIST, 28×28, MSE, Nadam in the book — Adam here):
  ``stacked_autoencoder`` (dense 784-100-30-100-784), its denoising variants (``corruption=
  "dropout"`` or ``"gaussian"``), ``tied_autoencoder`` (the decoder reuses the encoder's
  transposed kernels, ``DenseTranspose``), ``train_greedy_layerwise`` (one shallow autoencoder at a
  time), ``conv_autoencoder``, ``recurrent_autoencoder`` (LSTMs over the image rows),
  ``sparse_autoencoder`` with ``l1_penalty`` or ``kl_sparsity_penalty``, and
  ``linear_autoencoder`` (``train_linear_autoencoder``), which trained with MSE finds the principal
  subspace of PCA.

The variational autoencoders are in ``tinygdl.models.vae``; the tools that look at a latent space
(grids, interpolation, attribute vectors, histograms) in ``tinygdl.latent``.
"""

from __future__ import annotations

import functools
from collections import OrderedDict

from .. import nn


class Autoencoder(nn.Module):
    """``x̂ = decoder(encoder(x))``.

    ``coding_penalty(codes) -> scalar Tensor`` is added to the reconstruction loss by the training
    steps (``tinygdl.zoo.autoencoders``); None means no penalty.  Sparse autoencoders pass
    ``l1_penalty`` or ``kl_sparsity_penalty``.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, coding_penalty=None):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.coding_penalty = coding_penalty

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def embed(self, x):
        """The point of the latent space that represents ``x`` (what ``tinygdl.latent`` plots)."""
        return self.encode(x)

    def forward(self, x):
        return self.decode(self.encode(x))

    def penalty(self, codes):
        """The coding penalty of a batch of codes (0.0 without one)."""
        return 0.0 if self.coding_penalty is None else self.coding_penalty(codes)


# --------------------------------------------------------------------------- the book's convolutional stages


def _activation(layers: OrderedDict, index, channels: int, norm: bool, one_d: bool = False) -> None:
    """What follows a conv or dense layer: ReLU (the autoencoder, the fashion VAE), or BatchNorm
    (Keras defaults) then LeakyReLU with Keras's default slope 0.3 (the faces VAE)."""
    if norm:
        layers[f"batchnorm_{index}"] = (nn.BatchNorm1d if one_d else nn.BatchNorm2d)(channels)
        layers[f"leaky_relu_{index}"] = nn.LeakyReLU(0.3)
    else:
        layers[f"relu_{index}"] = nn.ReLU()


def conv_stages(in_channels: int, channels=(32, 64, 128), norm: bool = False) -> OrderedDict:
    """The encoder's body: one 3×3, stride-2, Keras-"same" convolution per entry of ``channels``
    (each halves the image: padding 0 before and 1 after on an even size, as Keras), each
    followed by ``_activation``; then Flatten."""
    layers = OrderedDict()
    for i, out_channels in enumerate(channels):
        layers[f"conv_{i}"] = nn.Conv2d(in_channels, out_channels, 3, stride=2, padding="same")
        _activation(layers, i, out_channels, norm)
        in_channels = out_channels
    layers["flatten"] = nn.Flatten()
    return layers


def encoded_shape(input_shape, channels) -> tuple:
    """(C, H, W) after ``conv_stages``: the last channel count, each side divided by 2 per stage
    (``ceil``, as Keras's "same")."""
    _, height, width = input_shape
    for _ in channels:
        height, width = -(-height // 2), -(-width // 2)
    return (channels[-1], height, width)


def conv_encoder(input_shape=(1, 32, 32), channels=(32, 64, 128), latent_dim: int = 2,
                 norm: bool = False) -> nn.Sequential:
    """The book's autoencoder encoder: ``conv_stages`` then a linear Dense to ``latent_dim``.

    Fashion-MNIST (1, 32, 32): 320 + 18,496 + 73,856 + 4,098 = 96,770 parameters.
    """
    layers = conv_stages(input_shape[0], channels, norm)
    c, h, w = encoded_shape(input_shape, channels)
    layers["embedding"] = nn.Linear(c * h * w, latent_dim)
    return nn.Sequential(layers)


def conv_decoder(output_shape=(1, 32, 32), channels=(128, 64, 32), latent_dim: int = 2, norm: bool = False,
                 output_layer: str = "conv") -> nn.Sequential:
    """The mirror of ``conv_encoder``: Dense to ``channels[0]·h·w``, Reshape, one 3×3 stride-2
    Keras-"same" transposed convolution per entry of ``channels`` (each doubles the image: the full
    output is cropped by 0 rows at the start and 1 at the end), then a 3×3 stride-1 "same" layer to
    the image's channels with a sigmoid.

    ``output_layer`` is that last layer: ``"conv"`` (the autoencoder and the fashion VAE, a
    ``Conv2d``) or ``"conv_transpose"`` (the faces VAE, a ``ConvTranspose2d``; at stride 1 both
    compute a "same" correlation and have the same parameter count).  ``norm=True`` puts BatchNorm
    + LeakyReLU(0.3) after the Dense and after every transposed convolution (the faces VAE).

    Fashion-MNIST: 6,144 + 147,584 + 73,792 + 18,464 + 289 = 246,273 parameters.
    """
    out_channels, height, width = output_shape
    start = encoded_shape(output_shape, channels)  # the size the encoder would reach
    layers = OrderedDict()
    layers["dense"] = nn.Linear(latent_dim, channels[0] * start[1] * start[2])
    if norm:
        _activation(layers, "dense", channels[0] * start[1] * start[2], norm, one_d=True)
    layers["reshape"] = nn.Reshape((channels[0],) + start[1:])
    in_channels = channels[0]
    for i, stage_channels in enumerate(channels):
        layers[f"conv_transpose_{i}"] = nn.ConvTranspose2d(in_channels, stage_channels, 3, stride=2, padding="same")
        _activation(layers, i, stage_channels, norm)
        in_channels = stage_channels
    output_class = {"conv": nn.Conv2d, "conv_transpose": nn.ConvTranspose2d}[output_layer]
    layers["output"] = output_class(in_channels, out_channels, 3, stride=1, padding="same")
    layers["sigmoid"] = nn.Sigmoid()
    return nn.Sequential(layers)


def book_autoencoder(input_shape=(1, 32, 32), channels=(32, 64, 128), latent_dim: int = 2) -> Autoencoder:
    """The chapter-3 autoencoder: 96,770 + 246,273 = 343,043 parameters on Fashion-MNIST."""
    return Autoencoder(conv_encoder(input_shape, channels, latent_dim),
                       conv_decoder(input_shape, tuple(reversed(channels)), latent_dim))


# --------------------------------------------------------------------------- Hands-On ML: dense autoencoders


CORRUPTIONS = {"dropout": nn.Dropout, "gaussian": nn.GaussianNoise}


def _dense_layers(sizes, activations, prefix: str) -> OrderedDict:
    """Linear layers ``sizes[0] -> sizes[1] -> ...``, each followed by its activation (a Module or None)."""
    layers = OrderedDict()
    for i, (fan_in, fan_out, activation) in enumerate(zip(sizes[:-1], sizes[1:], activations)):
        layers[f"{prefix}_{i}"] = nn.Linear(fan_in, fan_out)
        if activation is not None:
            layers[f"{prefix}_{i}_{type(activation).__name__.lower()}"] = activation
    return layers


def _pixels(input_shape) -> int:
    count = 1
    for size in input_shape:
        count *= size
    return count


def stacked_autoencoder(input_shape=(1, 28, 28), hidden=(100, 30), corruption: str | None = None,
                        corruption_level: float = 0.5, coding_activation: str = "relu",
                        coding_penalty=None) -> Autoencoder:
    """The stacked (deep) dense autoencoder of HOML ch. 17::

        encoder: Flatten → [corruption] → Dense 100 ReLU → Dense 30 ReLU
        decoder: Dense 100 ReLU → Dense 784 (linear) → Reshape (1, 28, 28)

    ``corruption`` makes it a **denoising** autoencoder (Vincent et al. 2008): ``"dropout"`` zeroes
    each input pixel with probability ``corruption_level`` (HOML: 0.5), ``"gaussian"`` adds noise
    of standard deviation ``corruption_level`` (HOML: 0.2); both act in training mode only, so the
    network learns to reconstruct clean images from corrupted ones.  ``coding_activation``
    ``"sigmoid"`` and a ``coding_penalty`` give the sparse autoencoder (``sparse_autoencoder``).
    """
    pixels = _pixels(input_shape)
    encoder = OrderedDict(flatten=nn.Flatten())
    if corruption is not None:
        if corruption not in CORRUPTIONS:
            raise ValueError(f"corruption must be one of {sorted(CORRUPTIONS)} or None, got {corruption!r}")
        encoder["corruption"] = CORRUPTIONS[corruption](corruption_level)
    coding = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}[coding_activation]
    sizes = (pixels,) + tuple(hidden)
    encoder.update(_dense_layers(sizes, [nn.ReLU() for _ in hidden[:-1]] + [coding()], "dense"))
    decoder = _dense_layers(tuple(reversed(sizes)), [nn.ReLU() for _ in hidden[:-1]] + [None], "dense")
    decoder["reshape"] = nn.Reshape(tuple(input_shape))
    return Autoencoder(nn.Sequential(encoder), nn.Sequential(decoder), coding_penalty)


class DenseTranspose(nn.Module):
    """A decoder layer tied to an encoder ``Linear``: ``y = x·Wᵀ + b`` with the encoder's kernel W
    (in, out) and a bias of its own (in,) — HOML's ``DenseTranspose``.

    The kernel is *the same tensor* as the encoder's, not a copy: its gradient collects the
    contributions of both uses, one optimizer update changes both layers, and the model has half the
    weights.  The encoder layer is kept as a plain attribute, not as a submodule, so the kernel
    is counted (and saved) once, with the encoder.
    """

    def __init__(self, dense: nn.Linear):
        super().__init__()
        object.__setattr__(self, "tied_to", dense)  # unregistered: the encoder owns the kernel
        self.bias = nn.Parameter(nn.init.zeros((dense.in_features,)))

    @property
    def weight(self):
        return self.tied_to.weight

    def forward(self, x):
        return x @ self.weight.transpose() + self.bias

    def extra_repr(self) -> str:
        return f"tied to Linear({self.tied_to.in_features}, {self.tied_to.out_features})"


def tied_autoencoder(input_shape=(1, 28, 28), hidden=(100, 30)) -> Autoencoder:
    """HOML's tied-weights autoencoder: the encoder of ``stacked_autoencoder``; a decoder of
    ``DenseTranspose`` layers reusing its kernels in reverse order (ReLU between them, a linear
    output).  On 28×28 images: 78,500 + 3,030 (encoder) + 100 + 784 (decoder biases) parameters."""
    encoder = stacked_autoencoder(input_shape, hidden).encoder
    denses = [layer for layer in encoder if isinstance(layer, nn.Linear)]
    decoder = OrderedDict()
    for i, dense in enumerate(reversed(denses)):
        decoder[f"dense_transpose_{i}"] = DenseTranspose(dense)
        if i < len(denses) - 1:
            decoder[f"dense_transpose_{i}_relu"] = nn.ReLU()
    decoder["reshape"] = nn.Reshape(tuple(input_shape))
    return Autoencoder(encoder, nn.Sequential(decoder))


def train_greedy_layerwise(images, hidden=(100, 30), epochs: int = 10, batch_size: int = 32, lr: float = 1e-3,
                           seed: int = 0, verbose: bool = False):
    """Greedy layer-wise pretraining (Hinton & Salakhutdinov 2006; HOML ch. 17): train one shallow
    autoencoder at a time and stack them.

    Phase 1 trains ``x → Dense 100 ReLU → Dense 784`` on the images.  Phase k trains
    ``h → Dense n_k ReLU → Dense n_{k−1} ReLU`` on the codes ``h`` that the encoders trained so far
    give for the training images (ReLU output: the codes it rebuilds are non-negative).  The result
    is ``Flatten → enc₁ → enc₂ → … → … → dec₂ → dec₁ → Reshape``, whose layers can then be
    fine-tuned together.  Each phase is MSE with Keras-convention Adam (HOML: Nadam).

    Returns ``(autoencoder, histories)``, one ``History`` per phase.
    """
    from ..optim import Adam
    from ..training import fit, predict

    input_shape = tuple(images.shape[1:])
    inputs = images.reshape(len(images), -1)
    encoders, decoders, histories = [], [], []
    for phase, width in enumerate(hidden):
        encoder = nn.Sequential(nn.Linear(inputs.shape[1], width), nn.ReLU())
        decoder = nn.Sequential(nn.Linear(width, inputs.shape[1]), *([nn.ReLU()] if phase > 0 else []))
        shallow = nn.Sequential(encoder, decoder)
        optimizer = Adam(shallow.parameters(), lr=lr, eps_convention="keras")
        histories.append(fit(shallow, inputs, inputs, epochs=epochs, batch_size=batch_size, loss="mse",
                             optimizer=optimizer, metrics=(), seed=seed + phase, verbose=verbose))
        inputs = predict(encoder, inputs, batch_size=1000)
        encoders.append(encoder)
        decoders.insert(0, decoder)
    model = Autoencoder(nn.Sequential(nn.Flatten(), *encoders),
                        nn.Sequential(*decoders, nn.Reshape(input_shape)))
    return model, histories


# --------------------------------------------------------------------------- Hands-On ML: sparse autoencoders


def l1_penalty(codes, weight: float = 1e-4):
    """``weight · mean over the batch of Σ_j |h_j|``: Keras's ``ActivityRegularization(l1=weight)``
    (activity losses are divided by the batch size).  Pushes most codings to exactly zero."""
    return weight * codes.abs().sum() / codes.shape[0]


def kl_sparsity_penalty(codes, target: float = 0.1, weight: float = 5e-3, eps: float = 1e-7):
    """The sparsity penalty of Ng's sparse autoencoder (HOML's ``KLDivergenceRegularizer``)::

        ρ̂_j = mean over the batch of h_j                  (the mean activation of coding unit j)
        penalty = weight · Σ_j KL(ρ ‖ ρ̂_j),
        KL(ρ ‖ ρ̂) = ρ·log(ρ/ρ̂) + (1 − ρ)·log((1 − ρ)/(1 − ρ̂))

    the KL divergence between two Bernoulli distributions, which is 0 when unit j is active a
    fraction ρ = ``target`` of the time and grows steeply as ρ̂_j → 0 or 1 (unlike L1).  The codes
    must lie in (0, 1) (a sigmoid coding layer); ρ̂ is clipped to [ε, 1 − ε] as Keras clips.
    """
    mean_activation = codes.mean(axis=0).clip(eps, 1 - eps)
    kl = target * (target / mean_activation).log() + (1 - target) * ((1 - target) / (1 - mean_activation)).log()
    return weight * kl.sum()


PENALTIES = {"l1": l1_penalty, "kl": kl_sparsity_penalty}


def sparse_autoencoder(input_shape=(1, 28, 28), hidden=(100, 300), penalty: str = "kl", **penalty_options):
    """HOML's sparse autoencoder: ``stacked_autoencoder`` with a wide (300) sigmoid coding layer and
    a penalty on the codings, ``"l1"`` (``l1_penalty``, weight 1e-4) or ``"kl"``
    (``kl_sparsity_penalty``, target 0.1, weight 5e-3); ``penalty_options`` override those."""
    if penalty not in PENALTIES:
        raise ValueError(f"penalty must be one of {sorted(PENALTIES)}, got {penalty!r}")
    chosen = functools.partial(PENALTIES[penalty], **penalty_options)
    return stacked_autoencoder(input_shape, hidden, coding_activation="sigmoid", coding_penalty=chosen)


# ---------------------------------------------------------------------- Hands-On ML: convolutional, recurrent, linear


def conv_autoencoder(input_shape=(1, 28, 28), latent_dim: int = 30) -> Autoencoder:
    """HOML's convolutional autoencoder (28×28 grey images)::

        encoder: [Conv 3×3 "same" ReLU → MaxPool 2] × 3 (16, 32, 64 channels: 28 → 14 → 7 → 3)
                 → Conv 3×3 "same" ReLU to 30 channels → global average pooling → (N, 30)
        decoder: Dense 30 → 144 → Reshape (16, 3, 3) → ConvT 3×3 s2 "valid" ReLU (32: 3 → 7)
                 → ConvT 3×3 s2 "same" ReLU (16: 7 → 14) → ConvT 3×3 s2 "same" (1: 14 → 28, linear)
    """
    channels, height, width = input_shape
    if (height, width) != (28, 28):
        raise ValueError(f"conv_autoencoder is built for 28x28 images (its decoder grows 3 -> 7 -> 14 -> 28), "
                         f"got {height}x{width}")
    encoder = OrderedDict()
    for i, out_channels in enumerate((16, 32, 64)):
        encoder[f"conv_{i}"] = nn.Conv2d(channels, out_channels, 3, padding="same")
        encoder[f"relu_{i}"] = nn.ReLU()
        encoder[f"max_pool_{i}"] = nn.MaxPool2d(2)
        channels = out_channels
    encoder["conv_codings"] = nn.Conv2d(channels, latent_dim, 3, padding="same")
    encoder["relu_codings"] = nn.ReLU()
    encoder["global_avg_pool"] = nn.GlobalAvgPool2d()
    decoder = OrderedDict(dense=nn.Linear(latent_dim, 16 * 3 * 3), reshape=nn.Reshape((16, 3, 3)))
    decoder["conv_transpose_0"] = nn.ConvTranspose2d(16, 32, 3, stride=2, padding="valid")
    decoder["relu_0"] = nn.ReLU()
    decoder["conv_transpose_1"] = nn.ConvTranspose2d(32, 16, 3, stride=2, padding="same")
    decoder["relu_1"] = nn.ReLU()
    decoder["conv_transpose_2"] = nn.ConvTranspose2d(16, input_shape[0], 3, stride=2, padding="same")
    return Autoencoder(nn.Sequential(encoder), nn.Sequential(decoder))


class RecurrentLayer(nn.Module):
    """An ``nn.LSTM`` as a Keras layer: every step's output (``return_sequences=True``,
    (N, T, H)) or only the last one ((N, H))."""

    def __init__(self, input_size: int, hidden_size: int, return_sequences: bool):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size)
        self.return_sequences = return_sequences

    def forward(self, x):
        outputs, (last, _) = self.lstm(x)
        return outputs if self.return_sequences else last


def recurrent_autoencoder(input_shape=(1, 28, 28), hidden: int = 100, latent_dim: int = 30) -> Autoencoder:
    """HOML's recurrent autoencoder: an image is a sequence of its rows (28 steps of 28 pixels)::

        encoder: LSTM 100 (every step) → LSTM 30 (last step)              → (N, 30)
        decoder: RepeatVector 28 → LSTM 100 (every step) → Dense 28 per step → (N, 1, 28, 28)

    Grey images only (the rows are the steps, the pixels of a row the features).
    """
    channels, height, width = input_shape
    if channels != 1:
        raise ValueError(f"recurrent_autoencoder reads grey images row by row, got {channels} channels")
    encoder = nn.Sequential(OrderedDict(
        rows=nn.Reshape((height, width)),
        lstm_0=RecurrentLayer(width, hidden, return_sequences=True),
        lstm_1=RecurrentLayer(hidden, latent_dim, return_sequences=False),
    ))
    decoder = nn.Sequential(OrderedDict(
        repeat=nn.RepeatVector(height),
        lstm=RecurrentLayer(latent_dim, hidden, return_sequences=True),
        dense=nn.Linear(hidden, width),
        reshape=nn.Reshape(tuple(input_shape)),
    ))
    return Autoencoder(encoder, decoder)


def linear_autoencoder(input_dim: int = 3, latent_dim: int = 2) -> Autoencoder:
    """The undercomplete linear autoencoder of HOML ch. 17: ``z = x·W_e + b_e``, ``x̂ = z·W_d + b_d``,
    no activations, trained with MSE.

    It performs PCA (Baldi & Hornik 1989): at the minimum of the squared reconstruction error,
    ``x̂`` is the orthogonal projection of ``x`` (minus its mean) onto the span of the top
    ``latent_dim`` principal directions, so the rows of the decoder kernel ``W_d`` span the principal
    subspace — though not as the orthonormal principal axes themselves (any invertible mix of them
    is as good).  ``tinygdl.latent.principal_angles`` measures how close two subspaces are.
    """
    return Autoencoder(nn.Sequential(nn.Linear(input_dim, latent_dim)), nn.Sequential(nn.Linear(latent_dim, input_dim)))


def train_linear_autoencoder(data, latent_dim: int = 2, steps: int = 2000, lr: float = 0.3):
    """A ``linear_autoencoder`` fitted to ``data`` (N, D): full-batch Adam on the MSE, its learning
    rate annealed to 0 along a cosine so that it settles at the minimum (the small-variance
    directions make the loss surface flat, and a constant step keeps wandering).

    Returns ``(model, losses)``, the MSE of every step.
    """
    from ..losses import mse_loss
    from ..optim import Adam, CosineAnnealingLR
    from ..tensor import Tensor

    model = linear_autoencoder(data.shape[1], latent_dim)
    optimizer = Adam(model.parameters(), lr=lr)
    schedule = CosineAnnealingLR(optimizer, total_steps=steps)
    x = Tensor(data, dtype=model.parameters()[0].dtype)
    history = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = mse_loss(model(x), x)
        loss.backward()
        optimizer.step()
        schedule.step()
        history.append(loss.item())
    return model, history


__all__ = [
    "Autoencoder", "DenseTranspose", "RecurrentLayer",
    "book_autoencoder", "conv_autoencoder", "conv_decoder", "conv_encoder", "conv_stages", "encoded_shape",
    "kl_sparsity_penalty", "l1_penalty", "linear_autoencoder", "recurrent_autoencoder", "sparse_autoencoder",
    "stacked_autoencoder", "tied_autoencoder", "train_greedy_layerwise", "train_linear_autoencoder",
]
