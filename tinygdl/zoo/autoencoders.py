"""Chapter 3: the autoencoder and the two VAEs (book notebooks ``03_vae/01_autoencoder``,
``02_vae_fashion``, ``03_vae_faces``), and the autoencoder family of Hands-On ML chapter 17.

Book models (``docs/models/autoencoders.md``), with the book's settings by default:

* ``autoencoder``: Fashion-MNIST zero-padded to 32×32, 2-D code, per-pixel binary cross-entropy,
  Adam 1e-3, batch 100, 3 epochs.
* ``vae_fashion``: the same layers with a mean / log-variance head; loss 500 × per-image mean BCE
  + KL; Adam 5e-4, batch 100, 5 epochs.
* ``vae_faces``: 200-D latent, BatchNorm + LeakyReLU, loss 2000 × MSE + KL, Adam 5e-4, batch 128,
  10 epochs.  CelebA is not available offline: CIFAR-10 by default (or ``flowers12``);
  ``--dataset celeba --set celeba_dir=FOLDER`` reads a CelebA folder (``list_attr_celeba.csv`` and
  ``img_align_celeba/``) through ``tinygdl.data.AttributeImageFolder``.  The repository's earlier
  64×64 variant (five stages of 64 channels) is ``--image-size 64 --set channels=64,64,64,64,64``.

Hands-On ML ch. 17 (28×28 grey images, MSE, Adam with Keras's ε where the book uses Nadam, batch 32):
``ae_stacked``, ``ae_tied``, ``ae_conv``, ``ae_recurrent``, ``ae_denoising``, ``ae_sparse``.
(Greedy layer-wise training and the PCA-equivalent linear autoencoder are library functions,
``tinygdl.models.autoencoders``, shown by ``examples/03_hands_on_autoencoders.py``.)

Images smaller than the model's ``image_size`` are zero-padded when they are 28×28 and the model
wants 32×32 (the book's Fashion-MNIST padding), resized otherwise (``--dataset digits`` works
offline; ``--image-size 16`` makes the book's models smaller and faster).  ``limit`` keeps the first
training images, ``eval_limit`` the first test images for the final report.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import latent, plot
from ..data import ArrayDataset, DataLoader, paths
from ..data.image_folder import AttributeImageFolder, ImageFiles
from ..errors import ConfigError
from ..losses import binary_cross_entropy, mse_loss
from ..models import autoencoders as ae
from ..models import vae as vae_models
from ..nn.module import evaluation_mode
from ..ops.creation import zeros
from ..optim import Adam
from ..training import evaluate_loader
from ..training.trainer import metrics_as_floats
from .images import SHAPES, image_shape, load_images
from .recipe import Recipe

# The attribute whose vector the VAE reports draw, per dataset (class labels where there is no
# attribute file: the mean code of that class against the mean code of all the others).
DEFAULT_ATTRIBUTE = {"fashion-mnist": "Trouser", "mnist": "1", "digits": "1", "cifar10": "automobile",
                     "flowers12": "sunflower", "celeba": "Smiling"}
CELEBA_FILES = paths.DatasetFiles(
    title="CelebA (aligned images and list_attr_celeba.csv)", folder="celeba",
    files=(("list_attr_celeba.csv",),),
    source="https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (or Kaggle's celeba-dataset): put "
           "list_attr_celeba.csv and the img_align_celeba/ folder in celeba/",
)
CELEBA_HELD_OUT = 0.2  # the book's validation fraction (seed 42)
CELEBA_EVAL_IMAGES = 5000  # test images the report reads when eval_limit is not set
BOX_SOURCE_IMAGES = 5000  # the book draws the autoencoder's samples in the box of 5,000 test codes


class _ImageAutoencoder(Recipe):
    """What every recipe of this file shares: images as (x, label) pairs, Keras-convention Adam, a
    train and an eval step built on ``terms`` (the loss Tensors of a batch), the test-split report."""

    chapter = 3
    dataset = "fashion-mnist"
    datasets = ("fashion-mnist", "mnist", "digits", "cifar10", "flowers12")

    # -- data -----------------------------------------------------------------------------------

    def image_options(self) -> dict:
        """``load_images`` arguments: zero-pad 28 -> 32 (the book), resize to ``image_size`` otherwise."""
        native = SHAPES[self.dataset][1]
        return {"pad_to": 32 if (native, self.image_size) == (28, 32) else None, "image_size": self.image_size}

    def input_shape(self, role=None):
        return image_shape(self.dataset, **self.image_options())

    def splits(self):
        """The dataset's two splits as arrays (loaded once)."""
        if getattr(self, "_splits", None) is None:
            self._splits = load_images(self.dataset, limit=self.limit, **self.image_options())
        return self._splits

    def load_data(self):
        splits = self.splits()
        return ArrayDataset(splits.x_train, splits.y_train), ArrayDataset(splits.x_test, splits.y_test)

    def test_arrays(self):
        """The report's test images and labels: the test split, cut to ``eval_limit``."""
        splits = self.splits()
        return splits.x_test[:self.eval_limit], splits.y_test[:self.eval_limit]

    def class_names(self):
        return self.splits().classes

    # -- training --------------------------------------------------------------------------------

    def optimizers(self, models):
        return {"optimizer": Adam(models["model"].parameters(), lr=self.lr, eps_convention="keras")}

    def terms(self, model, x) -> dict:
        """The loss Tensors of batch ``x``; ``"loss"`` is the one trained on."""
        raise NotImplementedError

    def train_step(self, models, optimizers):
        model, optimizer = models["model"], optimizers["optimizer"]

        def step(batch):
            optimizer.zero_grad()
            terms = self.terms(model, batch[0])
            terms["loss"].backward()
            optimizer.step()
            return metrics_as_floats(terms)

        return step

    def eval_step(self, models):
        return lambda batch: metrics_as_floats(self.terms(models["model"], batch[0]))

    def check_networks(self, models):
        """Also the loss of a batch of zeros: a reconstruction of another size than the input
        (``--image-size 3``) fails here, before the data is loaded."""
        super().check_networks(models)
        model = models["model"]
        x = zeros(2, *self.input_shape(), dtype=next(iter(model.parameters())).dtype, device=model.device)
        try:
            with evaluation_mode([model]):
                self.terms(model, x)
        except ValueError as error:
            raise ConfigError(f"{self.name}: image_size {self.image_size} does not fit this model on "
                              f"{self.dataset}: {error}") from None

    # -- results ---------------------------------------------------------------------------------

    def sample(self, models, path, n=10):
        """Test images above their reconstructions."""
        images, _ = self.test_arrays()
        return latent.reconstruction_figure(models["model"], images[:n], path)

    def test_losses(self, models) -> dict:
        """The training losses on the test images (``test_loss``, ``test_reconstruction_loss`` ...)."""
        images, labels = self.test_arrays()
        loader = DataLoader(ArrayDataset(images, labels), self.batch_size, device=models["model"].device)
        return {f"test_{name}": value for name, value in evaluate_loader(self.eval_step(models), loader,
                                                                          models.values()).items()}

    def report(self, models, out_dir):
        self.sample(models, self.output(out_dir, "reconstructions.png"))
        return self.test_losses(models)


# --------------------------------------------------------------------------- the book: autoencoder


class BookAutoencoder(_ImageAutoencoder):
    name = "autoencoder"
    title = "convolutional autoencoder, 2-D code (book ch. 3)"
    defaults = dict(epochs=3, batch_size=100, lr=1e-3, latent_dim=2, channels=(32, 64, 128), image_size=32,
                    limit=None, eval_limit=None)

    def build(self):
        return {"model": ae.book_autoencoder(self.input_shape(), self.channels, self.latent_dim)}

    def terms(self, model, x):
        return {"loss": binary_cross_entropy(model(x), x)}  # the mean over every pixel of the batch

    def report(self, models, out_dir):
        """Test loss; reconstructions; the codes coloured by class; decoded samples drawn uniformly in
        the box of 5,000 test codes; a 15×15 grid over that box (the last two for a 2-D code)."""
        model, results = models["model"], super().report(models, out_dir)
        images, labels = self.test_arrays()
        points = latent.codes(model, images[:BOX_SOURCE_IMAGES])
        latent.decoded_figure(model, latent.box_samples(points, 18), self.output(out_dir, "box_samples.png"), nrow=6)
        if self.latent_dim == 2:
            latent.scatter_figure(model, images, labels, self.output(out_dir, "latent_space.png"), self.class_names())
            box = list(zip(points.min(axis=0), points.max(axis=0)))
            latent.grid_figure(model, latent.linear_grid(15, *box), self.output(out_dir, "latent_grid.png"))
        return results


# --------------------------------------------------------------------------- the book: the two VAEs


class VAEFashion(_ImageAutoencoder):
    name = "vae_fashion"
    title = "variational autoencoder, 2-D latent, beta = 500 BCE (book ch. 3)"
    reconstruction = "bce"
    likelihood = "bernoulli"
    report_samples = 18  # the prior samples the book's notebook decodes (30 for the faces)
    defaults = dict(epochs=5, batch_size=100, lr=5e-4, beta=500.0, latent_dim=2, channels=(32, 64, 128),
                    image_size=32, limit=None, eval_limit=None, iwae_k=50, iwae_limit=1000, attribute="")

    def build(self):
        return {"model": vae_models.vae_fashion(self.input_shape(), self.channels, self.latent_dim)}

    def terms(self, model, x):
        return vae_models.vae_loss(model(x), x, self.beta, self.reconstruction)

    def log_likelihood(self):
        """log p(x | z) for the ELBO: Bernoulli pixels here; the faces VAE's Gaussian depends on β."""
        return vae_models.log_likelihood_fn(self.likelihood)

    def sample(self, models, path, n=16):
        """Decoded draws of the prior N(0, I) (the same draws every epoch)."""
        model = models["model"]
        return latent.decoded_figure(model, latent.prior_samples(n, model.latent_dim), path)

    def report(self, models, out_dir):
        """Test losses, test ELBO and IWAE bound (nats per image), how far the sampled codes are from
        N(0, 1) and how many dimensions are active; figures: reconstructions, prior samples, the
        histogram of sampled codes against N(0, 1), interpolations, attribute arithmetic, and for a
        2-D latent the codes by class and the decoded normal-quantile grid."""
        model = models["model"]
        images, labels = self.test_arrays()
        results = self.test_losses(models)
        iwae_count = min(len(images), self.iwae_limit or len(images))
        results.update({f"test_{name}": value for name, value in vae_models.evaluate_vae(
            model, images, self.log_likelihood(), k=self.iwae_k, batch_size=self.batch_size,
            iwae_limit=iwae_count).items()})
        results["iwae_images"] = iwae_count
        latent.reconstruction_figure(model, images[:10], self.output(out_dir, "reconstructions.png"))
        self.sample(models, self.output(out_dir, "prior_samples.png"), n=self.report_samples)
        sampled, means = latent.codes(model, images, sample=True), latent.codes(model, images)
        latent.histogram_figure(sampled, self.output(out_dir, "latent_histograms.png"))
        statistics = latent.latent_statistics(sampled)
        results.update(latent_mean_abs_mean=statistics["mean_abs_mean"], latent_mean_std=statistics["mean_std"],
                       active_dimensions=int(latent.active_dimensions(means).sum()))
        latent.interpolation_figure(model, images[0:10:2], images[1:10:2], self.output(out_dir, "interpolation.png"))
        self.attribute_report(model, images, means, self.has_attribute(labels), out_dir)
        if self.latent_dim == 2:
            latent.scatter_figure(model, images, labels, self.output(out_dir, "latent_space.png"), self.class_names())
            latent.grid_figure(model, latent.normal_grid(15), self.output(out_dir, "latent_grid.png"))
        return results

    def attribute_report(self, model, images, means, has, out_dir) -> None:
        """Latent arithmetic: the attribute vector of ``attribute`` (a class name, or a CelebA
        attribute; ``has`` marks the images that have it) added with factors −3..3 to the codes of five
        images without it.  Skipped when the test images do not include both kinds."""
        if has.all() or not has.any():
            return
        vector = latent.attribute_vector(means, has)
        latent.attribute_figure(model, images[~has][:5], vector, self.output(out_dir, "attribute_arithmetic.png"))

    def check_data(self):
        """The attribute of the end-of-run latent arithmetic must exist (checked before training)."""
        self.attribute_index()

    def attribute_index(self, name: str | None = None) -> int:
        """The position of attribute ``name`` (default: the ``attribute`` setting, else the dataset's
        ``DEFAULT_ATTRIBUTE``) among the class names (CelebA: the CSV's attributes)."""
        name = name or self.attribute or DEFAULT_ATTRIBUTE[self.dataset]
        names = list(self.class_names())
        if name not in names:
            kind, where = ("CelebA attribute", "the CSV") if self.dataset == "celeba" else ("attribute", self.dataset)
            raise ConfigError(f"{self.name}: unknown {kind} {name!r} (--set attribute=...); {where} has "
                              f"{', '.join(names)}")
        return names.index(name)

    def has_attribute(self, labels, name: str | None = None) -> np.ndarray:
        """Which images (by their labels) have attribute ``name`` (default: the ``attribute`` setting,
        else the dataset's ``DEFAULT_ATTRIBUTE``); for class labels, the attribute is a class."""
        return labels == self.attribute_index(name)


class VAEFaces(VAEFashion):
    name = "vae_faces"
    title = "variational autoencoder, 200-D latent, BN + LeakyReLU, beta = 2000 MSE (book ch. 3)"
    dataset = "cifar10"
    datasets = ("cifar10", "flowers12", "celeba", "fashion-mnist", "mnist", "digits")
    reconstruction = "mse"
    likelihood = "gaussian"
    report_samples = 30
    defaults = dict(epochs=10, batch_size=128, lr=5e-4, beta=2000.0, latent_dim=200, channels=(128, 128, 128, 128),
                    image_size=32, limit=None, eval_limit=None, iwae_k=50, iwae_limit=200, attribute="",
                    celeba_dir="")

    def build(self):
        return {"model": vae_models.vae_faces(self.input_shape(), self.channels, self.latent_dim)}

    def log_likelihood(self):
        """The Gaussian whose negative log-likelihood the β-weighted MSE is: variance D/(2β)."""
        pixels = int(np.prod(self.input_shape()))
        return vae_models.log_likelihood_fn("gaussian", vae_models.gaussian_variance(self.beta, pixels))

    # -- CelebA, for those who have it -----------------------------------------------------------------

    def input_shape(self, role=None):
        if self.dataset == "celeba":
            return (3, self.image_size, self.image_size)
        return super().input_shape(role)

    def celeba(self):
        """(train, test) ``ImageFiles`` of a CelebA folder: images resized to ``image_size`` as
        Keras's loader does, scaled to [0, 1] NCHW; targets the ±1 attributes.  The test part is a
        fixed random 20 % (seed 42), as the book's validation subset."""
        if getattr(self, "_celeba", None) is None:
            csv_path = Path(self.celeba_dir) / "list_attr_celeba.csv" if self.celeba_dir else \
                paths.find_files(CELEBA_FILES, download=False)[0]
            folder = csv_path.parent / "img_align_celeba"
            if (folder / "img_align_celeba").is_dir():  # Kaggle's copy nests the folder
                folder = folder / "img_align_celeba"
            everything = AttributeImageFolder(folder, csv_path, image_size=self.image_size)
            order = np.random.default_rng(42).permutation(len(everything))
            held_out = int(round(CELEBA_HELD_OUT * len(order)))
            parts = [ImageFiles([everything.paths[i] for i in part], everything.targets[part], self.image_size,
                                transform=_unit_nchw) for part in (order[held_out:], order[:held_out])]
            self._celeba = (parts[0], parts[1], everything.attributes)
        return self._celeba

    def load_data(self):
        if self.dataset == "celeba":
            return self.celeba()[:2]
        return super().load_data()

    def test_arrays(self):
        if self.dataset != "celeba":
            return super().test_arrays()
        test = self.celeba()[1]
        return test[np.arange(min(len(test), self.eval_limit or CELEBA_EVAL_IMAGES))]

    def class_names(self):
        return self.celeba()[2] if self.dataset == "celeba" else super().class_names()

    def has_attribute(self, labels, name=None):
        if self.dataset != "celeba":
            return super().has_attribute(labels, name)
        return labels[:, self.attribute_index(name)] > 0


def _unit_nchw(images, targets):
    """Resized CelebA batches, (N, H, W, 3) in [0, 255], as (N, 3, H, W) float32 in [0, 1]."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0, targets


# --------------------------------------------------------------------------- Hands-On ML chapter 17


class _HandsOnAutoencoder(_ImageAutoencoder):
    """HOML's Fashion-MNIST autoencoders: 28×28 inputs, MSE (plus a coding penalty where the model
    has one), Adam (Keras ε) 1e-3 in place of Nadam, batch 32."""

    datasets = ("fashion-mnist", "mnist", "digits")
    common = dict(epochs=10, batch_size=32, lr=1e-3, image_size=28, limit=None, eval_limit=None)

    def terms(self, model, x):
        codes = model.encode(x)
        reconstruction = mse_loss(model.decode(codes), x)
        if model.coding_penalty is None:
            return {"loss": reconstruction}
        penalty = model.penalty(codes)
        return {"loss": reconstruction + penalty, "reconstruction_loss": reconstruction, "penalty": penalty}


class StackedAutoencoder(_HandsOnAutoencoder):
    name = "ae_stacked"
    title = "stacked dense autoencoder 784-100-30-100-784 (Hands-On ML ch. 17)"
    defaults = dict(_HandsOnAutoencoder.common, epochs=20, hidden=(100, 30))

    def build(self):
        return {"model": ae.stacked_autoencoder(self.input_shape(), self.hidden)}


class TiedAutoencoder(_HandsOnAutoencoder):
    name = "ae_tied"
    title = "stacked autoencoder with tied weights (decoder = encoder kernels transposed) (HOML ch. 17)"
    defaults = dict(_HandsOnAutoencoder.common, epochs=20, hidden=(100, 30))

    def build(self):
        return {"model": ae.tied_autoencoder(self.input_shape(), self.hidden)}


class ConvAutoencoder(_HandsOnAutoencoder):
    name = "ae_conv"
    title = "convolutional autoencoder, 30-D code, max-pooling encoder (HOML ch. 17)"
    defaults = dict(_HandsOnAutoencoder.common, latent_dim=30)

    def build(self):
        return {"model": ae.conv_autoencoder(self.input_shape(), self.latent_dim)}


class RecurrentAutoencoder(_HandsOnAutoencoder):
    name = "ae_recurrent"
    title = "recurrent (LSTM) autoencoder over image rows (HOML ch. 17)"
    defaults = dict(_HandsOnAutoencoder.common, hidden=100, latent_dim=30)

    def build(self):
        return {"model": ae.recurrent_autoencoder(self.input_shape(), self.hidden, self.latent_dim)}


class DenoisingAutoencoder(_HandsOnAutoencoder):
    name = "ae_denoising"
    title = "denoising autoencoder (dropout or Gaussian noise on the inputs) (HOML ch. 17)"
    defaults = dict(_HandsOnAutoencoder.common, hidden=(100, 30), corruption="dropout", corruption_level=0.5)

    def build(self):
        return {"model": ae.stacked_autoencoder(self.input_shape(), self.hidden, self.corruption,
                                                self.corruption_level)}

    def report(self, models, out_dir):
        """Also: corrupted test images above what the autoencoder makes of them."""
        images, _ = self.test_arrays()
        corrupted = corrupt(images[:10], self.corruption, self.corruption_level)
        plot.reconstructions(corrupted, latent.reconstruct(models["model"], corrupted),
                             self.output(out_dir, "denoised.png"), value_range=(0, 1))
        return super().report(models, out_dir)


def corrupt(images, corruption: str, level: float, seed: int = 0) -> np.ndarray:
    """The training-time corruption, applied to arrays: pixels dropped with probability ``level``
    (survivors kept as they are, for display) or Gaussian noise of standard deviation ``level``."""
    rng = np.random.default_rng(seed)
    if corruption == "dropout":
        return (images * (rng.random(images.shape) >= level)).astype(np.float32)
    return (images + level * rng.standard_normal(images.shape)).astype(np.float32)


class SparseAutoencoder(_HandsOnAutoencoder):
    name = "ae_sparse"
    title = "sparse autoencoder, 300 sigmoid codings with a KL (or L1) sparsity penalty (HOML ch. 17)"
    defaults = dict(_HandsOnAutoencoder.common, hidden=(100, 300), penalty="kl", target=0.1, kl_weight=5e-3,
                    l1_weight=1e-4)

    def build(self):
        if self.penalty == "kl":
            options = {"target": self.target, "weight": self.kl_weight}
        else:
            options = {"weight": self.l1_weight}
        return {"model": ae.sparse_autoencoder(self.input_shape(), self.hidden, self.penalty, **options)}

    def report(self, models, out_dir):
        """Also the sparsity reached: the mean coding activation and the fraction of codings near 0."""
        results = super().report(models, out_dir)
        images, _ = self.test_arrays()
        activations = latent.codes(models["model"], images)
        results.update(mean_coding_activation=float(activations.mean()),
                       fraction_of_codings_below_0_01=float((activations < 0.01).mean()))
        return results


RECIPES = (BookAutoencoder, VAEFashion, VAEFaces, StackedAutoencoder, TiedAutoencoder, ConvAutoencoder,
           RecurrentAutoencoder, DenoisingAutoencoder, SparseAutoencoder)
