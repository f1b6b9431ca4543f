"""What ``skdisent demo`` runs: a small study, then its table, pictures and ``results.json``.

The fits are those of a :class:`skdisent.study.Study` in the output folder: each finished
fit is a row of ``<output>/results.csv`` and a model in ``<output>/models/``, and a fit
checkpoints into ``<output>/checkpoints/<fit>/`` until it ends. Ctrl-C leaves the finished
fits and the checkpoint of the one it stopped; the same command, run again, fits only
the rest, resuming the stopped fit from its checkpoint.
"""

import math
import os
import pathlib
import platform
import time

import torch

from .. import plotting
from .._version import __version__
from ..engine.trainer import training_batches
from ..io import load, save
from ..study import MODELS, fair_model
from ._common import MODEL_NAMES, notes, progress, write_json
from ._study_run import make_study, model_params, run_study, study_data
from ._table import format_table

__all__ = ["run_demo"]

# What results.json keeps of each row of results.csv.
_RECORD_KEYS = ("model", "beta", "seed", "status", "error", "reconstruction_error", "mig",
                "mig_sup", "factor_vae_score", "factor_vae_batch_size", "n_active", "time_s",
                "n_iterations", "threads")
_SCORED = ("reconstruction_error", "factor_vae_score", "mig", "mig_sup")
#: Latents beyond which a model's traversals (a row per latent) give way to its layers'
#: variation (a block per layer or group).
_MAX_TRAVERSED = 32


def _demo_model(name, beta, seed, settings, n_samples):
    """The demo's model ``name``: the fair comparison's budget (see skdisent.study.fair_model)."""
    spec = MODELS[name]
    params = {k: v for k, v in model_params(settings).items() if k in spec.parameters()}
    return fair_model(name, levels=settings["levels"], latent_dim=settings["latent_dim"],
                      epochs_per_level=settings["epochs_per_level"], n_samples=n_samples,
                      beta=beta, random_state=seed, **params)


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
    X, X_eval, factors_eval = study_data(settings)
    total_epochs = settings["levels"] * settings["epochs_per_level"]
    iterations = len(training_batches(torch.arange(len(X)), settings["batch_size"])) * total_epochs
    progress(f"skdisent demo: {len(settings['models'])} models x {len(settings['betas'])} betas x "
             f"{len(settings['seeds'])} seeds, {total_epochs} epochs of {len(X):,} images each "
             f"({iterations:,} iterations)")
    study = make_study(settings, n_factors=factors_eval.shape[1], save_models=True)
    rows = run_study(study, output, X, X_eval, factors_eval, command="demo")
    order = {(m, b, s): i for i, (m, b, s) in enumerate(
        (MODELS[m].name, b, s) for m in settings["models"] for b in settings["betas"]
        for s in settings["seeds"])}
    rows.sort(key=lambda row: order.get((row["model"], row["beta"], row["seed"]), len(order)))
    names = {MODELS[m].name: m for m in settings["models"]}
    results, fitted = [], {}
    for row in rows:
        name = names[row["model"]]
        beta, seed = row["beta"], row["seed"]
        record = {key: row.get(key) for key in _RECORD_KEYS}
        model_file = output / "models" / f"{row['fit_id']}.safetensors"
        if model_file.exists():
            model = load(model_file)
            stem = _file_stem(name, beta, seed, settings)
            fitted[stem] = (_run_label(name, beta, seed, settings), model)
            record["latent_dims"] = list(model.latent_dims_)
            record["information_per_level"] = [row[f"information_level_{level + 1}"]
                                               for level, size in enumerate(model.latent_dims_)
                                               if size > 0]
            if hasattr(model, "information_per_step_"):
                record["information_per_step"] = model.information_per_step_.tolist()
            if save_models:
                save(model, output / f"{stem}.safetensors")
        results.append(record)

    progress(f"skdisent demo: drawing the pictures in {output}/ ...")
    pictures = []
    reference = X_eval[:2000]
    with notes():
        for stem, (label, model) in fitted.items():
            if model.n_components_ > _MAX_TRAVERSED:
                # spatial latents (NVAE): one group resampled at a time, not a row per latent
                pictures.append(output / f"group_variation_{stem}.png")
                plotting.plot_layer_variation(model, path=pictures[-1])
            else:
                pictures.append(output / f"traversals_{stem}.png")
                plotting.plot_traversals(model, reference, path=pictures[-1])
            pictures.append(output / f"samples_per_level_{stem}.png")
            plotting.plot_samples_per_level(model, reference, path=pictures[-1])
            if hasattr(model, "information_per_step_") and len(model.information_per_step_):
                pictures.append(output / f"information_flow_{stem}.png")
                plotting.plot_information_flow(model, path=pictures[-1])
        if fitted:
            pictures.append(output / "reconstructions.png")
            plotting.plot_reconstructions({label: m for label, m in fitted.values()}, X_eval,
                                          path=pictures[-1])
        scored = [r for r in results if all(isinstance(r[k], float) and math.isfinite(r[k])
                                            for k in _SCORED)]
        if scored:
            pictures.append(output / "score_vs_reconstruction.png")
            plotting.plot_score_vs_reconstruction(scored, path=pictures[-1])

    table = format_table(results)
    model = next(reversed(fitted.values()))[1] if fitted else None
    document = {
        "settings": {**settings, "n_train": len(X), "n_eval": len(X_eval),
                     "iterations_per_model": iterations},
        "environment": {
            "skdisent": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "device": str(next(model.network_.parameters()).device) if model else None,
            "torch_threads": model.history_[-1]["threads"] if model and model.history_ else None,
            "cpu_count": os.cpu_count(),
        },
        "results": results,
        "table": table,
        "pictures": [p.name for p in pictures],
        "total_time_s": time.perf_counter() - started,
    }
    write_json(output / "results.json", document)
    return document
