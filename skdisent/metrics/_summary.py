"""Every histogram- and pool-based metric in one call."""

import inspect

from ._beta_vae import beta_vae_score
from ._dci import dci
from ._factor_vae import factor_vae_score
from ._mig import active_units, mig, mig_sup
from ._modularity import modularity
from ._sap import sap
from ._validation import check_codes_factors

__all__ = ["disentanglement_scores", "METRICS"]

#: The metrics of :func:`disentanglement_scores`, by name.
METRICS = {
    "mig": mig,
    "mig_sup": mig_sup,
    "sap": sap,
    "dci": dci,
    "factor_vae": factor_vae_score,
    "beta_vae": beta_vae_score,
    "modularity": modularity,
    "active_units": active_units,
}


def takes_random_state(metric):
    """Whether ``metric`` accepts a ``random_state`` keyword."""
    return "random_state" in inspect.signature(metric).parameters


def disentanglement_scores(codes, factors, *, metrics=None, random_state=None,
                           metric_params=None):
    """Compute several disentanglement metrics at once, returned as a flat dict.

    Runs :func:`mig`, :func:`mig_sup`, :func:`sap`, :func:`dci`, :func:`factor_vae_score`,
    :func:`beta_vae_score`, :func:`modularity` and :func:`active_units` on the same
    ``(codes, factors)``, each with its own defaults (disentanglement_lib's estimators and
    settings; see each function). The sampling estimator of the pro-VLAE reference needs
    posterior variances over a full grid and is separate: :func:`mig_sampling`.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_latents)
        Codes, usually posterior means.
    factors : array-like of shape (n_samples, n_factors)
        Ground-truth factors as non-negative integer classes.
    metrics : list of str, default=None
        Names among ``"mig"``, ``"mig_sup"``, ``"sap"``, ``"dci"``, ``"factor_vae"``,
        ``"beta_vae"``, ``"modularity"``, ``"active_units"``; ``None`` means all.
    random_state : int, RandomState instance or None, default=None
        Passed to every metric that draws at random; the dict is deterministic given it.
    metric_params : dict of str to dict, default=None
        Extra keyword arguments per metric name, e.g.
        ``{"dci": {"estimator": RandomForestClassifier()}, "factor_vae": {"batch_size": 32}}``.

    Returns
    -------
    scores : dict of str to float
        One entry per metric name; ``dci`` gives ``"dci_disentanglement"``,
        ``"dci_completeness"``, ``"dci_informativeness"`` and
        ``"dci_informativeness_train"``, and ``active_units`` gives ``"n_active_units"``.

    Raises
    ------
    ValueError
        An unknown metric name, or whatever a metric raises on its input.

    Notes
    -----
    With the default ``dci`` estimator (gradient boosting, as disentanglement_lib) this
    takes tens of seconds on 10,000 samples; pass a faster classifier in
    ``metric_params`` when the exact disentanglement_lib number is not needed.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skdisent.metrics import disentanglement_scores
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(2000, 2))
    >>> codes = factors + 0.01 * rng.normal(size=(2000, 2))
    >>> params = {"dci": {"estimator": DecisionTreeClassifier()}}
    >>> scores = disentanglement_scores(codes, factors, metrics=["mig", "dci"], random_state=0,
    ...                                 metric_params=params)
    >>> for name in sorted(scores):
    ...     print(name)
    dci_completeness
    dci_disentanglement
    dci_informativeness
    dci_informativeness_train
    mig
    """
    names = list(METRICS) if metrics is None else list(metrics)
    params = dict(metric_params or {})
    unknown = sorted(set(names).union(params) - set(METRICS))
    if unknown:
        raise ValueError(
            f"Unknown metric name(s) {unknown}; expected names among {list(METRICS)}."
        )
    codes, factors = check_codes_factors(codes, factors)
    scores = {}
    for name in names:
        metric = METRICS[name]
        kwargs = dict(params.get(name, {}))
        if takes_random_state(metric):
            kwargs.setdefault("random_state", random_state)
        if name == "active_units":
            scores["n_active_units"] = float(len(metric(codes, **kwargs)))
            continue
        value = metric(codes, factors, **kwargs)
        if isinstance(value, dict):
            scores.update({f"{name}_{key}": val for key, val in value.items()})
        else:
            scores[name] = value
    return scores
