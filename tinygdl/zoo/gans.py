"""Chapter 4: the GANs (book notebooks ``04_gan/01_dcgan``, ``02_wgan_gp``, ``03_cgan``), plus Hands-On
ML's dense GAN and the 1st edition's weight-clipped WGAN.

Networks: ``tinygdl/models/gan.py``; objectives and steps: ``tinygdl/models/gan_training.py``.
Offline datasets (``docs/models/gans.md``): the DCGAN's LEGO bricks become
Fashion-MNIST padded to 32 and resized to 64 (``--set folder=PATH`` reads a folder of images such as
the bricks' ``dataset/`` instead); CelebA becomes the CIFAR-10 (test-set) images resized to 64, and
its ``Blond_Hair`` label a vehicle-vs-animal label.  Every recipe also trains on ``--dataset digits``
(scikit-learn's 8x8 digits resized to the model's size), which needs no files.

``--image-size 32`` (or 16, 8) drops the deepest stages of the convolutional GANs (see
``models/gan.py``), for quick CPU runs.  Sample grids are written every epoch; ``--steps-per-epoch N``
makes that every N steps.  ``report`` writes ``samples.png``, ``nearest.png`` (each sample above its
nearest training image by mean absolute difference: is the generator copying?) and, for ``cgan``,
``classes.png`` (one row per class).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import plot
from ..data import ArrayDataset
from ..data.image_folder import ImageFiles, image_files
from ..data.transforms import to_float_nchw
from ..errors import ConfigError
from ..models import gan
from ..models import gan_training as steps
from ..nn.module import evaluation_mode
from ..ops.neural import one_hot
from ..optim import Adam, RMSprop
from ..tensor import tensor
from .images import CLASSES, SHAPES, ImageSplits, image_shape, load_images
from .recipe import Recipe

SAMPLE_SEED = 1234  # samples during training reuse the same z, so successive grids are comparable
NEAREST_COUNT = 8
VEHICLES = ("airplane", "automobile", "ship", "truck")  # CIFAR-10's stand-in for the book's binary label


class _GAN(Recipe):
    """What every GAN recipe shares: data in [-1, 1] (tanh generators), a generator, samples and report."""

    chapter = 4
    value_range = (-1.0, 1.0)

    # -- data ----------------------------------------------------------------------------------

    def image_shape(self) -> tuple:
        """(C, H, W) the networks see."""
        return (self.channels(), self.image_size, self.image_size)

    def channels(self) -> int:
        return image_shape(self.dataset)[0]

    def load_data(self):
        self.splits = self.load_splits()
        return ArrayDataset(self.splits.x_train, self.splits.y_train), None

    def load_splits(self) -> ImageSplits:
        return self.load_dataset(self.limit)

    def load_dataset(self, limit) -> ImageSplits:
        """The dataset at the model's size: 28x28 images zero-padded to 32 first (the book's Fashion-MNIST)."""
        native = SHAPES[self.dataset][-1]
        return load_images(self.dataset, pad_to=32 if native == 28 else None, image_size=self.image_size,
                           symmetric=self.value_range[0] < 0, limit=limit, channels=self.channels())

    # -- what a checkpoint keeps besides the weights: the experience-replay buffer -----------------

    def state_dict(self):
        buffer = getattr(self, "_replay", None)
        return {"replay_images": buffer.images.numpy()} if buffer is not None and len(buffer) else {}

    def load_state_dict(self, state):
        state = dict(state)
        self._saved_replay = state.pop("replay_images", None)
        super().load_state_dict(state)  # anything else is not ours: an error
        if getattr(self, "_replay", None) is not None and self._saved_replay is not None:
            self._replay.images = tensor(self._saved_replay, device=self._replay_device)

    def training_images(self) -> np.ndarray:
        if getattr(self, "splits", None) is None:
            self.splits = self.load_splits()
        return self.splits.x_train

    # -- the networks ----------------------------------------------------------------------------

    def input_shape(self, role=None):
        return (self.latent_dim,) if role in (None, "generator") else self.image_shape()

    def optimizers(self, models):
        return {role: Adam(model.parameters(), lr=self.lr, betas=(self.beta1, self.beta2), eps_convention="keras")
                for role, model in models.items()}

    # -- samples -----------------------------------------------------------------------------------

    def fixed_noise(self, n: int, like_model):
        z = np.random.default_rng(SAMPLE_SEED).standard_normal((n, self.latent_dim)).astype(np.float32)
        return tensor(z, device=like_model.device, dtype=next(iter(like_model.parameters())).dtype)

    def generate(self, models, n: int) -> np.ndarray:
        """``n`` images from the generator in inference mode, as a NumPy array."""
        generator = models["generator"]
        with evaluation_mode([generator]):
            return generator(self.fixed_noise(n, generator)).numpy()

    def sample(self, models, path, n=16):
        return plot.image_grid(self.generate(models, n), path, value_range=self.value_range)

    def report(self, models, out_dir):
        self.sample(models, self.output(out_dir, "samples.png"), n=64)
        distances = self.nearest_figure(self.generate(models, NEAREST_COUNT), self.output(out_dir, "nearest.png"))
        return {"nearest_l1_mean": float(distances.mean())}

    def nearest_figure(self, samples: np.ndarray, path: str) -> np.ndarray:
        """Samples (top row) above their nearest training images (bottom row, with the L1 distance)."""
        images = self.training_images()
        index, distances = gan.nearest_neighbours(samples, images)
        titles = ["generated"] * len(samples) + [f"nearest\nL1 {d:.3f}" for d in distances]
        plot.image_grid(np.concatenate([samples, images[index]]), path, nrow=len(samples), titles=titles,
                        value_range=self.value_range)
        return distances


class DCGAN(_GAN):
    name = "dcgan"
    title = "DCGAN, 64x64 grey: BCE with label noise, dropout, BatchNorm (book ch. 4)"
    dataset = "fashion-mnist"
    datasets = ("fashion-mnist", "mnist", "digits", "cifar10", "flowers12")
    # replay: the fraction of extra, earlier fakes shown to D (0: off, the book); folder: a folder of images
    defaults = dict(epochs=300, batch_size=128, lr=2e-4, beta1=0.5, beta2=0.999, latent_dim=100, image_size=64,
                    label_noise=0.1, dropout=0.3, minibatch_std=False, replay=0.0, replay_size=2048, folder=None,
                    limit=None)

    def channels(self):
        return 1  # the book's bricks are grey; colour datasets are averaged to grey

    def build(self):
        return {"generator": gan.dcgan_generator(self.latent_dim, 1, self.image_size),
                "discriminator": gan.dcgan_discriminator(1, self.image_size, self.dropout, self.minibatch_std)}

    def load_splits(self):
        return super().load_splits() if self.folder is None else folder_splits(self.folder, self.image_size, self.limit)

    def train_step(self, models, optimizers):
        return steps.DCGANStep(models["generator"], models["discriminator"], optimizers["generator"],
                               optimizers["discriminator"], self.latent_dim, self.label_noise,
                               replay_buffer(self, models["generator"]))


class WGANGP(_GAN):
    name = "wgan_gp"
    title = "WGAN-GP, 64x64 RGB: critic without BatchNorm, 3 critic steps, gradient penalty 10 (book ch. 4)"
    dataset = "cifar10"
    datasets = ("cifar10", "flowers12", "digits", "mnist", "fashion-mnist")
    # alpha_dist: "uniform" as Gulrajani et al. 2017; the book draws "normal", N(0, 1) (a documented
    # deviation).  The book's notebook at HEAD also passes steps_per_epoch=2: `--steps-per-epoch 2`.
    defaults = dict(epochs=200, batch_size=512, lr=2e-4, beta1=0.5, beta2=0.9, latent_dim=128, image_size=64,
                    critic_steps=3, gp_weight=10.0, alpha_dist="uniform", dropout=0.3, minibatch_std=False,
                    limit=None)

    def build(self):
        return {"generator": gan.wgan_gp_generator(self.latent_dim, self.channels(), self.image_size),
                "critic": gan.wgan_gp_critic(self.channels(), self.image_size, self.dropout, self.minibatch_std)}

    def num_classes(self) -> int | None:
        return None  # unconditional

    def train_step(self, models, optimizers):
        return steps.WassersteinGPStep(models["generator"], models["critic"], optimizers["generator"],
                                       optimizers["critic"], self.latent_dim, self.critic_steps, self.gp_weight,
                                       self.alpha_dist, self.num_classes())


class CGAN(WGANGP):
    name = "cgan"
    title = "conditional WGAN-GP: one-hot label after z, label planes beside the image (book ch. 4)"
    dataset = "cifar10"
    datasets = ("cifar10", "flowers12", "digits", "mnist", "fashion-mnist")
    # label: "vehicle" (vehicle vs animal, CIFAR-10's stand-in for the book's binary Blond_Hair, the
    # default there) or "class" (the dataset's classes, the default elsewhere); sample_class: one
    # class (name or number) for the sample grids, None for one row per class.  The book's HEAD runs
    # 2000 epochs of one step each: `--steps-per-epoch 1`.
    defaults = dict(epochs=2000, batch_size=128, lr=5e-5, beta1=0.5, beta2=0.9, latent_dim=32, image_size=64,
                    critic_steps=3, gp_weight=10.0, alpha_dist="uniform", dropout=0.3, label=None, sample_class=None,
                    limit=None)

    def class_names(self) -> tuple:
        if self.label_kind() == "vehicle":
            return ("animal", "vehicle")
        return CLASSES[self.dataset]

    sample_options = {"class": None}  # tinygdl sample CKPT --set class=3 (or a name): one class; else one row each
    sample_option_help = {"class": "one class, by name or number (default: one row per class)"}

    def validate(self):
        super().validate()
        self.label_kind()
        if self.sample_class is not None:
            self.class_index(self.sample_class)

    def label_kind(self) -> str:
        kind = self.label or ("vehicle" if self.dataset == "cifar10" else "class")
        if kind not in ("vehicle", "class") or (kind == "vehicle" and self.dataset != "cifar10"):
            raise ConfigError(f"cgan: label must be 'class', or 'vehicle' on cifar10; got {kind!r} on {self.dataset}")
        return kind

    def num_classes(self) -> int:
        return len(self.class_names())

    def load_splits(self):
        splits = super().load_splits()
        if self.label_kind() == "vehicle":
            vehicles = [CLASSES[self.dataset].index(name) for name in VEHICLES]
            splits.y_train = np.isin(splits.y_train, vehicles).astype(np.int64)
            splits.y_test = np.isin(splits.y_test, vehicles).astype(np.int64)
            splits.classes = self.class_names()
        return splits

    def input_shape(self, role=None):
        k = self.num_classes()
        return [(self.latent_dim,), (k,)] if role in (None, "generator") else [self.image_shape(), (k,)]

    def build(self):
        k, c = self.num_classes(), self.channels()
        return {"generator": gan.ConditionalGenerator(self.latent_dim, k, c, self.image_size),
                "critic": gan.ConditionalCritic(k, c, self.image_size, self.dropout)}

    def class_index(self, label) -> int:
        """A class given by name or number."""
        names = self.class_names()
        index = names.index(label) if label in names else label
        if isinstance(index, str) and index.lstrip("-").isdigit():
            index = int(index)
        if not isinstance(index, int) or not 0 <= index < len(names):
            raise ConfigError(f"cgan: no class {label!r}; classes: {', '.join(names)} (or 0-{len(names) - 1})")
        return index

    def generate_class(self, models, label, n: int) -> np.ndarray:
        """``n`` images of class ``label`` (a name or a number), the same z for every class."""
        generator = models["generator"]
        labels = np.full(n, self.class_index(label), dtype=np.int64)
        with evaluation_mode([generator]):
            z = self.fixed_noise(n, generator)
            return generator(z, one_hot(tensor(labels, device=generator.device), self.num_classes(),
                                        dtype=z.dtype)).numpy()

    def generate(self, models, n, label=None):
        label = label if label is not None else self.sample_class
        return self.generate_class(models, label if label is not None else 0, n)

    def sample(self, models, path, n=10, **options):
        """One row per class (the same z along each column), or ``n`` images of one class (the
        ``class`` sampling option, else the ``sample_class`` setting)."""
        label = options.get("class")
        label = label if label is not None else self.sample_class
        if label is not None:
            self.class_index(label)
            return plot.image_grid(self.generate(models, n, label), path, value_range=self.value_range)
        names = self.class_names()
        rows = [self.generate_class(models, k, n) for k in range(len(names))]
        titles = [names[k] if i == 0 else "" for k in range(len(names)) for i in range(n)]
        return plot.image_grid(np.concatenate(rows), path, nrow=n, titles=titles, value_range=self.value_range)

    def report(self, models, out_dir):
        numbers = super().report(models, out_dir)
        self.sample(models, self.output(out_dir, "classes.png"))
        return numbers


class DenseGAN(_GAN):
    name = "gan"
    title = "dense GAN on 28x28 MNIST (Hands-On ML ch. 17): two-phase step, RMSprop"
    dataset = "mnist"
    datasets = ("mnist", "fashion-mnist", "digits")
    value_range = (0.0, 1.0)  # sigmoid output, images in [0, 1]
    defaults = dict(epochs=50, batch_size=32, lr=1e-3, latent_dim=30, image_size=28, replay=0.0, replay_size=2048,
                    limit=None)

    def load_splits(self):
        return load_images(self.dataset, image_size=self.image_size, limit=self.limit)

    def build(self):
        shape = self.image_shape()
        return {"generator": gan.dense_generator(self.latent_dim, shape),
                "discriminator": gan.dense_discriminator(shape)}

    def optimizers(self, models):
        return keras_rmsprop(models, self.lr)

    def train_step(self, models, optimizers):
        return steps.DenseGANStep(models["generator"], models["discriminator"], optimizers["generator"],
                                  optimizers["discriminator"], self.latent_dim,
                                  replay_buffer(self, models["generator"]))


class WGAN(_GAN):
    name = "wgan"
    title = "WGAN with weight clipping, 32x32 CIFAR horses (1st edition): 5 critic iterations, RMSprop 5e-5"
    dataset = "cifar10"
    datasets = ("cifar10", "digits", "mnist", "fashion-mnist", "flowers12")
    # batch_size counts one full step's real images: 5 critic iterations of the 1st edition's 128;
    # only_class: a class name (default "horse" on cifar10, every class elsewhere) or "all"
    defaults = dict(epochs=3000, batch_size=640, lr=5e-5, latent_dim=100, image_size=32, critic_steps=5, clip=0.01,
                    only_class=None, limit=None)

    def build(self):
        return {"generator": gan.wgan_generator(self.latent_dim, self.channels(), self.image_size),
                "critic": gan.wgan_critic(self.channels(), self.image_size)}

    def validate(self):
        super().validate()
        wanted = self.only_class or "all"
        if wanted != "all" and wanted not in CLASSES[self.dataset]:
            raise ConfigError(f"wgan: only_class {wanted!r} is not a class of {self.dataset} "
                              f"({', '.join(CLASSES[self.dataset])}) nor 'all'")

    def load_splits(self):
        wanted = self.only_class or ("horse" if self.dataset == "cifar10" else "all")
        if wanted == "all":
            return super().load_splits()
        splits = self.load_dataset(limit=None)
        keep = splits.y_train == list(splits.classes).index(wanted)
        splits.x_train, splits.y_train = splits.x_train[keep][:self.limit], splits.y_train[keep][:self.limit]
        return splits

    def optimizers(self, models):
        return keras_rmsprop(models, self.lr)

    def train_step(self, models, optimizers):
        return steps.ClippedWGANStep(models["generator"], models["critic"], optimizers["generator"],
                                     optimizers["critic"], self.latent_dim, self.critic_steps, self.clip)


# --------------------------------------------------------------------------- helpers


def keras_rmsprop(models: dict, lr: float) -> dict:
    """One RMSprop per network with Keras's ρ 0.9 and ε 1e-7 (Keras puts ε inside the square root,
    ``sqrt(s + ε)``; tinygdl's RMSprop adds it outside, as PyTorch: a difference only for tiny gradients)."""
    return {role: RMSprop(model.parameters(), lr=lr, alpha=0.9, eps=1e-7) for role, model in models.items()}


def replay_buffer(recipe, like_model) -> "steps.ReplayBuffer | None":
    """The recipe's experience replay (``replay`` > 0: that fraction of extra, earlier fakes), kept
    on the recipe so that checkpoints save its images (``state/replay_images``) and a resumed run
    gets them back."""
    if not recipe.replay:
        return None
    recipe._replay, recipe._replay_device = steps.ReplayBuffer(recipe.replay_size, recipe.replay), like_model.device
    if getattr(recipe, "_saved_replay", None) is not None:
        recipe._replay.images = tensor(recipe._saved_replay, device=like_model.device)
    return recipe._replay


def folder_splits(folder: str, image_size: int, limit: int | None) -> ImageSplits:
    """Every image directly inside ``folder`` (the LEGO bricks' ``dataset/``), grey, resized to
    ``image_size`` (bilinear, aspect not kept), in [-1, 1]; there is no test split."""
    paths = image_files(Path(folder).expanduser())[:limit]
    if not paths:
        raise FileNotFoundError(f"no images directly inside {folder}")
    files = ImageFiles(paths, np.zeros(len(paths)), image_size=image_size, mode="L")
    images, labels = files[np.arange(len(files))]
    x = to_float_nchw(images, symmetric=True).astype(np.float32)
    return ImageSplits(x, labels, x[:0], labels[:0], ("image",))


RECIPES = (DCGAN, WGANGP, CGAN, DenseGAN, WGAN)
