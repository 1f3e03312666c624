"""The autoencoder family of *Hands-On Machine Learning* (ch. 17), side by side.

    python examples/03_hands_on_autoencoders.py --dataset digits                                  (offline)
    TINYGDL_DATA=/path/to/data python examples/03_hands_on_autoencoders.py --limit 10000 --epochs 5

1. Every zoo entry — stacked, tied weights, convolutional, recurrent, denoising (dropout and
   Gaussian noise), sparse (KL and L1 penalties) — trained with ``tinygdl.zoo.run.train`` (run
   folders under ``--out``, with reconstructions and, for the denoising ones, ``denoised.png``);
   a table of parameter counts and test reconstruction MSE.
2. Greedy layer-wise training: one shallow autoencoder at a time, then stacked.
3. The linear autoencoder and PCA: on a 3-D cloud, the plane the autoencoder learns against the top
   principal plane from NumPy's SVD (principal angles), and both 2-D projections as scatter plots.

The table also says how much the reconstructions differ from one image to the next ("spread": the
per-pixel spread of the reconstructions over the images' own, 1 for a perfect autoencoder).  Near 0
means the model still draws the same picture, the mean image, for every input: what the
convolutional one does for its first few hundred steps, while its 30 codings (the global average of
ReLU feature maps) barely differ between images.  On the 1,437 offline digits the default is 10
epochs per model (450 steps); the table marks a model that has not got past the mean image yet.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import tinygdl
from tinygdl import latent, plot, zoo
from tinygdl.checkpoint import load_checkpoint
from tinygdl.models import autoencoders as ae
from tinygdl.zoo.run import train

VARIANTS = [  # (zoo name, settings, label)
    ("ae_stacked", {}, "stacked 784-100-30"),
    ("ae_tied", {}, "tied weights"),
    ("ae_conv", {}, "convolutional"),
    ("ae_recurrent", {}, "recurrent (LSTM)"),
    ("ae_denoising", {"corruption": "dropout", "corruption_level": 0.5}, "denoising, dropout 0.5"),
    ("ae_denoising", {"corruption": "gaussian", "corruption_level": 0.2}, "denoising, Gaussian 0.2"),
    ("ae_sparse", {"penalty": "kl"}, "sparse, KL to 0.1"),
    ("ae_sparse", {"penalty": "l1"}, "sparse, L1"),
]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion-mnist", choices=("fashion-mnist", "mnist", "digits"))
    parser.add_argument("--epochs", type=int, default=10, help="epochs per model (HOML: 10 to 20)")
    parser.add_argument("--limit", type=int, help="use only the first N training images")
    parser.add_argument("--out", default=os.path.join("runs", "03_hands_on"))
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def family_table(args) -> None:
    print(f"{'model':<26}{'parameters':>12}{'test MSE':>11}{'spread':>8}   test loss (with penalty)")
    for name, settings, label in VARIANTS:
        folder = os.path.join(args.out, f"{name}_{'_'.join(str(v) for v in settings.values()) or 'default'}")
        result = train(name, args.dataset, epochs=args.epochs, out_dir=folder, seed=args.seed, progress=False,
                       limit=args.limit, **settings)
        report = result.report
        mse = report.get("test_reconstruction_loss", report["test_loss"])
        parameters = zoo.build(name, args.dataset, **settings).num_parameters()
        spread = reconstruction_spread(name, settings, args, folder)
        note = "   <- still the mean image: needs more steps (--epochs)" if spread < MEAN_IMAGE_SPREAD else ""
        print(f"{label:<26}{parameters:>12,}{mse:>11.4f}{spread:>8.2f}   {report['test_loss']:.4f}{note}")


MEAN_IMAGE_SPREAD = 0.2  # below this the reconstructions barely depend on the input


def reconstruction_spread(name, settings, args, folder) -> float:
    """How much the reconstructions vary across test images, relative to the images themselves."""
    recipe = zoo.recipe(name, args.dataset, limit=args.limit, **settings)
    model = recipe.build()["model"]
    load_checkpoint(os.path.join(folder, "checkpoint.npz")).restore({"model": model}, rng=False)
    images, _ = recipe.test_arrays()
    images = images[:200]
    return float(latent.reconstruct(model, images).std(axis=0).mean() / images.std(axis=0).mean())


def greedy(args) -> None:
    splits = zoo.recipe("ae_stacked", args.dataset, limit=args.limit).splits()
    model, histories = ae.train_greedy_layerwise(splits.x_train, epochs=args.epochs, seed=args.seed)
    for phase, history in enumerate(histories, start=1):
        print(f"  phase {phase}: MSE {history.history['loss'][0]:.4f} -> {history.history['loss'][-1]:.4f}")
    error = np.mean((latent.reconstruct(model, splits.x_test) - splits.x_test) ** 2)
    print(f"  stacked from the phases, not fine-tuned: test MSE {error:.4f}")


def three_d_cloud(n=200, seed=4):
    """Points near a tilted plane in 3-D, as in HOML's PCA and linear-autoencoder figures."""
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return ((rng.normal(size=(n, 3)) * [3.0, 1.0, 0.1]) @ rotation.T + [1.0, -2.0, 0.5]).astype(np.float32)


def linear_and_pca(args) -> None:
    data = three_d_cloud()
    model, history = ae.train_linear_autoencoder(data, 2)
    pca = latent.principal_subspace(data, 2)
    angles = np.degrees(latent.principal_angles(model.decoder[0].weight.numpy().T, pca))
    centred = data - data.mean(axis=0)
    print(f"  principal angles between the learned plane and PCA's: {np.round(angles, 4)} degrees")
    print(f"  reconstruction MSE: autoencoder {history[-1]:.5f}, "
          f"PCA {np.mean((centred - centred @ pca @ pca.T) ** 2):.5f}")
    codes_path = plot.latent_scatter(latent.codes(model, data), None, os.path.join(args.out, "linear_codings.png"))
    pca_path = plot.latent_scatter(centred @ pca, None, os.path.join(args.out, "pca_projection.png"))
    print(f"  wrote {codes_path} and {pca_path} (the same cloud, up to an invertible linear map)")


def main():
    args = parse_args()
    tinygdl.manual_seed(args.seed)
    print(f"1. The family on {args.dataset}, {args.epochs} epochs each:")
    family_table(args)
    print("\n2. Greedy layer-wise training (784-100 first, then 100-30 on its codes):")
    greedy(args)
    print("\n3. A linear autoencoder trained with MSE finds PCA's subspace:")
    linear_and_pca(args)


if __name__ == "__main__":
    main()
