"""Diagnostics of a fitted hierarchical model: does each layer carry its own variation?

The two of Zhao, Song and Ermon (2017), "Learning Hierarchical Features from Deep
Generative Models", written for any fitted model with layers of Gaussian latents
(:class:`~skdisent.HierarchicalVAE` and the ladder models :class:`~skdisent.BetaVAE`,
:class:`~skdisent.VLAE`, :class:`~skdisent.ProVLAE`; :func:`layer_variation` takes
:class:`~skdisent.NVAE`'s groups too):

- :func:`bottom_layer_gibbs`: a Gibbs chain on the bottom layer alone against ancestral
  sampling (the paper's Proposition 1 and Fig. 2). When its samples are as good as the
  model's own, the bottom layer holds the data distribution by itself and the layers
  above it add nothing;
- :func:`layer_variation`: images with one layer's noise drawn again and the others held
  (the paper's Fig. 3), and how much the images vary, per layer.

The information each layer holds, ``I(x; z_l)``, is
:func:`skdisent.evaluation.information_per_level`, which takes these models too.
:func:`skdisent.plotting.plot_layer_variation` and
:func:`skdisent.plotting.plot_bottom_layer_gibbs` draw the pictures.

This module evaluates fitted models: it sits beside :mod:`skdisent.evaluation`, above
the models, which never import it. It works through the models' public methods
(``posterior``, ``inverse_transform``, ``sample``, ``level_slices`` and, for a
hierarchy whose prior is a chain, ``codes_from_noise``), so a new model with those
methods gets the diagnostics without a change here.
"""

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_is_fitted

from .metrics._mmd import median_distance, mmd

__all__ = ["bottom_layer_gibbs", "layer_variation"]

_X_STEPS = ("sample", "mean")


def _levels(model):
    """``(level number, column slice)`` of every level with latents, bottom first."""
    check_is_fitted(model, "network_")
    if not (hasattr(model, "posterior") and hasattr(model, "level_slices")):
        raise TypeError(
            f"{type(model).__name__} has no layers of Gaussian latents; the diagnostics of "
            "skdisent.hierarchy take a HierarchicalVAE, BetaVAE, VLAE, ProVLAE or NVAE."
        )
    return [(i + 1, s) for i, s in enumerate(model.level_slices()) if s.stop > s.start]


def _as_float(model, X):
    """``X`` as float32 on the scale the model reads (uint8 divided by 255)."""
    X = np.asarray(X)
    if X.dtype == np.uint8:
        return X.astype(np.float32) / np.float32(255.0)
    return X.astype(np.float32)


def _draw_x(model, mean, rng):
    """A draw of ``p(x | z)`` with the given mean, in the model's input layout."""
    if model.likelihood_ == "bernoulli":
        return (rng.random_sample(mean.shape) < mean).astype(np.float32)
    scale = float(np.exp(float(model.network_.likelihood.log_scale.detach().cpu())))
    draw = (mean + scale * rng.standard_normal(mean.shape)).astype(np.float32)
    if getattr(model, "input_dtype_", None) == "uint8":  # the model reads [0, 1] only
        draw = np.clip(draw, 0.0, 1.0)
    return draw


def bottom_layer_gibbs(model, X, *, n_steps=10, x_step="sample", n_ancestral=None,
                       bandwidth=None, random_state=0):
    """The Gibbs chain on the bottom layer alone, against ancestral sampling.

    From each row of ``X`` the chain alternates ``z_1 ~ q(z_1 | x)`` and ``x ~ p(x |
    z_1)`` ``n_steps`` times (Zhao et al.'s Proposition 1: for a model trained to
    optimality, a chain that converges to the data distribution); the chain's samples
    are the means of ``p(x | z_1)`` at its last ``z_1``. The ancestral samples are
    ``model.sample``, the means of ``p(x | z)`` for ``z`` drawn from the prior. Both
    sets are thus likelihood means, of the same kind, and are compared by the squared
    maximum mean discrepancy (:func:`skdisent.metrics.mmd`, Gaussian kernel), along
    with each against ``X``: when the chain's samples are as close to ``X`` as the
    ancestral ones (or closer), the bottom layer alone carries the data distribution.

    What "the bottom layer alone" means:

    - :class:`~skdisent.HierarchicalVAE`: ``z_1``; ``p(x | z_1)`` involves no other
      layer, so this is exactly the paper's chain;
    - the ladder models (:class:`~skdisent.VLAE`, :class:`~skdisent.ProVLAE`,
      :class:`~skdisent.BetaVAE`): the shallowest level with latents, the decoder
      given the deeper levels at their prior mean, 0 (the value that tells nothing
      about any image), so that only that level carries anything from one step to
      the next. For a :class:`~skdisent.BetaVAE` (one level) it is the chain of the
      whole model.

    Parameters
    ----------
    model : fitted HierarchicalVAE, BetaVAE, VLAE or ProVLAE
    X : array-like in the layout ``model`` was fitted on
        The chains' starting points (one chain per row) and the data the samples are
        compared with; at least 2 rows.
    n_steps : int, default=10
        Draws of ``z_1`` per chain (at least 1).
    x_step : {"sample", "mean"}, default="sample"
        Between two steps, ``x`` is a draw of ``p(x | z_1)`` (Bernoulli pixels, or the
        Gaussian's mean plus its noise: the paper's chain) or its mean (a
        deterministic decoder, a chain that mixes less).
    n_ancestral : int, default=None
        Ancestral samples; as many as ``X``'s rows when None.
    bandwidth : float, default=None
        The kernel's width for all three MMDs. None: the median distance between the
        rows of ``X`` (the median heuristic on the data).
    random_state : int, RandomState instance or None, default=0
        Seeds the chains and the ancestral samples.

    Returns
    -------
    result : sklearn.utils.Bunch
        ``gibbs`` and ``ancestral`` (the samples, float32, in ``X``'s layout, on the
        [0, 1] scale for ``uint8`` data); ``mmd`` (MMD^2 between them: near 0 when
        the bottom layer alone reproduces the model's samples), ``mmd_gibbs_data`` and
        ``mmd_ancestral_data`` (each against ``X``); ``bandwidth``; ``level`` (the
        level the chain runs on, 1-based), ``n_steps`` and ``x_step``.

    Raises
    ------
    TypeError
        For a model without layers of Gaussian latents (e.g. LDFModel).

    Examples
    --------
    >>> from skdisent.hierarchy import bottom_layer_gibbs
    >>> result = bottom_layer_gibbs(model, X[:500], n_steps=10)  # doctest: +SKIP
    >>> result.mmd, result.mmd_gibbs_data, result.mmd_ancestral_data  # doctest: +SKIP
    """
    level, columns = _levels(model)[0]
    if x_step not in _X_STEPS:
        raise ValueError(f"x_step must be one of {_X_STEPS}, got {x_step!r}.")
    if int(n_steps) < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}.")
    data = _as_float(model, X)
    if len(data) < 2:
        raise ValueError(f"X needs at least 2 rows to compare samples with, got {len(data)}.")
    rng = check_random_state(random_state)
    x = data
    for _ in range(int(n_steps)):
        means, logvars = model.posterior(x)
        codes = np.zeros_like(means)
        noise = rng.standard_normal((len(x), columns.stop - columns.start))
        codes[:, columns] = means[:, columns] + np.exp(0.5 * logvars[:, columns]) * noise
        mean = model.inverse_transform(codes)
        x = _draw_x(model, mean, rng) if x_step == "sample" else mean
    ancestral = model.sample(int(n_ancestral or len(data)), random_state=rng)
    if bandwidth is None:
        bandwidth = median_distance(data)
    return Bunch(
        gibbs=mean, ancestral=ancestral,
        mmd=mmd(mean, ancestral, bandwidth=bandwidth),
        mmd_gibbs_data=mmd(mean, data, bandwidth=bandwidth),
        mmd_ancestral_data=mmd(ancestral, data, bandwidth=bandwidth),
        bandwidth=float(bandwidth), level=level, n_steps=int(n_steps), x_step=x_step,
    )


def _codes_from_noise(model, noise):
    """Codes of the prior from standard normal noise: the model's chain, or the noise itself."""
    if hasattr(model, "codes_from_noise"):
        return model.codes_from_noise(noise)
    return noise  # the ladder's prior: every level N(0, I), independent


def layer_variation(model, *, n_samples=8, n_references=4, random_state=0):
    """Images with one layer's noise drawn again and the others held (Zhao et al.'s Fig. 3).

    A reference draw of standard normal noise ``eps`` for every layer is made
    ``n_references`` times; for each reference and each layer, ``n_samples`` images
    are decoded from it with that layer's ``eps`` replaced by fresh draws. For a
    :class:`~skdisent.HierarchicalVAE` the noise goes down the generative chain
    (:meth:`~skdisent.HierarchicalVAE.codes_from_noise`: ``z_L = eps_L``, ``z_l =
    mu_l(z_{l+1}) + sigma_l(z_{l+1}) eps_l``), so the layers below the one drawn
    again change through the chain while keeping their own ``eps``, as in the paper;
    for the ladder models, whose levels are independent ``N(0, I)``, ``eps`` is the
    code itself. For an :class:`~skdisent.NVAE` the layers are its groups (from the
    data up) and the noise goes down its top-down prior
    (:meth:`~skdisent.NVAE.codes_from_noise`): the groups generated after the one drawn
    again change through their priors while keeping their own ``eps``. What varies
    along a row is what that layer carries; in the paper's hierarchical VAE the top
    layer carries essentially all of it and the lower layers only small local changes.

    Parameters
    ----------
    model : fitted HierarchicalVAE, BetaVAE, VLAE, ProVLAE or NVAE
    n_samples : int, default=8
        Fresh draws per reference and layer.
    n_references : int, default=4
        Reference draws of the noise the other layers keep.
    random_state : int, RandomState instance or None, default=0
        Seeds the noise.

    Returns
    -------
    result : sklearn.utils.Bunch
        ``images``, float32 of shape ``(n_levels, n_references, n_samples,
        *input_shape_)``, the likelihood's means (bottom layer first); ``variance``
        of shape ``(n_levels,)``, the variance of the images over the fresh draws,
        averaged over the pixels and the references (how much each layer's noise
        changes the images, on the data's [0, 1] scale for images); ``levels``, the
        level numbers (1-based, levels without latents left out).

    Raises
    ------
    TypeError
        For a model without layers of Gaussian latents (e.g. LDFModel).

    Examples
    --------
    >>> from skdisent.hierarchy import layer_variation
    >>> layer_variation(model).variance  # doctest: +SKIP
    """
    levels = _levels(model)
    n_samples, n_references = int(n_samples), int(n_references)
    if n_samples < 2 or n_references < 1:
        raise ValueError(f"n_samples must be at least 2 and n_references at least 1; got "
                         f"{n_samples} and {n_references}.")
    rng = check_random_state(random_state)
    references = rng.standard_normal((n_references, model.n_components_))
    noise = np.repeat(references[None, :, None, :], len(levels), axis=0)
    noise = np.repeat(noise, n_samples, axis=2)  # (levels, references, samples, latents)
    for i, (_, columns) in enumerate(levels):
        noise[i, :, :, columns] = rng.standard_normal((n_references, n_samples,
                                                       columns.stop - columns.start))
    codes = _codes_from_noise(model, noise.reshape(-1, model.n_components_).astype(np.float32))
    images = model.inverse_transform(codes)
    images = images.reshape(len(levels), n_references, n_samples, *images.shape[1:])
    flat = images.reshape(len(levels), n_references, n_samples, -1).astype(np.float64)
    variance = flat.var(axis=2).mean(axis=(1, 2))
    return Bunch(images=images, variance=variance, levels=[level for level, _ in levels])
