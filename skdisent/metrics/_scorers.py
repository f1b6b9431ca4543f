"""Scorers for model selection: ``scorer(estimator, X, y) -> float`` with ``y`` the factors.

``sklearn.metrics.make_scorer`` cannot call ``transform``, so these are plain callables:
they encode ``X`` with the estimator and score the result against ``y``, the factor
matrix. Histogram, classifier and vote metrics score the codes
``estimator.transform(X)``; the sampling estimator of the pro-VLAE reference
(:func:`mig_sampling`) scores the posterior ``estimator.posterior(X)``, its means and
log-variances, which the ladder models (``BetaVAE``, ``VLAE``, ``ProVLAE``) provide. They
work wherever scikit-learn takes a callable scorer: ``GridSearchCV``, ``cross_validate``,
multi-metric ``scoring={...}`` dicts with ``refit=``, any ``n_jobs`` and any joblib
backend (they pickle).

Two protocols, both through ``cv``:

- held-out: the usual splitters (``cv=3``) fit on some samples and score on the others;
- fit and score on the same data, the usual protocol in disentanglement papers:
  ``cv=[(np.arange(n), np.arange(n))]``.

Scores are computed on the scored split only, so pool-based scores (FactorVAE) need each
factor value ``batch_size`` times in that split, and the sampling estimator, made for a
full factor grid, matches the reference's number only when the scored split is that grid.
"""

import inspect

from ._dci import dci
from ._factor_vae import factor_vae_score
from ._mig import mig, mig_sup
from ._sampling import mig_sampling
from ._summary import METRICS, takes_random_state

__all__ = [
    "make_disentanglement_scorer",
    "mig_scorer",
    "mig_sup_scorer",
    "factor_vae_scorer",
    "dci_scorer",
    "mig_sampling_scorer",
    "mig_sup_sampling_scorer",
]

# Metrics of the posterior ``(means, logvars, factors)``, by name; the others take codes.
_POSTERIOR_METRICS = {"mig_sampling": mig_sampling}
_NAMES = [name for name in METRICS if name != "active_units"] + list(_POSTERIOR_METRICS)
_RESPONSE_METHODS = ("transform", "posterior")
_HAS_POSTERIOR = ("BetaVAE, VLAE, ProVLAE, HierarchicalVAE, TeacherStudentVAE and NVAE "
                  "have one")
# The float entries of our metrics that return a dict, checked when the scorer is built.
_SCORE_KEYS = {
    dci: ("disentanglement", "completeness", "informativeness", "informativeness_train"),
    mig_sampling: ("mig", "mig_sup"),
}


class _DisentanglementScorer:
    """``scorer(estimator, X, y)``: ``metric(<response of estimator>(X), y, **kwargs)[key]``.

    The response is ``estimator.transform(X)`` (codes) or the pair
    ``estimator.posterior(X)`` (means, log-variances), passed as two arguments.
    """

    def __init__(self, metric, key, kwargs, response_method="transform"):
        self.metric = metric
        self.key = key
        self.kwargs = kwargs
        self.response_method = response_method

    def _response(self, estimator, X):
        if self.response_method == "transform":
            return (estimator.transform(X),)
        if hasattr(estimator, "steps"):  # a Pipeline: the last step's posterior of X's features
            X, estimator = estimator[:-1].transform(X), estimator[-1]
        posterior = getattr(estimator, "posterior", None)
        if not callable(posterior):
            raise TypeError(
                f"{self!r} scores the posterior's means and log-variances, from "
                f"estimator.posterior(X); {type(estimator).__name__} has no posterior "
                f"method ({_HAS_POSTERIOR})."
            )
        means, logvars = posterior(X)
        return means, logvars

    def __call__(self, estimator, X, y=None):
        if y is None:
            raise ValueError(
                f"{self!r} scores codes against ground-truth factors: pass the factor "
                "matrix as y, e.g. GridSearchCV(...).fit(X, factors)."
            )
        value = self.metric(*self._response(estimator, X), y, **self.kwargs)
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
        if self.response_method != _default_response_method(self.metric):
            args.append(f"response_method={self.response_method!r}")
        args += [f"{name}={value!r}" for name, value in self.kwargs.items()]
        return f"make_disentanglement_scorer({', '.join(args)})"


def _default_response_method(metric):
    """``"posterior"`` for the sampling metrics, ``"transform"`` for the others."""
    if any(metric is known for known in _POSTERIOR_METRICS.values()):
        return "posterior"
    return "transform"


def _check_keywords(metric, kwargs):
    """Raise a TypeError now, not in every fold, for a keyword ``metric`` does not take."""
    try:
        signature = inspect.signature(metric)
    except (TypeError, ValueError):  # no signature to check against
        return
    try:
        signature.bind_partial(**kwargs)
    except TypeError as error:
        name = getattr(metric, "__name__", repr(metric))
        raise TypeError(f"{name} does not take these arguments: {error}") from None


def make_disentanglement_scorer(metric, *, key=None, random_state=0, response_method=None,
                                **kwargs):
    """Build a scorer ``scorer(estimator, X, y) -> float`` from a disentanglement metric.

    The scorer computes ``metric(estimator.transform(X), y, **kwargs)``, or for the
    sampling estimator ``metric(means, logvars, y, **kwargs)`` with
    ``means, logvars = estimator.posterior(X)``, where ``y`` is the factor matrix
    (n_samples, n_factors): use it as ``scoring=`` in ``GridSearchCV``,
    ``cross_validate`` or a multi-metric ``scoring={...}`` dict, and fit with
    ``.fit(X, factors)``. Higher is better for every metric here.

    Parameters
    ----------
    metric : callable or str
        A function ``metric(codes, factors, **kwargs)`` (or ``metric(means, logvars,
        factors, **kwargs)`` with ``response_method="posterior"``) returning a float or a
        dict of floats, or the name of one of ours (``"mig"``, ``"mig_sup"``, ``"sap"``,
        ``"dci"``, ``"factor_vae"``, ``"beta_vae"``, ``"modularity"``,
        ``"mig_sampling"``).
    key : str, default=None
        For a metric that returns a dict (``dci``; ``mig_sampling``, whose entries are
        ``"mig"`` and ``"mig_sup"``), the entry to score by.
    random_state : int, RandomState instance or None, default=0
        Passed to the metric when it takes one, so that the scorer is deterministic and
        grid-search rankings do not depend on noise.
    response_method : {"transform", "posterior"}, default=None
        What the metric scores: ``"transform"``, the codes ``estimator.transform(X)``;
        ``"posterior"``, the means and log-variances ``estimator.posterior(X)`` (only the
        ladder models ``BetaVAE``, ``VLAE`` and ``ProVLAE`` have that method). ``None``
        means ``"posterior"`` for :func:`mig_sampling` and ``"transform"`` otherwise.
    **kwargs
        Other keyword arguments of the metric, e.g. ``n_bins`` of :func:`mig`, or
        ``n_samples``, ``active_threshold`` and ``chunk_size`` of :func:`mig_sampling`.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``; picklable when ``metric`` is. It raises a
        ValueError when ``y`` is None and, for ``"posterior"``, a TypeError when the
        estimator has no ``posterior`` method.

    Raises
    ------
    ValueError
        An unknown metric name or ``response_method``, or for :func:`dci` and
        :func:`mig_sampling` a ``key`` that is not one of their scores.
    TypeError
        A ``metric`` that is neither callable nor a name, or keyword arguments it does not
        take.

    Notes
    -----
    Each scorer computes its metric anew: a multi-metric search with both
    :data:`mig_sampling_scorer` and :data:`mig_sup_sampling_scorer` runs
    :func:`mig_sampling`, the costly part, twice per fit. Its ``n_samples`` (10,000 by
    default) bounds the cost per entropy; lower it to search faster.

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

    The sampling estimator, with fewer samples per entropy than the reference's 10,000:

    >>> make_disentanglement_scorer("mig_sampling", key="mig_sup", n_samples=2000)
    make_disentanglement_scorer(mig_sampling, key='mig_sup', n_samples=2000, random_state=0)
    """
    if isinstance(metric, str):
        if metric not in _NAMES:
            raise ValueError(f"Unknown metric {metric!r}; expected a callable or one of {_NAMES}.")
        metric = _POSTERIOR_METRICS.get(metric) or METRICS[metric]
    if not callable(metric):
        raise TypeError(f"metric must be a callable or a metric name; got {metric!r}.")
    if response_method is None:
        response_method = _default_response_method(metric)
    if response_method not in _RESPONSE_METHODS:
        raise ValueError(
            f"response_method must be one of {list(_RESPONSE_METHODS)} or None; "
            f"got {response_method!r}."
        )
    keys = next((keys for known, keys in _SCORE_KEYS.items() if metric is known), None)
    if keys is not None and key not in keys:
        raise ValueError(
            f"{metric.__name__} returns several scores; build the scorer with key= one of "
            f"{list(keys)}, not {key!r}."
        )
    if takes_random_state(metric):
        kwargs["random_state"] = random_state
    _check_keywords(metric, kwargs)
    return _DisentanglementScorer(metric, key, kwargs, response_method)


#: MIG (histogram estimator, :func:`mig`) of ``estimator.transform(X)`` against ``y``.
mig_scorer = make_disentanglement_scorer(mig)
#: MIG-sup (histogram estimator, :func:`mig_sup`) of ``estimator.transform(X)`` against ``y``.
mig_sup_scorer = make_disentanglement_scorer(mig_sup)
#: FactorVAE score (:func:`factor_vae_score`, ``random_state=0``) of the codes against ``y``.
factor_vae_scorer = make_disentanglement_scorer(factor_vae_score)
#: DCI disentanglement (:func:`dci`, gradient boosting, ``random_state=0``) against ``y``.
dci_scorer = make_disentanglement_scorer(dci, key="disentanglement")
#: MIG (sampling estimator, :func:`mig_sampling`, ``random_state=0``) of
#: ``estimator.posterior(X)`` against ``y``.
mig_sampling_scorer = make_disentanglement_scorer(mig_sampling, key="mig")
#: MIG-sup (sampling estimator, :func:`mig_sampling`, ``random_state=0``) of
#: ``estimator.posterior(X)`` against ``y``.
mig_sup_sampling_scorer = make_disentanglement_scorer(mig_sampling, key="mig_sup")
