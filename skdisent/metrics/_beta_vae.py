"""The BetaVAE disentanglement score (Higgins et al. 2017), computed from a pool of samples.

Where this differs from disentanglement_lib
-------------------------------------------
- disentanglement_lib draws each pair from a data generator (two factor vectors that
  agree on the fixed factor); here the first sample of a pair is drawn from the pool and
  the second among the pool's samples sharing its value of the fixed factor (with
  replacement). Every value of every factor needs at least ``batch_size`` samples in the
  pool, or a ValueError says which.
- A constant factor is left out with a ``UserWarning``.
- A latent whose values lie beyond 2**64 in magnitude (or are all below 2**-64) is first
  multiplied by the power of two that brings it into [1, 2) (``_validation.scaled_extremes``):
  the references overflow or never finish on such codes; ordinary codes are untouched.
"""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.utils import check_random_state

from ._groups import check_pool, chunks

__all__ = ["beta_vae_score"]

_POINT_CHUNK = 1024


def _pair_features(codes, groups, batch_size, n_points, rng):
    """``n_points`` training points: the mean absolute code difference over ``batch_size``
    pairs that share one factor, and that factor's index as the label."""
    features = np.empty((n_points, codes.shape[1]))
    labels = rng.randint(groups.n_factors, size=n_points)
    for start, count in chunks(n_points, _POINT_CHUNK):
        factor = np.repeat(labels[start:start + count], batch_size)
        first = rng.randint(groups.n_samples, size=count * batch_size)
        second = groups.draw(factor, first, 1, rng)[:, 0]
        diff = np.abs(codes[first] - codes[second]).reshape(count, batch_size, -1)
        features[start:start + count] = diff.mean(axis=1)
    return features, labels


def beta_vae_score(codes, factors, *, batch_size=64, n_train=10000, n_eval=5000,
                   random_state=None):
    """BetaVAE disentanglement score, from a pool of (codes, factors).

    Higgins et al. (2017): each training point picks a factor at random, draws
    ``batch_size`` pairs of samples that share a value of it, and averages the absolute
    difference of their codes over the pairs; a linear classifier predicts the fixed
    factor from that average. The score is its accuracy on ``n_eval`` fresh points.

    Estimator: disentanglement_lib's ``compute_beta_vae_sklearn`` (batch 64, 10,000
    training and 5,000 evaluation points, scikit-learn's ``LogisticRegression`` with its
    defaults), except that the pairs come from the pool: the first sample at random, the
    second drawn with replacement among the pool's samples sharing its value of the fixed
    factor.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_latents)
        Codes of the pool, usually posterior means.
    factors : array-like of shape (n_samples, n_factors)
        Ground-truth factors as non-negative integer classes; at least 2 varying factors,
        and every value of every factor held by at least ``batch_size`` samples.
    batch_size : int, default=64
        Pairs averaged per point.
    n_train, n_eval : int, default=10000, 5000
        Points to fit the classifier and to measure its accuracy.
    random_state : int, RandomState instance or None, default=None
        Seeds the pairs and the classifier; the score is deterministic given it.

    Returns
    -------
    score : float
        Evaluation accuracy in [0, 1].

    Raises
    ------
    ValueError
        Bad input, fewer than 2 varying factors, or a factor value held by fewer than
        ``batch_size`` samples of the pool.

    Warns
    -----
    UserWarning
        When a constant factor is left out.

    References
    ----------
    Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a Constrained
    Variational Framework", ICLR 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent.metrics import beta_vae_score
    >>> grid = np.stack(np.meshgrid(np.arange(4), np.arange(5), indexing="ij"), -1).reshape(-1, 2)
    >>> pool = np.tile(grid, (20, 1))  # every factor value 80 or 100 times
    >>> beta_vae_score(pool * [1.0, -2.0], pool, n_train=200, n_eval=200, random_state=0)
    1.0
    """
    codes, groups, batch_size, n_train, n_eval = check_pool(
        codes, factors, batch_size, n_train, n_eval, "beta_vae_score"
    )
    rng = check_random_state(random_state)
    x_train, y_train = _pair_features(codes, groups, batch_size, n_train, rng)
    x_eval, y_eval = _pair_features(codes, groups, batch_size, n_eval, rng)
    model = LogisticRegression(random_state=rng.randint(np.iinfo(np.int32).max))
    model.fit(x_train, y_train)
    return float(model.score(x_eval, y_eval))
