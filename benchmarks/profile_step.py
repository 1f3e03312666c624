"""Profile training steps of any zoo model: where does the time of one step go?

    python benchmarks/profile_step.py cnn                      (the book's settings and default dataset)
    tinygdl bench profile_step dcgan --dataset digits --set image_size=32 --batch-size 32
    python benchmarks/profile_step.py vae_fashion --steps 3 --threads 1

The model is built from its zoo recipe, a batch is drawn from its data, ``--warmup`` steps run
untimed (Numba compilation, allocator warm-up), then ``--steps`` steps run under
``tinygdl.profile()`` and its per-op table is printed (self time, share, total, GFLOP/s).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tinygdl
from tinygdl import zoo
from tinygdl.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, set_threads, thread_report  # noqa: E402


def one_batch(recipe, batch_size: int, seed: int = 0):
    train_data, _ = recipe.load_data()
    return next(iter(DataLoader(train_data, batch_size, shuffle=True, seed=seed)))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=zoo.names())
    parser.add_argument("--dataset", help="dataset (default: the model's; 'digits' works offline for images)")
    parser.add_argument("--batch-size", type=int, help="batch size (default: the book's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    parser.add_argument("--steps", type=int, default=1, help="profiled steps (default 1)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    parser.add_argument("--threads", type=int, help="threads for NumPy's BLAS and Numba")
    parser.add_argument("--rows", type=int, default=25, help="table rows (default 25)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall (default) or cpu: the process's CPU time, for a machine busy with other work")
    args = parser.parse_args(argv)

    if args.threads:
        set_threads(args.threads)
    overrides = dict(pair.split("=", 1) for pair in args.set)
    tinygdl.manual_seed(0)
    recipe = zoo.recipe(args.model, args.dataset, **overrides)
    models = recipe.build()
    step = recipe.train_step(models, recipe.optimizers(models))
    batch = one_batch(recipe, args.batch_size or recipe.batch_size)
    for _ in range(args.warmup):
        step(batch)
    with tinygdl.profile(clock=args.clock) as prof:
        for _ in range(args.steps):
            step(batch)
    print(f"{args.model}: {args.steps} training step(s), dataset {recipe.dataset}, "
          f"batch {args.batch_size or recipe.batch_size}")
    print(thread_report())
    print(prof.table(limit=args.rows))
    print(f"load average (1 min): {load_average()}")


if __name__ == "__main__":
    main()
