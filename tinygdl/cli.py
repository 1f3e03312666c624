"""The ``tinygdl`` command (also ``python -m tinygdl``).

    tinygdl models                          the zoo: book chapter, default dataset, parameter count
    tinygdl summary cnn                     the Keras-style table of a model
    tinygdl train cnn --dataset digits      train, writing checkpoints and PNGs to runs/cnn
    tinygdl sample runs/cnn/checkpoint.npz  samples (or predictions) from a trained model
    tinygdl gradcheck                       gradient checks of every op and layer, as a table
    tinygdl bench overhead                  run a benchmark script (from a source checkout)

Bad arguments and known failures (a missing dataset, a corrupt checkpoint) print one line
starting with ``tinygdl: error:`` and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from . import zoo
from .errors import ConfigError


class UsageError(ConfigError):
    """A mistake in the command line, reported in one line."""


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        print("tinygdl: interrupted", file=sys.stderr)
        return 130
    except (UsageError, ValueError, KeyError, FileNotFoundError, ImportError, OSError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"tinygdl: error: {message}", file=sys.stderr)
        return 2


# --------------------------------------------------------------------------- the sub-commands


def _models(args) -> None:
    rows = []
    for name in zoo.names():
        recipe = zoo.recipe(name)
        models = recipe.build()
        count = sum(m.num_parameters() + sum(b.size for b in m.buffers(persistent_only=True))
                    for m in models.values())
        rows.append((name, str(recipe.chapter), recipe.dataset, f"{count:,}", recipe.title))
    header = ("model", "chapter", "default dataset", "parameters", "what it is")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]
    for row in [header] + rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4])


def _summary(args) -> None:
    from .nn import summary

    recipe = zoo.recipe(args.model, args.dataset, **_overrides(args.set))
    models = recipe.build()
    for role, model in models.items():
        if len(models) > 1:
            print(f"\n[{role}]")
        summary(model, recipe.input_shape(role))


def _train(args) -> None:
    from .zoo.run import train

    overrides = _overrides(args.set)
    if args.image_size is not None:
        overrides["image_size"] = args.image_size
    if args.limit is not None:
        overrides["limit"] = args.limit
    result = train(args.model, args.dataset, epochs=args.epochs, batch_size=args.batch_size, device=args.device,
                   out_dir=args.out, seed=args.seed, resume=args.resume, steps_per_epoch=args.steps_per_epoch,
                   progress=not args.quiet, **overrides)
    for name, value in result.report.items():
        print(f"{name}: {value:.4f}" if isinstance(value, float) else f"{name}: {value}")
    print(f"run folder: {os.path.abspath(result.out_dir)}")
    for path in result.files:
        print(f"  wrote {path}")


def _sample(args) -> None:
    from .zoo.run import sample

    path = sample(args.checkpoint, n=args.n, out=args.out, device=args.device, seed=args.seed,
                  options=_overrides(args.set))
    print(f"wrote {path}")


def _gradcheck(args) -> int:
    from .checks import run_all

    failures = run_all(only=args.only, verbose=True)
    return 1 if failures else 0


def _bench(args) -> int:
    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
    if not os.path.isdir(folder):
        raise UsageError("the benchmark scripts live in the source checkout (benchmarks/), "
                         "which this installation does not have")
    scripts = sorted(f[:-3] for f in os.listdir(folder) if f.endswith(".py") and not f.startswith("_"))
    if args.name not in scripts:
        raise UsageError(f"unknown benchmark {args.name!r}; available: {', '.join(scripts)}")
    return subprocess.call([sys.executable, os.path.join(folder, args.name + ".py"), *args.options])


# --------------------------------------------------------------------------- argument parsing


def _overrides(pairs) -> dict:
    overrides = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--set expects key=value, got {pair!r}")
        overrides[key.replace("-", "_")] = value
    return overrides


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, with errors as one line (and the usage hint) instead of the full usage block."""

    def error(self, message):
        self.exit(2, f"tinygdl: error: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tinygdl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser, required=True)

    p = commands.add_parser("models", help="list the model zoo")
    p.set_defaults(run=_models)

    p = commands.add_parser("summary", help="print a model's Keras-style summary table")
    p.add_argument("model", choices=zoo.names())
    p.add_argument("--dataset", help="the dataset the model is built for (input shape)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting (repeatable)")
    p.set_defaults(run=_summary)

    p = commands.add_parser("train", help="train a zoo model; writes checkpoints and PNGs")
    p.add_argument("model", choices=zoo.names())
    p.add_argument("--dataset", help="dataset name (default: the model's; 'digits' works offline)")
    p.add_argument("--epochs", type=_positive, help="number of epochs (default: the book's)")
    p.add_argument("--batch-size", type=_positive, help="batch size (default: the book's)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--out", help="run folder (default: runs/<model>)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint")
    p.add_argument("--image-size", type=_positive, help="resize images to this size (models that allow it)")
    p.add_argument("--limit", type=_positive, help="use only the first N training examples")
    p.add_argument("--steps-per-epoch", type=_positive, help="stop each epoch after this many steps")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override any setting (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=_train)

    p = commands.add_parser("sample", help="draw samples (or predictions) from a trained checkpoint")
    p.add_argument("checkpoint")
    p.add_argument("-n", type=_positive, default=16, help="how many (default 16)")
    p.add_argument("--out", help="PNG path (default: samples.png beside the checkpoint)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a sampling option of the model (prompt, temperature, steps ...; repeatable)")
    p.set_defaults(run=_sample)

    p = commands.add_parser("gradcheck", help="check the gradients of every op and layer")
    p.add_argument("--only", help="only the checks whose name contains this text")
    p.set_defaults(run=_gradcheck)

    p = commands.add_parser("bench", help="run a benchmark script from benchmarks/")
    p.add_argument("name", help="script name, e.g. overhead, ops, kernels")
    p.add_argument("options", nargs=argparse.REMAINDER, help="options passed to the script")
    p.set_defaults(run=_bench)
    return parser


if __name__ == "__main__":
    sys.exit(main())
