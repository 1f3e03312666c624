"""The feature network behind the quality metrics: a classifier trained with tinygdl on the data itself.

FID measures images in the feature space of an Inception network trained on ImageNet; that network
does not fit here (and was never trained on Fashion-MNIST).  tinygdl uses the book's chapter-2 CNN
instead, trained on the labelled images of the dataset the generators learn — Fashion-MNIST or
MNIST at 28x28 for the grey models, CIFAR-10 at 32x32 for the colour ones — and takes its
128 penultimate activations (after the dense layer's batch norm and LeakyReLU) as the features.

Training is deterministic (fixed seeds) and happens once: the weights and the test accuracy are
cached under ``~/.cache/tinygdl/features/`` (``$TINYGDL_CACHE`` moves it), and the accuracy is
reported next to every quality table, so a reader knows how good the "eye" was.

    net = FeatureNetwork.load_or_train("fashion-mnist")
    f_real, f_fake = net.features(real_images), net.features(generated_images)   # (N, 128) each

Images go in as float arrays (N, C, H, W) in [0, 1] of any size: grey images are resized to the
network's size and RGB turned to grey (or grey repeated to RGB) as needed, real and generated alike.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import nn
from .data import ArrayDataset, resize
from .data.paths import cache_dir
from .models.classifiers import cnn
from .optim import Adam
from .tensor import no_grad, tensor
from .training import evaluate, fit

# dataset -> (input shape, training epochs); each network's test accuracy is stored beside its weights
FEATURE_DATASETS = {"fashion-mnist": ((1, 28, 28), 3), "mnist": ((1, 28, 28), 2), "cifar10": ((3, 32, 32), 10),
                    "digits": ((1, 8, 8), 10)}
FEATURE_LAYER = "leaky_relu_dense"  # the CNN's 128 penultimate activations
VERSION = 1


class FeatureNetwork:
    def __init__(self, model: nn.Sequential, dataset: str, test_accuracy: float):
        self.model, self.dataset, self.test_accuracy = model.eval(), dataset, float(test_accuracy)
        self.input_shape = FEATURE_DATASETS[dataset][0]

    # -- building -------------------------------------------------------------------------------

    @classmethod
    def load_or_train(cls, dataset: str, folder=None, progress: bool = True) -> "FeatureNetwork":
        """The cached network for ``dataset`` (in ``folder``), trained and cached first if there is none."""
        if dataset not in FEATURE_DATASETS:
            raise ValueError(f"no feature network for {dataset!r}; available: {', '.join(FEATURE_DATASETS)}")
        folder = Path(folder) if folder is not None else cache_dir() / "features"
        weights, facts = _cache_files(folder, dataset)
        if weights.exists() and facts.exists():
            model = _feature_cnn(FEATURE_DATASETS[dataset][0])
            model.load(weights)
            return cls(model, dataset, json.loads(facts.read_text())["test_accuracy"])
        return cls.train(dataset, progress=progress).save(folder)

    def save(self, folder) -> "FeatureNetwork":
        weights, facts = _cache_files(Path(folder), self.dataset)
        weights.parent.mkdir(parents=True, exist_ok=True)
        self.model.save(weights)
        facts.write_text(json.dumps({"dataset": self.dataset, "test_accuracy": self.test_accuracy}))
        return self

    @classmethod
    def train(cls, dataset: str, epochs: int | None = None, limit: int | None = None,
              progress: bool = True) -> "FeatureNetwork":
        """Train the book's CNN on ``dataset``'s labelled images, deterministically."""
        from . import backend
        from .zoo.images import load_images  # the zoo's image preparation ([0, 1], NCHW)

        shape, default_epochs = FEATURE_DATASETS[dataset]
        splits = load_images(dataset, limit=limit)
        backend.manual_seed(0)
        model = _feature_cnn(shape)
        optimizer = Adam(model.parameters(), lr=5e-4, eps_convention="keras")
        fit(model, ArrayDataset(splits.x_train, splits.y_train), epochs=epochs or default_epochs, batch_size=64,
            optimizer=optimizer, seed=0, verbose=progress)
        model.eval()
        accuracy = evaluate(model, splits.x_test, splits.y_test, batch_size=500)["accuracy"]
        return cls(model, dataset, accuracy)

    # -- using ------------------------------------------------------------------------------------

    def prepare(self, images) -> np.ndarray:
        """Images (N, C, H, W) in [0, 1] -> the network's input shape (channels, then size)."""
        x = np.asarray(images, dtype=np.float32)
        if x.ndim != 4:
            raise ValueError(f"FeatureNetwork: expected images (N, C, H, W), got shape {x.shape}")
        channels, height, width = self.input_shape
        if x.shape[1] == 3 and channels == 1:
            x = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]  # ITU-R BT.601 luma
        elif x.shape[1] == 1 and channels == 3:
            x = np.repeat(x, 3, axis=1)
        if x.shape[2:] != (height, width):
            x = resize(x, (height, width))
        return np.clip(x, 0.0, 1.0)

    def features(self, images, batch_size: int = 500) -> np.ndarray:
        """The penultimate activations (N, 128) of ``images`` (N, C, H, W) in [0, 1], in float64."""
        x = self.prepare(images)
        layers = list(self.model.named_children())
        stop = [name for name, _ in layers].index(FEATURE_LAYER) + 1
        out = []
        with no_grad():
            for start in range(0, len(x), batch_size):
                h = tensor(x[start:start + batch_size])
                for _, layer in layers[:stop]:
                    h = layer(h)
                out.append(h.numpy().astype(np.float64))
        return np.concatenate(out)


def _feature_cnn(shape) -> nn.Sequential:
    """The book's CNN, its batch norms at Keras momentum 0.9 instead of 0.99: the running statistics
    settle within a few dozen steps, so even a short training gives a usable evaluation-mode network."""
    model = cnn(shape)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
            module.momentum = 0.9
    return model


def _cache_files(folder: Path, dataset: str) -> tuple[Path, Path]:
    stem = folder / f"{dataset}-cnn-v{VERSION}"
    return stem.with_suffix(".npz"), stem.with_suffix(".json")


__all__ = ["FEATURE_DATASETS", "FeatureNetwork"]
