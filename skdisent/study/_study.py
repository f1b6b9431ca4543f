"""The :class:`Study`: fits of models x parameter grid x seeds, each recorded as it ends."""

import contextlib
import json
import pathlib

import numpy as np
from joblib import Parallel, delayed

from ._fit import EvaluationSettings, run_fit
from ._plan import RUNTIME_PARAMS, canonical, data_fingerprint, digest, plan_fits
from ._registry import budget_of
from ._results import ResultsFile, check_identity, read_results

__all__ = ["Study", "COLUMNS"]

#: The first columns of ``results.csv``; the grid's parameters follow ``error``.
COLUMNS = ["fit_id", "setting", "model", "seed", "status", "error", "beta", "beta_normalized",
           "n_latents", "input_size", "n_epochs", "batch_size", "n_iterations",
           "reconstruction_error", "mig", "mig_sup", "mig_estimator", "factor_vae_score",
           "factor_vae_batch_size", "n_active"]
_TAIL = ["time_s", "wall_time_s", "threads", "device", "warnings", "params", "study",
         "finished_at"]
#: The metrics ``extra_metrics`` may name (of :func:`skdisent.metrics.disentanglement_scores`).
EXTRA_METRICS = ("sap", "dci", "factor_vae", "beta_vae", "modularity")
# Columns no grid key may take (beta, batch_size and device hold the fit's own value).
_RESERVED = sorted(set(COLUMNS + _TAIL) - {"beta", "batch_size", "device"})


class Study:
    """The papers' experiments: every model x parameter setting x seed, fitted and scored.

    Each fit ends as one row of ``<path>/results.csv``, written as soon as it ends, with
    its model, parameters, seed, status, scores, information per level and time. A study
    run again in the same folder fits only what is missing; a folder holding another
    study (other data or shared settings) is refused. Fits run through joblib: in this
    process by default, in worker processes with ``n_jobs``, or on a Dask cluster inside
    ``joblib.parallel_config(backend="dask")``, with no other change.

    Models named here get the paper's fair comparison: the same total number of latent
    dimensions (``levels * latent_dim``) and the same number of iterations
    (``levels * epochs_per_level`` epochs; see :func:`fair_model`). Estimators given as
    instances are checked for it instead.

    Parameters
    ----------
    models : list of str or estimators, or dict, default=("betavae", "vlae", "provlae")
        Registered model names (:func:`register_model` adds others) or unfitted
        estimators, which are cloned for each fit; a dict ``{name: model}`` names them in
        the results (a list uses the class names).
    param_grid : dict or list of dict, default=None
        Parameter values to cross, as :class:`sklearn.model_selection.ParameterGrid`, e.g.
        ``{"beta": [1, 4, 8]}``. Each model takes the keys it has a parameter for and is
        not fitted twice for the others; a ``"model"`` key restricts a grid of a list to
        those models, e.g. ``[{"beta": [1, 4]}, {"model": ["provlae"], "fade_in": [False]}]``.
        Budget keys (``levels``, ``latent_dim``, ``epochs_per_level``) may vary too.
    seeds : iterable of int, default=(0,)
        Each setting is fitted once per seed (its ``random_state``).
    levels, latent_dim, epochs_per_level : int, default=3, 2, 3
        The fair comparison's budget for the models built by name.
    model_params : dict, default=None
        Parameters shared by every model that takes them (``batch_size``,
        ``learning_rate``, ``device``...). ``device="auto"`` (the default) takes the
        first GPU a worker sees: give each worker its own GPU for one GPU per worker.
    estimator : {"histogram", "sampling"}, default="histogram"
        The MIG and MIG-sup estimator (:func:`skdisent.evaluation.evaluate_model`); its
        name is in every row (``mig_estimator``).
    sampling_factors : list of int, default=None
        Factors the sampling estimator scores (the reference leaves dSprites' shape out).
    extra_metrics : tuple of str, default=("sap", "modularity")
        More metrics of :func:`skdisent.metrics.disentanglement_scores`
        (disentanglement_lib's estimators) on the posterior means of the evaluation
        images, each a column named as that function names it: ``"sap"``,
        ``"modularity"``, and the costlier ``"dci"`` (gradient-boosted trees: tens of
        seconds on 10,000 images), ``"beta_vae"`` and ``"factor_vae"``.
    variance_limit : float or None, default=1e3
        A fit whose posterior means vary, or whose posterior variances are, above this
        on the evaluation images has exploded (status ``"exploded"``); None never.
    check_fairness : bool, default=True
        Refuse estimators that do not share latents, epochs and batch size.
    save_models : bool, default=False
        Save each fitted model as ``<path>/models/<fit_id>.safetensors``.
    n_jobs : int, default=None
        Fits at once, through :class:`joblib.Parallel`; None takes joblib's context
        (one, unless a ``parallel_config`` says otherwise).

    See Also
    --------
    read_results, aggregate, success_rates, information_table

    Examples
    --------
    >>> from skdisent.study import Study
    >>> study = Study(["betavae", "provlae"], {"beta": [1, 4]}, seeds=[0, 1])
    >>> [fit.fit_id.rsplit("-", 1)[0] for fit in study.plan()][:3]
    ['betavae_beta1_seed0', 'betavae_beta1_seed1', 'provlae_beta1_seed0']
    """

    def __init__(self, models=("betavae", "vlae", "provlae"), param_grid=None, seeds=(0,), *,
                 levels=3, latent_dim=2, epochs_per_level=3, model_params=None,
                 estimator="histogram", sampling_factors=None,
                 extra_metrics=("sap", "modularity"), variance_limit=1e3, check_fairness=True,
                 save_models=False, n_jobs=None):
        self.models = models
        self.param_grid = param_grid
        self.seeds = seeds
        self.levels = levels
        self.latent_dim = latent_dim
        self.epochs_per_level = epochs_per_level
        self.model_params = model_params
        self.estimator = estimator
        self.sampling_factors = sampling_factors
        self.extra_metrics = extra_metrics
        self.variance_limit = variance_limit
        self.check_fairness = check_fairness
        self.save_models = save_models
        self.n_jobs = n_jobs

    def _budget(self):
        return {"levels": self.levels, "latent_dim": self.latent_dim,
                "epochs_per_level": self.epochs_per_level}

    def plan(self, n_samples=None):
        """Every fit of the study, in the order they are started.

        Parameters
        ----------
        n_samples : int, default=None
            Training images (pro-VLAE's default fade-in depends on it).

        Returns
        -------
        fits : list of Fit
            Each with ``fit_id``, ``model``, ``params``, ``seed``, ``setting`` and the
            unfitted ``estimator``.
        """
        if self.estimator not in ("histogram", "sampling"):
            raise ValueError(f"estimator must be 'histogram' or 'sampling', got {self.estimator!r}")
        extra = set(self.extra_metrics)
        if extra - set(EXTRA_METRICS):
            raise ValueError(f"extra_metrics must be among {', '.join(EXTRA_METRICS)}; got "
                             f"{', '.join(sorted(extra - set(EXTRA_METRICS)))} (mig, mig_sup and "
                             "the number of active latents are in every row)")
        return plan_fits(self.models, self.param_grid, self.seeds, budget=self._budget(),
                         model_params=self.model_params, n_samples=n_samples,
                         reserved=_RESERVED, check_fairness=self.check_fairness)

    def identity(self, X, factors=None, *, X_eval=None, factors_eval=None):
        """What every row of this study shares, and its digest (the study's identity).

        The data (digests of the arrays), the budget, the shared model parameters (those
        that change results: not ``device`` or ``n_threads``) and the evaluation (the MIG
        estimator and the variance limit). The models, grid, seeds and extra metrics are
        not part of it: a study folder grows when run with more of them.

        Returns
        -------
        identity : dict
        study_id : str
        """
        X_eval, factors_eval = _evaluation_data(X, factors, X_eval, factors_eval)
        shared = {k: v for k, v in (self.model_params or {}).items() if k not in RUNTIME_PARAMS}
        identity = canonical({
            "data": {"X": data_fingerprint(X), "X_eval": data_fingerprint(X_eval),
                     "factors_eval": data_fingerprint(factors_eval)},
            "budget": self._budget(),
            "model_params": shared,
            "evaluation": {"estimator": self.estimator, "sampling_factors": self.sampling_factors,
                           "variance_limit": self.variance_limit},
        })
        return identity, digest(identity, 16)

    def run(self, path, X, factors=None, *, X_eval=None, factors_eval=None, resume=True,
            on_fit_end=None):
        """Run the fits that ``path`` does not hold yet; return this study's rows.

        Parameters
        ----------
        path : str or path-like
            The study's folder: ``results.csv``, ``study.json``, the checkpoints of
            unfinished fits and (``save_models``) the models.
        X : array-like of shape (n_samples, ...)
            Training images.
        factors : array-like of shape (n_samples, n_factors), default=None
            Their factors, to score on the training images when no ``X_eval`` is given
            (the usual protocol of disentanglement papers).
        X_eval, factors_eval : array-like, default=None
            Evaluation images and their factors (a full factor grid for the sampling
            estimator).
        resume : bool, default=True
            Skip the fits ``results.csv`` holds and resume an interrupted fit from its
            checkpoint. False fits every planned fit again; the new rows supersede the
            old ones (:func:`read_results` keeps the newest row of a fit).
        on_fit_end : callable, default=None
            ``on_fit_end(row, n_done, n_to_do)``, called after each row is written.

        Returns
        -------
        results : list of dict
            The rows of the planned fits, in plan order (as :func:`read_results` reads them).

        Raises
        ------
        StudyMismatchError
            When ``path`` holds another study's rows.
        KeyboardInterrupt
            After Ctrl-C; the rows written so far stay, the running fit keeps a
            checkpoint, and the study run again continues.
        """
        folder = pathlib.Path(path)
        X = np.asarray(X)
        X_eval, factors_eval = _evaluation_data(X, factors, X_eval, factors_eval)
        fits = self.plan(n_samples=len(X))
        identity, study_id = self.identity(X, factors, X_eval=X_eval, factors_eval=factors_eval)
        check_identity(folder, identity, study_id)
        done = set()
        if resume and (folder / "results.csv").exists():
            done = {row["fit_id"] for row in read_results(folder)}
        to_do = [fit for fit in fits if fit.fit_id not in done]
        params = sorted({key for fit in fits for key in fit.params} - set(COLUMNS))
        depth = max((getattr(f.estimator, "levels", None) or getattr(f.estimator, "depth", 1)
                     for f in fits), default=1)
        columns = (COLUMNS[:6] + params + COLUMNS[6:]
                   + [f"information_level_{level + 1}" for level in range(depth)] + _TAIL)
        results = ResultsFile(folder, columns)
        settings = EvaluationSettings(
            estimator=self.estimator, extra_metrics=tuple(self.extra_metrics),
            sampling_factors=None if self.sampling_factors is None else tuple(self.sampling_factors),
            variance_limit=self.variance_limit, folder=str(folder),
            save_models=self.save_models, resume=resume)
        described = {fit.fit_id: _describe(fit, X, study_id) for fit in to_do}
        jobs = (delayed(run_fit)(fit, X, X_eval, factors_eval, settings) for fit in to_do)
        try:
            rows = Parallel(n_jobs=self.n_jobs, return_as="generator_unordered")(jobs)
            for n_done, row in enumerate(rows, 1):
                row = {**row, **described[row["fit_id"]]}
                results.append(row)
                if on_fit_end is not None:
                    on_fit_end(row, n_done, len(to_do))
        finally:
            with contextlib.suppress(OSError):  # each finished fit removed its own
                (folder / "checkpoints").rmdir()
        order = {fit.fit_id: i for i, fit in enumerate(fits)}
        rows = [row for row in read_results(folder) if row["fit_id"] in order]
        return sorted(rows, key=lambda row: order[row["fit_id"]])


def _evaluation_data(X, factors, X_eval, factors_eval):
    if X_eval is None:
        if factors is None:
            raise ValueError("a study scores its fits against factors: give factors (scored "
                             "on X) or X_eval and factors_eval")
        return X, np.asarray(factors)
    if factors_eval is None:
        raise ValueError("X_eval needs its factors: give factors_eval")
    return np.asarray(X_eval), np.asarray(factors_eval)


def _describe(fit, X, study_id):
    """What the process running the study knows of a fit before it runs."""
    try:
        n_latents, n_epochs, batch_size = budget_of(fit.estimator)
    except ValueError:  # a model no study registered, run with check_fairness=False
        n_latents, n_epochs, batch_size = None, None, getattr(fit.estimator, "batch_size", None)
    beta = getattr(fit.estimator, "beta", None)
    input_size = int(np.prod(X.shape[1:]))
    return {"beta": beta, "n_latents": n_latents, "input_size": input_size,
            "beta_normalized": None if beta is None or n_latents is None
            else normalized_beta(beta, n_latents, input_size),
            "n_epochs": n_epochs, "batch_size": batch_size,
            "params": json.dumps(canonical(fit.params), sort_keys=True), "study": study_id}


def normalized_beta(beta, n_latents, input_size):
    """beta normalised by latent and input size, ``beta * M / N``.

    The beta-VAE notes' recommendation for comparing beta across latent sizes and data
    sets: ``M`` latent dimensions, ``N`` input dimensions (pixels times channels).

    Parameters
    ----------
    beta : float or array-like
    n_latents : int or array-like
        ``M``, the total number of latent dimensions.
    input_size : int or array-like
        ``N``, the number of input dimensions.

    Returns
    -------
    beta_norm : float or ndarray

    Examples
    --------
    >>> from skdisent.study import normalized_beta
    >>> normalized_beta(4.0, 6, 32 * 32)
    0.0234375
    """
    result = np.asarray(beta, dtype=float) * np.asarray(n_latents, dtype=float) / np.asarray(
        input_size, dtype=float)
    return float(result) if result.ndim == 0 else result
