"""The ``tinygdl`` command (also ``python -m tinygdl``).

    tinygdl models                          the zoo: book chapter, default dataset, parameter count
    tinygdl summary cnn                     the Keras-style table of a model
    tinygdl train cnn --dataset digits      train, writing checkpoints and PNGs to runs/cnn
    tinygdl sample runs/cnn/checkpoint.npz  samples (or predictions) from a trained model
    tinygdl evaluate vae_fashion dcgan      one quality table (FD, KD, precision/recall ...) on the same data
    tinygdl gradcheck                       gradient checks of every op and layer, as a table
    tinygdl bench                           list the benchmark scripts (from a source checkout)
    tinygdl bench overhead                  run one

Errors the user can act on (bad settings, a missing dataset, a corrupt checkpoint, a diverged run,
no CUDA device, out of memory, a full disk) print one line starting with ``tinygdl: error:`` and
exit with status 2, without a traceback; anything else is a bug and keeps its traceback.
``--debug`` (or ``TINYGDL_DEBUG=1``) shows the traceback of every error.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys

from . import zoo
from .errors import ConfigError, TinyGDLError


class UsageError(ConfigError):
    """A mistake in the command line, reported in one line."""


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("TINYGDL_DEBUG", "") not in ("", "0")
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        print("tinygdl: interrupted", file=sys.stderr)
        return 130
    except (TinyGDLError, MemoryError, OSError) as error:  # what a user can act on; anything else is a bug
        if debug:
            raise
        print(f"tinygdl: error: {_one_line(error)}", file=sys.stderr)
        return 2


def _one_line(error: BaseException) -> str:
    if isinstance(error, MemoryError):
        detail = f" ({error})" if str(error) else ""
        return (f"out of memory{detail}; try a smaller --batch-size, --image-size or model "
                "(--set ...), or free memory")
    if isinstance(error, OSError) and not isinstance(error, TinyGDLError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    return " ".join(str(message).split())  # one line, whatever the message


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
    from .backend import keep_freed_host_memory
    from .zoo.run import train

    keep_freed_host_memory()  # reuse freed host memory across steps (TINYGDL_MALLOC=default: off)
    overrides = _overrides(args.set)
    options = {"image_size": args.image_size, "limit": args.limit, "epochs": args.epochs, "batch_size": args.batch_size}
    for key, value in options.items():
        if key in overrides and value is not None and str(overrides[key]) != str(value):
            raise UsageError(f"{key} given twice: --{key.replace('_', '-')} {value} and --set {key}={overrides[key]}")
        if value is not None:
            overrides[key] = value
    epochs = overrides.pop("epochs", None)  # not a recorded setting: it may change on --resume
    if epochs is not None:
        epochs = _positive(str(epochs), "--set epochs")
    result = train(args.model, args.dataset, epochs=epochs, device=args.device,
                   out_dir=args.out, seed=args.seed, resume=args.resume, steps_per_epoch=args.steps_per_epoch,
                   progress=not args.quiet, on_nan=args.on_nan,
                   override_on_resume=_overrides(args.override_on_resume, "--override-on-resume"), **overrides)
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


class _SampleHelp(argparse.Action):
    """``tinygdl sample --help``; after a checkpoint path (``tinygdl sample CKPT --help``) it also
    lists the sampling options of the model in that checkpoint, with their defaults."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.print_help()
        checkpoint = getattr(namespace, "checkpoint", None)
        if checkpoint is None:
            print("\n`tinygdl sample CKPT --help` also lists the sampling options of the model in CKPT.")
        else:
            print("\n" + _sampling_options_help(checkpoint))
        parser.exit()


def _sampling_options_help(checkpoint: str) -> str:
    from .checkpoint import load_checkpoint
    from .zoo.run import checkpoint_recipe

    try:
        recipe = checkpoint_recipe(load_checkpoint(checkpoint))
    except (TinyGDLError, OSError) as error:
        return f"(cannot list the sampling options of {checkpoint}: {_one_line(error)})"
    if not recipe.sample_options:
        return f"{recipe.name} (from {checkpoint}) takes no sampling options (--set key=value)."
    lines = [f"sampling options of {recipe.name} (from {checkpoint}), as --set key=value:"]
    notes = getattr(recipe, "sample_option_help", {})
    for key, default in recipe.sample_options.items():
        lines.append(f"  {key:<14} default {default!r}" + (f"  {notes[key]}" if key in notes else ""))
    return "\n".join(lines)


def _evaluate(args) -> None:
    from .evaluation import IMAGE_MODELS, evaluate

    if args.all:
        names = [name for name in IMAGE_MODELS if args.dataset in zoo.REGISTRY[name].datasets]
        if args.from_checkpoints:
            names = [name for name in names
                     if os.path.exists(os.path.join(args.from_checkpoints, name, "checkpoint.npz"))]
    else:
        names = args.models
    if not names:
        raise UsageError("name the models to evaluate, or give --all")
    if not args.budget_minutes > 0:
        raise UsageError(f"--budget-minutes must be positive, got {args.budget_minutes}")
    overrides = {}
    for key, value in _overrides(args.set).items():
        model, dot, setting = key.partition(".")
        if not dot:
            raise UsageError(f"evaluate --set takes MODEL.KEY=VALUE (e.g. dcgan.image_size=32), got {key!r}")
        overrides.setdefault(model, {})[setting] = value
    print(evaluate(names, args.dataset, args.budget_minutes, args.samples, args.out, args.from_checkpoints,
                   progress=not args.quiet, overrides=overrides))
    sheet = f" and {os.path.join(args.out, 'quality.png')}" if any(name in IMAGE_MODELS for name in names) else ""
    print(f"wrote {os.path.join(args.out, 'quality.md')}{sheet}")


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
    if args.name is None:
        width = max(map(len, scripts))
        print("benchmark scripts (tinygdl bench NAME [options]; NAME --help for each one's options):")
        for name in scripts:
            print(f"  {name:<{width}}  {_first_line(os.path.join(folder, name + '.py'))}")
        return 0
    if args.name not in scripts:
        raise UsageError(f"unknown benchmark {args.name!r}; available: {', '.join(scripts)}")
    return subprocess.call([sys.executable, os.path.join(folder, args.name + ".py"), *args.options])


def _first_line(path: str) -> str:
    """The first line of a script's docstring, read without running it."""
    with open(path, encoding="utf-8") as f:
        docstring = ast.get_docstring(ast.parse(f.read())) or ""
    return docstring.strip().splitlines()[0] if docstring.strip() else ""


# --------------------------------------------------------------------------- argument parsing


def _overrides(pairs, option: str = "--set") -> dict:
    overrides = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{option} expects key=value, got {pair!r}")
        overrides[key.replace("-", "_")] = value
    return overrides


def _positive(text: str, option: str | None = None) -> int:
    error = argparse.ArgumentTypeError if option is None else (lambda message: UsageError(f"{option}: {message}"))
    try:
        value = int(text)
    except ValueError:
        raise error(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise error(f"expected a number of at least 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"a seed is a whole number from 0 to 2**32 - 1, got {value}")
    return value


def _folder(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError('empty path ""')
    return text


class _Parser(argparse.ArgumentParser):
    """argparse, with errors as one line (and the usage hint) instead of the full usage block."""

    def error(self, message):
        self.exit(2, f"tinygdl: error: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tinygdl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show the traceback of every error (or TINYGDL_DEBUG=1)")
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
    p.add_argument("--out", type=_folder, help="run folder (default: runs/<model>; on --resume the checkpoint's)")
    p.add_argument("--seed", type=_seed, help="random seed (default 0)")
    p.add_argument("--resume", metavar="CKPT", help="continue the run recorded in a checkpoint (its model, data "
                   "and settings: repeat nothing; a different value is an error, except --epochs)")
    p.add_argument("--override-on-resume", action="append", metavar="KEY=VALUE",
                   help="with --resume: change a recorded setting on purpose, e.g. lr=1e-4 (repeatable; run.log "
                   "records it)")
    p.add_argument("--on-nan", choices=("stop", "skip-batch", "ignore"), default="stop",
                   help="a non-finite loss: stop (default; the last good checkpoint is kept), skip-batch (undo "
                   "the step), or ignore")
    p.add_argument("--image-size", type=_positive, help="resize images to this size (models that allow it)")
    p.add_argument("--limit", type=_positive, help="use only the first N training examples")
    p.add_argument("--steps-per-epoch", type=_positive, help="stop each epoch after this many steps")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override any setting (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=_train)

    p = commands.add_parser("sample", help="draw samples (or predictions) from a trained checkpoint", add_help=False)
    p.add_argument("-h", "--help", action=_SampleHelp, help="show this help (after CKPT: with the model's options)")
    p.add_argument("checkpoint")
    p.add_argument("-n", type=_positive, default=16, help="how many (default 16)")
    p.add_argument("--out", type=_folder, help="a new PNG path (default: samples-NNN.png beside the checkpoint, "
                   "the next free number; existing files are never overwritten)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a sampling option of the model (prompt, temperature, steps ...; repeatable)")
    p.set_defaults(run=_sample)

    p = commands.add_parser("evaluate", help="one sample-quality table for several models on the same data")
    p.add_argument("models", nargs="*", help="zoo models with an image-quality row (or --all)")
    p.add_argument("--all", action="store_true", help="every model with a row that trains on --dataset")
    p.add_argument("--dataset", default="fashion-mnist", help="the data every model trains on (default fashion-mnist)")
    p.add_argument("--budget-minutes", type=float, default=5.0, help="training time per model (default 5)")
    p.add_argument("--samples", type=_positive, default=1000, help="samples per model (default 1000)")
    p.add_argument("--from-checkpoints", metavar="DIR", help="evaluate DIR/<model>/checkpoint.npz without training")
    p.add_argument("--out", default=os.path.join("runs", "quality"), help="folder for quality.md, quality.png, runs")
    p.add_argument("--set", action="append", metavar="MODEL.KEY=VALUE", help="a model's setting (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=_evaluate)

    p = commands.add_parser("gradcheck", help="check the gradients of every op and layer")
    p.add_argument("--only", help="only the checks whose name contains this text")
    p.set_defaults(run=_gradcheck)

    p = commands.add_parser("bench", help="list the benchmark scripts, or run one (benchmarks/)")
    p.add_argument("name", nargs="?", help="script name, e.g. overhead, ops, kernels (none: list them)")
    p.add_argument("options", nargs=argparse.REMAINDER, help="options passed to the script")
    p.set_defaults(run=_bench)
    return parser


if __name__ == "__main__":
    sys.exit(main())
