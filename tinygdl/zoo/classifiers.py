"""Chapter 2: the MLP and the CNN classifiers (book notebooks ``02_deeplearning/01_mlp`` and ``02_cnn``)."""

from __future__ import annotations

import numpy as np

from .. import plot
from ..data import ArrayDataset
from ..models import classifiers
from ..optim import Adam
from ..training import evaluate, predict
from ..training.supervised import SupervisedSteps, resolve_loss, resolve_metrics
from .images import CLASSES, image_shape, load_images
from .recipe import Recipe


class _Classifier(Recipe):
    chapter = 2
    dataset = "cifar10"
    datasets = ("cifar10", "digits", "mnist", "fashion-mnist")
    # Categorical cross-entropy on the softmax output, Adam 5e-4 (Keras ε), batch 32, 10 epochs.
    common = dict(epochs=10, batch_size=32, lr=5e-4, limit=None)

    def input_shape(self, role=None):
        return image_shape(self.dataset)

    def load_data(self):
        self.splits = load_images(self.dataset, limit=self.limit)
        return (ArrayDataset(self.splits.x_train, self.splits.y_train),
                ArrayDataset(self.splits.x_test, self.splits.y_test))

    def optimizers(self, models):
        return {"optimizer": Adam(models["model"].parameters(), lr=self.lr, eps_convention="keras")}

    def _steps(self, models, optimizers=None):
        return SupervisedSteps(models["model"], resolve_loss("categorical_crossentropy"),
                               resolve_metrics(("accuracy",)), (optimizers or {}).get("optimizer"))

    def train_step(self, models, optimizers):
        return self._steps(models, optimizers).train

    def eval_step(self, models):
        return self._steps(models).evaluate

    def sample(self, models, path, n=10):
        """The book's prediction strip: test images with the predicted and the actual class."""
        splits = getattr(self, "splits", None) or load_images(self.dataset)
        rng = np.random.default_rng(0)
        pick = rng.choice(len(splits.y_test), size=min(n, len(splits.y_test)), replace=False)
        probabilities = predict(models["model"], splits.x_test[pick])
        return plot.prediction_strip(splits.x_test[pick], probabilities.argmax(axis=1), splits.y_test[pick], path,
                                     class_names=splits.classes)

    def report(self, models, out_dir):
        splits = getattr(self, "splits", None) or load_images(self.dataset)
        scores = evaluate(models["model"], splits.x_test, splits.y_test, batch_size=1000)
        self.sample(models, self.output(out_dir, "predictions.png"))
        return {"test_loss": scores["loss"], "test_accuracy": scores["accuracy"]}


class MLP(_Classifier):
    name = "mlp"
    title = "multilayer perceptron classifier (Dense 200-150-10)"
    defaults = dict(_Classifier.common, hidden=(200, 150))

    def build(self):
        c, h, w = self.input_shape()
        return {"model": classifiers.mlp((c, h, w), len(CLASSES[self.dataset]), self.hidden)}


class CNN(_Classifier):
    name = "cnn"
    title = "convolutional classifier (4 conv + BN + LeakyReLU blocks, dropout)"
    defaults = dict(_Classifier.common, channels=(32, 32, 64, 64), dense=128, dropout=0.5)

    def build(self):
        return {"model": classifiers.cnn(self.input_shape(), len(CLASSES[self.dataset]), self.channels,
                                         self.dense, self.dropout)}


RECIPES = (MLP, CNN)
