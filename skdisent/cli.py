"""The ``skdisent`` command: ``demo``, ``fit``, ``evaluate`` and ``traverse``.

``skdisent demo`` is the library's first picture: generated dSprites, then beta-VAE, VLAE
and pro-VLAE with the same total number of latents and the same number of iterations,
one table of scores and the paper's pictures in an output folder. ``fit``, ``evaluate``
and ``traverse`` do the same steps one at a time on saved models.

Progress goes to standard error, tables to standard output. A mistake (an unknown model,
a missing file, a bad option) ends with one line on standard error and a non-zero exit
status: 2 for a bad command line, 1 for anything else that went wrong, 130 after Ctrl-C.
Set the environment variable ``SKDISENT_TRACEBACK=1`` to see the full traceback instead.
"""

import argparse
import ast
import contextlib
import json
import math
import os
import pathlib
import platform
import re
import sys
import time
import warnings

import numpy as np

__all__ = ["main", "build_parser", "run_demo", "evaluate_model", "reconstruction_error"]

# --------------------------------------------------------------- settings

#: The models the command knows, by the name used on the command line.
MODEL_NAMES = {"betavae": "BetaVAE", "vlae": "VLAE", "provlae": "ProVLAE", "ldf": "LDFModel"}
_DEMO_MODELS = ("betavae", "vlae", "provlae")
_GENERATED = ("dsprites", "shapes3d")
_FILES = ("dsprites-file", "shapes3d-file")

#: ``skdisent demo`` with no options: about 4 minutes on 2 CPU cores (255 s in the README).
DEMO_DEFAULTS = {
    "dataset": "dsprites",
    "image_size": 32,
    "n_samples": 20_000,
    "eval_samples": 10_000,
    "models": list(_DEMO_MODELS),
    "betas": [4.0],
    "seeds": [0],
    "levels": 3,
    "latent_dim": 2,
    "epochs_per_level": 3,
    "batch_size": 64,
    "learning_rate": 1e-3,
    "conv_channels": 16,
    "dense_units": 128,
    "fade_in_steps": None,  # a third of one progressive step's iterations
    "pre_kl_coef": 0.5,
    "precision": "fp32",
    "device": "auto",
    "estimator": "histogram",
    "data_seed": 0,
}

#: ``--quick``: a smoke run of every step in a few seconds (tests, first check of an install).
QUICK = {
    "image_size": 16,
    "n_samples": 512,
    "eval_samples": 512,
    "epochs_per_level": 1,
    "batch_size": 64,
    "conv_channels": 4,
    "dense_units": 16,
}

#: ``--paper``: the pro-VLAE reference's dSprites settings (METHOD.md section 2); a GPU job.
PAPER = {
    "image_size": 64,
    "n_samples": None,  # the full factor grid, 737,280 images
    "eval_samples": None,
    "epochs_per_level": 30,
    "batch_size": 128,
    "learning_rate": 5e-4,
    "conv_channels": 32,
    "dense_units": 256,
    "fade_in_steps": 5000,
    "betas": [1.0],
    "seeds": [0, 1, 2],
    "estimator": "sampling",
}


class CommandError(Exception):
    """A mistake in what the command was asked to do; ends the command with one line."""


# ------------------------------------------------------------ entry point


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, not a usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_float(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return value


def _model_name(text):
    name = text.lower().replace("-", "").replace("_", "")
    if name not in MODEL_NAMES:
        raise argparse.ArgumentTypeError(
            f"unknown model {text!r}; choose from {', '.join(MODEL_NAMES)}"
        )
    return name


def _add_data_options(parser, *, required, size_default_note):
    data = parser.add_mutually_exclusive_group(required=required)
    data.add_argument(
        "--dataset", choices=[*_GENERATED, *_FILES],
        help="generated data set (dsprites, shapes3d: no download), or an official file "
             "(dsprites-file, shapes3d-file: looked for in the data home, see --download)",
    )
    data.add_argument(
        "--images", metavar="FILE",
        help="images in a .npy file, or a .npz file with an 'images' array and optionally "
             "'factors' (uint8 0..255 or floats in [0, 1]; (n, H, W) or (n, C, H, W))",
    )
    parser.add_argument("--n-samples", type=_positive_int, metavar="N",
                        help="number of images to use (default: all of a file; see each command)")
    parser.add_argument("--image-size", type=_positive_int, metavar="PX",
                        help=f"side of generated images ({size_default_note})")
    parser.add_argument("--data-seed", type=int, default=None, metavar="SEED",
                        help="seed of the generated images (default 0)")
    parser.add_argument("--download", action="store_true",
                        help="download an official file that is missing (dsprites-file, shapes3d-file)")


def build_parser():
    """The command line of ``skdisent``.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    parser = _Parser(
        prog="skdisent",
        description="Disentangled representation learning: beta-VAE, VLAE and pro-VLAE as "
                    "scikit-learn estimators. Start with `skdisent demo`.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"skdisent {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = commands.add_parser(
        "demo", help="compare beta-VAE, VLAE and pro-VLAE on generated dSprites: table and pictures",
        description="Fit beta-VAE, VLAE and pro-VLAE with the same total number of latents and "
                    "the same number of iterations, print one table (reconstruction error, MIG, "
                    "MIG-sup, FactorVAE score, training time) and write the pictures and "
                    "results.json to the output folder. The defaults take about 4 minutes on 2 "
                    "CPU cores; --paper uses the pro-VLAE paper's settings (a GPU job).",
    )
    demo.add_argument("-o", "--output", default="skdisent_output", metavar="DIR",
                      help="folder for the pictures and results.json (default skdisent_output)")
    preset = demo.add_mutually_exclusive_group()
    preset.add_argument("--quick", action="store_true",
                        help="tiny settings: checks that every step runs, in seconds (scores mean nothing)")
    preset.add_argument("--paper", action="store_true",
                        help="the reference's dSprites settings: 64x64, the full grid, 30 epochs "
                             "per level, 3 seeds, MIG by sampling on the full grid")
    _add_data_options(demo, required=False, size_default_note="default 32")
    demo.add_argument("--eval-samples", type=_positive_int, metavar="N",
                      help="fresh images the scores are measured on (default 10000)")
    demo.add_argument("--models", nargs="+", type=_model_name, metavar="MODEL",
                      help="models to compare (default: betavae vlae provlae)")
    demo.add_argument("--betas", nargs="+", type=_non_negative_float, metavar="BETA",
                      help="KL weights; every model is fitted with each (default 4)")
    demo.add_argument("--seeds", nargs="+", type=int, metavar="SEED",
                      help="random states; every setting is fitted with each (default 0)")
    demo.add_argument("--levels", type=_positive_int, help="levels of VLAE and pro-VLAE (default 3)")
    demo.add_argument("--latent-dim", type=_positive_int,
                      help="latents per level (default 2); beta-VAE gets levels x latent-dim")
    demo.add_argument("--epochs-per-level", type=_positive_int, metavar="E",
                      help="epochs of each progressive step; VLAE and beta-VAE run levels x E "
                           "epochs, the same number of iterations (default 3)")
    demo.add_argument("--batch-size", type=_positive_int, help="default 64")
    demo.add_argument("--learning-rate", type=float, help="default 1e-3 (the reference: 5e-4)")
    demo.add_argument("--conv-channels", type=_positive_int, help="default 16 (the reference: 32)")
    demo.add_argument("--dense-units", type=_positive_int, help="default 128 (the reference: 256)")
    demo.add_argument("--fade-in-steps", type=int, metavar="N",
                      help="pro-VLAE fade-in iterations (default: a third of one step)")
    demo.add_argument("--pre-kl-coef", type=_non_negative_float, help="pro-VLAE pre-KL weight (default 0.5)")
    demo.add_argument("--precision", choices=["fp32", "bf16"], help="default fp32")
    demo.add_argument("--device", help="torch device (default auto: a GPU when there is one)")
    demo.add_argument("--estimator", choices=["histogram", "sampling"],
                      help="MIG estimator: histogram on the evaluation images (disentanglement_lib; "
                           "default) or sampling on the full factor grid (the pro-VLAE reference)")
    demo.add_argument("--save-models", action="store_true",
                      help="also save every fitted model in the output folder")

    fit = commands.add_parser(
        "fit", help="fit one model and save it",
        description="Fit a model on a data set or a file of images and save it (a .safetensors "
                    "model file by default; .joblib or .pkl writes a pickle).",
    )
    fit.add_argument("model", type=_model_name, help=f"one of {', '.join(MODEL_NAMES)}")
    _add_data_options(fit, required=True, size_default_note="default 64")
    fit.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                     help="a model parameter, e.g. -p beta=4 -p epochs_per_step=5 (repeatable)")
    fit.add_argument("-o", "--output", metavar="FILE",
                     help="where to save the model (default <model>.safetensors)")
    fit.add_argument("--quiet", action="store_true", help="no progress lines")

    evaluate = commands.add_parser(
        "evaluate", help="score a saved model on a data set with ground-truth factors",
        description="Score a saved model: reconstruction error, MIG, MIG-sup and FactorVAE "
                    "score, printed as a table and written as JSON.",
    )
    evaluate.add_argument("model_file", metavar="MODEL_FILE")
    _add_data_options(evaluate, required=True, size_default_note="default: the model's")
    evaluate.add_argument("--estimator", choices=["histogram", "sampling"], default="histogram",
                          help="MIG estimator (sampling uses the full factor grid of a generated set)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the FactorVAE votes")
    evaluate.add_argument("-o", "--output", metavar="FILE",
                          help="JSON file for the scores (default <MODEL_FILE>.scores.json)")

    traverse = commands.add_parser(
        "traverse", help="draw a saved model's pictures",
        description="Draw a saved model's latent traversals by level, samples per level, "
                    "reconstructions and (pro-VLAE) information flow. Without data the "
                    "traversals start from the prior mean and need no images.",
    )
    traverse.add_argument("model_file", metavar="MODEL_FILE")
    _add_data_options(traverse, required=False, size_default_note="default: the model's")
    traverse.add_argument("--index", type=int, default=0, help="image whose code is the reference")
    traverse.add_argument("--n-values", type=_positive_int, default=9, help="values per traversal")
    traverse.add_argument("--limit", type=float, default=2.5, help="traversal range [-limit, limit]")
    traverse.add_argument("-o", "--output", default="skdisent_pictures", metavar="DIR",
                          help="folder for the pictures (default skdisent_pictures)")
    return parser


def main(argv=None):
    """Run the ``skdisent`` command.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments after the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success, 1 after an error (one line on standard error), 130 after Ctrl-C.
        Command-line mistakes exit with status 2 from the parser.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    from .base import NonFiniteLossError
    from .io import ModelFileError

    commands = {"demo": _demo_command, "fit": _fit_command, "evaluate": _evaluate_command,
                "traverse": _traverse_command}
    try:
        return commands[args.command](args) or 0
    except KeyboardInterrupt:
        print(f"skdisent {args.command}: interrupted", file=sys.stderr)
        return 130
    except (CommandError, ModelFileError, NonFiniteLossError, ValueError, TypeError, OSError,
            ImportError, MemoryError) as error:
        if os.environ.get("SKDISENT_TRACEBACK"):
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        if isinstance(error, FileNotFoundError) and error.filename and error.filename not in message:
            message = f"{message}: {error.filename}"
        print(f"skdisent {args.command}: error: {message}", file=sys.stderr)
        return 1


# ------------------------------------------------------------------- data


def _progress(message):
    print(message, file=sys.stderr, flush=True)


def _read_images_file(path, need_factors):
    path = pathlib.Path(path)
    if not path.is_file():
        raise CommandError(f"no such file: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise CommandError(f"{path} is not a .npy or .npz file of arrays ({error})") from None
    factors = None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            names = set(loaded.files)
            key = next((k for k in ("images", "X", "imgs") if k in names), None)
            if key is None:
                raise CommandError(
                    f"{path} holds {sorted(names)}; it needs an array named 'images'"
                )
            images = loaded[key]
            if "factors" in names:
                factors = loaded["factors"]
    else:
        images = loaded
    if images.ndim not in (3, 4):
        raise CommandError(
            f"{path}: images must be (n, H, W) or (n, C, H, W); got an array of shape {images.shape}"
        )
    if need_factors and factors is None:
        raise CommandError(f"{path} has no 'factors' array; scores need ground-truth factors")
    return images, factors


def _load_data(args, *, size, n_samples, seed, need_factors=False):
    """``(images, factors, name)`` from ``--dataset`` or ``--images``."""
    if getattr(args, "images", None):
        images, factors = _read_images_file(args.images, need_factors)
        if n_samples is not None and n_samples < len(images):
            keep = np.sort(np.random.default_rng(seed).choice(len(images), n_samples, replace=False))
            images = images[keep]
            factors = None if factors is None else factors[keep]
        return images, factors, pathlib.Path(args.images).name
    from . import datasets

    name = args.dataset
    if name in _GENERATED:
        make = {"dsprites": datasets.make_dsprites, "shapes3d": datasets.make_shapes3d}[name]
        images, factors = make(n_samples, size=size, random_state=seed, return_X_y=True)
        return images, factors, name
    load = {"dsprites-file": datasets.load_dsprites, "shapes3d-file": datasets.load_shapes3d}[name]
    images, factors = load(download_if_missing=args.download, return_X_y=True)
    if size is not None and images.shape[-1] != size:
        raise CommandError(
            f"{name} holds {images.shape[-1]}x{images.shape[-2]} images, not {size}x{size}; "
            f"use the generated {name.split('-')[0]} for other sizes"
        )
    if n_samples is not None and n_samples < len(images):
        keep = np.sort(np.random.default_rng(seed).choice(len(images), n_samples, replace=False))
        images, factors = images[keep], factors[keep]
    return images, factors, name


def _model_image_size(model):
    shape = getattr(model, "input_shape_", None)
    if shape is None or len(shape) < 2:
        raise CommandError(
            "the model was fitted on flat rows, not images; give its data with --images"
        )
    return int(shape[-1])


# --------------------------------------------------------------- progress


class _EpochLines:
    """A text stream that turns the models' verbose epoch records into short progress lines.

    The models print one ``[Model] {record}`` line per epoch when ``verbose`` is set;
    this prints ``epoch 3/9  step 1  recon 45.21  KL 0.02 1.31 4.50  12.3 s`` on
    standard error instead, and other lines as they are.
    """

    _LINE = re.compile(r"^\[(\w+)\] (\{.*\})$")

    def __init__(self, total_epochs, indent="    "):
        self.total = total_epochs
        self.indent = indent
        self.pending = ""

    def write(self, text):
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if line.strip():
                _progress(self.indent + self._format(line))
        return len(text)

    def flush(self):
        sys.stderr.flush()

    def _format(self, line):
        match = self._LINE.match(line)
        if match is None:
            return re.sub(r"^\[\w+\] ", "", line)
        try:
            record = ast.literal_eval(match.group(2))
        except (ValueError, SyntaxError):
            return line
        parts = [f"epoch {record.get('epoch', '?')}/{self.total}"]
        if "step" in record:
            parts.append(f"step {record['step']}")
        if "reconstruction" in record:
            parts.append(f"recon {record['reconstruction']:.2f}")
        kls = [record[k] for k in sorted(k for k in record if re.fullmatch(r"kl_\d+", k))]
        if kls:
            parts.append("KL " + " ".join(f"{v:.2f}" for v in kls))
        if "time" in record:
            parts.append(f"{record['time']:.1f} s")
        return "  ".join(parts)


@contextlib.contextmanager
def _notes(indent="    "):
    """Show the warnings raised inside as one-line notes on standard error."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for message in dict.fromkeys(" ".join(str(w.message).split()) for w in caught):
        _progress(f"{indent}note: {message}")


def _fit_with_progress(model, X, total_epochs, quiet=False):
    if quiet:
        with _notes():
            model.fit(X)
        return
    model.set_params(verbose=1)
    try:
        with _notes(), contextlib.redirect_stdout(_EpochLines(total_epochs)):
            model.fit(X)
    finally:
        model.set_params(verbose=0)


# ----------------------------------------------------------------- scores


def reconstruction_error(model, X, *, batch_size=1024):
    """Mean binary cross-entropy per image between images and their reconstructions, in nats.

    Each image is encoded to its posterior mean and decoded; the error is the negative
    Bernoulli log-likelihood of the image under the decoded pixel probabilities, summed
    over pixels and averaged over images: the reconstruction error of the pro-VLAE
    paper's Fig. 2. It is a number per image, so it grows with the image size.

    Parameters
    ----------
    model : fitted skdisent model
        Any model with ``transform`` and ``inverse_transform``.
    X : array-like in the layout ``model`` was fitted on
        ``uint8`` images (0..255) or floats in [0, 1].
    batch_size : int, default=1024
        Images per chunk (bounds the memory used).

    Returns
    -------
    error : float
        Nats per image; lower is better.
    """
    X = np.asarray(X)
    scale = 1.0 / 255.0 if X.dtype == np.uint8 else 1.0
    eps = 1e-6
    total = 0.0
    for start in range(0, len(X), batch_size):
        chunk = X[start:start + batch_size]
        target = chunk.astype(np.float64) * scale
        probs = np.clip(model.inverse_transform(model.transform(chunk)).astype(np.float64),
                        eps, 1.0 - eps)
        nll = -(target * np.log(probs) + (1.0 - target) * np.log1p(-probs))
        total += float(nll.reshape(len(chunk), -1).sum())
    return total / len(X)


def _posteriors(model, X, batch_size=1024):
    """Posterior means and log-variances ``(n, n_components)`` of a ladder model."""
    if not hasattr(model, "level_slices"):
        raise CommandError(f"the sampling estimator needs a ladder model, not {type(model).__name__}")
    source, device = model._fitted_source(X)
    return model._posterior_parameters(source.batches(device, batch_size), device, len(source))


def evaluate_model(model, X, factors, *, estimator="histogram", sampling_factors=None,
                   random_state=0):
    """Reconstruction error and disentanglement scores of a fitted model.

    Parameters
    ----------
    model : fitted skdisent model
    X : array-like in the layout ``model`` was fitted on
        Evaluation images.
    factors : ndarray of shape (n_samples, n_factors)
        Their ground-truth factor classes.
    estimator : {"histogram", "sampling"}, default="histogram"
        MIG and MIG-sup by :func:`skdisent.metrics.mig` and
        :func:`~skdisent.metrics.mig_sup` (20 bins, every factor), or by
        :func:`~skdisent.metrics.mig_sampling` (``X`` should then be a full factor grid).
    sampling_factors : array-like of int, default=None
        Columns of ``factors`` the sampling estimator scores (the reference leaves
        dSprites' shape out); all when None.
    random_state : int, default=0
        Seeds the FactorVAE votes and the sampling estimator.

    Returns
    -------
    scores : dict
        ``reconstruction_error`` (nats per image), ``mig``, ``mig_sup``,
        ``factor_vae_score``, ``n_active`` (latents whose posterior mean varies by more
        than 0.01) and ``factor_vae_batch_size`` (64, or the rarest factor value's
        count when the evaluation set is too small for 64).
    """
    from . import metrics

    codes = model.transform(X)
    scores = {"reconstruction_error": reconstruction_error(model, X)}
    if estimator == "sampling":
        means, logvars = _posteriors(model, X)
        columns = slice(None) if sampling_factors is None else list(sampling_factors)
        result = metrics.mig_sampling(means, logvars, factors[:, columns], random_state=random_state)
        scores["mig"], scores["mig_sup"] = result["mig"], result["mig_sup"]
    else:
        scores["mig"] = metrics.mig(codes, factors)
        scores["mig_sup"] = metrics.mig_sup(codes, factors)
    pool = slice(None)
    if len(codes) > _FACTOR_VAE_POOL:  # a full grid: the votes need a pool, not every image
        pool = np.sort(np.random.default_rng(random_state).choice(len(codes), _FACTOR_VAE_POOL,
                                                                  replace=False))
    batch = min(64, min(int(np.unique(c, return_counts=True)[1].min()) for c in factors[pool].T))
    scores["factor_vae_score"] = (
        metrics.factor_vae_score(codes[pool], factors[pool], batch_size=batch,
                                 random_state=random_state)
        if batch >= 2 else float("nan")
    )
    scores["factor_vae_batch_size"] = batch
    scores["n_active"] = int(len(metrics.active_units(codes)))
    return scores


_FACTOR_VAE_POOL = 50_000

# ------------------------------------------------------------------ table


_COLUMNS = [
    ("model", "model", "{}"),
    ("beta", "beta", "{:g}"),
    ("seed", "seed", "{}"),
    ("reconstruction_error", "recon. error", "{:.2f}"),
    ("mig", "MIG", "{:.3f}"),
    ("mig_sup", "MIG-sup", "{:.3f}"),
    ("factor_vae_score", "FactorVAE", "{:.3f}"),
    ("time_s", "time (s)", "{:.0f}"),
]


def format_table(records):
    """The results as an aligned text table, one row per record.

    Parameters
    ----------
    records : list of dict
        Records with (some of) the keys ``model``, ``beta``, ``seed``,
        ``reconstruction_error``, ``mig``, ``mig_sup``, ``factor_vae_score``, ``time_s``.

    Returns
    -------
    table : str
    """
    columns = [c for c in _COLUMNS if any(c[0] in r for r in records)]
    rows = [[title for _, title, _ in columns]]
    for record in records:
        row = []
        for key, _, fmt in columns:
            value = record.get(key)
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            row.append("-" if missing else fmt.format(value))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _json_ready(value):
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_json(path, document):
    path = pathlib.Path(path)
    path.write_text(json.dumps(_json_ready(document), indent=2) + "\n")
    return path


# ------------------------------------------------------------------- demo


def _demo_settings(args):
    settings = dict(DEMO_DEFAULTS)
    if args.quick:
        settings.update(QUICK)
    if args.paper:
        settings.update(PAPER)
    for key in list(DEMO_DEFAULTS):
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    if args.images:
        raise CommandError("the demo needs ground-truth factors; use --dataset (the evaluate "
                           "command scores a model on a file of images with factors)")
    if settings["estimator"] == "sampling" and settings["dataset"] not in _GENERATED:
        raise CommandError("--estimator sampling needs a generated data set (its full factor grid)")
    settings["models"] = list(dict.fromkeys(settings["models"]))
    unknown = [m for m in settings["models"] if m not in _DEMO_MODELS]
    if unknown:
        raise CommandError(f"the demo compares {', '.join(_DEMO_MODELS)}; not {', '.join(unknown)}")
    if settings["n_samples"] is not None and settings["n_samples"] < 2 * settings["batch_size"]:
        raise CommandError(
            f"--n-samples {settings['n_samples']} is less than two batches of "
            f"{settings['batch_size']}; use more images or a smaller --batch-size"
        )
    return settings


def _demo_model(name, beta, seed, settings, n_samples):
    from . import VLAE, BetaVAE, ProVLAE

    levels, latent_dim, epochs = settings["levels"], settings["latent_dim"], settings["epochs_per_level"]
    common = {
        "beta": beta,
        "batch_size": settings["batch_size"],
        "learning_rate": settings["learning_rate"],
        "conv_channels": settings["conv_channels"],
        "dense_units": settings["dense_units"],
        "precision": settings["precision"],
        "device": settings["device"],
        "random_state": seed,
    }
    if name == "betavae":
        return BetaVAE(n_components=levels * latent_dim, n_epochs=levels * epochs, depth=levels,
                       **common)
    if name == "vlae":
        return VLAE(levels, latent_dim, n_epochs=levels * epochs, **common)
    fade_in_steps = settings["fade_in_steps"]
    if fade_in_steps is None:
        fade_in_steps = max(1, (n_samples // settings["batch_size"]) * epochs // 3)
    return ProVLAE(levels, latent_dim, epochs_per_step=epochs, fade_in_steps=fade_in_steps,
                   pre_kl_coef=settings["pre_kl_coef"], **common)


def _run_label(name, beta, seed, settings):
    label = MODEL_NAMES[name]
    if len(settings["betas"]) > 1:
        label += f" beta={beta:g}"
    if len(settings["seeds"]) > 1:
        label += f" seed={seed}"
    return label


def _file_stem(name, beta, seed, settings):
    stem = name
    if len(settings["betas"]) > 1:
        stem += f"_beta{beta:g}"
    if len(settings["seeds"]) > 1:
        stem += f"_seed{seed}"
    return stem


def _demo_data(settings):
    """Training images, and evaluation images with their factors."""
    size, dataset = settings["image_size"], settings["dataset"]
    data_args = argparse.Namespace(dataset=dataset, images=None, download=False)
    if dataset in _FILES:  # one file, read once; both sets drawn from it
        images, factors, _ = _load_data(data_args, size=size, n_samples=None, seed=0)
        order = np.random.default_rng(settings["data_seed"]).permutation(len(images))
        evaluation = order[-(settings["eval_samples"] or len(images)):]
        return images[order[: settings["n_samples"] or len(images)]], images[evaluation], factors[evaluation]
    X, _, _ = _load_data(data_args, size=size, n_samples=settings["n_samples"],
                         seed=settings["data_seed"])
    if settings["estimator"] == "sampling":  # the full factor grid
        X_eval, factors_eval, _ = _load_data(data_args, size=size, n_samples=None, seed=0)
    else:
        X_eval, factors_eval, _ = _load_data(data_args, size=size, n_samples=settings["eval_samples"],
                                             seed=settings["data_seed"] + 1)
    return X, X_eval, factors_eval


def run_demo(settings, output, *, save_models=False):
    """Fit, score and picture the demo's models; return the results document.

    Parameters
    ----------
    settings : dict
        :data:`DEMO_DEFAULTS` with any changes (what ``skdisent demo``'s options set).
    output : str or path-like
        Folder for the pictures, ``results.json`` and (``save_models``) the models.
    save_models : bool, default=False
        Save every fitted model as ``<model>.safetensors`` in ``output``.

    Returns
    -------
    document : dict
        What ``results.json`` holds: ``settings``, ``environment``, ``results`` (one
        record per fit: model, beta, seed, scores, time, iterations, information per
        level), ``table`` and ``pictures``.
    """
    import torch

    from . import plotting
    from .io import save

    started = time.perf_counter()
    output = pathlib.Path(output)
    output.mkdir(parents=True, exist_ok=True)
    size, dataset = settings["image_size"], settings["dataset"]
    n_text = "the full grid of" if settings["n_samples"] is None else f"{settings['n_samples']:,}"
    _progress(f"skdisent demo: {n_text} {dataset} images of {size}x{size} ...")
    X, X_eval, factors_eval = _demo_data(settings)
    sampling_factors = list(range(1, factors_eval.shape[1])) if dataset.startswith("dsprites") else None

    runs = [(m, b, s) for m in settings["models"] for b in settings["betas"] for s in settings["seeds"]]
    total_epochs = settings["levels"] * settings["epochs_per_level"]
    iterations = (len(X) // settings["batch_size"]) * total_epochs
    results, fitted = [], {}
    for i, (name, beta, seed) in enumerate(runs):
        label = _run_label(name, beta, seed, settings)
        model = _demo_model(name, beta, seed, settings, len(X))
        _progress(f"[{i + 1}/{len(runs)}] {label}: {total_epochs} epochs of {len(X):,} images "
                  f"(about {iterations:,} iterations)")
        fit_started = time.perf_counter()
        _fit_with_progress(model, X, total_epochs)
        seconds = time.perf_counter() - fit_started
        with _notes():
            scores = evaluate_model(model, X_eval, factors_eval, estimator=settings["estimator"],
                                    sampling_factors=sampling_factors, random_state=0)
            information = _information_per_level(model, X_eval)
        record = {"model": MODEL_NAMES[name], "beta": beta, "seed": seed, **scores,
                  "time_s": seconds, "n_iterations": int(model.n_steps_),
                  "latent_dims": list(model.latent_dims_), "information_per_level": information}
        if hasattr(model, "information_per_step_"):
            record["information_per_step"] = model.information_per_step_.tolist()
        results.append(record)
        stem = _file_stem(name, beta, seed, settings)
        fitted[stem] = (label, model)
        _progress(f"    done in {seconds:.0f} s: recon. error {scores['reconstruction_error']:.2f}, "
                  f"MIG {scores['mig']:.3f}, MIG-sup {scores['mig_sup']:.3f}, "
                  f"FactorVAE {scores['factor_vae_score']:.3f}")
        if save_models:
            save(model, output / f"{stem}.safetensors")

    _progress(f"skdisent demo: drawing the pictures in {output}/ ...")
    pictures = []
    reference = X_eval[:2000]
    with _notes():
        for stem, (label, model) in fitted.items():
            pictures.append(output / f"traversals_{stem}.png")
            plotting.plot_traversals(model, reference, path=pictures[-1])
            pictures.append(output / f"samples_per_level_{stem}.png")
            plotting.plot_samples_per_level(model, reference, path=pictures[-1])
            if hasattr(model, "information_per_step_") and len(model.information_per_step_):
                pictures.append(output / f"information_flow_{stem}.png")
                plotting.plot_information_flow(model, path=pictures[-1])
        pictures.append(output / "reconstructions.png")
        plotting.plot_reconstructions({label: m for label, m in fitted.values()}, X_eval,
                                      path=pictures[-1])
        pictures.append(output / "score_vs_reconstruction.png")
        plotting.plot_score_vs_reconstruction(results, path=pictures[-1])

    table = format_table(results)
    document = {
        "settings": {**settings, "n_train": len(X), "n_eval": len(X_eval),
                     "iterations_per_model": iterations},
        "environment": {
            "skdisent": _version(), "torch": torch.__version__, "python": platform.python_version(),
            "device": str(next(model.network_.parameters()).device),
            "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        },
        "results": results,
        "table": table,
        "pictures": [p.name for p in pictures],
        "total_time_s": time.perf_counter() - started,
    }
    _write_json(output / "results.json", document)
    return document


def _version():
    from . import __version__

    return __version__


def _information_per_level(model, X):
    """``I(x; z_l)`` per level of a ladder model on (at most 2,048 of) ``X``, in nats."""
    from .metrics import information_per_level

    if not hasattr(model, "level_slices"):
        return None
    columns = [s for s in model.level_slices() if s.stop > s.start]
    means, logvars = _posteriors(model, X[: min(len(X), 2048)])
    return information_per_level(means, logvars, columns, n_samples=2048, random_state=0).tolist()


def _demo_command(args):
    settings = _demo_settings(args)
    document = run_demo(settings, args.output, save_models=args.save_models)
    _progress(f"skdisent demo: done in {document['total_time_s']:.0f} s; pictures and "
              f"results.json in {args.output}/")
    print(_demo_header(document))
    print(document["table"])
    return 0


def _demo_header(document):
    s = document["settings"]
    estimator = ("MIG by sampling on the full factor grid" if s["estimator"] == "sampling"
                 else f"MIG by histogram on {s['n_eval']:,} fresh images")
    return (f"{s['dataset']} {s['image_size']}x{s['image_size']}, {s['n_train']:,} training images, "
            f"{s['levels']} levels x {s['latent_dim']} latents (beta-VAE: "
            f"{s['levels'] * s['latent_dim']}), {s['iterations_per_model']:,} iterations per model; "
            f"{estimator}; recon. error in nats per image")


# -------------------------------------------------------- fit, evaluate, traverse


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


def _save_model(model, path):
    path = pathlib.Path(path)
    if path.suffix in (".joblib", ".pkl", ".pickle"):
        import joblib

        joblib.dump(model, path)
    else:
        from .io import save

        save(model, path)
    return path


def _load_model(path):
    path = pathlib.Path(path)
    if not path.is_file():
        raise CommandError(f"no such model file: {path}")
    if path.suffix in (".joblib", ".pkl", ".pickle"):
        import joblib

        return joblib.load(path)  # a pickle: only for files you trust
    from .io import load

    return load(path)


def _fit_command(args):
    from . import models

    cls = getattr(models, MODEL_NAMES[args.model])
    model = cls(**_parse_params(args.param, cls))
    model._validate_params()  # a bad value fails now, before the data are made
    size = args.image_size or 64
    seed = 0 if args.data_seed is None else args.data_seed
    X, _, name = _load_data(args, size=size, n_samples=args.n_samples, seed=seed)
    output = pathlib.Path(args.output or f"{args.model}.safetensors")
    epochs = getattr(model, "n_epochs", None)
    if epochs is None:
        epochs = model.levels * model.epochs_per_step
    _progress(f"skdisent fit: {cls.__name__} on {len(X):,} images of {name} ({X.shape[1:]}), "
              f"{epochs} epochs")
    started = time.perf_counter()
    _fit_with_progress(model, X, epochs, quiet=args.quiet)
    _progress(f"skdisent fit: done in {time.perf_counter() - started:.0f} s")
    _save_model(model, output)
    print(output)
    return 0


def _evaluate_command(args):
    model = _load_model(args.model_file)
    size = args.image_size
    if size is None and args.dataset:
        size = _model_image_size(model)
    seed = 1 if args.data_seed is None else args.data_seed
    n_samples = args.n_samples
    if args.estimator == "sampling":
        if args.dataset not in _GENERATED:
            raise CommandError("--estimator sampling needs a generated data set (its full factor grid)")
        n_samples = None
    elif n_samples is None and args.dataset in _GENERATED:
        n_samples = 10_000
    X, factors, name = _load_data(args, size=size, n_samples=n_samples, seed=seed, need_factors=True)
    _progress(f"skdisent evaluate: {type(model).__name__} on {len(X):,} images of {name}")
    sampling_factors = list(range(1, factors.shape[1])) if name.startswith("dsprites") else None
    with _notes():
        scores = evaluate_model(model, X, factors, estimator=args.estimator,
                                sampling_factors=sampling_factors, random_state=args.seed)
    record = {"model": type(model).__name__, "beta": getattr(model, "beta", None),
              "seed": getattr(model, "random_state", None), **scores}
    output = pathlib.Path(args.output or f"{args.model_file}.scores.json")
    _write_json(output, {"model_file": str(args.model_file), "data": name, "n_images": len(X),
                         "estimator": args.estimator, "scores": record})
    print(format_table([record]))
    _progress(f"skdisent evaluate: scores written to {output}")
    return 0


def _traverse_command(args):
    from . import plotting

    model = _load_model(args.model_file)
    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    X = None
    if args.dataset or args.images:
        size = args.image_size or (_model_image_size(model) if args.dataset else None)
        seed = 1 if args.data_seed is None else args.data_seed
        n = args.n_samples or (2000 if args.dataset in _GENERATED else None)
        X, _, _ = _load_data(args, size=size, n_samples=n, seed=seed)
    written = [output / "traversals.png"]
    plotting.plot_traversals(model, X, index=args.index, n_values=args.n_values, limit=args.limit,
                             path=written[-1])
    if X is not None:
        written.append(output / "samples_per_level.png")
        plotting.plot_samples_per_level(model, X, index=args.index, path=written[-1])
        written.append(output / "reconstructions.png")
        plotting.plot_reconstructions(model, X, path=written[-1])
    if hasattr(model, "information_per_step_") and len(model.information_per_step_):
        written.append(output / "information_flow.png")
        plotting.plot_information_flow(model, path=written[-1])
    for path in written:
        print(path)
    return 0
