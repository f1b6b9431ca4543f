"""Evaluating a fitted model on a data set: reconstruction, disentanglement, information.

What the command line's ``demo`` and ``evaluate`` report, as functions of a fitted
model and arrays, so that scripts and studies get the same numbers.
"""

import numpy as np

from . import metrics
from ._data import evenly_spaced_rows

__all__ = ["reconstruction_error", "information_per_level", "evaluate_model"]

#: Images the FactorVAE votes are drawn from when the evaluation set is larger.
FACTOR_VAE_POOL = 50_000


def reconstruction_error(model, X, *, batch_size=1024):
    """Mean binary cross-entropy per image between images and their reconstructions, in nats.

    Each image is encoded to its posterior mean and decoded; the error is the negative
    Bernoulli log-likelihood of the image under the decoded pixel probabilities, summed
    over pixels and averaged over images: the reconstruction error of the pro-VLAE
    paper's Fig. 2. It is a number per image, so it grows with the image size.

    Parameters
    ----------
    model : fitted skdisent model
        Any model with ``transform`` and ``inverse_transform``.
    X : array-like in the layout ``model`` was fitted on
        ``uint8`` images (0..255) or floats in [0, 1].
    batch_size : int, default=1024
        Images per chunk (bounds the memory used).

    Returns
    -------
    error : float
        Nats per image; lower is better.
    """
    X = np.asarray(X)
    scale = 1.0 / 255.0 if X.dtype == np.uint8 else 1.0
    eps = 1e-6
    total = 0.0
    for start in range(0, len(X), batch_size):
        chunk = X[start:start + batch_size]
        target = chunk.astype(np.float64) * scale
        probs = np.clip(model.inverse_transform(model.transform(chunk)).astype(np.float64),
                        eps, 1.0 - eps)
        nll = -(target * np.log(probs) + (1.0 - target) * np.log1p(-probs))
        total += float(nll.reshape(len(chunk), -1).sum())
    return total / len(X)


def _posterior(model, X):
    if not hasattr(model, "posterior"):
        raise TypeError(f"this needs a model with a Gaussian posterior (BetaVAE, VLAE, "
                        f"ProVLAE, HierarchicalVAE), not a {type(model).__name__}.")
    means, logvars = model.posterior(X)
    return means.astype(np.float64), logvars.astype(np.float64)


def information_per_level(model, X, *, n_rows=2048, random_state=0):
    """``I(x; z_l)`` of each level that has latents, in nats, on a fixed subsample of ``X``.

    The rows are evenly spaced over ``X`` (no random draw), and the sampling
    estimator :func:`skdisent.metrics.information_per_level` draws ``n_rows``
    samples of the aggregate posterior with ``random_state``.

    The estimate cannot exceed the log of the rows it is computed on, ``log(min(n_rows,
    len(X)))`` (7.62 nats for 2,048 rows), up to Monte Carlo noise of a few hundredths
    of a nat: the aggregate posterior it uses is a mixture of one posterior per row, so
    at most that many inputs can be told apart, however much the model keeps of each.
    Compare values estimated on the same number of rows only, and raise ``n_rows``
    (the cost grows as its square) to measure a level that holds more.

    Parameters
    ----------
    model : fitted BetaVAE, VLAE, ProVLAE or HierarchicalVAE
        Any model with ``posterior`` and ``level_slices`` (for a HierarchicalVAE, layers
        above the bottom are summarised by their means and variances: see its docstring).
    X : array-like in the layout ``model`` was fitted on
    n_rows : int, default=2048
        Rows of ``X`` used, at most; the estimates are at most ``log`` of the rows used.
    random_state : int, default=0
        Seeds the estimator's samples.

    Returns
    -------
    information : list of float
        One value per level with latents, shallowest first.
    """
    X = np.asarray(X)
    means, logvars = _posterior(model, X[evenly_spaced_rows(len(X), n_rows)])
    columns = [s for s in model.level_slices() if s.stop > s.start]
    return metrics.information_per_level(means, logvars, columns, n_samples=n_rows,
                                         random_state=random_state).tolist()


def evaluate_model(model, X, factors, *, estimator="histogram", sampling_factors=None,
                   random_state=0):
    """Reconstruction error and disentanglement scores of a fitted model.

    Parameters
    ----------
    model : fitted skdisent model
    X : array-like in the layout ``model`` was fitted on
        Evaluation images.
    factors : ndarray of shape (n_samples, n_factors)
        Their ground-truth factor classes.
    estimator : {"histogram", "sampling"}, default="histogram"
        MIG and MIG-sup by :func:`skdisent.metrics.mig` and
        :func:`~skdisent.metrics.mig_sup` (20 bins, every factor), or by
        :func:`~skdisent.metrics.mig_sampling` (``X`` should then be a full factor
        grid; the model needs a ``posterior``).
    sampling_factors : array-like of int, default=None
        Columns of ``factors`` the sampling estimator scores (the reference leaves
        dSprites' shape out); all when None.
    random_state : int, default=0
        Seeds the FactorVAE votes and the sampling estimator.

    Returns
    -------
    scores : dict
        ``reconstruction_error`` (nats per image), ``mig``, ``mig_sup``,
        ``factor_vae_score``, ``n_active`` (latents whose posterior mean varies by more
        than 0.01) and ``factor_vae_batch_size`` (64, or the rarest factor value's
        count when the evaluation set is too small for 64).
    """
    codes = model.transform(X)
    scores = {"reconstruction_error": reconstruction_error(model, X)}
    if estimator == "sampling":
        means, logvars = _posterior(model, X)
        columns = slice(None) if sampling_factors is None else list(sampling_factors)
        result = metrics.mig_sampling(means, logvars, factors[:, columns], random_state=random_state)
        scores["mig"], scores["mig_sup"] = result["mig"], result["mig_sup"]
    else:
        scores["mig"] = metrics.mig(codes, factors)
        scores["mig_sup"] = metrics.mig_sup(codes, factors)
    pool = slice(None)
    if len(codes) > FACTOR_VAE_POOL:  # a full grid: the votes need a pool, not every image
        pool = np.sort(np.random.default_rng(random_state).choice(len(codes), FACTOR_VAE_POOL,
                                                                  replace=False))
    batch = min(64, min(int(np.unique(c, return_counts=True)[1].min()) for c in factors[pool].T))
    scores["factor_vae_score"] = (
        metrics.factor_vae_score(codes[pool], factors[pool], batch_size=batch,
                                 random_state=random_state)
        if batch >= 2 else float("nan")
    )
    scores["factor_vae_batch_size"] = batch
    scores["n_active"] = int(len(metrics.active_units(codes)))
    return scores
