"""Input checks shared by every metric.

Every public metric validates its arrays here, so a bad input gets the same message
whichever metric it reaches:

- ``codes`` (and posterior ``means`` / ``logvars``): numeric, 2-D
  ``(n_samples, n_latents)``, finite;
- ``factors``: 2-D ``(n_samples, n_factors)`` (a 1-D array is one factor), integer
  class labels (floats are accepted when every value is a whole number), non-negative,
  one row per row of codes;
- at least 2 samples.

A factor that takes a single value carries no information to share with the codes;
:func:`drop_constant_factors` leaves such factors out with a ``UserWarning`` and raises
when nothing is left.
"""

import warnings

import numpy as np

__all__ = [
    "check_codes",
    "check_factors",
    "check_codes_factors",
    "check_posterior",
    "check_count",
    "drop_constant_factors",
    "encode_factor",
    "train_test_indices",
    "scaled_extremes",
    "scaled_to_unit",
]

# Codes beyond this magnitude (or below its inverse) are rescaled for the classifiers.
_EXTREME = 2.0**64


def check_codes(codes, *, name="codes", min_samples=2):
    """Return ``codes`` as a finite floating 2-D array, or raise.

    Floating arrays keep their precision (float32 stays float32, as disentanglement_lib
    bins float32 codes); any other numeric dtype becomes float64.
    """
    arr = np.asarray(codes)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(
            f"{name} must be a real numeric array of shape (n_samples, n_latents); "
            f"got dtype {arr.dtype}."
        )
    if arr.ndim != 2:
        hint = " Use .reshape(-1, 1) for a single latent." if arr.ndim == 1 else ""
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_latents); got an array of shape {arr.shape}.{hint}"
        )
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    n_samples, n_latents = arr.shape
    if n_samples < min_samples:
        noun = "sample" if n_samples == 1 else "samples"
        raise ValueError(
            f"{name} has {n_samples} {noun}; at least {min_samples} are needed."
        )
    if n_latents == 0:
        raise ValueError(f"{name} has 0 latents (shape {arr.shape}); at least 1 is needed.")
    finite = np.isfinite(arr)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        kind = "NaN" if np.isnan(arr[row, col]) else "infinity"
        raise ValueError(
            f"{name} contains NaN or infinity ({int((~finite).sum())} values, the first "
            f"a {kind} at row {row}, column {col}); every value must be finite."
        )
    return arr


def check_factors(factors, n_samples, *, codes_name="codes"):
    """Return ``factors`` as a non-negative int64 2-D array with ``n_samples`` rows, or raise."""
    arr = np.asarray(factors)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"factors must be 2-D (n_samples, n_factors); got an array of shape {arr.shape}."
        )
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError("factors contains NaN or infinity; factors must be integer classes.")
        fractional = arr != np.round(arr)
        if fractional.any():
            row, col = np.argwhere(fractional)[0]
            raise ValueError(
                "factors must hold integer class labels; got the non-integer value "
                f"{arr[row, col].item()!r} at row {row}, column {col}."
            )
        arr = arr.astype(np.int64)
    elif not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            "factors must be an integer array of class labels (n_samples, n_factors); "
            f"got dtype {arr.dtype}."
        )
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"{codes_name} has {n_samples} samples but factors has {arr.shape[0]}; "
            f"expected one row of factors per row of {codes_name}."
        )
    if arr.shape[1] == 0:
        raise ValueError("factors has 0 columns; at least 1 factor is needed.")
    if arr.size and arr.min() < 0:
        row, col = np.argwhere(arr < 0)[0]
        raise ValueError(
            "factors must be non-negative integer classes; got "
            f"{arr[row, col]} at row {row}, column {col}."
        )
    return arr.astype(np.int64, copy=False)


def check_codes_factors(codes, factors, *, min_samples=2):
    """Validate a (codes, factors) pair; see the module docstring."""
    codes = check_codes(codes, min_samples=min_samples)
    return codes, check_factors(factors, codes.shape[0])


# Posteriors beyond these bounds overflow float64's squared distances or precisions.
MAX_ABS_MEAN = 1e100
MAX_ABS_LOGVAR = 600.0


def check_posterior(means, logvars, factors=None):
    """Validate posterior means and log-variances (and factors, when given) as float64.

    Means must lie within ``+-1e100`` and log-variances within ``+-600`` (variances from
    e^-600 to e^600): beyond, the densities of the sampling estimator overflow float64.
    """
    means = check_codes(means, name="means").astype(np.float64, copy=False)
    logvars = check_codes(logvars, name="logvars").astype(np.float64, copy=False)
    if means.shape != logvars.shape:
        raise ValueError(
            f"means has shape {means.shape} but logvars has shape {logvars.shape}; "
            "expected one log-variance per posterior mean."
        )
    for name, values, bound in (("means", means, MAX_ABS_MEAN),
                                ("logvars", logvars, MAX_ABS_LOGVAR)):
        beyond = np.abs(values) > bound
        if beyond.any():
            row, col = np.argwhere(beyond)[0]
            raise ValueError(
                f"{name} must lie within +-{bound:g}; got {values[row, col]:.4g} at row {row}, "
                f"column {col}. Posteriors this far out overflow the densities the estimator "
                "sums."
            )
    if factors is None:
        return means, logvars
    return means, logvars, check_factors(factors, means.shape[0], codes_name="means")


def check_count(count, minimum, what, metric):
    """Raise a ValueError when ``count < minimum`` ``what`` are available to ``metric``."""
    if count < minimum:
        raise ValueError(f"{metric} needs at least {minimum} {what}; got {count}.")


def drop_constant_factors(factors, metric):
    """Boolean mask of the factors that take more than one value.

    Warns (``UserWarning``) about the constant factors left out, and raises a
    ValueError when every factor is constant.
    """
    keep = factors.max(axis=0) != factors.min(axis=0)
    if not keep.any():
        raise ValueError(
            f"{metric}: every factor is constant (takes a single value), so no factor "
            "carries information to measure; at least one factor must vary."
        )
    if not keep.all():
        warnings.warn(
            f"{metric}: factor column(s) {np.flatnonzero(~keep).tolist()} take a single "
            "value and are left out of the score.",
            UserWarning,
            stacklevel=3,
        )
    return keep


def encode_factor(column):
    """Classes of one factor column as ``(labels, n_classes)``, labels in ``0..n_classes-1``.

    Non-negative integer labels that are not too sparse are used as they are (classes that
    never occur have zero counts, which changes no entropy or mutual information);
    otherwise they are renumbered with :func:`numpy.unique`.
    """
    top = int(column.max()) + 1
    if top <= 2 * column.shape[0] + 64:
        return column, top
    _, labels = np.unique(column, return_inverse=True)
    return labels.reshape(-1), int(labels.max()) + 1


def train_test_indices(n_samples, test_size, rng, metric):
    """Shuffled ``(train, test)`` indices of a pool, ``test_size`` a fraction in (0, 1)."""
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"{metric}: test_size must be a fraction in (0, 1); got {test_size!r}.")
    n_test = int(round(test_size * n_samples))
    if n_test < 1 or n_test > n_samples - 1:
        raise ValueError(
            f"{metric}: test_size={test_size} of {n_samples} samples leaves an empty "
            "training or test set."
        )
    order = rng.permutation(n_samples)
    return order[n_test:], order[:n_test]


def scaled_extremes(codes):
    """Codes whose extreme latents are multiplied by the power of two that brings them to [1, 2).

    The classifiers and variances the scores rely on overflow or never converge on values
    near the largest float (liblinear loops without end on codes of 1e80), and treat
    subnormal ones as zero. A latent whose largest magnitude lies beyond 2**64 or below
    2**-64 is rescaled exactly; ordinary latents are left as they are, so the scores of
    ordinary codes are those of the references.

    Parameters
    ----------
    codes : ndarray of shape (n_samples, n_latents), floating
        Validated codes.

    Returns
    -------
    codes : ndarray
        The same array when no latent is extreme, else a rescaled copy.
    """
    largest = np.abs(codes).max(axis=0).astype(np.float64)
    extreme = (largest > _EXTREME) | ((largest > 0) & (largest < 1.0 / _EXTREME))
    return scaled_to_unit(codes, extreme) if extreme.any() else codes


def scaled_to_unit(codes, columns=None):
    """Latents times the power of two that brings their largest magnitude into [1, 2).

    Multiplying by a power of two is exact for every float but those it takes below the
    smallest normal one, so equal-width bins, correlations and variance ratios are those of
    the latents as given.

    Parameters
    ----------
    codes : ndarray of shape (n_samples, n_latents), floating
    columns : ndarray of bool of shape (n_latents,), default=None
        The latents to rescale; every latent that is not all zero when None.

    Returns
    -------
    codes : ndarray
        A rescaled copy, of the same dtype.
    """
    largest = np.abs(codes).max(axis=0).astype(np.float64)
    columns = largest > 0 if columns is None else columns & (largest > 0)
    exponent = np.zeros(largest.shape, dtype=np.int64)
    exponent[columns] = np.floor(np.log2(largest[columns]))
    with np.errstate(under="ignore"):  # values far below a latent's largest may vanish
        return np.ldexp(codes.astype(np.float64), -exponent).astype(codes.dtype)
