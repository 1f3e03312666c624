"""Chapter 4: train a GAN of the zoo and watch it learn — a sample grid every N steps, the losses of
both players step by step, and each final sample beside its nearest training image.

    python examples/04_gans.py --model dcgan --dataset digits --image-size 16 --steps 800     (offline, ~1.5 min)
    TINYGDL_DATA=/path/to/data python examples/04_gans.py --model dcgan --image-size 32 --limit 20000 --steps 1200
    TINYGDL_DATA=/path/to/data python examples/04_gans.py --model wgan_gp --image-size 32 --batch-size 64
    python examples/04_gans.py --model cgan --dataset digits --image-size 16 --sample-class 7

The model's recipe (``tinygdl.zoo``) supplies the book's networks, optimizers and training step; this
script drives them with the ``Trainer`` as the book's notebooks do with ``fit``.  Everything lands in
``--out`` (default ``runs/04_<model>``): ``samples/step-NNNNNNN.png``, ``losses.png``,
``nearest.png``, and for ``cgan`` ``classes.png`` (one row per class) or ``class.png``.
"""

from __future__ import annotations

import argparse
import math
import os

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import tinygdl
from tinygdl import zoo
from tinygdl.data import DataLoader
from tinygdl.nn import summary
from tinygdl.training import SampleSaver, Trainer

PLAYER_LOSSES = ("d_loss", "c_loss", "g_loss")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dcgan", choices=("dcgan", "wgan_gp", "cgan", "gan", "wgan"))
    parser.add_argument("--dataset", help="default: the model's (fashion-mnist for dcgan, cifar10 ...)")
    parser.add_argument("--image-size", type=int, help="default: the book's (64 for the convolutional GANs)")
    parser.add_argument("--limit", type=int, help="use only the first N training images")
    parser.add_argument("--batch-size", type=int, help="default: the book's")
    parser.add_argument("--steps", type=int, default=300, help="training steps (generator updates)")
    parser.add_argument("--sample-every", type=int, default=50, help="write a sample grid every N steps")
    parser.add_argument("--sample-class", help="cgan: the class to draw at the end (name or number)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any recipe setting, e.g. alpha_dist=normal, minibatch_std=true, replay=0.5")
    parser.add_argument("--out", help="run folder (default runs/04_<model>)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def recipe_from(args):
    settings = dict(pair.split("=", 1) for pair in args.set)
    for key in ("image_size", "limit"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    return zoo.recipe(args.model, args.dataset, **settings)


def plot_both_players(steps: dict, path: str) -> str:
    """Each player's loss against the step, on one set of axes (the book's loss plot)."""
    figure = Figure(figsize=(7, 3.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for key in PLAYER_LOSSES:
        if key in steps:
            axes.plot(range(1, len(steps[key]) + 1), steps[key], linewidth=0.8, label=key)
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    return path


def main():
    args = parse_args()
    tinygdl.manual_seed(args.seed)
    recipe = recipe_from(args)
    out = args.out or os.path.join("runs", f"04_{args.model}")
    models = recipe.build()
    for role, model in models.items():
        print(f"[{role}]")
        summary(model, recipe.input_shape(role))
    train, _ = recipe.load_data()
    optimizers = recipe.optimizers(models)
    loader = DataLoader(train, args.batch_size or recipe.batch_size, shuffle=True, seed=args.seed)
    steps_per_epoch = min(args.steps, len(loader))
    sampler = SampleSaver(lambda path: recipe.sample(models, path), every_steps=args.sample_every)
    trainer = Trainer(recipe.train_step(models, optimizers), loader, models, optimizers, callbacks=[sampler],
                      out_dir=out, steps_per_epoch=steps_per_epoch, log_steps=True)
    trainer.fit(math.ceil(args.steps / steps_per_epoch))

    print("wrote", plot_both_players(trainer.history.steps, os.path.join(out, "losses.png")))
    with trainer.evaluating():
        report = recipe.report(models, out)
        if args.sample_class is not None:
            settings = {**recipe.overrides, "sample_class": args.sample_class}
            class_recipe = zoo.recipe(args.model, recipe.dataset, **settings)
            print("wrote", class_recipe.sample(models, os.path.join(out, "class.png"), n=16))
    print(", ".join(f"{name}: {value:.4f}" for name, value in report.items()), f"-- pictures in {out}")
    print(WHAT_TO_EXPECT)


WHAT_TO_EXPECT = """What to expect: a GAN's samples get better in jumps, not steadily, and its losses do not say how
good they are (each player's loss depends on the other).  On the offline digits at 16x16, 200 steps
give digit-like blobs; by about 800 steps (1.5 minutes on 2 cores) most samples read as digits
(0, 2, 5, 8, 9 ...), still blurry.  In nearest.png each sample sits beside its nearest training
image: a different image there means the generator is not copying its data.  The book's models
need thousands of steps on the full datasets (TINYGDL_DATA) for the pictures in its chapter 4."""


if __name__ == "__main__":
    main()
