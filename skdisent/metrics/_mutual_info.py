"""Mutual information between codes and factors by histogram (disentanglement_lib's estimator).

Each latent is cut into ``n_bins`` equal-width bins over its own range, exactly as
disentanglement_lib's ``histogram_discretizer`` does (``np.digitize`` against the edges of
``np.histogram``), and the mutual information between every binned latent and every factor
is the plug-in estimate of scikit-learn's ``mutual_info_score``, in nats. The difference is
speed only: all latent/factor contingency tables come from one ``np.bincount`` per factor
instead of one ``mutual_info_score`` call per pair, and the values agree with that loop to
1e-10 (see ``benchmarks/bench_metrics.py``). Each latent is first multiplied by a power of two
(exact, and binned the same), so codes near the largest float or subnormal ones, on which
disentanglement_lib's ``np.histogram`` fails, are binned too.
"""

import numpy as np

from ._validation import check_codes_factors, check_count, encode_factor, scaled_to_unit

__all__ = ["mutual_info_matrix"]


def histogram_bins(codes, n_bins):
    """Bin index in ``0..n_bins-1`` of every code, per latent, over the latent's own range.

    Identical to disentanglement_lib's ``np.digitize(c, np.histogram(c, n_bins)[1][:-1]) - 1``
    for every column (a constant column falls in a single bin): the edges are the same
    ``np.linspace`` values, and the index computed arithmetically for all columns at once
    is corrected against them (rounding moves it by one bin at most).
    """
    n_samples, n_latents = codes.shape
    codes = scaled_to_unit(codes)  # the same bins; no range overflows or vanishes
    lo, hi = codes.min(axis=0), codes.max(axis=0)
    flat = lo == hi
    lo = np.where(flat, lo - 0.5, lo).astype(codes.dtype)
    hi = np.where(flat, hi + 0.5, hi).astype(codes.dtype)
    edges = np.linspace(lo, hi, n_bins + 1, dtype=codes.dtype)
    # the inner edges, padded so that bin b is edges[b] <= x < edges[b + 1]
    edges[0], edges[-1] = -np.inf, np.inf
    column_edges = edges.T.ravel()  # column j's edges at j * (n_bins + 1) + b
    guess = codes - lo
    guess *= n_bins / (hi - lo).astype(np.float64)
    np.clip(guess, 0, n_bins - 1, out=guess)
    bins = guess.astype(np.intp)
    where = bins + np.arange(n_latents) * (n_bins + 1)
    bins -= codes < column_edges.take(where)
    where += 1
    bins += codes >= column_edges.take(where)
    return bins


def _xlogx_sum(counts, axis):
    """``sum(c * log c)`` over ``axis``, with ``0 log 0 = 0``."""
    logs = np.log(counts, out=np.zeros_like(counts), where=counts > 0)
    return (counts * logs).sum(axis=axis)


def mutual_info_and_entropy(codes, factors, n_bins):
    """MI (n_latents, n_factors) and factor entropies (n_factors,), nats, of validated arrays."""
    n_samples, n_latents = codes.shape
    bins = histogram_bins(codes, n_bins)
    mi = np.empty((n_latents, factors.shape[1]))
    entropy = np.empty(factors.shape[1])
    log_n = np.log(n_samples)
    bin_counts = np.stack([np.bincount(bins[:, j], minlength=n_bins) for j in range(n_latents)])
    # H(bins_j) * n, reused for every factor
    h_bins = log_n * n_samples - _xlogx_sum(bin_counts.astype(float), axis=1)
    bins += np.arange(n_latents) * n_bins  # one joint histogram per latent, in one bincount
    for k in range(factors.shape[1]):
        labels, n_classes = encode_factor(factors[:, k])
        index = bins * n_classes
        index += labels[:, None]
        joint = np.bincount(index.ravel(), minlength=n_latents * n_bins * n_classes)
        class_counts = np.bincount(labels, minlength=n_classes).astype(float)
        h_factor = log_n * n_samples - _xlogx_sum(class_counts, axis=0)
        # n * I = n * (H(b) + H(v) - H(b, v))
        h_joint = log_n * n_samples - _xlogx_sum(
            joint.reshape(n_latents, n_bins * n_classes).astype(float), axis=1)
        mi[:, k] = (h_bins + h_factor - h_joint) / n_samples
        entropy[k] = h_factor / n_samples
    return np.clip(mi, 0.0, None), entropy


def checked_mutual_info(codes, factors, n_bins, metric):
    """Validate, check the sample count against ``n_bins``, and return (mi, entropy, factors)."""
    codes, factors = check_codes_factors(codes, factors)
    if int(n_bins) != n_bins or n_bins < 2:
        raise ValueError(f"{metric}: n_bins must be an integer >= 2; got {n_bins!r}.")
    check_count(codes.shape[0], int(n_bins), f"samples (one per histogram bin, n_bins={n_bins})",
                metric)
    mi, entropy = mutual_info_and_entropy(codes, factors, int(n_bins))
    return mi, entropy, codes, factors


def mutual_info_matrix(codes, factors, *, n_bins=20, normalize=False):
    """Mutual information between every latent and every factor, by histogram.

    The estimator of disentanglement_lib (Locatello et al., 2019), used there for MIG and
    modularity: each latent is cut into ``n_bins`` equal-width bins over its own range
    (``np.histogram``), and ``I(c_j; v_k)`` is the plug-in mutual information between the
    bin labels and the factor classes (scikit-learn's ``mutual_info_score``), in nats.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_latents)
        Codes, usually posterior means. Must be finite.
    factors : array-like of shape (n_samples, n_factors) or (n_samples,)
        Ground-truth factors as non-negative integer classes.
    n_bins : int, default=20
        Equal-width bins per latent (disentanglement_lib's value).
    normalize : bool, default=False
        Divide each column by the factor's empirical entropy ``H(v_k)``; a constant
        factor (entropy 0) gets a column of zeros.

    Returns
    -------
    mi : ndarray of shape (n_latents, n_factors)
        Mutual information in nats, or normalised to [0, 1] when ``normalize``.

    Raises
    ------
    ValueError
        Mismatched lengths, NaN or infinite codes, negative or non-integer factors, or
        fewer samples than ``n_bins``.

    Notes
    -----
    A constant latent falls into one bin and has zero mutual information with everything.
    Plug-in histogram estimates are biased upwards on small samples (independent variables
    get a small positive value); disentanglement_lib uses 10,000 samples.

    References
    ----------
    Locatello et al., "Challenging Common Assumptions in the Unsupervised Learning of
    Disentangled Representations", ICML 2019 (disentanglement_lib).

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent.metrics import mutual_info_matrix
    >>> factors = np.repeat(np.arange(4), 5)[:, None]
    >>> codes = np.c_[factors[:, 0] * 0.5, np.zeros(20)]
    >>> mutual_info_matrix(codes, factors, normalize=True).round(6)
    array([[1.],
           [0.]])
    """
    mi, entropy, _, _ = checked_mutual_info(codes, factors, n_bins, "mutual_info_matrix")
    if normalize:
        mi = normalize_columns(mi, entropy)
    return mi


def normalize_columns(mi, normalizer):
    """``mi / normalizer`` per column, with 0 where the normalizer is 0."""
    safe = np.where(normalizer > 0, normalizer, 1.0)
    return np.where(normalizer > 0, mi / safe, 0.0)
