"""Codes whose scores are known by construction, over a full factor grid.

Factors take at most 20 values, so with 20 equal-width bins every distinct code value
falls in its own bin and the histogram mutual information is exact; over a full grid
(tiled whole), independent factors have exactly zero mutual information.
"""

import numpy as np


def factor_grid(sizes, repeats=1):
    """Every combination of factor classes, the whole grid tiled ``repeats`` times."""
    axes = np.meshgrid(*[np.arange(size) for size in sizes], indexing="ij")
    grid = np.stack(axes, axis=-1).reshape(-1, len(sizes))
    return np.tile(grid, (repeats, 1))


def identity(factors):
    """Codes equal to the factors."""
    return factors.astype(float)


def permuted_rescaled(factors):
    """The factors in another order, each rescaled (one flipped) and shifted."""
    order = np.roll(np.arange(factors.shape[1]), 1)
    scale = np.linspace(-2.5, 7.0, factors.shape[1])
    scale[scale == 0] = 1.0
    return factors[:, order] * scale + np.arange(factors.shape[1]) * 3.3


def rotated45(factors):
    """Factors 0 and 1 (of equal sizes) rotated by 45 degrees; the rest unchanged.

    Each rotated latent knows exactly as much about factor 0 as about factor 1, so both
    factors have a gap of 0 in MIG, both latents a gap of 0 in MIG-sup.
    """
    codes = factors.astype(float)
    a, b = codes[:, 0].copy(), codes[:, 1].copy()
    codes[:, 0], codes[:, 1] = (a + b) / np.sqrt(2), (a - b) / np.sqrt(2)
    return codes


def random_rotation(factors, seed):
    """Standardised factors times a random orthogonal matrix."""
    z = (factors - factors.mean(0)) / factors.std(0)
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(z.shape[1],) * 2))
    return z @ q


def noise(factors, seed=0):
    """Gaussian noise independent of the factors, one latent per factor."""
    return np.random.default_rng(seed).normal(size=factors.shape)


def packed(factors, sizes):
    """Latent 0 holds factors 0 and 1 together (a bijection); the others one factor each."""
    return np.c_[factors[:, 0] * sizes[1] + factors[:, 1], factors[:, 2:]].astype(float)


def split(factors):
    """Factor 0 split over two latents (two affine copies); the others one latent each."""
    return np.c_[factors[:, :1], 1.0 - 2.0 * factors[:, :1], factors[:, 1:]].astype(float)


def dl_histogram_discretize(codes, n_bins=20):
    """disentanglement_lib's ``_histogram_discretize``, on (n_samples, n_latents) codes."""
    binned = np.zeros(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        binned[:, j] = np.digitize(codes[:, j], np.histogram(codes[:, j], n_bins)[1][:-1])
    return binned


def sklearn_mutual_info_loop(codes, factors, n_bins=20):
    """The common baseline: one ``mutual_info_score`` call per latent/factor pair, on
    disentanglement_lib's binning (its ``discrete_mutual_info``)."""
    from sklearn.metrics import mutual_info_score

    binned = dl_histogram_discretize(codes, n_bins)
    mi = np.zeros((codes.shape[1], factors.shape[1]))
    for j in range(codes.shape[1]):
        for k in range(factors.shape[1]):
            mi[j, k] = mutual_info_score(factors[:, k], binned[:, j])
    return mi
