"""Chapter 5's image models: the book's PixelCNN (notebook ``05_autoregressive/02_pixelcnn``) and
PixelCNN++ with a discretised logistic mixture (``03_pixelcnn_md``).  Networks and likelihoods:
``tinygdl/models/pixelcnn.py``.

* ``pixelcnn``: Fashion-MNIST resized to 16×16 (bilinear, on the 0..255 values), quantised to 4 grey
  levels ``floor(v/64)``; input ``level/4``, target the level; cross-entropy per pixel; Adam 5e-4,
  batch 128, 150 epochs.  Samples in raster order at a temperature (``tinygdl sample CKPT --set
  temperature=0.5``).  Reported: the test cross-entropy in bits per pixel (over 4 values).
* ``pixelcnn_md``: Fashion-MNIST resized to 32×32 (bilinear, *not* rounded, as the book); input
  ``2v/255 − 1``, target ``floor(v)``; loss the negative log-likelihood per image under a mixture of
  5 discretised logistics per pixel; Adam 1e-3, batch 128, 10 epochs, dropout 0.3.  ``--image-size
  28`` trains on the original integer pixels.  Reported: the test NLL in bits per dimension
  (over 256 values).

``--dataset digits`` (scikit-learn's 8×8 digits, upsampled) trains offline; ``mnist`` works too.
``limit`` keeps the first training images, ``eval_limit`` the first test images for the report.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend, data, plot
from ..data import ArrayDataset, DataLoader
from ..models import pixelcnn as pc
from ..optim import Adam
from ..training import evaluate_loader
from ..training.trainer import metrics_as_floats
from .images import _raw_splits
from .recipe import Recipe

BOUNDARY_DECIMALS = 6  # resized values are rounded this far before flooring (float error at a level edge)


def resized_values(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 images (N, H, W) -> float64 (N, 1, size, size) on the 0..255 scale, bilinearly resized
    (half-pixel centres, no antialiasing, as TensorFlow's resize); unchanged when already that size."""
    values = data.to_nchw(images).astype(np.float64)
    return values if values.shape[-1] == size else data.resize(values, size)


class _PixelModel(Recipe):
    """What the two recipes share: the data splits, Adam, the train/eval steps and the test report."""

    chapter = 5
    dataset = "fashion-mnist"
    datasets = ("fashion-mnist", "mnist", "digits")

    def input_shape(self, role=None):
        return (1, self.image_size, self.image_size)

    def arrays(self, images: np.ndarray) -> tuple:
        """(network input float32, integer target uint8) of uint8 images."""
        raise NotImplementedError

    def load_data(self):
        (train, _), (test, _) = _raw_splits(self.dataset)
        train = train if self.limit is None else train[:self.limit]
        test = test if self.eval_limit is None else test[:self.eval_limit]
        return ArrayDataset(*self.arrays(train)), ArrayDataset(*self.arrays(test))

    def optimizers(self, models):
        return {"optimizer": Adam(models["model"].parameters(), lr=self.lr, eps_convention="keras")}

    def loss(self, model, x, target):
        raise NotImplementedError

    def metrics(self, loss) -> dict:
        """The loss and its value in bits (per pixel or per dimension)."""
        raise NotImplementedError

    def train_step(self, models, optimizers):
        model, optimizer = models["model"], optimizers["optimizer"]

        def step(batch):
            optimizer.zero_grad()
            loss = self.loss(model, *batch)
            loss.backward()
            optimizer.step()
            return self.metrics(loss.item())

        return step

    def eval_step(self, models):
        return lambda batch: self.metrics(self.loss(models["model"], *batch).item())

    def report(self, models, out_dir):
        """The test split's loss (the model's NLL) and a grid of ``report_samples`` samples."""
        _, test = self.load_data()
        loader = DataLoader(test, self.batch_size, device=models["model"].device)
        results = {f"test_{k}": v for k, v in evaluate_loader(self.eval_step(models), loader, models.values()).items()}
        self.sample(models, self.output(out_dir, "samples.png"), n=self.report_samples)
        return metrics_as_floats(results)


class PixelCNNRecipe(_PixelModel):
    name = "pixelcnn"
    title = "PixelCNN, masked convolutions, 4 grey levels at 16x16 (book ch. 5)"
    defaults = dict(epochs=150, batch_size=128, lr=5e-4, levels=4, filters=128, blocks=5, image_size=16,
                    limit=None, eval_limit=None, epoch_samples=10, report_samples=16)
    sample_options = dict(temperature=1.0)

    def build(self):
        return {"model": pc.PixelCNN(self.levels, self.filters, self.blocks)}

    def arrays(self, images):
        values = np.round(resized_values(images, self.image_size), BOUNDARY_DECIMALS)
        levels = data.quantize(values, self.levels)
        return (levels / self.levels).astype(np.float32), levels.astype(np.uint8)

    def loss(self, model, x, target):
        return pc.pixelcnn_loss(model(x), target)

    def metrics(self, loss):
        return {"loss": loss, "bits_per_pixel": loss / math.log(2)}

    def sample(self, models, path, n=None, temperature=1.0):
        """``n`` images (default ``epoch_samples``, the book's 10) drawn pixel by pixel at
        ``temperature``, shown as grey levels; none when ``n`` is 0."""
        model, n = models["model"], self.epoch_samples if n is None else n
        if n == 0:
            return None
        levels = pc.sample_pixelcnn(model, n, self.image_size, temperature, device=model.device)
        return plot.image_grid(backend.to_numpy(levels) / (self.levels - 1), path, value_range=(0, 1))


class PixelCNNMixture(_PixelModel):
    name = "pixelcnn_md"
    title = "PixelCNN++ (gated, weight-normed, down/up passes), 5-logistic mixture over 256 values (book ch. 5)"
    defaults = dict(epochs=10, batch_size=128, lr=1e-3, filters=32, num_resnet=1, num_hierarchies=2, mixtures=5,
                    dropout=0.3, image_size=32, limit=None, eval_limit=None, epoch_samples=2,
                    report_samples=16)

    def build(self):
        return {"model": pc.PixelCNNPlusPlus(1, self.filters, self.num_resnet, self.num_hierarchies, self.mixtures,
                                             self.dropout)}

    def arrays(self, images):
        values = resized_values(images, self.image_size)
        target = np.floor(np.round(values, BOUNDARY_DECIMALS))
        return (2 * values / 255 - 1).astype(np.float32), target.astype(np.uint8)

    def loss(self, model, x, target):
        return pc.mixture_nll(model(x), target, self.mixtures)

    def metrics(self, loss):
        return {"loss": loss, "bits_per_dim": loss / (self.image_size ** 2 * math.log(2))}

    def sample(self, models, path, n=None):
        """``n`` images (default ``epoch_samples``: the book draws 2 after every epoch) drawn pixel by
        pixel; none when ``n`` is 0 (1,024 network passes are slow on a CPU)."""
        model, n = models["model"], self.epoch_samples if n is None else n
        if n == 0:
            return None
        values = pc.sample_pixelcnn_plus_plus(model, n, self.image_size, device=model.device)
        return plot.image_grid(backend.to_numpy(values) / 255.0, path, value_range=(0, 1))


RECIPES = (PixelCNNRecipe, PixelCNNMixture)
