"""Chapter 3: train the book's autoencoder or one of its VAEs, then look at the latent space.

    python examples/03_autoencoders.py --model vae_fashion --dataset digits       (offline, about a minute)
    TINYGDL_DATA=/path/to/data python examples/03_autoencoders.py --model autoencoder
    TINYGDL_DATA=/path/to/data python examples/03_autoencoders.py --model vae_fashion --epochs 5
    TINYGDL_DATA=/path/to/data python examples/03_autoencoders.py --model vae_faces --limit 4000 --epochs 3
    python examples/03_autoencoders.py --model vae_faces --dataset celeba --set celeba_dir=/data/celeba

The model's recipe (``tinygdl.zoo``) supplies the book's network, optimizer and training step; the
``Trainer`` runs them as the book's notebooks run ``fit``.  Then the recipe's report writes the
book's figures (reconstructions, the latent space by class, decoded grids and samples, histograms
against N(0, 1), interpolations, attribute arithmetic) and numbers (test loss; for the VAEs the ELBO
and the importance-weighted bound in nats), and this script adds what the chapter argues with them:

* autoencoder: the mean code of each class, and the path between two class means decoded — the
  plain autoencoder's latent space has gaps and no distribution to sample from;
* VAEs: the codes in probability space (Φ(z): the prior becomes uniform), the bound L_k for
  growing k (it tightens towards log p(x)), the KL of each latent dimension and the active
  dimensions, and one attribute vector per class (or per ``--attributes``).

Everything lands in ``--out`` (default ``runs/03_<model>``).

On ``--dataset digits`` (1,437 small images) the book's batch of 100 gives 14 steps an epoch: after
the book's 3 or 5 epochs the decoder has only learnt the mean image (grey blobs).  There the
defaults become 10 epochs of batch 32 (450 steps), enough for recognisable digits, a latent space
sorted by class and samples that vary; ``--epochs`` and ``--batch-size`` still win.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import tinygdl
from tinygdl import latent, plot, zoo
from tinygdl.data import DataLoader
from tinygdl.models.vae import iwae_bound
from tinygdl.nn import summary
from tinygdl.tensor import Tensor
from tinygdl.training import ModelCheckpoint, SampleSaver, Trainer, evaluation_mode

DIGITS_EPOCHS, DIGITS_BATCH_SIZE = 10, 32  # enough steps on the small offline digits (see the docstring)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="vae_fashion", choices=("autoencoder", "vae_fashion", "vae_faces"))
    parser.add_argument("--dataset", help="default: the model's (fashion-mnist; cifar10 for vae_faces)")
    parser.add_argument("--epochs", type=int, help="default: the book's (10 on digits)")
    parser.add_argument("--batch-size", type=int, help="default: the book's (32 on digits)")
    parser.add_argument("--limit", type=int, help="use only the first N training images")
    parser.add_argument("--image-size", type=int, help="default 32 (the book's)")
    parser.add_argument("--attributes", help="comma-separated classes (or CelebA attributes) for the "
                                             "attribute vectors; default: every class")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any recipe setting")
    parser.add_argument("--out", help="run folder (default runs/03_<model>)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def train(recipe, out: str, epochs: int, seed: int) -> dict:
    """The book's ``fit``: the recipe's step over shuffled batches, the test split as validation, a
    sample PNG and a checkpoint every epoch."""
    train_data, test_data = recipe.load_data()
    models = recipe.build()
    summary(models["model"], recipe.input_shape())
    optimizers = recipe.optimizers(models)
    trainer = Trainer(recipe.train_step(models, optimizers), DataLoader(train_data, recipe.batch_size, shuffle=True,
                                                                        seed=seed),
                      models, optimizers, eval_step=recipe.eval_step(models),
                      val_loader=DataLoader(test_data, recipe.batch_size),
                      callbacks=[SampleSaver(lambda path: recipe.sample(models, path)), ModelCheckpoint()],
                      out_dir=out)
    plot.loss_curves(trainer.fit(epochs), os.path.join(out, "loss.png"))
    return models


def class_means(model, images, labels, names, out: str) -> None:
    """The plain autoencoder: each class's mean code, and the decoded straight path between the
    means of the first two classes (regions between clusters decode to blends or nonsense)."""
    points = latent.codes(model, images)
    for index, name in enumerate(names):
        print(f"  mean code of {name:>12}: {np.round(points[labels == index].mean(axis=0), 2)}")
    means = [points[labels == index].mean(axis=0) for index in (0, 1)]
    path = latent.interpolate(means[0], means[1], steps=10)
    print(f"wrote {latent.decoded_figure(model, path, os.path.join(out, 'between_classes.png'), nrow=10)}")


def tightening_bounds(model, images, likelihood, ks=(1, 5, 50, 200)) -> None:
    """L_k on the same images for growing k: each is a lower bound on log p(x), tighter with k."""
    x = Tensor(images, dtype=model.parameters()[0].dtype)
    with evaluation_mode([model]):
        for k in ks:
            print(f"  L_{k:<4} = {iwae_bound(model, x, k, likelihood).numpy().mean():10.2f} nats per image")


def latent_dimensions(model, images) -> None:
    """The KL of each dimension (the information it carries, in nats) and the active dimensions."""
    with evaluation_mode([model]):
        mu, logvar = (t.numpy() for t in model.encode(Tensor(images, dtype=model.parameters()[0].dtype)))
    kl = (-0.5 * (1 + logvar - mu ** 2 - np.exp(logvar))).mean(axis=0)  # as tinygdl.losses.gaussian_kl, per d
    active = latent.active_dimensions(mu)
    order = np.argsort(kl)[::-1]
    print(f"  KL per dimension (largest first): {np.round(kl[order[:10]], 3)}{' ...' if len(kl) > 10 else ''}")
    print(f"  active dimensions (Var μ > 0.01): {active.sum()} of {len(active)}")


def attribute_vectors(recipe, model, images, labels, names, out: str) -> None:
    """One row per attribute: an image without it, moved along the attribute's vector."""
    points = latent.codes(model, images)
    rows = []
    for name in names:
        has = recipe.has_attribute(labels, name)
        if has.any() and not has.all():
            start = points[~has][:1]
            rows.append(latent.shift_along(start, latent.attribute_vector(points, has), np.arange(-3, 4))[0])
    figure = plot.image_grid(latent.decode(model, np.concatenate(rows)), os.path.join(out, "attribute_vectors.png"),
                             nrow=7, value_range=(0, 1))
    print(f"wrote {figure} (rows: {', '.join(names)}; columns: factors -3 .. +3)")


def main():
    args = parse_args()
    tinygdl.manual_seed(args.seed)
    settings = dict(pair.split("=", 1) for pair in args.set)
    for key in ("image_size", "limit", "batch_size"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    epochs = args.epochs
    if args.dataset == "digits":
        settings.setdefault("batch_size", DIGITS_BATCH_SIZE)
        epochs = epochs or DIGITS_EPOCHS
        print(f"digits: {epochs} epochs of batch {settings['batch_size']} (the book's settings see too few "
              "steps on 1,437 images: only the mean image is learnt)")
    recipe = zoo.recipe(args.model, args.dataset, **settings)
    out = args.out or os.path.join("runs", f"03_{args.model}")
    model = train(recipe, out, epochs or recipe.epochs, args.seed)["model"]

    print("\nThe recipe's report (test split):")
    for name, value in recipe.report({"model": model}, out).items():
        print(f"  {name}: {value:.4f}" if isinstance(value, float) else f"  {name}: {value}")
    images, labels = recipe.test_arrays()
    names = list(recipe.class_names())
    if args.model == "autoencoder":
        class_means(model, images, labels, names, out)
        return
    if model.latent_dim == 2:
        probability = latent.normal_cdf(latent.codes(model, images))
        print(f"wrote {plot.latent_scatter(probability, labels, os.path.join(out, 'latent_space_cdf.png'), names)}")
    print("The importance-weighted bound on 200 test images:")
    tightening_bounds(model, images[:200], recipe.log_likelihood())
    print("The latent dimensions:")
    latent_dimensions(model, images)
    attribute_vectors(recipe, model, images, labels, args.attributes.split(",") if args.attributes else names, out)


if __name__ == "__main__":
    main()
