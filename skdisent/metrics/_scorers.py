"""Scorers for model selection: ``scorer(estimator, X, y) -> float`` with ``y`` the factors.

``sklearn.metrics.make_scorer`` cannot call ``transform``, so these are plain callables:
they encode ``X`` with ``estimator.transform`` and score the codes against ``y``, the
factor matrix. They work wherever scikit-learn takes a callable scorer: ``GridSearchCV``,
``cross_validate``, multi-metric ``scoring={...}`` dicts with ``refit=``, any ``n_jobs``
and any joblib backend (they pickle).

Two protocols, both through ``cv``:

- held-out: the usual splitters (``cv=3``) fit on some samples and score on the others;
- fit and score on the same data, the usual protocol in disentanglement papers:
  ``cv=[(np.arange(n), np.arange(n))]``.

Scores are computed on the scored split only, so pool-based scores (FactorVAE) need each
factor value ``batch_size`` times in that split.
"""

from ._dci import dci
from ._factor_vae import factor_vae_score
from ._mig import mig, mig_sup
from ._summary import METRICS, takes_random_state

__all__ = [
    "make_disentanglement_scorer",
    "mig_scorer",
    "mig_sup_scorer",
    "factor_vae_scorer",
    "dci_scorer",
]


class _DisentanglementScorer:
    """``scorer(estimator, X, y)``: ``metric(estimator.transform(X), y, **kwargs)[key]``."""

    def __init__(self, metric, key, kwargs):
        self.metric = metric
        self.key = key
        self.kwargs = kwargs

    def __call__(self, estimator, X, y=None):
        if y is None:
            raise ValueError(
                f"{self!r} scores codes against ground-truth factors: pass the factor "
                "matrix as y, e.g. GridSearchCV(...).fit(X, factors)."
            )
        value = self.metric(estimator.transform(X), y, **self.kwargs)
        if self.key is not None:
            value = value[self.key]
        elif isinstance(value, dict):
            raise ValueError(
                f"{self.metric.__name__} returns several scores {sorted(value)}; build the "
                "scorer with key= naming the one to use."
            )
        return float(value)

    def __repr__(self):
        args = [self.metric.__name__]
        if self.key is not None:
            args.append(f"key={self.key!r}")
        args += [f"{name}={value!r}" for name, value in self.kwargs.items()]
        return f"make_disentanglement_scorer({', '.join(args)})"


def make_disentanglement_scorer(metric, *, key=None, random_state=0, **kwargs):
    """Build a scorer ``scorer(estimator, X, y) -> float`` from a disentanglement metric.

    The scorer computes ``metric(estimator.transform(X), y, **kwargs)``, where ``y`` is
    the factor matrix (n_samples, n_factors): use it as ``scoring=`` in
    ``GridSearchCV``, ``cross_validate`` or a multi-metric ``scoring={...}`` dict, and
    fit with ``.fit(X, factors)``. Higher is better for every metric here.

    Parameters
    ----------
    metric : callable or str
        A function ``metric(codes, factors, **kwargs)`` returning a float or a dict of
        floats, or the name of one of ours (``"mig"``, ``"mig_sup"``, ``"sap"``,
        ``"dci"``, ``"factor_vae"``, ``"beta_vae"``, ``"modularity"``).
    key : str, default=None
        For a metric that returns a dict (``dci``), the entry to score by.
    random_state : int, RandomState instance or None, default=0
        Passed to the metric when it takes one, so that the scorer is deterministic and
        grid-search rankings do not depend on noise.
    **kwargs
        Other keyword arguments of the metric.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``; picklable when ``metric`` is.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.model_selection import cross_val_score
    >>> from skdisent.metrics import make_disentanglement_scorer, mig
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 5, size=(600, 2))
    >>> X = factors @ np.array([[1.0, 0.0, 0.5], [0.0, 2.0, 0.0]])
    >>> scorer = make_disentanglement_scorer(mig, n_bins=10)
    >>> cross_val_score(PCA(n_components=2), X, factors, scoring=scorer, cv=3).shape
    (3,)
    """
    if isinstance(metric, str):
        if metric not in METRICS or metric == "active_units":
            names = [name for name in METRICS if name != "active_units"]
            raise ValueError(f"Unknown metric {metric!r}; expected a callable or one of {names}.")
        metric = METRICS[metric]
    if not callable(metric):
        raise TypeError(f"metric must be a callable or a metric name; got {metric!r}.")
    if takes_random_state(metric):
        kwargs["random_state"] = random_state
    return _DisentanglementScorer(metric, key, kwargs)


#: MIG (histogram estimator, :func:`mig`) of ``estimator.transform(X)`` against ``y``.
mig_scorer = make_disentanglement_scorer(mig)
#: MIG-sup (histogram estimator, :func:`mig_sup`) of ``estimator.transform(X)`` against ``y``.
mig_sup_scorer = make_disentanglement_scorer(mig_sup)
#: FactorVAE score (:func:`factor_vae_score`, ``random_state=0``) of the codes against ``y``.
factor_vae_scorer = make_disentanglement_scorer(factor_vae_score)
#: DCI disentanglement (:func:`dci`, gradient boosting, ``random_state=0``) against ``y``.
dci_scorer = make_disentanglement_scorer(dci, key="disentanglement")
