"""Pictures of the diagnostics of :mod:`skdisent.hierarchy` (Zhao et al.'s Figs. 2 and 3)."""

import numpy as np

from ..hierarchy import bottom_layer_gibbs, layer_variation
from ._figures import (
    _CELL_INCHES,
    _check_image_model,
    _display,
    _finish,
    _new_figure,
    _show_grid,
)

__all__ = ["plot_bottom_layer_gibbs", "plot_layer_variation"]


def _layer_title(model, level):
    n_levels = len(model.latent_dims_)
    where = " (top)" if level == n_levels and n_levels > 1 else " (bottom)" if level == 1 else ""
    return f"layer {level}{where}"


def plot_layer_variation(model, *, n_samples=8, n_references=2, random_state=0, path=None):
    """One layer's noise drawn again, the others held: Zhao et al.'s Fig. 3.

    One block per layer with latents, the top (deepest) layer first; in a block, each
    row holds one reference draw of the other layers' noise and ``n_samples`` images
    with this layer's noise drawn again (:func:`skdisent.hierarchy.layer_variation`,
    which says what is held for each kind of model). The block's title gives the
    images' variance over the draws, averaged over pixels and references (of
    ``n_references`` rows): what that layer carries. A stacked hierarchical VAE with
    Gaussian conditionals shows nearly all the variation in one layer (the paper:
    its top); a ladder spreads it over its levels.

    Parameters
    ----------
    model : HierarchicalVAE, BetaVAE, VLAE, ProVLAE or NVAE
        A model fitted on images (or on rows with ``image_shape``).
    n_samples : int, default=8
        Columns: fresh draws per row.
    n_references : int, default=2
        Rows per layer: reference draws of the other layers' noise.
    random_state : int, RandomState instance or None, default=0
        Seeds the noise.
    path : str or path-like, default=None
        Save the figure there as a PNG.

    Returns
    -------
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> from skdisent.plotting import plot_layer_variation
    >>> fig = plot_layer_variation(model, path="layers.png")  # doctest: +SKIP
    """
    _check_image_model(model)
    result = layer_variation(model, n_samples=n_samples, n_references=n_references,
                             random_state=random_state)
    n_levels = len(result.levels)
    figure = _new_figure(1.4 + _CELL_INCHES * int(n_samples),
                         0.5 + (_CELL_INCHES * int(n_references) + 0.3) * n_levels)
    axes = figure.subplots(n_levels, 1, squeeze=False)[:, 0]
    for ax, i in zip(axes, range(n_levels - 1, -1, -1)):
        level = result.levels[i]
        images = result.images[i].reshape(-1, *result.images.shape[3:])
        labels = [f"ref. {r + 1}" for r in range(int(n_references))]
        _show_grid(ax, _display(model, images), int(n_samples), labels, None,
                   f"{_layer_title(model, level)} drawn again: variance {result.variance[i]:.4f}")
    figure.suptitle(f"{type(model).__name__}: one layer's noise drawn again, the others held",
                    fontsize=10)
    return _finish(figure, path)


def plot_bottom_layer_gibbs(model, X, *, n_images=10, n_steps=10, x_step="sample",
                            random_state=0, path=None):
    """The Gibbs chain on the bottom layer against ancestral samples: Zhao et al.'s Fig. 2.

    Three rows: images of ``X`` (the chains' starting points), the chains' samples
    after ``n_steps`` steps, and the model's ancestral samples; the title gives the
    squared MMDs of :func:`skdisent.hierarchy.bottom_layer_gibbs` (computed on all of
    ``X``, the rows show the first ``n_images``).

    Parameters
    ----------
    model : HierarchicalVAE, BetaVAE, VLAE or ProVLAE
        A model fitted on images (or on rows with ``image_shape``).
    X : array-like in the layout ``model`` was fitted on
        The chains' starting points and the data compared with; at least 2 rows.
    n_images : int, default=10
        Columns.
    n_steps : int, default=10
        Steps of each chain.
    x_step : {"sample", "mean"}, default="sample"
        See :func:`~skdisent.hierarchy.bottom_layer_gibbs`.
    random_state : int, RandomState instance or None, default=0
        Seeds the chains and the ancestral samples.
    path : str or path-like, default=None
        Save the figure there as a PNG.

    Returns
    -------
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> from skdisent.plotting import plot_bottom_layer_gibbs
    >>> fig = plot_bottom_layer_gibbs(model, X[:500], path="gibbs.png")  # doctest: +SKIP
    """
    _check_image_model(model)
    result = bottom_layer_gibbs(model, X, n_steps=n_steps, x_step=x_step,
                                random_state=random_state)
    n = min(int(n_images), len(result.gibbs), len(result.ancestral))
    rows = [_display(model, np.asarray(X)[:n]), _display(model, result.gibbs[:n]),
            _display(model, result.ancestral[:n])]
    figure = _new_figure(1.6 + _CELL_INCHES * n, 0.7 + _CELL_INCHES * 3)
    labels = ["data", f"Gibbs, layer {result.level}", "ancestral"]
    _show_grid(figure.subplots(), np.concatenate(rows), n, labels)
    figure.suptitle(
        f"{type(model).__name__}: {n_steps} Gibbs steps on layer {result.level} alone. MMD² "
        f"Gibbs-ancestral {result.mmd:.3f}, Gibbs-data {result.mmd_gibbs_data:.3f}, "
        f"ancestral-data {result.mmd_ancestral_data:.3f}", fontsize=9)
    return _finish(figure, path)
