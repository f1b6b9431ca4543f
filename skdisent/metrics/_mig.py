"""MIG (Chen et al. 2018) and MIG-sup (Li et al. 2020) from histogram mutual information.

Both scores read the matrix of normalised mutual informations ``I(c_j; v_k) / H(v_k)``
(:func:`~skdisent.metrics.mutual_info_matrix`, disentanglement_lib's 20-bin histogram
estimator). MIG takes, for each factor, the gap between the two latents that know most
about it; MIG-sup takes, for each active latent, the gap between the two factors it knows
most about. The same gaps over the sampling estimator's matrix are
:func:`~skdisent.metrics.mig_sampling`.

Where these differ from the references
--------------------------------------
- A constant factor (``H(v_k) = 0``) makes disentanglement_lib's MIG NaN; here it is left
  out of the average with a ``UserWarning``.
- MIG-sup of the pro-VLAE reference averages over an empty set (NaN) when no latent is
  active; here it is 0.0, with a ``UserWarning``.
- MIG needs at least 2 latents and MIG-sup at least 2 factors (a gap needs two values):
  fewer raise a ValueError instead of an IndexError.
"""

import warnings

import numpy as np

from ._mutual_info import checked_mutual_info, normalize_columns
from ._validation import check_codes, check_count, drop_constant_factors

__all__ = ["mig", "mig_sup", "active_units"]


def top_two_gap(matrix, axis):
    """Largest minus second largest value along ``axis``."""
    top = -np.partition(-matrix, 1, axis=axis)
    return np.take(top, 0, axis=axis) - np.take(top, 1, axis=axis)


def active_mask(codes, threshold):
    """Latents whose sample variance (ddof=1, as ``torch.std``) exceeds ``threshold``.

    Column by column, so that the temporary is one column, not a copy of the codes.
    """
    return np.array([column.var(ddof=1) for column in codes.T]) > threshold


def mig_gap(mi_normed):
    """MIG of a normalised MI matrix (n_latents, n_factors): mean over factors."""
    return float(np.mean(top_two_gap(np.clip(mi_normed, 0.0, None), axis=0)))


def mig_sup_gap(mi_normed, active, metric):
    """MIG-sup of a normalised MI matrix over the ``active`` latents (0.0 when none)."""
    if not active.any():
        warnings.warn(
            f"{metric}: no latent is active (variance of the code above the threshold); "
            "the score is 0.",
            UserWarning,
            stacklevel=3,
        )
        return 0.0
    return float(np.mean(top_two_gap(np.clip(mi_normed[active], 0.0, None), axis=1)))


def mig(codes, factors, *, n_bins=20):
    """Mutual information gap (MIG), histogram estimator.

    For each factor ``v_k``, the normalised mutual informations ``I(c_j; v_k) / H(v_k)``
    are sorted over the latents ``j``; MIG is the gap between the top two, averaged over
    the factors (Chen et al., 2018). It is low when a factor is split over several
    latents, and blind to several factors packed into one latent (see :func:`mig_sup`).

    The estimator is disentanglement_lib's ``discrete_mig``: ``n_bins`` equal-width bins
    per latent over its own range, plug-in mutual information in nats, ``H(v_k)`` the
    factor's empirical entropy. The pro-VLAE reference instead used the sampling estimator
    of Chen et al. on the full factor grid: :func:`mig_sampling`.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_latents)
        Codes, usually posterior means. At least 2 latents.
    factors : array-like of shape (n_samples, n_factors) or (n_samples,)
        Ground-truth factors as non-negative integer classes.
    n_bins : int, default=20
        Equal-width bins per latent.

    Returns
    -------
    score : float
        In [0, 1]; 1 when every factor is known fully by one latent and not at all by
        the others.

    Raises
    ------
    ValueError
        Bad input (see :func:`mutual_info_matrix`), fewer than 2 latents, or every factor
        constant.

    Warns
    -----
    UserWarning
        When a constant factor is left out (disentanglement_lib would return NaN).

    References
    ----------
    Chen, Li, Grosse and Duvenaud, "Isolating Sources of Disentanglement in Variational
    Autoencoders", NeurIPS 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent.metrics import mig
    >>> grid = np.stack(np.meshgrid(np.arange(4), np.arange(5), indexing="ij"), -1).reshape(-1, 2)
    >>> round(mig(grid * [2.0, -0.5], grid), 6)
    1.0
    """
    mi, entropy, codes, factors = checked_mutual_info(codes, factors, n_bins, "mig")
    check_count(codes.shape[1], 2, "latents", "mig")
    keep = drop_constant_factors(factors, "mig")
    return mig_gap(normalize_columns(mi, entropy)[:, keep])


def mig_sup(codes, factors, *, n_bins=20, active_threshold=0.01):
    """MIG-sup: the mutual information gap taken per latent, histogram estimator.

    For each *active* latent ``c_j``, the normalised mutual informations
    ``I(c_j; v_k) / H(v_k)`` are sorted over the factors ``k``; MIG-sup is the gap between
    the top two, averaged over the active latents (Li et al., 2020). It is low when a
    latent holds several factors, and complements :func:`mig`. A latent is active when
    the variance of its code over the data exceeds ``active_threshold`` (0.01 in the
    pro-VLAE reference, with the unbiased variance of ``torch.std``).

    The estimator is the histogram one of :func:`mig` (normalised by the factor's
    empirical entropy); the pro-VLAE paper's numbers come from the sampling estimator,
    :func:`mig_sampling`, normalised by the log of the factor's cardinality.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_latents)
        Codes, usually posterior means.
    factors : array-like of shape (n_samples, n_factors) or (n_samples,)
        Ground-truth factors as non-negative integer classes. At least 2 varying factors.
    n_bins : int, default=20
        Equal-width bins per latent.
    active_threshold : float, default=0.01
        Variance of a code above which its latent counts as active.

    Returns
    -------
    score : float
        In [0, 1]; 0.0 when no latent is active.

    Raises
    ------
    ValueError
        Bad input (see :func:`mutual_info_matrix`) or fewer than 2 varying factors.

    Warns
    -----
    UserWarning
        When a constant factor is left out, or when no latent is active (the reference
        would return NaN).

    References
    ----------
    Li, Murkute, Gyawali and Wang, "Progressive Learning and Disentanglement of
    Hierarchical Representations", ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent.metrics import mig_sup
    >>> grid = np.stack(np.meshgrid(np.arange(4), np.arange(5), indexing="ij"), -1).reshape(-1, 2)
    >>> round(mig_sup(grid * 1.0, grid), 6)
    1.0
    """
    mi, entropy, codes, factors = checked_mutual_info(codes, factors, n_bins, "mig_sup")
    keep = drop_constant_factors(factors, "mig_sup")
    check_count(int(keep.sum()), 2, "varying factors", "mig_sup")
    mi_normed = normalize_columns(mi, entropy)[:, keep]
    return mig_sup_gap(mi_normed, active_mask(codes, active_threshold), "mig_sup")


def active_units(codes, *, threshold=0.01):
    """Indices of the active latents: variance of the code above ``threshold``.

    The pro-VLAE reference's rule for MIG-sup: a latent is active when the variance of its
    posterior mean over the data exceeds 0.01 (unbiased variance, as ``torch.std``).

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_latents)
        Codes, usually posterior means.
    threshold : float, default=0.01
        Variance above which a latent is active.

    Returns
    -------
    indices : ndarray of int
        Sorted indices of the active latents; ``len(indices)`` is the number of
        active units.

    References
    ----------
    Li, Murkute, Gyawali and Wang, "Progressive Learning and Disentanglement of
    Hierarchical Representations", ICLR 2020 (reference code, ``metric_MIG.py``).

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent.metrics import active_units
    >>> codes = np.c_[np.linspace(-1, 1, 10), np.full(10, 3.0), np.linspace(0, 0.1, 10)]
    >>> active_units(codes)
    array([0])
    """
    return np.flatnonzero(active_mask(check_codes(codes), threshold))
