"""Information held by each level of a ladder model, by sampling its posteriors.

``I(x; z_l) = H(z_l) - H(z_l | x)``, with ``H(z_l)`` estimated as the mutual information
matrix of :mod:`skdisent.metrics._sampling` estimates its entropies (Chen et al. 2018),
jointly over the level's dimensions; see that module for the computation, its memory
and where it differs from the reference.
"""

import numpy as np
import torch
from sklearn.utils import check_random_state

from ._sampling import _LOG_2PI, _check_chunking, _Posteriors, _sample_rows
from ._validation import check_posterior

__all__ = ["information_per_level"]


def _level_columns(levels, n_latents):
    """Latent columns of each level, from sizes or from slices / index arrays."""
    levels = list(levels)
    if not levels:
        raise ValueError("levels is empty; give the size or the columns of each level.")
    if all(isinstance(level, (int, np.integer)) for level in levels):
        sizes = [int(level) for level in levels]
        if min(sizes) < 1 or sum(sizes) != n_latents:
            raise ValueError(
                f"levels given as sizes must be positive and sum to n_latents={n_latents}; "
                f"got {sizes}."
            )
        bounds = np.cumsum([0] + sizes)
        return [np.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    columns = []
    for level in levels:
        try:
            cols = np.arange(n_latents)[level if isinstance(level, slice) else np.asarray(level)]
        except IndexError as exc:
            raise ValueError(f"level {level!r} is out of range for {n_latents} latents.") from exc
        cols = np.atleast_1d(cols)
        if cols.size == 0 or not np.issubdtype(cols.dtype, np.integer):
            raise ValueError(f"level {level!r} selects no latent column.")
        columns.append(cols)
    return columns


def information_per_level(means, logvars, levels, *, n_samples=10000, chunk_size=2**19,
                          random_state=None):
    """Information held by each level of a ladder model, ``I(x; z_l)`` in nats.

    ``I(x; z_l) = H(z_l) - H(z_l | x)``: ``H(z_l | x)`` is the mean over the data of the
    Gaussian entropy of ``q(z_l | x)``, and ``H(z_l)`` is the entropy of the aggregate
    posterior ``(1/N) sum_n q(z_l | x_n)``, estimated as in Chen et al. (2018) from
    ``n_samples`` samples, jointly over the level's dimensions. The pro-VLAE paper tracks
    these per level at the end of every progressive step (its Fig. 5 and Table 1) and
    expects them to descend from the deepest level to the shallowest.

    Parameters
    ----------
    means, logvars : array-like of shape (n_samples_data, n_latents)
        Posterior means and log-variances of every level, concatenated.
    levels : sequence of int, or of slices / index arrays
        Level sizes in column order (e.g. a model's ``latent_dims_``; zero-size levels
        are not allowed), or the columns of each level.
    n_samples : int, default=10000
        Samples of the aggregate posterior per level.
    chunk_size : int, default=2**19
        Largest number of log-densities evaluated at once; see
        :func:`mutual_info_matrix_sampling`.
    random_state : int, RandomState instance or None, default=None
        Seeds the posterior samples and the subset of samples.

    Returns
    -------
    information : ndarray of shape (n_levels,)
        ``I(x; z_l)`` in nats, in the order of ``levels``. It is at most ``log N``, with
        ``N`` the rows of ``means``, up to Monte Carlo noise (reached when every posterior
        lies apart from the others): each sample's own posterior is one of the ``N``
        components of the aggregate posterior, so its estimated density there is at
        least ``1/N`` of its own density, and ``H(z_l)`` at most ``log N + H(z_l | x)``.
        ``N`` rows can be told apart with ``log N`` nats, whatever the model keeps of
        each, so values are comparable only between estimates on the same number of
        rows, and a full factor grid (``N`` its size) is needed to measure more. It is
        near 0 for a level whose posteriors all equal the prior; it is not clamped, so
        Monte Carlo noise can make a collapsed level slightly negative.

    Raises
    ------
    ValueError
        Mismatched shapes, NaN or infinite parameters, a single sample, or levels that do
        not match the columns.

    References
    ----------
    Li, Murkute, Gyawali and Wang, "Progressive Learning and Disentanglement of
    Hierarchical Representations", ICLR 2020; Chen et al., NeurIPS 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent.metrics import information_per_level
    >>> rng = np.random.default_rng(0)
    >>> means = np.c_[rng.normal(size=(200, 2)) * 10, np.zeros((200, 2))]
    >>> logvars = np.c_[np.full((200, 2), -6.0), np.zeros((200, 2))]
    >>> information = information_per_level(means, logvars, [2, 2], random_state=0)
    >>> bool(abs(information[0] - np.log(200)) < 0.05), bool(abs(information[1]) < 0.05)
    (True, True)
    """
    n_samples, chunk_size = _check_chunking(n_samples, chunk_size)
    means, logvars = check_posterior(means, logvars)
    columns = _level_columns(levels, means.shape[1])
    rng = check_random_state(random_state)
    post = _Posteriors(means, logvars, rng)
    everyone = torch.arange(post.n)
    samples = _sample_rows(everyone, n_samples, rng)
    information = np.empty(len(columns))
    for i, cols in enumerate(columns):
        block = torch.from_numpy(cols)[None, :]
        cmax = post.log_weight_max(block)
        h_z = post.entropy(samples, everyone, block, cmax, chunk_size)[0].item()
        h_z_given_x = 0.5 * (logvars[:, cols] + 1.0 + _LOG_2PI).sum(1).mean()
        information[i] = h_z - h_z_given_x
    return information
