"""Groups of samples that share a factor value, drawn from a pool of (codes, factors).

The FactorVAE and BetaVAE scores were defined with a data generator that can fix one
factor and draw the others at random. From a pool of samples the same draws are: pick a
sample at random, then draw others uniformly, with replacement, among the pool's samples
that share its value of the fixed factor. On a pool drawn from the generator this is the
generator's conditional distribution, as disentanglement_lib samples it (i.i.d. factor
draws, so repeats are possible there too).
"""

import numpy as np

from ._validation import (
    check_codes_factors,
    check_count,
    drop_constant_factors,
    scaled_extremes,
)

__all__ = ["FactorGroups", "check_pool", "check_positive_int", "chunks"]


class FactorGroups:
    """Index of the samples sharing each value of each factor.

    Parameters
    ----------
    factors : ndarray of shape (n_samples, n_factors)
        Validated integer factors.
    min_size : int
        Smallest group a factor value may have; a smaller one raises a ValueError naming
        the factor, the value and the sizes.
    metric : str
        Name used in error messages.
    columns : sequence of int, default=None
        The factors' column numbers in the user's matrix, for error messages.
    """

    def __init__(self, factors, min_size, metric, columns=None):
        n_samples, n_factors = factors.shape
        self.n_samples = n_samples
        self.n_factors = n_factors
        # per factor: samples sorted by value, each sample's group start and group size
        self.order = np.empty((n_factors, n_samples), dtype=np.intp)
        self.start = np.empty((n_factors, n_samples), dtype=np.intp)
        self.size = np.empty((n_factors, n_samples), dtype=np.intp)
        for k in range(n_factors):
            values, labels, counts = np.unique(factors[:, k], return_inverse=True,
                                               return_counts=True)
            small = np.flatnonzero(counts < min_size)
            if small.size:
                v = small[0]
                raise ValueError(
                    f"{metric}: the pool is too small for factor "
                    f"{k if columns is None else columns[k]} = {values[v]}: "
                    f"{counts[v]} samples share that value, and every value needs at least "
                    f"{min_size} (the batch size). Use a larger pool or a smaller batch_size."
                )
            self.order[k] = np.argsort(labels, kind="stable")
            starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
            self.start[k] = starts[labels]
            self.size[k] = counts[labels]

    def draw(self, factor, anchors, n_draws, rng):
        """``n_draws`` samples sharing ``factor``'s value with each anchor, with replacement.

        ``factor`` and ``anchors`` have shape (n_points,); returns (n_points, n_draws).
        """
        start = self.start[factor, anchors][:, None]
        size = self.size[factor, anchors][:, None]
        offset = (rng.random_sample((len(anchors), n_draws)) * size).astype(np.intp)
        position = start + np.minimum(offset, size - 1)
        return self.order[factor[:, None], position]


def check_positive_int(value, name, metric, minimum=1):
    """Return ``value`` as an int, or raise a ValueError when it is not an integer >= minimum."""
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{metric}: {name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def check_pool(codes, factors, batch_size, n_train, n_eval, metric):
    """Validate a pool for a group-drawing score: ``(codes, groups, batch_size, n_train, n_eval)``.

    Constant factors are left out (with a warning); at least 2 varying factors are needed
    (the score classifies which factor was fixed), and every value of every factor at
    least ``batch_size`` samples.
    """
    codes, factors = check_codes_factors(codes, factors)
    codes = scaled_extremes(codes)
    batch_size = check_positive_int(batch_size, "batch_size", metric, minimum=2)
    n_train = check_positive_int(n_train, "n_train", metric)
    n_eval = check_positive_int(n_eval, "n_eval", metric)
    keep = drop_constant_factors(factors, metric)
    check_count(int(keep.sum()), 2, "varying factors", metric)
    groups = FactorGroups(factors[:, keep], batch_size, metric, columns=np.flatnonzero(keep))
    return codes, groups, batch_size, n_train, n_eval


def chunks(total, size):
    """``(start, count)`` pairs covering ``range(total)`` in pieces of at most ``size``."""
    for start in range(0, total, size):
        yield start, min(size, total - start)
