"""The SAP score (Kumar et al. 2018), as disentanglement_lib computes it.

Where this differs from disentanglement_lib
-------------------------------------------
- disentanglement_lib draws 10,000 training and 5,000 test samples from a generator; here
  a pool is split at random (``test_size``, 1/3 by default). With ``continuous_factors``
  the squared correlations use the whole pool (nothing is fitted).
- A constant factor is left out with a ``UserWarning``; SAP needs at least 2 latents.
- A latent whose values lie beyond 2**64 in magnitude (or are all below 2**-64) is first
  multiplied by the power of two that brings it into [1, 2) (``_validation.scaled_extremes``):
  the references overflow or never finish on such codes; ordinary codes are untouched.
- With ``continuous_factors`` a squared correlation that rounding takes past 1 is 1.
"""

import numpy as np
from sklearn.svm import LinearSVC
from sklearn.utils import check_random_state

from ._mig import top_two_gap
from ._validation import (
    check_codes_factors,
    check_count,
    drop_constant_factors,
    scaled_extremes,
    train_test_indices,
)

__all__ = ["sap"]


def _squared_correlation(codes, factors):
    """``cov(c_j, v_k)^2 / (var c_j var v_k)`` (n_latents, n_factors); 0 for a constant code."""
    c = codes - codes.mean(axis=0)
    v = factors - factors.mean(axis=0)
    cov = c.T @ v
    var_c, var_v = (c**2).sum(axis=0), (v**2).sum(axis=0)
    n = codes.shape[0] - 1
    live = var_c / n > 1e-12
    squared = np.where(live[:, None], cov**2 / np.where(live, var_c, 1.0)[:, None] / var_v, 0.0)
    return np.clip(squared, 0.0, 1.0)  # rounding can take a perfect correlation past 1


def _classification_accuracy(codes, factors, test_size, rng):
    """Test accuracy (n_latents, n_factors) of a linear SVM on each single latent."""
    train, test = train_test_indices(codes.shape[0], test_size, rng, "sap")
    scores = np.empty((codes.shape[1], factors.shape[1]))
    for j in range(codes.shape[1]):
        for k in range(factors.shape[1]):
            model = LinearSVC(C=0.01, class_weight="balanced",
                              random_state=rng.randint(np.iinfo(np.int32).max))
            model.fit(codes[train, j:j + 1], factors[train, k])
            scores[j, k] = np.mean(model.predict(codes[test, j:j + 1]) == factors[test, k])
    return scores


def sap(codes, factors, *, continuous_factors=False, test_size=1 / 3, random_state=None):
    """Separated Attribute Predictability (SAP) score.

    Kumar et al. (2018): a score matrix says how well each single latent predicts each
    factor; for each factor, the gap between the two best latents, averaged over factors.

    Estimator: disentanglement_lib's ``compute_sap``. For discrete factors (the default, as
    in disentanglement_lib's study) the score is the test accuracy of
    ``LinearSVC(C=0.01, class_weight="balanced")`` fitted on one latent; with
    ``continuous_factors=True`` it is the squared correlation between latent and factor
    (0 for a latent of variance below 1e-12).

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_latents)
        Codes, usually posterior means. At least 2 latents.
    factors : array-like of shape (n_samples, n_factors) or (n_samples,)
        Ground-truth factors as non-negative integer classes.
    continuous_factors : bool, default=False
        Score each pair by squared correlation instead of classification accuracy.
    test_size : float, default=1/3
        Fraction of the pool held out to measure the accuracies (disentanglement_lib uses
        10,000 training and 5,000 test samples). Unused with ``continuous_factors``.
    random_state : int, RandomState instance or None, default=None
        Seeds the split and the classifiers.

    Returns
    -------
    score : float
        In [0, 1]; higher means each factor is predicted by one latent much better than
        by any other.

    Raises
    ------
    ValueError
        Bad input, fewer than 2 latents, or every factor constant.

    Warns
    -----
    UserWarning
        When a constant factor is left out.

    References
    ----------
    Kumar, Sattigeri and Balakrishnan, "Variational Inference of Disentangled Latent
    Concepts from Unlabeled Observations", ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent.metrics import sap
    >>> grid = np.stack(np.meshgrid(np.arange(4), np.arange(5), indexing="ij"), -1).reshape(-1, 2)
    >>> round(sap(grid * 1.0, grid, continuous_factors=True), 6)
    1.0
    """
    codes, factors = check_codes_factors(codes, factors)
    codes = scaled_extremes(codes)
    check_count(codes.shape[1], 2, "latents", "sap")
    factors = factors[:, drop_constant_factors(factors, "sap")]
    if continuous_factors:
        scores = _squared_correlation(codes, factors.astype(float))
    else:
        scores = _classification_accuracy(codes, factors, test_size,
                                          check_random_state(random_state))
    return float(np.mean(top_two_gap(scores, axis=0)))
