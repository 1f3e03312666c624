"""Chapter 2 side by side: the book's MLP and CNN trained by tinygdl and by a PyTorch twin.

The twin is ``benchmarks/twins/sequential.py``'s translation of the zoo model.  Both engines get
the same architecture, the same initial weights (copied from tinygdl), the same
data in the same order, the same optimizer (Adam, lr 5e-4, ε 1e-7)
and the same number of epochs.  Dropout masks differ (each engine draws its own), so the two test
accuracies should agree within run-to-run noise, not to the last digit.  Reported: test accuracy
of each and the time per epoch, as a ratio.

    python benchmarks/classifiers.py --dataset cifar10 --epochs 3     (needs TINYGDL_DATA)
    python benchmarks/classifiers.py --dataset digits --epochs 10     (offline)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

import tinygdl
from tinygdl.optim import Adam
from tinygdl.training import evaluate, fit
from tinygdl.zoo.images import load_images

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.twins.classifiers import torch_classifier_step  # noqa: E402
from benchmarks.twins.sequential import torch_sequential  # noqa: E402


def train_torch(torch, twin, splits, epochs, batch_size, seed):
    """The same loop as tinygdl's fit: seeded per-epoch shuffles, clipped categorical CE on probabilities."""
    step = torch_classifier_step(torch, twin)
    x, y = torch.tensor(splits.x_train), torch.tensor(splits.y_train)
    seconds = []
    for epoch in range(epochs):
        order = np.random.default_rng([seed, epoch]).permutation(len(y))
        twin.train()
        start = time.perf_counter()
        for i in range(0, len(order), batch_size):
            batch = torch.tensor(order[i:i + batch_size])
            step(x[batch], y[batch])
        seconds.append(time.perf_counter() - start)
    twin.eval()
    with torch.no_grad():
        predicted = twin(torch.tensor(splits.x_test)).argmax(dim=1).numpy()
    return float(np.mean(predicted == splits.y_test)), seconds


class EpochTimer(tinygdl.training.Callback):
    def __init__(self):
        self.seconds = []

    def on_epoch_begin(self, epoch):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs):
        self.seconds.append(time.perf_counter() - self.start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="cifar10", help="cifar10 (the 8,000/2,000 offline split), digits, ...")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--models", default="mlp,cnn")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import torch

    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))
    torch.set_num_threads(threads)
    splits = load_images(args.dataset)
    print(f"{args.dataset}: {len(splits.y_train)} train / {len(splits.y_test)} test images {splits.shape}, "
          f"{args.epochs} epochs, batch {args.batch_size}, threads {threads}\n")
    rows = []
    for name in args.models.split(","):
        tinygdl.manual_seed(args.seed)
        model = tinygdl.zoo.build(name, args.dataset)
        twin = torch_sequential(torch, model)
        timer = EpochTimer()
        fit(model, splits.x_train, splits.y_train, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
            optimizer=Adam(model.parameters(), lr=5e-4, eps_convention="keras"), callbacks=[timer], verbose=False)
        ours = evaluate(model, splits.x_test, splits.y_test, batch_size=1000)["accuracy"]
        theirs, torch_seconds = train_torch(torch, twin, splits, args.epochs, args.batch_size, args.seed)
        rows.append((name, ours, theirs, np.median(timer.seconds), np.median(torch_seconds)))
    print("| model | tinygdl test acc | PyTorch test acc | tinygdl s/epoch | PyTorch s/epoch | time ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, ours, theirs, t_ours, t_theirs in rows:
        print(f"| {name} | {ours:.4f} | {theirs:.4f} | {t_ours:.2f} | {t_theirs:.2f} | {t_ours / t_theirs:.2f}x |")


if __name__ == "__main__":
    main()
