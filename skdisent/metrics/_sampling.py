"""Mutual information by sampling the posteriors (Chen et al. 2018), as the pro-VLAE reference.

With a Gaussian posterior ``q(z | x_n) = N(mu_n, diag exp(logvar_n))`` for every image
``x_n`` of a full factor grid, the aggregate posterior is the mixture
``q(z) = (1/N) sum_n q(z | x_n)``. Entropies are Monte Carlo averages over one sample
``z^n ~ q(z | x_n)`` drawn per image:

``H(z_j) ~ -mean_s log((1/N) sum_n q(z_j^s | x_n))``, over ``n_samples`` of the samples
drawn at random (10,000 in the reference), and ``H(z_j | v_k)`` the same within each
value of the factor, weighted by the value's frequency. Then
``I(z_j; v_k) = H(z_j) - H(z_j | v_k)``, normalised by ``log |v_k|`` and clamped at 0:
the matrix from which :func:`mig_sampling` takes MIG and MIG-sup. The information held by
a level of a ladder model is ``I(x; z_l) = H(z_l) - H(z_l | x)``
(:func:`information_per_level`), with ``H(z_l)`` estimated jointly over the level's
dimensions and ``H(z_l | x)`` the mean Gaussian entropy of the posteriors
(in :mod:`skdisent.metrics._information`, with the same estimator).

Computation and memory
----------------------
Each entropy evaluates ``n_samples x |group|`` Gaussian log-densities per latent, so the
matrix costs ``(1 + n_factors) x n_samples x N x K`` of them (3.7e11 on the dSprites grid
with shape left out), evaluated with torch on the CPU in blocks of at most ``chunk_size``,
never as a full matrix. A block holds ``log w_n + q_sn``, with ``w_n = sigma_min / sigma_n``
(per latent) and ``q_sn = -(z_s - mu_n)^2 / (2 sigma_n^2)``, both ``<= 0``, floored at -80
before ``exp`` and summed. A sample's own posterior always belongs to the mixture, so the
sum is at least ``exp(e_s)`` with ``e_s`` the sample's own term; while ``e_s >= -40`` the
floor changes the sum by a relative ``N exp(-40)`` at most (< 4e-12 on the full dSprites
grid). The blocks are float32 unless float32 rounding of ``z - mu`` would exceed 2.5e-4
of the narrowest posterior's sigma or a sample has ``e_s < -40``; then float64 (about
twice slower), whose floor is -700.

Extra memory besides the inputs (used in place when C-contiguous float64, else copied
once): the standard noise of one sample per posterior (``4 N K`` bytes), one factor's
ordering at a time (about ``24 N`` bytes), ``O(n_samples K)`` per entropy and a float32
work block of ``chunk_size`` values (a second one for joint levels): about
``4 N K + 24 N + 8 chunk_size`` bytes plus ``O(n_samples K)``, 55 MB for the full
dSprites grid (``N = 737,280``, ``K = 10``) at the default ``chunk_size``, whatever the
number of samples.

Where this differs from the references
--------------------------------------
- The reference (beta-TCVAE's and pro-VLAE's ``estimate_entropies``) keeps every posterior
  on the GPU and weights the conditional entropies of a factor's values equally; here
  values are weighted by their frequency, which is the same on a full grid and the
  correct weighting elsewhere.
- The reference hard-codes the factor cardinalities of dSprites and 3DShapes; here
  ``|v_k|`` is the number of distinct values of each factor column given. To leave
  dSprites' shape out of the scores as the reference does, pass ``factors[:, 1:]``: the
  aggregate posterior still runs over the whole grid.
- A constant factor (``log |v_k| = 0``) gets a column of zeros in the matrix and is left
  out of MIG and MIG-sup with a ``UserWarning``; with no active latent MIG-sup is 0.0.
- Means beyond ``+-1e100`` and log-variances beyond ``+-600`` raise a ValueError (the
  densities would overflow float64); float32 blocks are used only while squared
  distances and precisions stay within float32's range.
"""

import math

import numpy as np
import torch
from sklearn.utils import check_random_state

from ._mig import active_mask, mig_gap, mig_sup_gap
from ._validation import check_count, check_posterior, drop_constant_factors

__all__ = ["mutual_info_matrix_sampling", "mig_sampling"]

_LOG_2PI = math.log(2.0 * math.pi)
# per working dtype: floor of every exponent, and the smallest own exponent a sample may
# have before it is redone in the next precision (see the module docstring)
_FLOOR = {torch.float32: -80.0, torch.float64: -700.0}
_RISKY = {torch.float32: -40.0, torch.float64: -600.0}
# float32 is used when its rounding of z - mu is below this fraction of the smallest sigma
_FLOAT32_TOLERANCE = 2.5e-4
# ... and every precision exp(-logvar) is a normal float32 (e^80 = 5.5e34)
_FLOAT32_LOGVAR = 80.0
_SAMPLE_CHUNK = 1024
_MIN_COMPONENTS = 256
_DRAW_CHUNK = 65536


def _check_chunking(n_samples, chunk_size):
    for name, value in (("n_samples", n_samples), ("chunk_size", chunk_size)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(n_samples), int(chunk_size)


class _Posteriors:
    """Posterior parameters (float64 tensors) and the standard noise of one sample each.

    The sample of posterior ``n`` is ``z_n = mu_n + sigma_n * eps_n``, rebuilt in float64
    when needed, so that even very narrow posteriors keep an exact own exponent.
    """

    def __init__(self, means, logvars, rng):
        self.mu = torch.from_numpy(np.ascontiguousarray(means))
        self.logvar = torch.from_numpy(np.ascontiguousarray(logvars))
        n, k = means.shape
        self.eps = torch.empty((n, k), dtype=torch.float32)
        for start in range(0, n, _DRAW_CHUNK):
            stop = min(start + _DRAW_CHUNK, n)
            self.eps[start:stop] = torch.from_numpy(rng.standard_normal((stop - start, k)))
        # float32 is enough when its rounding of z - mu stays far below every sigma, and
        # squared distances and precisions stay within its normal range
        largest = max(float(self.mu.max()), -float(self.mu.min()))
        spread = largest + 6.0 * math.exp(0.5 * float(self.logvar.max()))
        sigma_min = math.exp(0.5 * float(self.logvar.min()))
        in_range = spread < 1e18 and float(self.logvar.abs().max()) <= _FLOAT32_LOGVAR
        self.dtype = (torch.float32 if in_range
                      and spread * 2.0**-24 <= _FLOAT32_TOLERANCE * sigma_min else torch.float64)

    @property
    def n(self):
        return self.mu.shape[0]

    def log_weight_max(self, blocks):
        """Per block, the largest ``-0.5 sum_j logvar_nj`` over all posteriors."""
        if blocks.shape[1] == 1:  # one latent per block: no temporary of the data's size
            return -0.5 * self.logvar.amin(0)[blocks[:, 0]]
        return torch.stack([-0.5 * self.logvar[:, cols].sum(1).amin() for cols in blocks])

    def samples(self, rows, blocks):
        """The samples of posteriors ``rows``, (n_blocks, n_rows, width), float64."""
        mu, logvar = self.mu[rows][:, blocks], self.logvar[rows][:, blocks]
        z = mu + torch.exp(0.5 * logvar) * self.eps[rows][:, blocks].double()
        return z.permute(1, 0, 2)

    def own_exponent(self, rows, blocks, cmax):
        """``e_s``: each sample's exponent under its own posterior, (n_blocks, n_rows)."""
        eps, logvar = self.eps[rows][:, blocks].double(), self.logvar[rows][:, blocks]
        return (-0.5 * (eps**2).sum(-1) - 0.5 * logvar.sum(-1) - cmax).T

    def log_mixture(self, sample_rows, component_rows, blocks, cmax, chunk_size):
        """``log sum_{n in component_rows} N(z_s; mu_n, sigma_n)`` per block and sample.

        ``blocks`` (n_blocks, width) lists the latent columns of each block: a block's
        density is the product over its columns. Returns float64 (n_blocks, n_samples).
        """
        own = float(self.own_exponent(sample_rows, blocks, cmax).min())
        dtype = self.dtype if own >= _RISKY[self.dtype] else torch.float64
        if own < _RISKY[dtype]:
            raise ValueError(
                "The posterior log-variances span too wide a range (a sample lies more "
                "than e^600 below the sharpest posterior) to estimate the entropies."
            )
        out = self._log_mixture(sample_rows, component_rows, blocks, cmax, chunk_size, dtype)
        return out + cmax[:, None] - 0.5 * blocks.shape[1] * _LOG_2PI

    def _log_mixture(self, sample_rows, component_rows, blocks, cmax, chunk_size, dtype):
        """``log sum_n exp(max(log w_n + q_sn, floor))`` in ``dtype``, in bounded chunks."""
        n_blocks, width = blocks.shape
        z = self.samples(sample_rows, blocks).to(dtype).contiguous()
        n_samples = z.shape[1]
        # aim for at least _MIN_COMPONENTS components per chunk, so each step is long
        s_chunk = min(n_samples, _SAMPLE_CHUNK,
                      max(1, chunk_size // (n_blocks * _MIN_COMPONENTS)))
        n_chunk = max(1, chunk_size // (n_blocks * s_chunk))
        buffer = torch.empty(n_blocks * s_chunk * n_chunk, dtype=dtype)
        scratch = torch.empty_like(buffer) if width > 1 else None
        sums = torch.zeros((n_blocks, n_samples), dtype=torch.float64)
        floor = _FLOOR[dtype]
        for n0 in range(0, len(component_rows), n_chunk):
            rows = component_rows[n0:n0 + n_chunk]
            mu = self.mu[rows][:, blocks].permute(1, 0, 2)  # (n_blocks, nc, width)
            logvar = self.logvar[rows][:, blocks].permute(1, 0, 2)
            neg_half_prec = (-0.5 * torch.exp(-logvar)).to(dtype).unsqueeze(1)
            mu = mu.to(dtype).unsqueeze(1)  # (n_blocks, 1, nc, width)
            log_weight = (-0.5 * logvar.sum(-1) - cmax[:, None]).to(dtype).unsqueeze(1)
            nc = len(rows)
            for s0 in range(0, n_samples, s_chunk):
                zs = z[:, s0:s0 + s_chunk].unsqueeze(2)  # (n_blocks, sc, 1, width)
                sc = zs.shape[1]
                q = buffer[: n_blocks * sc * nc].view(n_blocks, sc, nc)
                torch.sub(zs[..., 0], mu[..., 0], out=q)
                torch.addcmul(log_weight, q.square_(), neg_half_prec[..., 0], out=q)
                for j in range(1, width):
                    d = scratch[: n_blocks * sc * nc].view(n_blocks, sc, nc)
                    torch.sub(zs[..., j], mu[..., j], out=d)
                    q.addcmul_(d.square_(), neg_half_prec[..., j])
                sums[:, s0:s0 + sc] += q.clamp_(min=floor).exp_().sum(-1)
        return sums.log()

    def entropy(self, sample_rows, component_rows, blocks, cmax, chunk_size):
        """``-mean_s log((1/|G|) sum_{n in G} q(z_s | x_n))`` per block, G = component_rows."""
        log_mix = self.log_mixture(sample_rows, component_rows, blocks, cmax, chunk_size)
        return math.log(len(component_rows)) - log_mix.mean(1)


def _sample_rows(rows, n_samples, rng):
    """At most ``n_samples`` of ``rows``, drawn without replacement."""
    if len(rows) <= n_samples:
        return rows
    return rows[torch.from_numpy(rng.choice(len(rows), n_samples, replace=False))]


def _entropies(means, logvars, factors, n_samples, chunk_size, random_state):
    """Marginal (n_latents,) and conditional (n_factors, n_latents) entropies in nats,
    and the number of distinct values of each factor."""
    rng = check_random_state(random_state)
    post = _Posteriors(means, logvars, rng)
    blocks = torch.arange(means.shape[1])[:, None]
    cmax = post.log_weight_max(blocks)
    everyone = torch.arange(post.n)
    marginal = post.entropy(_sample_rows(everyone, n_samples, rng), everyone, blocks, cmax,
                            chunk_size)
    conditional = torch.zeros((factors.shape[1], means.shape[1]), dtype=torch.float64)
    cardinality = np.empty(factors.shape[1], dtype=np.int64)
    for k in range(factors.shape[1]):
        order = np.argsort(factors[:, k], kind="stable")
        sorted_values = factors[order, k]
        starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
        del sorted_values
        counts = np.diff(np.r_[starts, post.n])
        order = torch.from_numpy(order)
        cardinality[k] = len(counts)
        for start, count in zip(starts, counts):
            group = order[start:start + count]
            h = post.entropy(_sample_rows(group, n_samples, rng), group, blocks, cmax,
                             chunk_size)
            conditional[k] += (count / post.n) * h
    return marginal.numpy(), conditional.numpy(), cardinality


def _normalised_mutual_info(marginal, conditional, cardinality):
    """``max(0, (H(z_j) - H(z_j | v_k)) / log |v_k|)`` as (n_latents, n_factors)."""
    log_card = np.log(cardinality.astype(float))
    safe = np.where(log_card > 0, log_card, 1.0)
    mi = np.where(log_card[:, None] > 0, (marginal[None, :] - conditional) / safe[:, None], 0.0)
    return np.clip(mi, 0.0, None).T


def mutual_info_matrix_sampling(means, logvars, factors, *, n_samples=10000,
                                chunk_size=2**19, random_state=None, return_entropies=False):
    """Normalised mutual information by sampling the posteriors (Chen et al., 2018).

    The estimator of the beta-TCVAE and pro-VLAE reference code: over a full factor grid,
    ``I(z_j; v_k) = H(z_j) - H(z_j | v_k)`` with the entropies of the aggregate posterior
    estimated by Monte Carlo (one sample per posterior, ``n_samples`` of them per entropy;
    see the module docstring), normalised by ``log |v_k|`` and clamped at 0.

    Parameters
    ----------
    means, logvars : array-like of shape (n_grid, n_latents)
        Posterior means and log-variances, one row per image of the factor grid.
    factors : array-like of shape (n_grid, n_factors) or (n_grid,)
        Factor classes of each row. Leave a factor out of the scores by leaving out its
        column (the reference leaves dSprites' shape out: pass ``factors[:, 1:]``).
    n_samples : int, default=10000
        Samples per entropy (the reference's value); all of a group's samples when it
        has fewer.
    chunk_size : int, default=2**19
        Largest number of log-densities evaluated at once: the work block takes
        ``4 * chunk_size`` bytes (2 MiB), twice that in float64.
    random_state : int, RandomState instance or None, default=None
        Seeds the posterior samples and the subsets of samples.
    return_entropies : bool, default=False
        Also return the marginal and conditional entropies.

    Returns
    -------
    mi : ndarray of shape (n_latents, n_factors)
        ``I(z_j; v_k) / log |v_k|``, clamped at 0; zeros for a constant factor.
    marginal_entropy : ndarray of shape (n_latents,)
        ``H(z_j)`` in nats, when ``return_entropies``.
    conditional_entropy : ndarray of shape (n_factors, n_latents)
        ``H(z_j | v_k)`` in nats, when ``return_entropies``.

    Raises
    ------
    ValueError
        Mismatched shapes, NaN or infinite parameters, negative or non-integer factors,
        a single sample, or a non-positive ``n_samples`` / ``chunk_size``.

    Notes
    -----
    Cost: ``n_samples x n_grid x n_latents`` log-densities for ``H(z)`` and as many for
    each factor. Memory beyond the inputs: about ``4 N K + 24 N + 8 chunk_size`` bytes
    plus ``O(n_samples K)`` (55 MB on the full dSprites grid); see the module docstring.

    References
    ----------
    Chen, Li, Grosse and Duvenaud, "Isolating Sources of Disentanglement in Variational
    Autoencoders", NeurIPS 2018 (``disentanglement_metrics.py``); Li et al., ICLR 2020
    (``metric_MIG.py``).

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent.metrics import mutual_info_matrix_sampling
    >>> factors = np.repeat(np.arange(4), 25)[:, None]
    >>> means = np.c_[3.0 * factors[:, 0], np.zeros(100)]  # latent 1 is the prior
    >>> logvars = np.c_[np.full(100, -8.0), np.zeros(100)]
    >>> mutual_info_matrix_sampling(means, logvars, factors, random_state=0).round(2)
    array([[1.],
           [0.]])
    """
    n_samples, chunk_size = _check_chunking(n_samples, chunk_size)
    means, logvars, factors = check_posterior(means, logvars, factors)
    marginal, conditional, cardinality = _entropies(
        means, logvars, factors, n_samples, chunk_size, random_state
    )
    mi = _normalised_mutual_info(marginal, conditional, cardinality)
    if return_entropies:
        return mi, marginal, conditional
    return mi


def mig_sampling(means, logvars, factors, *, active_threshold=0.01, n_samples=10000,
                 chunk_size=2**19, random_state=None):
    """MIG and MIG-sup from the sampling estimator, as the pro-VLAE reference computed them.

    One call of :func:`mutual_info_matrix_sampling` (the costly part), then MIG (Chen et
    al., 2018: per factor, the gap between the two latents with the highest normalised
    mutual information, averaged over factors) and MIG-sup (Li et al., 2020: per active
    latent, the gap between its two highest factors, averaged over active latents). A
    latent is active when the variance of its posterior mean exceeds ``active_threshold``.

    Parameters
    ----------
    means, logvars : array-like of shape (n_grid, n_latents)
        Posterior means and log-variances, one row per image of the full factor grid.
    factors : array-like of shape (n_grid, n_factors) or (n_grid,)
        Factor classes per row; on dSprites pass ``factors[:, 1:]`` to leave shape out,
        as the reference.
    active_threshold : float, default=0.01
        Variance of the posterior mean above which a latent is active.
    n_samples, chunk_size, random_state
        As in :func:`mutual_info_matrix_sampling`.

    Returns
    -------
    scores : dict
        ``"mig"`` and ``"mig_sup"`` (floats), ``"mutual_info"`` (the normalised matrix,
        (n_latents, n_factors)) and ``"active_units"`` (indices of the active latents).

    Raises
    ------
    ValueError
        Bad input (see :func:`mutual_info_matrix_sampling`), fewer than 2 latents or fewer
        than 2 varying factors, or every factor constant.

    Warns
    -----
    UserWarning
        When a constant factor is left out, or when no latent is active (MIG-sup 0.0).

    References
    ----------
    Chen et al., NeurIPS 2018; Li, Murkute, Gyawali and Wang, "Progressive Learning and
    Disentanglement of Hierarchical Representations", ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent.metrics import mig_sampling
    >>> grid = np.stack(np.meshgrid(np.arange(4), np.arange(5), indexing="ij"), -1).reshape(-1, 2)
    >>> means = 3.0 * grid
    >>> scores = mig_sampling(means, np.full(means.shape, -8.0), grid, random_state=0)
    >>> round(scores["mig"], 2), round(scores["mig_sup"], 2)
    (1.0, 1.0)
    """
    n_samples, chunk_size = _check_chunking(n_samples, chunk_size)
    means, logvars, factors = check_posterior(means, logvars, factors)
    check_count(means.shape[1], 2, "latents", "mig_sampling")
    keep = drop_constant_factors(factors, "mig_sampling")
    check_count(int(keep.sum()), 2, "varying factors", "mig_sampling")
    if not keep.all():
        factors = factors[:, keep]
    mi = _normalised_mutual_info(
        *_entropies(means, logvars, factors, n_samples, chunk_size, random_state))
    active = active_mask(means, active_threshold)
    return {
        "mig": mig_gap(mi),
        "mig_sup": mig_sup_gap(mi, active, "mig_sampling"),
        "mutual_info": mi,
        "active_units": np.flatnonzero(active),
    }
