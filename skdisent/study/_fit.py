"""One fit of a study, start to row: fit, classify the outcome, evaluate, record.

This runs in joblib's workers, so it takes everything as arguments and returns the row;
the process that runs the study writes it. Every outcome is a row with a ``status``
(see :data:`STATUSES`), except Ctrl-C, which stops the study (the fit keeps its
checkpoint and the study, run again, resumes it).
"""

import datetime
import pathlib
import shutil
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .. import metrics
from .._data import evenly_spaced_rows
from ..engine import Callback, extra_callbacks
from ..engine.finite import NonFiniteLossError
from ..evaluation import evaluate_model, information_per_level
from ..io import save

__all__ = ["STATUSES", "EvaluationSettings", "run_fit", "FitInterrupted"]

#: What became of a fit. Only ``"ok"`` is a success.
STATUSES = {
    "ok": "trained to its end with finite losses, at least one active latent and bounded "
          "posterior variances",
    "non_finite": "a NaN or infinite loss stopped training (skdisent.NonFiniteLossError), or the "
           "trained model encodes to non-finite values",
    "collapsed": "posterior collapse: no latent is active (none varies by more than 0.01 "
                 "over the evaluation images)",
    "exploded": "exploding variance: a latent's posterior mean varies, or its posterior "
                "variance is, above the study's variance_limit",
    "error": "any other exception, in fitting or in evaluating",
}


class FitInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a fit of a study; the message says where it resumes from."""


@dataclass(frozen=True)
class EvaluationSettings:
    """How each fit of a study is scored (see :class:`skdisent.study.Study`)."""

    estimator: str = "histogram"
    sampling_factors: tuple = None
    extra_metrics: tuple = ()
    variance_limit: float = 1e3
    information_rows: int = 2048
    folder: str = None
    save_models: bool = False
    resume: bool = True


class _Stops(Callback):
    reason = total = None

    def on_stop(self, trainer, reason):
        self.reason, self.total = reason, trainer.n_epochs


def _level_columns(model, information):
    dims = list(getattr(model, "latent_dims_", []))
    values = iter(information)
    return {f"information_level_{level + 1}": next(values, None)
            for level, size in enumerate(dims) if size > 0}


def _outcome(model, X_eval, limit):
    """``(status, detail)`` from the posterior on a subsample of the evaluation images."""
    rows = X_eval[evenly_spaced_rows(len(X_eval), 2048)]
    if hasattr(model, "posterior"):
        means, logvars = model.posterior(rows)
    else:
        means, logvars = model.transform(rows), None
    if not np.isfinite(means).all() or (logvars is not None and not np.isfinite(logvars).all()):
        return "non_finite", "the trained model encodes to non-finite values"
    if limit is not None:
        spread = float(np.var(means.astype(np.float64), axis=0).max())
        variance = float(np.exp(logvars.astype(np.float64)).max()) if logvars is not None else 0.0
        if max(spread, variance) > limit:
            return "exploded", (f"largest variance of a posterior mean {spread:.4g}, largest "
                                f"posterior variance {variance:.4g} (limit {limit:g})")
    return None, None


def _evaluate(model, X_eval, factors_eval, settings):
    scores = evaluate_model(model, X_eval, factors_eval, estimator=settings.estimator,
                            sampling_factors=settings.sampling_factors, random_state=0)
    row = {"mig_estimator": settings.estimator, **scores}
    if settings.extra_metrics:
        row.update(metrics.disentanglement_scores(
            model.transform(X_eval), factors_eval, metrics=list(settings.extra_metrics),
            random_state=0))
    if hasattr(model, "posterior") and hasattr(model, "level_slices"):
        row.update(_level_columns(model, information_per_level(
            model, X_eval, n_rows=settings.information_rows)))
    return row


def _interrupted(model, total, checkpoints):
    where = (f"; run the same command again to continue from the checkpoint in {checkpoints}"
             if checkpoints is not None and model.n_iter_ > 0 else "")
    return FitInterrupted(f"interrupted after epoch {model.n_iter_} of {total}{where}")


def _fit(model, X, checkpoints, resume):
    """Fit with checkpoints; ``(status, error)``: None for a fit that ran to its end."""
    if checkpoints is not None:
        if not resume:
            shutil.rmtree(checkpoints, ignore_errors=True)
        model.set_params(checkpoint_dir=str(checkpoints), warm_start=True)
    stops = _Stops()
    try:
        with extra_callbacks(stops):
            model.fit(X)
    except NonFiniteLossError as error:
        return "non_finite", str(error)
    except Exception as error:  # noqa: BLE001 - every other failure is a row too
        return "error", f"{type(error).__name__}: {error}"
    finally:
        if checkpoints is not None:
            model.set_params(checkpoint_dir=None, warm_start=False)
    if stops.reason == "interrupted":
        raise _interrupted(model, stops.total, checkpoints)
    return None, None


def run_fit(fit, X, X_eval, factors_eval, settings):
    """Fit, evaluate and describe one :class:`~skdisent.study._plan.Fit` as a results row.

    Parameters
    ----------
    fit : Fit
    X : array-like
        Training images.
    X_eval, factors_eval : array-like
        Evaluation images and their factors.
    settings : EvaluationSettings

    Returns
    -------
    row : dict
        The row of ``results.csv`` (see the study guide for its columns).

    Raises
    ------
    FitInterrupted
        After Ctrl-C, once the fit kept its checkpoint.
    """
    started = time.perf_counter()
    model = fit.estimator
    folder = pathlib.Path(settings.folder) if settings.folder is not None else None
    checkpoints = folder / "checkpoints" / fit.fit_id if folder is not None else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message="Training was interrupted")
        status, error = _fit(model, X, checkpoints, settings.resume)
        row = {}
        fitted = status is None
        try:
            if fitted:
                status, error = _outcome(model, np.asarray(X_eval), settings.variance_limit)
            if status is None:
                row.update(_evaluate(model, X_eval, factors_eval, settings))
                status = "collapsed" if row["n_active"] == 0 else "ok"
                if not np.isfinite(row["reconstruction_error"]):
                    status, error = "non_finite", "non-finite reconstruction error"
        except Exception as failure:  # noqa: BLE001 - a row, not an aborted study
            status, error = "error", f"evaluation: {type(failure).__name__}: {failure}"
    if fitted and folder is not None and settings.save_models:
        (folder / "models").mkdir(parents=True, exist_ok=True)
        save(model, folder / "models" / f"{fit.fit_id}.safetensors")
    if checkpoints is not None:
        shutil.rmtree(checkpoints, ignore_errors=True)
    history = getattr(model, "history_", None) or []
    return {
        "fit_id": fit.fit_id, "setting": fit.setting, "model": fit.model, "seed": fit.seed,
        "status": status, "error": error, **fit.params,
        "n_iterations": getattr(model, "n_steps_", None),
        **row,
        "time_s": sum(record.get("time", 0.0) for record in history),
        "wall_time_s": time.perf_counter() - started,
        "threads": history[-1].get("threads") if history else None,
        "device": _device(model),
        "warnings": " | ".join(dict.fromkeys(" ".join(str(w.message).split()) for w in caught))
                    or None,
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _device(model):
    network = getattr(model, "network_", None)
    try:
        return str(next(network.parameters()).device)
    except (AttributeError, StopIteration, TypeError):
        return None
