"""``skdisent fit``: fit one model on a data set or a file of images, and save it.

The fit checkpoints into ``<output>.checkpoints/`` (unless ``-p checkpoint_dir=...`` names
another folder) and removes it once the model is saved: after Ctrl-C, the same command
run again continues from the last completed epoch.
"""

import ast
import pathlib
import time

from ._common import (
    MODEL_NAMES,
    CommandError,
    add_data_options,
    add_run_options,
    check_device,
    load_data,
    model_name,
    progress,
    save_model,
)

__all__ = ["add_parser", "run"]


def add_parser(commands):
    """Add ``fit`` to the subcommands ``commands``."""
    fit = commands.add_parser(
        "fit", help="fit one model and save it",
        description="Fit a model on a data set or a file of images and save it (a .safetensors "
                    "model file by default; .joblib or .pkl writes a pickle).",
    )
    fit.add_argument("model", type=model_name, help=f"one of {', '.join(MODEL_NAMES)}")
    add_data_options(fit, required=True, size_default_note="default 64")
    fit.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                     help="a model parameter, e.g. -p beta=4 -p epochs_per_step=5 (repeatable)")
    fit.add_argument("-o", "--output", metavar="FILE",
                     help="where to save the model (default <model>.safetensors)")
    fit.add_argument("--quiet", action="store_true", help="no progress lines")
    add_run_options(fit, device=False)
    fit.set_defaults(run=run)


def _parse_params(pairs, cls):
    params = {}
    valid = cls().get_params()
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise CommandError(f"--param expects NAME=VALUE, got {pair!r}")
        if name not in valid:
            raise CommandError(
                f"{cls.__name__} has no parameter {name!r}; its parameters: {', '.join(valid)}"
            )
        try:
            params[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            params[name] = text
    return params


def run(args):
    """Run ``skdisent fit`` with the parsed ``args``."""
    from .. import models
    from ._progress import fit_with_progress

    cls = getattr(models, MODEL_NAMES[args.model])
    model = cls(**_parse_params(args.param, cls))
    if args.threads is not None:
        model.set_params(n_threads=args.threads)
    model._validate_params()  # scikit-learn's check: a bad value fails now, before the data
    check_device(model.device)
    size = args.image_size or 64
    seed = 0 if args.data_seed is None else args.data_seed
    X, _, name = load_data(args, size=size, n_samples=args.n_samples, seed=seed)
    output = pathlib.Path(args.output or f"{args.model}.safetensors")
    epochs = model._n_epochs_total()
    progress(f"skdisent fit: {cls.__name__} on {len(X):,} images of {name} ({X.shape[1:]}), "
             f"{epochs} epochs")
    started = time.perf_counter()
    checkpoints = None if model.checkpoint_dir is not None else f"{output}.checkpoints"
    fit_with_progress(model, X, epochs, quiet=args.quiet, checkpoints=checkpoints, indent="  ")
    progress(f"skdisent fit: done in {time.perf_counter() - started:.0f} s")
    save_model(model, output)
    print(output)
    return 0
