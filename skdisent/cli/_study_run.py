"""A comparison's settings as a :class:`skdisent.study.Study`, its data, and its progress.

What ``skdisent demo`` and ``skdisent study`` share: the data of a comparison (training
images, and evaluation images with their factors), the study its settings describe, and
running it with progress on standard error: a line as each fit starts and ends and, in
this process, the epochs of the running fit; with several jobs, a bar over fits.
"""

import argparse
import contextlib
import importlib
import sys

import numpy as np

from ..engine import Callback, ProgressBar, extra_callbacks
from ..study import Study, read_results
from ._common import FILES, load_data, progress
from ._progress import EpochLines

__all__ = ["MODEL_SETTINGS", "model_params", "make_study", "study_data", "run_study",
           "sampling_factors"]

#: Settings passed to every model that takes them, by the name the settings use.
MODEL_SETTINGS = {"batch_size": "batch_size", "learning_rate": "learning_rate",
                  "conv_channels": "conv_channels", "dense_units": "dense_units",
                  "normalization": "normalization", "initialization": "initialization",
                  "precision": "precision", "device": "device", "threads": "n_threads",
                  "fade_in_steps": "fade_in_steps", "pre_kl_coef": "pre_kl_coef"}


def model_params(settings):
    """The estimator parameters a comparison's settings give every model that takes them."""
    return {param: settings[key] for key, param in MODEL_SETTINGS.items() if key in settings}


def sampling_factors(settings, n_factors):
    """The factors the sampling estimator scores: dSprites' shape is left out, as the reference."""
    if settings["estimator"] != "sampling" or not settings["dataset"].startswith("dsprites"):
        return None
    return list(range(1, n_factors))


def make_study(settings, n_factors, *, n_jobs=None, save_models=False,
               extra_metrics=("sap", "modularity")):
    """The :class:`~skdisent.study.Study` of a comparison's settings (``n_factors``: the data's)."""
    grid = {"beta": list(settings["betas"]), **settings.get("grid", {})}
    return Study(list(settings["models"]), grid, settings["seeds"],
                 levels=settings["levels"], latent_dim=settings["latent_dim"],
                 epochs_per_level=settings["epochs_per_level"], model_params=model_params(settings),
                 estimator=settings["estimator"],
                 sampling_factors=sampling_factors(settings, n_factors),
                 extra_metrics=tuple(extra_metrics), save_models=save_models, n_jobs=n_jobs)


def study_data(settings):
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


class _FitLines(Callback):
    """``[2/8] ProVLAE beta=4 seed=1: 9 epochs of 20,000 images`` as each fit starts."""

    def __init__(self, to_do):
        self.to_do, self.started = to_do, 0

    def on_fit_begin(self, trainer):
        self.started += 1
        model = trainer.model
        label = " ".join([type(model).__name__]
                         + [f"beta={model.beta:g}"] * hasattr(model, "beta")
                         + [f"seed={model.random_state}"])
        progress(f"[{self.started}/{self.to_do}] {label}: {trainer.n_epochs} epochs of "
                 f"{len(trainer.data):,} images")


def _fit_summary(row):
    if row["status"] in ("ok", "collapsed"):
        line = (f"recon. error {row['reconstruction_error']:.2f}, MIG {row['mig']:.3f}, "
                f"MIG-sup {row['mig_sup']:.3f}, FactorVAE {row['factor_vae_score']:.3f}")
        return line + ("" if row["status"] == "ok" else " (collapsed: no active latent)")
    return f"{row['status']}: {row['error']}"


def _fit_bar(total):
    """A tqdm bar over fits on a terminal, or None."""
    if not (sys.stderr.isatty() and total):
        return None
    try:
        return importlib.import_module("tqdm").tqdm(total=total, unit="fit", file=sys.stderr)
    except ImportError:
        return None


def run_study(study, output, X, X_eval, factors_eval, *, resume=True, command="study"):
    """Run ``study`` into ``output`` with progress on standard error; return its rows."""
    planned = study.plan(len(X))
    done = set()
    if resume and (output / "results.csv").exists():
        done = {row["fit_id"] for row in read_results(output)}
    to_do = sum(fit.fit_id not in done for fit in planned)
    if len(planned) > to_do:
        progress(f"skdisent {command}: {len(planned) - to_do} of {len(planned)} fits already in "
                 f"{output / 'results.csv'}; {to_do} to run")
    in_process = study.n_jobs in (None, 1)
    bar = None if in_process else _fit_bar(to_do)
    listeners = [_FitLines(to_do), EpochLines(None), ProgressBar()] if in_process else []

    def on_fit_end(row, n_done, n_to_do):
        line = f"    {row['setting']} seed={row['seed']}: {_fit_summary(row)} ({row['time_s']:.0f} s)"
        if not in_process:
            line = f"[{n_done}/{n_to_do}]{line[3:]}"
        notes = [f"        note: {note}" for note in (row["warnings"] or "").split(" | ") if note]
        for text in [line, *notes]:
            if bar is not None:
                bar.write(text, file=sys.stderr)
            else:
                progress(text)
        if bar is not None:
            bar.update(1)

    try:
        with extra_callbacks(*listeners):
            return study.run(output, X, X_eval=X_eval, factors_eval=factors_eval, resume=resume,
                             on_fit_end=on_fit_end)
    finally:
        if bar is not None:
            with contextlib.suppress(Exception):
                bar.close()
