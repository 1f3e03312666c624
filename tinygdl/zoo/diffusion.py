"""Chapter 8: the denoising diffusion model (book notebook ``08_diffusion/01_ddm``).

Networks, schedule, training step and samplers: ``tinygdl/models/diffusion.py``.

Data.  The book trains on 8,189 Oxford flowers photos at 64x64; offline the default is the
12-species subset ``flowers12`` (all 960 images, 64x64; ``TINYGDL_DATA=/path/to/data`` with
``flowers12/flowers12_64.npz`` in it), ``--image-size 32`` for CPU runs.  ``--set folder=PATH``
reads every image under a folder instead (sub-folders included, no labels: the book's
``dataset/`` of the full flowers set), resized to ``image_size`` (bilinear, aspect not kept).
``--dataset digits`` (scikit-learn's 8x8 digits, grey, resized to the model's size) and
``--dataset cifar10`` also work.  Images are scaled to [0, 1], then standardised per channel with
the training set's mean and standard deviation (Keras's ``Normalization`` layer); the two are
saved in every checkpoint (``state/mean``, ``state/std``) and used to turn samples back into images.
As the book, one epoch shows the data ``repeat`` (5) times.

The EMA network.  Samples come from an exponential moving average of the U-Net (decay 0.999),
every weight and running statistic.  ``ema_start="copy"`` (the default) starts the average as a
copy of the freshly initialised U-Net; ``ema_start="fresh"`` is the book's behaviour, which starts
it from *other* random weights (Keras's ``clone_model`` re-initialises): after k steps those still
make up 0.999^k of every averaged weight — 13.5% after 2,000 steps, a visible share on a CPU
budget, negligible after the book's 31,950.

Sampling options (``tinygdl sample CKPT --set steps=20 --set eta=0``): ``steps`` (S, DDIM steps),
``eta`` (0: the book's deterministic sampler; 1: DDPM-like), ``figure`` (``grid``,
``interpolation``: rows of 11 images from a spherical mix of two noises, or ``trajectory``: one
image's noisy input and estimate x̂₀ at every step), ``network`` (``ema`` or the trained ``unet``)
and ``seed`` (of the initial noise).  ``report`` writes all three figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import plot
from ..data import ArrayDataset, Dataset
from ..data.image_folder import IMAGE_EXTENSIONS, ImageFiles
from ..data.transforms import to_float_nchw
from ..errors import ConfigError
from ..models import diffusion
from ..nn.module import evaluation_mode
from ..optim import EMA, AdamW
from ..tensor import tensor
from .images import SHAPES, load_images
from .recipe import Recipe

SAMPLE_SEED = 1234
INTERPOLATION_STEPS = 11  # s = 0, 0.1, ..., 1 (the book)
STD_FLOOR = 1e-7  # Keras's Normalization divides by max(std, 1e-7)
FIGURES = ("grid", "interpolation", "trajectory")


class DDM(Recipe):
    name = "ddm"
    chapter = 8
    title = "diffusion U-Net (1,953,507 weights), offset-cosine schedule, EMA, DDIM/DDPM sampling (book ch. 8)"
    dataset = "flowers12"
    datasets = ("flowers12", "cifar10", "digits", "mnist", "fashion-mnist")
    # widths/block_depth: the U-Net's stages; ema_start: "copy" (default) or "fresh" (the book, see the
    # module doc); repeat: passes over the data per epoch (the book's 5); folder: a folder of images
    defaults = dict(epochs=50, batch_size=64, lr=1e-3, weight_decay=1e-4, image_size=64, widths=(32, 64, 96, 128),
                    block_depth=2, ema_decay=0.999, ema_start="copy", repeat=5, folder=None, limit=None)
    sample_options = dict(steps=20, eta=0.0, figure="grid", network="ema", seed=SAMPLE_SEED)

    def __init__(self, dataset=None, **overrides):
        super().__init__(dataset, **overrides)
        if self.ema_start not in ("copy", "fresh"):
            raise ConfigError(f"ddm: ema_start must be 'copy' or 'fresh', got {self.ema_start!r}")
        self.mean = self.std = None  # per-channel statistics of the training images (load_data)

    def channels(self) -> int:
        return 3 if self.folder is not None else SHAPES[self.dataset][0]

    def input_shape(self, role=None):
        return [(self.channels(), self.image_size, self.image_size), (1, 1, 1)]

    # -- data ------------------------------------------------------------------------------------

    def load_data(self):
        images = self.load_images()
        self.mean, self.std = channel_statistics(images)
        standardised = ((images - self.mean[:, None, None]) / self.std[:, None, None]).astype(np.float32)
        return RepeatedDataset(ArrayDataset(standardised), self.repeat), None

    def load_images(self) -> np.ndarray:
        """Every training image in [0, 1], (N, C, image_size, image_size) float32."""
        if self.folder is not None:
            return folder_images(self.folder, self.image_size, self.limit)
        splits = load_images(self.dataset, image_size=self.image_size)  # a generative model uses both splits
        return np.concatenate([splits.x_train, splits.x_test])[:self.limit]

    def state_dict(self):
        return {} if self.mean is None else {"mean": self.mean, "std": self.std}

    def load_state_dict(self, state):
        unknown = sorted(set(state) - {"mean", "std"})
        if unknown:
            super().load_state_dict({k: state[k] for k in unknown})
        if state:
            self.mean, self.std = (np.asarray(state[k], dtype=np.float32) for k in ("mean", "std"))

    # -- networks and training -------------------------------------------------------------------

    def unet(self) -> diffusion.UNet:
        return diffusion.build_unet(self.channels(), self.widths, self.block_depth)

    def build(self):
        unet = self.unet()
        ema = self.unet() if self.ema_start == "fresh" else EMA(unet, self.ema_decay).module
        return {"unet": unet, "ema": ema.freeze().eval()}

    def optimizers(self, models):
        return {"unet": AdamW(models["unet"].parameters(), lr=self.lr, weight_decay=self.weight_decay,
                              eps_convention="keras")}

    def train_step(self, models, optimizers):
        ema = EMA(models["unet"], self.ema_decay, ema_model=models["ema"])
        return diffusion.DiffusionStep(models["unet"], optimizers["unet"], ema)

    # -- sampling -----------------------------------------------------------------------------------

    def destandardise(self, x: np.ndarray) -> np.ndarray:
        """Standardised images back to [0, 1] (clipped), with the training set's statistics."""
        if self.mean is None:
            raise ConfigError("ddm: sampling needs the training images' per-channel mean and std: "
                              "call load_data() first, or sample from a checkpoint of `tinygdl train`")
        return np.clip(x * self.std[:, None, None] + self.mean[:, None, None], 0.0, 1.0)

    def noise(self, n: int, rng) -> np.ndarray:
        return rng.standard_normal((n, self.channels(), self.image_size, self.image_size)).astype(np.float32)

    def generate(self, models, initial_noise: np.ndarray, steps: int, eta: float, network: str = "ema",
                 rng=None, trajectory: bool = False):
        """Images in [0, 1] from ``initial_noise`` (NumPy), through the DDIM sampler; with
        ``trajectory`` also the estimates x̂₀ and the noisy inputs of every step (de-standardised)."""
        if network not in models:
            raise ConfigError(f"ddm: network must be 'ema' or 'unet', got {network!r}")
        net = models[network]
        parameter = next(iter(net.parameters()))
        x = tensor(initial_noise, dtype=parameter.dtype, device=parameter.device)
        with evaluation_mode([net]):
            result = diffusion.ddim_sample(net, x, steps, eta, rng, trajectory)
        if not trajectory:
            return self.destandardise(result.numpy())
        final, estimates, noisy = result
        return self.destandardise(final.numpy()), self.destandardise(estimates), self.destandardise(noisy)

    def sample(self, models, path, n=16, steps=20, eta=0.0, figure="grid", network="ema", seed=SAMPLE_SEED):
        if figure not in FIGURES:
            raise ConfigError(f"ddm: figure must be one of {', '.join(FIGURES)}, got {figure!r}")
        rng = np.random.default_rng(seed)
        if figure == "interpolation":
            return self.interpolation_figure(models, path, max(1, n // INTERPOLATION_STEPS), steps, eta, network, rng)
        if figure == "trajectory":
            return self.trajectory_figure(models, path, steps, eta, network, rng)
        images = self.generate(models, self.noise(n, rng), steps, eta, network, rng)
        return plot.image_grid(images, path, value_range=(0, 1))

    def interpolation_figure(self, models, path, rows: int, steps: int, eta: float = 0.0, network: str = "ema",
                             rng=None) -> str:
        """``rows`` strips of 11 images: the spherical mix of two noises (b on the left, a on the right)."""
        rng = np.random.default_rng(SAMPLE_SEED) if rng is None else rng
        a, b = self.noise(rows, rng), self.noise(rows, rng)
        mixed = diffusion.spherical_mix(a, b, INTERPOLATION_STEPS).transpose(1, 0, 2, 3, 4)  # (rows, 11, C, H, W)
        images = self.generate(models, mixed.reshape((-1,) + a.shape[1:]), steps, eta, network, rng)
        return plot.image_grid(images, path, nrow=INTERPOLATION_STEPS, value_range=(0, 1))

    def trajectory_figure(self, models, path, steps: int, eta: float = 0.0, network: str = "ema", rng=None) -> str:
        """One image's denoising: the noisy x the network sees (top row) and its estimate x̂₀ (bottom
        row) at each of the ``steps`` steps, t = 1 on the left."""
        rng = np.random.default_rng(SAMPLE_SEED) if rng is None else rng
        _, estimates, noisy = self.generate(models, self.noise(1, rng), steps, eta, network, rng, trajectory=True)
        titles = [f"x, t={1 - k / steps:.2f}" for k in range(steps)] + ["x̂₀"] * steps
        return plot.image_grid(np.concatenate([noisy[:, 0], estimates[:, 0]]), path, nrow=steps, titles=titles,
                               value_range=(0, 1))

    def report(self, models, out_dir):
        rng = np.random.default_rng(SAMPLE_SEED)
        self.sample(models, self.output(out_dir, "samples.png"), n=64)
        self.interpolation_figure(models, self.output(out_dir, "interpolation.png"), 3, 20, rng=rng)
        self.trajectory_figure(models, self.output(out_dir, "trajectory.png"), 20, rng=rng)
        return {}


# --------------------------------------------------------------------------- data helpers


def channel_statistics(images: np.ndarray) -> tuple:
    """Per-channel mean and standard deviation (floored at 1e-7) over every pixel of (N, C, H, W)."""
    mean = images.mean(axis=(0, 2, 3), dtype=np.float64)
    std = np.maximum(images.std(axis=(0, 2, 3), dtype=np.float64), STD_FLOOR)
    return mean.astype(np.float32), std.astype(np.float32)


class RepeatedDataset(Dataset):
    """``dataset`` shown ``times`` times over (the book's ``repeat(5)``): index i is example i mod N,
    so a shuffled loader mixes the copies without storing them."""

    def __init__(self, dataset: Dataset, times: int):
        if times < 1:
            raise ConfigError(f"ddm: repeat must be at least 1, got {times}")
        self.dataset, self.times = dataset, times

    def __len__(self) -> int:
        return len(self.dataset) * self.times

    def fetch(self, indices):
        return self.dataset.fetch(indices % len(self.dataset))


def folder_images(folder: str, image_size: int, limit: int | None) -> np.ndarray:
    """Every image file under ``folder`` (sub-folders included, sorted by path), RGB, resized to
    ``image_size`` (bilinear, aspect not kept), in [0, 1]: the book's flowers ``dataset/``."""
    root = Path(folder).expanduser()
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)[:limit]
    if not paths:
        raise FileNotFoundError(f"ddm: no images under {folder}")
    files = ImageFiles(paths, np.zeros(len(paths)), image_size=image_size, mode="RGB")
    images, _ = files[np.arange(len(files))]
    return to_float_nchw(images).astype(np.float32)


RECIPES = (DDM,)
