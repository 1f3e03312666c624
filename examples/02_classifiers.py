"""Chapter 2: the book's MLP and CNN classifiers — train, evaluate, and draw the prediction strip.

    python examples/02_classifiers.py --dataset digits --epochs 10                 (offline, a minute or two)
    TINYGDL_DATA=../shared/data python examples/02_classifiers.py --epochs 10      (CIFAR-10, 8,000 / 2,000)

The networks, data, optimizer (Adam 5e-4) and train step come from the zoo recipes (``tinygdl.zoo``),
exactly as ``tinygdl train mlp`` / ``tinygdl train cnn`` run them.  For each model the script prints
the Keras-style summary, trains with a progress bar and validation after every epoch, and writes
into ``--out`` (default ``runs/02_<model>``): ``loss.png`` (loss and accuracy curves),
``predictions.png`` (test images with "pred =" and "act =" under them, as in the book),
``checkpoint.npz`` and ``history.csv``.  The CIFAR-10 offline copy is the 10,000-image test set
(lossy JPEG) split 8,000 / 2,000, so do not expect the book's accuracies.
"""

from __future__ import annotations

import argparse
import os

from tinygdl import zoo
from tinygdl.nn import summary
from tinygdl.zoo.run import train


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="cifar10", help="cifar10 (default), digits, mnist, fashion-mnist")
    parser.add_argument("--models", default="mlp,cnn", help="comma-separated: mlp, cnn")
    parser.add_argument("--epochs", type=int, default=10, help="the book's 10 by default")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs", help="parent folder of the run folders")
    args = parser.parse_args()

    for name in args.models.split(","):
        recipe = zoo.recipe(name, args.dataset)
        summary(recipe.build()["model"], recipe.input_shape())
        result = train(name, args.dataset, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                       out_dir=os.path.join(args.out, f"02_{name}"))
        print(f"{name}: test accuracy {result.report['test_accuracy']:.4f}, "
              f"test loss {result.report['test_loss']:.4f}")
        for path in result.files:
            print(f"  wrote {path}")


if __name__ == "__main__":
    main()
