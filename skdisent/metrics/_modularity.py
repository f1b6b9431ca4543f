"""Modularity (Ridgeway & Mozer 2018), as disentanglement_lib computes it.

Where this differs from disentanglement_lib
-------------------------------------------
- disentanglement_lib computes it on 10,000 generated samples (and reports explicitness
  alongside); here on the samples given, modularity only.
- A constant factor is left out with a ``UserWarning``; with fewer than 2 varying factors
  the score is undefined (0/0 in disentanglement_lib) and a ValueError is raised.
"""

import numpy as np

from ._mutual_info import checked_mutual_info
from ._validation import check_count, drop_constant_factors

__all__ = ["modularity"]


def modularity_from_mutual_info(mi):
    """Mean modularity over latents of an MI matrix (n_latents, n_factors), >= 2 factors."""
    squared = mi**2
    top = squared.max(axis=1)
    dead = top == 0.0
    deviation = (squared.sum(axis=1) - top) / np.where(dead, 1.0, top * (mi.shape[1] - 1.0))
    return float(np.mean(np.where(dead, 0.0, 1.0 - deviation)))


def modularity(codes, factors, *, n_bins=20):
    """Modularity score: how much each latent depends on a single factor.

    Ridgeway & Mozer (2018): with ``m_jk`` the mutual information between latent ``j``
    and factor ``k`` and ``theta_j = max_k m_jk``, a latent's modularity is
    ``1 - sum_{k != argmax} m_jk^2 / (theta_j^2 (n_factors - 1))``; the score is its mean
    over latents. A latent with no information about any factor scores 0 and counts in
    the mean, as in disentanglement_lib.

    Estimator: disentanglement_lib's ``modularity``, with its histogram mutual information
    (``n_bins`` equal-width bins per latent, nats, unnormalised; see
    :func:`mutual_info_matrix`).

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_latents)
        Codes, usually posterior means.
    factors : array-like of shape (n_samples, n_factors)
        Ground-truth factors as non-negative integer classes; at least 2 varying.
    n_bins : int, default=20
        Equal-width bins per latent.

    Returns
    -------
    score : float
        In [0, 1].

    Raises
    ------
    ValueError
        Bad input (see :func:`mutual_info_matrix`) or fewer than 2 varying factors.

    Warns
    -----
    UserWarning
        When a constant factor is left out.

    References
    ----------
    Ridgeway and Mozer, "Learning Deep Disentangled Embeddings With the F-Statistic Loss",
    NeurIPS 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent.metrics import modularity
    >>> grid = np.stack(np.meshgrid(np.arange(4), np.arange(4), indexing="ij"), -1).reshape(-1, 2)
    >>> codes = np.c_[grid[:, 0], 4 * grid[:, 0] + grid[:, 1]]  # latent 1 holds both factors
    >>> round(modularity(np.repeat(codes, 2, axis=0), np.repeat(grid, 2, axis=0)), 6)
    0.5
    """
    mi, _, _, factors = checked_mutual_info(codes, factors, n_bins, "modularity")
    keep = drop_constant_factors(factors, "modularity")
    check_count(int(keep.sum()), 2, "varying factors", "modularity")
    return modularity_from_mutual_info(mi[:, keep])
