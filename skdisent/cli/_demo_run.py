"""What ``skdisent demo`` runs: the fits, their scores and pictures, ``results.json``.

Each model's fit checkpoints into ``<output>/checkpoints/<model>-<settings digest>/``
and removes it when it finishes, so Ctrl-C leaves the checkpoint of the fit it stopped,
and the same command, run again, resumes that fit (the models before it are fitted again).
"""

import argparse
import contextlib
import hashlib
import os
import pathlib
import platform
import time

import numpy as np
import torch

from .. import plotting
from .._version import __version__
from ..engine.trainer import training_batches
from ..evaluation import evaluate_model, information_per_level
from ..io import save
from ..models import VLAE, BetaVAE, ProVLAE
from ._common import FILES, MODEL_NAMES, load_data, notes, progress, write_json
from ._progress import fit_with_progress
from ._table import format_table

__all__ = ["run_demo"]


def _checkpoints(output, stem, model):
    """The checkpoint folder of one fit: named after the model and a digest of its settings."""
    settings = sorted((k, repr(v)) for k, v in model.get_params().items()
                      if k not in ("verbose", "warm_start", "checkpoint_dir"))
    digest = hashlib.sha256(repr(settings).encode()).hexdigest()[:10]
    return pathlib.Path(output) / "checkpoints" / f"{stem}-{digest}"


def _demo_model(name, beta, seed, settings, n_samples):
    levels, latent_dim, epochs = settings["levels"], settings["latent_dim"], settings["epochs_per_level"]
    common = {
        "beta": beta,
        "batch_size": settings["batch_size"],
        "learning_rate": settings["learning_rate"],
        "conv_channels": settings["conv_channels"],
        "dense_units": settings["dense_units"],
        "normalization": settings["normalization"],
        "initialization": settings["initialization"],
        "precision": settings["precision"],
        "device": settings["device"],
        "n_threads": settings["threads"],
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
    iterations = len(training_batches(torch.arange(len(X)), settings["batch_size"])) * total_epochs
    results, fitted = [], {}
    for i, (name, beta, seed) in enumerate(runs):
        label = _run_label(name, beta, seed, settings)
        model = _demo_model(name, beta, seed, settings, len(X))
        stem = _file_stem(name, beta, seed, settings)
        progress(f"[{i + 1}/{len(runs)}] {label}: {total_epochs} epochs of {len(X):,} images "
                 f"({iterations:,} iterations)")
        fit_with_progress(model, X, total_epochs, checkpoints=_checkpoints(output, stem, model))
        seconds = sum(record["time"] for record in model.history_)
        with notes():
            scores = evaluate_model(model, X_eval, factors_eval, estimator=settings["estimator"],
                                    sampling_factors=sampling_factors, random_state=0)
            information = information_per_level(model, X_eval)
        record = {"model": MODEL_NAMES[name], "beta": beta, "seed": seed, **scores,
                  "time_s": seconds, "n_iterations": int(model.n_steps_),
                  "threads": model.history_[-1]["threads"] if model.history_ else None,
                  "latent_dims": list(model.latent_dims_), "information_per_level": information}
        if hasattr(model, "information_per_step_"):
            record["information_per_step"] = model.information_per_step_.tolist()
        results.append(record)
        fitted[stem] = (label, model)
        progress(f"    trained in {seconds:.0f} s: recon. error {scores['reconstruction_error']:.2f}, "
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
            "torch_threads": model.history_[-1]["threads"] if model.history_ else None,
            "cpu_count": os.cpu_count(),
        },
        "results": results,
        "table": table,
        "pictures": [p.name for p in pictures],
        "total_time_s": time.perf_counter() - started,
    }
    write_json(output / "results.json", document)
    with contextlib.suppress(OSError):  # each finished fit removed its own
        (output / "checkpoints").rmdir()
    return document
