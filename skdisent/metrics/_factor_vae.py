"""The FactorVAE disentanglement score (Kim & Mnih 2018), computed from a pool of samples.

Where this differs from disentanglement_lib
-------------------------------------------
- disentanglement_lib draws batches from a data generator; here they are drawn from the
  pool given (samples sharing the fixed factor's value, with replacement), and the global
  variances come from the whole pool instead of 10,000 fresh samples. Every value of every
  factor needs at least ``batch_size`` samples in the pool, or a ValueError says which.
- A constant factor is left out with a ``UserWarning`` (the generator never has one).
- No active latent gives 0.0 as in disentanglement_lib, with a ``UserWarning``.
- A latent whose values lie beyond 2**64 in magnitude (or are all below 2**-64) is first
  multiplied by the power of two that brings it into [1, 2) (``_validation.scaled_extremes``):
  the references overflow or never finish on such codes; ordinary codes are untouched.
"""

import warnings

import numpy as np
from sklearn.utils import check_random_state

from ._groups import check_pool, chunks

__all__ = ["factor_vae_score"]

_VOTE_CHUNK = 1024


def _votes(codes, variances, groups, batch_size, n_votes, rng):
    """Vote counts (n_factors, n_latents): for each vote, the fixed factor and the latent
    with the smallest variance in its batch relative to the pool's variance."""
    votes = np.zeros((groups.n_factors, codes.shape[1]), dtype=np.int64)
    for _, count in chunks(n_votes, _VOTE_CHUNK):
        factor = rng.randint(groups.n_factors, size=count)
        anchors = rng.randint(groups.n_samples, size=count)
        batch = codes[groups.draw(factor, anchors, batch_size, rng)]
        latent = np.argmin(batch.var(axis=1, ddof=1) / variances, axis=1)
        np.add.at(votes, (factor, latent), 1)
    return votes


def majority_vote_accuracy(train_votes, eval_votes):
    """Accuracy on ``eval_votes`` of the classifier latent -> most voted factor in training."""
    classifier = np.argmax(train_votes, axis=0)
    correct = eval_votes[classifier, np.arange(eval_votes.shape[1])].sum()
    return float(correct / eval_votes.sum())


def factor_vae_score(codes, factors, *, batch_size=64, n_train=10000, n_eval=5000,
                     prune_threshold=0.05, random_state=None):
    """FactorVAE disentanglement score, from a pool of (codes, factors).

    Kim & Mnih (2018): each latent is divided by its standard deviation over the data;
    each vote picks a factor at random, draws a batch of ``batch_size`` samples sharing
    one value of it, and takes the latent with the lowest normalised variance in the batch.
    A majority-vote classifier maps each latent to the factor it was most often voted
    for on ``n_train`` votes; the score is its accuracy on ``n_eval`` fresh votes. Latents
    whose standard deviation is below ``prune_threshold`` are left out.

    Estimator: disentanglement_lib's ``compute_factor_vae`` (batch 64, 10,000 training and
    5,000 evaluation votes, prune threshold 0.05, variances with ``ddof=1``), except that
    the batches are drawn from the pool: a random sample fixes the factor's value and the
    batch is drawn with replacement among the pool's samples sharing that value, which is
    the generator's conditional distribution on a pool drawn from the generator.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_latents)
        Codes of the pool, usually posterior means.
    factors : array-like of shape (n_samples, n_factors)
        Ground-truth factors as non-negative integer classes; at least 2 varying factors,
        and every value of every factor held by at least ``batch_size`` samples.
    batch_size : int, default=64
        Samples per vote.
    n_train, n_eval : int, default=10000, 5000
        Votes to fit the classifier and to measure its accuracy.
    prune_threshold : float, default=0.05
        Standard deviation below which a latent counts as collapsed and is left out.
    random_state : int, RandomState instance or None, default=None
        Seeds the votes; the score is deterministic given it.

    Returns
    -------
    score : float
        Evaluation accuracy in [0, 1]; 0.0 when no latent is active.

    Raises
    ------
    ValueError
        Bad input, fewer than 2 varying factors, or a factor value held by fewer than
        ``batch_size`` samples of the pool.

    Warns
    -----
    UserWarning
        When a constant factor is left out, or when no latent is active.

    References
    ----------
    Kim and Mnih, "Disentangling by Factorising", ICML 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent.metrics import factor_vae_score
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(2000, 3))
    >>> codes = factors + 0.01 * rng.normal(size=(2000, 3))
    >>> factor_vae_score(codes, factors, n_train=500, n_eval=500, random_state=0)
    1.0
    """
    codes, groups, batch_size, n_train, n_eval = check_pool(
        codes, factors, batch_size, n_train, n_eval, "factor_vae_score"
    )
    rng = check_random_state(random_state)
    variances = codes.var(axis=0, ddof=1)
    active = np.sqrt(variances) >= prune_threshold
    if not active.any():
        warnings.warn(
            "factor_vae_score: no latent has a standard deviation above "
            f"prune_threshold={prune_threshold}; the score is 0.",
            UserWarning,
            stacklevel=2,
        )
        return 0.0
    codes, variances = codes[:, active], variances[active]
    train = _votes(codes, variances, groups, batch_size, n_train, rng)
    evaluation = _votes(codes, variances, groups, batch_size, n_eval, rng)
    return majority_vote_accuracy(train, evaluation)
