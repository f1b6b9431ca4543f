"""What the ``skdisent`` commands share: argument types, data, model files, output."""

import argparse
import contextlib
import json
import math
import pathlib
import sys
import warnings

import numpy as np

__all__ = ["CommandError", "Parser", "MODEL_NAMES", "GENERATED", "FILES", "progress", "notes",
           "positive_int", "non_negative_float", "model_name", "add_data_options",
           "add_run_options", "check_device", "load_data", "model_image_size",
           "add_model_file_argument", "model_of", "load_model", "save_model", "write_json"]

#: The models the command knows, by the name used on the command line.
MODEL_NAMES = {"betavae": "BetaVAE", "vlae": "VLAE", "provlae": "ProVLAE", "ldf": "LDFModel",
               "hierarchicalvae": "HierarchicalVAE", "nvae": "NVAE",
               "teacherstudent": "TeacherStudentVAE"}
GENERATED = ("dsprites", "shapes3d")
#: The smallest side each generated data set draws.
MIN_IMAGE_SIZE = {"dsprites": 16, "shapes3d": 8}
FILES = ("dsprites-file", "shapes3d-file")


class CommandError(Exception):
    """A mistake in what the command was asked to do; ends the command with one line."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, not a usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def progress(message):
    """Print a progress line on standard error."""
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def notes(indent="    "):
    """Show the warnings raised inside as one-line notes on standard error."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for message in dict.fromkeys(" ".join(str(w.message).split()) for w in caught):
        progress(f"{indent}note: {message}")


# ------------------------------------------------------------ argument types


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_float(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return value


def threads(text):
    value = int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a thread count (negative: all CPUs but so "
                                         "many, -1 all), not 0")
    return value


def model_name(text):
    name = text.lower().replace("-", "").replace("_", "")
    if name not in MODEL_NAMES:
        raise argparse.ArgumentTypeError(
            f"unknown model {text!r}; choose from {', '.join(MODEL_NAMES)}"
        )
    return name


def add_data_options(parser, *, required, size_default_note, seed_default=0):
    """``--dataset`` or ``--images``, and the options that shape the data."""
    data = parser.add_mutually_exclusive_group(required=required)
    data.add_argument(
        "--dataset", choices=[*GENERATED, *FILES],
        help="generated data set (dsprites, shapes3d: no download), or an official file "
             "(dsprites-file, shapes3d-file: looked for in the data home, see --download)",
    )
    data.add_argument(
        "--images", metavar="FILE",
        help="images in a .npy file, or a .npz file with an 'images' array and optionally "
             "'factors' (uint8 0..255 or floats in [0, 1]; (n, H, W) or (n, C, H, W))",
    )
    parser.add_argument("--n-samples", type=positive_int, metavar="N",
                        help="number of images to use (default: all of a file; see each command)")
    parser.add_argument("--image-size", type=positive_int, metavar="PX",
                        help=f"side of generated images ({size_default_note})")
    parser.add_argument("--data-seed", type=int, default=None, metavar="SEED",
                        help=f"seed of the generated images (default {seed_default})")
    parser.add_argument("--download", action="store_true",
                        help="download an official file that is missing (dsprites-file, shapes3d-file)")


def add_run_options(parser, *, device=True):
    """``--threads`` (and ``--device``): how a command runs its models."""
    parser.add_argument("--threads", type=threads, metavar="N",
                        help="torch CPU threads (default: all CPUs but one; results depend on "
                             "the count, see the README)")
    if device:
        parser.add_argument("--device", help="torch device (default auto: a GPU when there is one)")


def check_device(name):
    """Refuse a device this machine lacks before any data is made."""
    from ..engine.device import resolve_device

    try:
        resolve_device(name or "auto")
    except ValueError as error:
        raise CommandError(f"--device {name}: {str(error).split(' Set device=')[0]}") from None


# ---------------------------------------------------------------------- data


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


def load_data(args, *, size, n_samples, seed, need_factors=False):
    """``(images, factors, name)`` from ``--dataset`` or ``--images``."""
    if getattr(args, "images", None):
        images, factors = _read_images_file(args.images, need_factors)
        if n_samples is not None and n_samples < len(images):
            keep = np.sort(np.random.default_rng(seed).choice(len(images), n_samples, replace=False))
            images = images[keep]
            factors = None if factors is None else factors[keep]
        return images, factors, pathlib.Path(args.images).name
    from .. import datasets

    name = args.dataset
    if name in GENERATED and size is not None and size < MIN_IMAGE_SIZE[name]:
        raise CommandError(f"--image-size {size} is too small for {name}: it draws images of "
                           f"{MIN_IMAGE_SIZE[name]} pixels or more")
    if name in GENERATED:
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


def model_image_size(model):
    """The side of the images ``model`` was fitted on."""
    shape = getattr(model, "input_shape_", None)
    if shape is None or len(shape) < 2:
        raise CommandError(
            "the model was fitted on flat rows, not images; give its data with --images"
        )
    return int(shape[-1])


# -------------------------------------------------------------- model files


def save_model(model, path):
    """Save ``model`` as a model file, or as a pickle for a ``.joblib``/``.pkl`` path."""
    path = pathlib.Path(path)
    if path.suffix in (".joblib", ".pkl", ".pickle"):
        import joblib

        joblib.dump(model, path)
    else:
        from ..io import save

        save(model, path)
    return path


def add_model_file_argument(parser):
    """``MODEL_FILE`` and ``--allow-pickle-code``."""
    parser.add_argument("model_file", metavar="MODEL_FILE",
                        help="a model file written by skdisent fit or skdisent.save")
    parser.add_argument("--allow-pickle-code", action="store_true",
                        help="also open .joblib, .pkl and .pickle files: loading a pickle runs "
                             "whatever code it holds, so only for files you trust")


def model_of(args):
    """The model a command's ``MODEL_FILE`` names, with ``--threads`` applied."""
    model = load_model(args.model_file, args.allow_pickle_code)
    if args.threads is not None:
        model.set_params(n_threads=args.threads)
    return model


def load_model(path, allow_pickle_code=False):
    """A saved model: a model file, or (only when allowed) a pickle.

    Parameters
    ----------
    path : path-like
    allow_pickle_code : bool, default=False
        Open ``.joblib``, ``.pkl`` and ``.pickle`` files, which runs their code.

    Returns
    -------
    model : skdisent estimator
    """
    from ..base import BaseGenerativeModel
    from ..io import load

    path = pathlib.Path(path)
    if not path.is_file():
        raise CommandError(f"no such model file: {path}")
    if path.suffix not in (".joblib", ".pkl", ".pickle"):
        return load(path)
    if not allow_pickle_code:
        raise CommandError(
            f"{path} is a pickle, and loading a pickle runs whatever code it holds; pass "
            "--allow-pickle-code if you trust where it came from, or save the model with "
            "skdisent.save (a .safetensors model file runs no code)"
        )
    import joblib

    model = joblib.load(path)
    if not isinstance(model, BaseGenerativeModel):
        raise CommandError(f"{path} holds a {type(model).__name__}, not a skdisent model")
    return model


# -------------------------------------------------------------------- output


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


def write_json(path, document):
    """Write ``document`` as indented JSON, non-finite numbers as null."""
    path = pathlib.Path(path)
    path.write_text(json.dumps(_json_ready(document), indent=2) + "\n")
    return path
