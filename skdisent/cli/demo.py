"""``skdisent demo``: beta-VAE, VLAE and pro-VLAE compared on generated dSprites.

The library's first picture: the three models with the same total number of latents
and the same number of iterations, one table of scores and the paper's pictures in an
output folder.
"""

import argparse
import os
import pathlib
import platform
import time

import numpy as np

from .._version import __version__
from ..evaluation import evaluate_model, information_per_level
from ._common import (
    FILES,
    GENERATED,
    MODEL_NAMES,
    CommandError,
    add_data_options,
    load_data,
    model_name,
    non_negative_float,
    notes,
    positive_int,
    progress,
    write_json,
)
from ._progress import fit_with_progress
from ._table import format_table

__all__ = ["add_parser", "run", "run_demo", "DEMO_DEFAULTS", "QUICK", "PAPER"]

_DEMO_MODELS = ("betavae", "vlae", "provlae")

#: ``skdisent demo`` with no options (a few minutes on 2 CPU cores: README.md has the figures).
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



def add_parser(commands):
    """Add ``demo`` to the subcommands ``commands``."""
    demo = commands.add_parser(
        "demo", help="compare beta-VAE, VLAE and pro-VLAE on generated dSprites: table and pictures",
        description="Fit beta-VAE, VLAE and pro-VLAE with the same total number of latents and "
                    "the same number of iterations, print one table (reconstruction error, MIG, "
                    "MIG-sup, FactorVAE score, training time) and write the pictures and "
                    "results.json to the output folder. The defaults take a few minutes on 2 CPU "
                    "cores; --paper uses the pro-VLAE paper's settings (a GPU job).",
    )
    demo.add_argument("-o", "--output", default="skdisent_output", metavar="DIR",
                      help="folder for the pictures and results.json (default skdisent_output)")
    preset = demo.add_mutually_exclusive_group()
    preset.add_argument("--quick", action="store_true",
                        help="tiny settings: checks that every step runs, in seconds (scores mean nothing)")
    preset.add_argument("--paper", action="store_true",
                        help="the reference's dSprites settings: 64x64, the full grid, 30 epochs "
                             "per level, 3 seeds, MIG by sampling on the full grid")
    add_data_options(demo, required=False, size_default_note="default 32")
    demo.add_argument("--eval-samples", type=positive_int, metavar="N",
                      help="fresh images the scores are measured on (default 10000)")
    demo.add_argument("--models", nargs="+", type=model_name, metavar="MODEL",
                      help="models to compare (default: betavae vlae provlae)")
    demo.add_argument("--betas", nargs="+", type=non_negative_float, metavar="BETA",
                      help="KL weights; every model is fitted with each (default 4)")
    demo.add_argument("--seeds", nargs="+", type=int, metavar="SEED",
                      help="random states; every setting is fitted with each (default 0)")
    demo.add_argument("--levels", type=positive_int, help="levels of VLAE and pro-VLAE (default 3)")
    demo.add_argument("--latent-dim", type=positive_int,
                      help="latents per level (default 2); beta-VAE gets levels x latent-dim")
    demo.add_argument("--epochs-per-level", type=positive_int, metavar="E",
                      help="epochs of each progressive step; VLAE and beta-VAE run levels x E "
                           "epochs, the same number of iterations (default 3)")
    demo.add_argument("--batch-size", type=positive_int, help="default 64")
    demo.add_argument("--learning-rate", type=float, help="default 1e-3 (the reference: 5e-4)")
    demo.add_argument("--conv-channels", type=positive_int, help="default 16 (the reference: 32)")
    demo.add_argument("--dense-units", type=positive_int, help="default 128 (the reference: 256)")
    demo.add_argument("--fade-in-steps", type=int, metavar="N",
                      help="pro-VLAE fade-in iterations (default: a third of one step)")
    demo.add_argument("--pre-kl-coef", type=non_negative_float, help="pro-VLAE pre-KL weight (default 0.5)")
    demo.add_argument("--precision", choices=["fp32", "bf16"], help="default fp32")
    demo.add_argument("--device", help="torch device (default auto: a GPU when there is one)")
    demo.add_argument("--estimator", choices=["histogram", "sampling"],
                      help="MIG estimator: histogram on the evaluation images (disentanglement_lib; "
                           "default) or sampling on the full factor grid (the pro-VLAE reference)")
    demo.add_argument("--save-models", action="store_true",
                      help="also save every fitted model in the output folder")
    demo.set_defaults(run=run)


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
    if settings["estimator"] == "sampling" and settings["dataset"] not in GENERATED:
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
    from ..models import VLAE, BetaVAE, ProVLAE

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
    if dataset in FILES:  # one file, read once; both sets drawn from it
        images, factors, _ = load_data(data_args, size=size, n_samples=None, seed=0)
        order = np.random.default_rng(settings["data_seed"]).permutation(len(images))
        evaluation = order[-(settings["eval_samples"] or len(images)):]
        return images[order[: settings["n_samples"] or len(images)]], images[evaluation], factors[evaluation]
    X, _, _ = load_data(data_args, size=size, n_samples=settings["n_samples"],
                         seed=settings["data_seed"])
    if settings["estimator"] == "sampling":  # the full factor grid
        X_eval, factors_eval, _ = load_data(data_args, size=size, n_samples=None, seed=0)
    else:
        X_eval, factors_eval, _ = load_data(data_args, size=size, n_samples=settings["eval_samples"],
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

    from .. import plotting
    from ..io import save

    started = time.perf_counter()
    output = pathlib.Path(output)
    output.mkdir(parents=True, exist_ok=True)
    size, dataset = settings["image_size"], settings["dataset"]
    n_text = "the full grid of" if settings["n_samples"] is None else f"{settings['n_samples']:,}"
    progress(f"skdisent demo: {n_text} {dataset} images of {size}x{size} ...")
    X, X_eval, factors_eval = _demo_data(settings)
    sampling_factors = list(range(1, factors_eval.shape[1])) if dataset.startswith("dsprites") else None

    runs = [(m, b, s) for m in settings["models"] for b in settings["betas"] for s in settings["seeds"]]
    total_epochs = settings["levels"] * settings["epochs_per_level"]
    iterations = (len(X) // settings["batch_size"]) * total_epochs
    results, fitted = [], {}
    for i, (name, beta, seed) in enumerate(runs):
        label = _run_label(name, beta, seed, settings)
        model = _demo_model(name, beta, seed, settings, len(X))
        progress(f"[{i + 1}/{len(runs)}] {label}: {total_epochs} epochs of {len(X):,} images "
                  f"(about {iterations:,} iterations)")
        fit_started = time.perf_counter()
        fit_with_progress(model, X, total_epochs)
        seconds = time.perf_counter() - fit_started
        with notes():
            scores = evaluate_model(model, X_eval, factors_eval, estimator=settings["estimator"],
                                    sampling_factors=sampling_factors, random_state=0)
            information = information_per_level(model, X_eval)
        record = {"model": MODEL_NAMES[name], "beta": beta, "seed": seed, **scores,
                  "time_s": seconds, "n_iterations": int(model.n_steps_),
                  "latent_dims": list(model.latent_dims_), "information_per_level": information}
        if hasattr(model, "information_per_step_"):
            record["information_per_step"] = model.information_per_step_.tolist()
        results.append(record)
        stem = _file_stem(name, beta, seed, settings)
        fitted[stem] = (label, model)
        progress(f"    done in {seconds:.0f} s: recon. error {scores['reconstruction_error']:.2f}, "
                  f"MIG {scores['mig']:.3f}, MIG-sup {scores['mig_sup']:.3f}, "
                  f"FactorVAE {scores['factor_vae_score']:.3f}")
        if save_models:
            save(model, output / f"{stem}.safetensors")

    progress(f"skdisent demo: drawing the pictures in {output}/ ...")
    pictures = []
    reference = X_eval[:2000]
    with notes():
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
            "skdisent": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "device": str(next(model.network_.parameters()).device),
            "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        },
        "results": results,
        "table": table,
        "pictures": [p.name for p in pictures],
        "total_time_s": time.perf_counter() - started,
    }
    write_json(output / "results.json", document)
    return document


def run(args):
    """Run ``skdisent demo`` with the parsed ``args``."""
    settings = _demo_settings(args)
    document = run_demo(settings, args.output, save_models=args.save_models)
    progress(f"skdisent demo: done in {document['total_time_s']:.0f} s; pictures and "
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
