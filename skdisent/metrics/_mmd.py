"""Maximum mean discrepancy: how far apart two sets of samples lie."""

import numpy as np

__all__ = ["median_distance", "mmd"]


def _rows(samples, name):
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim < 2 or len(samples) < 2:
        raise ValueError(f"{name} must hold at least 2 samples in an array of shape "
                         f"(n_samples, ...); got shape {samples.shape}.")
    samples = samples.reshape(len(samples), -1)
    if not np.isfinite(samples).all():
        raise ValueError(f"{name} holds NaN or infinite values.")
    return samples


def _squared_distances(a, b):
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(squared, 0.0)


def median_distance(samples):
    """The median Euclidean distance between two distinct samples (the median heuristic).

    Parameters
    ----------
    samples : array-like of shape (n_samples, ...)
        Each sample is flattened to a row.

    Returns
    -------
    distance : float
        The median over all pairs ``i < j``; 1.0 when every sample is the same.
    """
    rows = _rows(samples, "samples")
    upper = np.triu_indices(len(rows), k=1)
    distance = float(np.sqrt(np.median(_squared_distances(rows, rows)[upper])))
    return distance if distance > 0 else 1.0


def mmd(X, Y, *, bandwidth=None):
    """Squared maximum mean discrepancy between two samples, Gaussian kernel, unbiased.

    ``MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y)`` with ``k(a, b) = exp(-|a - b|^2 /
    (2 h^2))``, estimated without the diagonal terms (the unbiased statistic
    ``MMD^2_u`` of Gretton et al. 2012, eq. 3). It is 0 in expectation when ``X`` and
    ``Y`` come from the same distribution (the estimate then scatters around 0 by
    about ``1 / n`` and can be slightly negative), and approaches 2 for samples far
    apart compared with ``h``. Cost: three kernel matrices, ``O((n_X + n_Y)^2)``
    distances of the flattened samples.

    Parameters
    ----------
    X : array-like of shape (n_X, ...)
        One sample (at least 2 rows); each row is flattened (images as pixel vectors).
    Y : array-like of shape (n_Y, ...)
        The other, of the same size per row.
    bandwidth : float, default=None
        The kernel's ``h``. None: the median distance between the rows of ``X`` and
        ``Y`` pooled (the median heuristic, :func:`median_distance`). Compare values
        computed with the same bandwidth only.

    Returns
    -------
    mmd2 : float
        The unbiased estimate of ``MMD^2``.

    References
    ----------
    Gretton, Borgwardt, Rasch, Schölkopf and Smola, "A Kernel Two-Sample Test", JMLR 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent.metrics import mmd
    >>> rng = np.random.default_rng(0)
    >>> same = mmd(rng.normal(size=(300, 5)), rng.normal(size=(300, 5)))
    >>> apart = mmd(rng.normal(size=(300, 5)), rng.normal(size=(300, 5)) + 10)
    >>> bool(abs(same) < 0.01), bool(apart > 1)
    (True, True)
    """
    a, b = _rows(X, "X"), _rows(Y, "Y")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"X and Y must have samples of the same size; got {a.shape[1]} and "
                         f"{b.shape[1]} values per sample.")
    if bandwidth is None:
        bandwidth = median_distance(np.concatenate([a, b]))
    bandwidth = float(bandwidth)
    if not bandwidth > 0 or not np.isfinite(bandwidth):
        raise ValueError(f"bandwidth must be a positive number, got {bandwidth!r}.")
    scale = -0.5 / bandwidth**2

    def mean_kernel(p, q, same):
        kernel = np.exp(scale * _squared_distances(p, q))
        if not same:
            return kernel.mean()
        n = len(p)
        return (kernel.sum() - np.trace(kernel)) / (n * (n - 1))

    return float(mean_kernel(a, a, True) + mean_kernel(b, b, True) - 2.0 * mean_kernel(a, b, False))
