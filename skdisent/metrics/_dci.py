"""Disentanglement, completeness and informativeness (Eastwood & Williams 2018).

Where this differs from disentanglement_lib
-------------------------------------------
- disentanglement_lib draws 10,000 training and 5,000 test samples from a generator; here
  a pool is split at random (``test_size``, 1/3 by default).
- The gradient boosted trees get a ``random_state`` drawn from ours, so the importances
  are reproducible (disentanglement_lib leaves it unset).
- Any classifier exposing ``feature_importances_`` or ``coef_`` can replace them.
- With a single factor (or a single latent) the entropy base is 1; disentanglement_lib
  returns NaN there, here each latent's disentanglement (each factor's completeness) is 1.
- A constant factor is left out with a ``UserWarning`` (a classifier cannot be fitted to it).
- A latent whose values lie beyond 2**64 in magnitude (or are all below 2**-64) is first
  multiplied by the power of two that brings it into [1, 2) (``_validation.scaled_extremes``):
  the references overflow or never finish on such codes; ordinary codes are untouched.
"""

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.utils import check_random_state

from ._validation import (
    check_codes_factors,
    drop_constant_factors,
    scaled_extremes,
    train_test_indices,
)

__all__ = ["dci"]

# disentanglement_lib adds this to the importances before taking entropies
_EPSILON = 1e-11


def _importance(model, n_latents):
    """Absolute importance of each latent in a fitted classifier, (n_latents,)."""
    if hasattr(model, "feature_importances_"):
        return np.abs(np.asarray(model.feature_importances_, dtype=float))
    if hasattr(model, "coef_"):
        return np.abs(np.asarray(model.coef_, dtype=float)).reshape(-1, n_latents).mean(axis=0)
    raise TypeError(
        f"dci: the estimator {type(model).__name__} exposes neither feature_importances_ "
        "nor coef_ after fit; use a classifier that does (trees, boosting, linear models)."
    )


def _one_minus_entropy(importance, axis):
    """``1 - H(p)/log(m)`` for each distribution ``p`` along ``axis`` (m outcomes); 1 if m == 1."""
    m = importance.shape[axis]
    p = importance + _EPSILON
    p = p / p.sum(axis=axis, keepdims=True)
    if m == 1:
        return np.ones(importance.shape[1 - axis])
    return 1.0 + (p * np.log(p)).sum(axis=axis) / np.log(m)


def _weighted(scores, importance, axis):
    """``scores`` averaged with weights proportional to ``importance`` summed over ``axis``."""
    if importance.sum() == 0.0:
        importance = np.ones_like(importance)
    weights = importance.sum(axis=axis) / importance.sum()
    return float(np.sum(scores * weights))


def disentanglement_completeness(importance):
    """(disentanglement, completeness) of an importance matrix (n_latents, n_factors)."""
    disentanglement = _weighted(_one_minus_entropy(importance, axis=1), importance, axis=1)
    completeness = _weighted(_one_minus_entropy(importance, axis=0), importance, axis=0)
    return disentanglement, completeness


def dci(codes, factors, *, estimator=None, test_size=1 / 3, random_state=None):
    """Disentanglement, completeness and informativeness (DCI).

    Eastwood & Williams (2018): one classifier per factor predicts it from all the
    latents; its feature importances fill the importance matrix ``R`` (n_latents,
    n_factors). Disentanglement is ``1 - H(R_j.)/log(n_factors)`` per latent (entropy of
    its importance over factors), averaged with weights proportional to the latent's
    total importance; completeness is ``1 - H(R_.k)/log(n_latents)`` per factor, weighted
    likewise; informativeness is the classifiers' mean test accuracy.

    Estimator: disentanglement_lib's ``compute_dci``, with scikit-learn's
    ``GradientBoostingClassifier`` (default settings) per factor, ``1e-11`` added to the
    importances before taking entropies, and informativeness reported as accuracy (not
    error).

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_latents)
        Codes, usually posterior means.
    factors : array-like of shape (n_samples, n_factors) or (n_samples,)
        Ground-truth factors as non-negative integer classes.
    estimator : classifier, default=None
        Fitted once per factor (a clone each time, given a ``random_state`` drawn from
        ours when it takes one). It must expose ``feature_importances_`` or ``coef_``
        (the mean absolute coefficient over classes is then the importance). ``None``
        means ``GradientBoostingClassifier()``, which is slow on 10,000 samples with
        many classes: a ``RandomForestClassifier`` or ``DecisionTreeClassifier`` is a
        faster stand-in whose numbers are not disentanglement_lib's.
    test_size : float, default=1/3
        Fraction of the pool held out for informativeness (disentanglement_lib: 10,000
        training, 5,000 test samples).
    random_state : int, RandomState instance or None, default=None
        Seeds the split and the classifiers.

    Returns
    -------
    scores : dict
        ``"disentanglement"``, ``"completeness"``, ``"informativeness"`` (mean test
        accuracy) and ``"informativeness_train"`` (mean training accuracy), floats in
        [0, 1].

    Raises
    ------
    ValueError
        Bad input, or every factor constant.
    TypeError
        When the estimator exposes no importances.

    Warns
    -----
    UserWarning
        When a constant factor is left out.

    References
    ----------
    Eastwood and Williams, "A Framework for the Quantitative Evaluation of Disentangled
    Representations", ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skdisent.metrics import dci
    >>> grid = np.stack(np.meshgrid(np.arange(4), np.arange(5), indexing="ij"), -1).reshape(-1, 2)
    >>> pool = np.repeat(grid, 10, axis=0)
    >>> scores = dci(pool * 1.0, pool, estimator=DecisionTreeClassifier(), random_state=0)
    >>> for name, value in scores.items():
    ...     print(name, round(value, 6))
    disentanglement 1.0
    completeness 1.0
    informativeness 1.0
    informativeness_train 1.0
    """
    codes, factors = check_codes_factors(codes, factors)
    codes = scaled_extremes(codes)
    factors = factors[:, drop_constant_factors(factors, "dci")]
    rng = check_random_state(random_state)
    train, test = train_test_indices(codes.shape[0], test_size, rng, "dci")
    base = GradientBoostingClassifier() if estimator is None else estimator
    n_latents, n_factors = codes.shape[1], factors.shape[1]
    importance = np.zeros((n_latents, n_factors))
    accuracy_train, accuracy_test = np.empty(n_factors), np.empty(n_factors)
    for k in range(n_factors):
        model = clone(base)
        if "random_state" in model.get_params():
            model.set_params(random_state=rng.randint(np.iinfo(np.int32).max))
        model.fit(codes[train], factors[train, k])
        importance[:, k] = _importance(model, n_latents)
        accuracy_train[k] = np.mean(model.predict(codes[train]) == factors[train, k])
        accuracy_test[k] = np.mean(model.predict(codes[test]) == factors[test, k])
    disentanglement, completeness = disentanglement_completeness(importance)
    return {
        "disentanglement": disentanglement,
        "completeness": completeness,
        "informativeness": float(accuracy_test.mean()),
        "informativeness_train": float(accuracy_train.mean()),
    }
