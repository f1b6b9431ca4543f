"""Pictures of a fitted ladder model's images: traversals, samples per level, reconstructions."""

import numpy as np

from ..metrics import active_units
from ._figures import (
    _CELL_INCHES,
    _check_image_model,
    _decode,
    _display,
    _finish,
    _level_title,
    _levels_deep_first,
    _new_figure,
    _reference_code,
    _show_grid,
)

__all__ = ["plot_traversals", "plot_samples_per_level", "plot_reconstructions"]


def plot_traversals(model, X=None, *, index=0, n_values=9, limit=2.5, path=None):
    """Latent traversals by level: vary one latent dimension at a time.

    Each row varies one latent dimension over ``n_values`` values evenly spaced in
    ``[-limit, limit]`` (in units of the prior's standard deviation) while every other
    dimension keeps the code of a reference image; rows are grouped in one block per
    level, the deepest (most abstract) level on top. Row ``z3.1`` is the first
    dimension of level 3. A disentangled model changes one property of the image
    along each row.

    Parameters
    ----------
    model : BetaVAE, VLAE or ProVLAE
        A model fitted on images (or on rows with ``image_shape``).
    X : array-like in the layout ``model`` was fitted on, default=None
        Images; the reference code is the posterior mean of ``X[index]``. When ``X``
        holds more than one image, rows of latents whose posterior mean varies little
        over ``X`` (variance below 0.01, the rule of MIG-sup) are marked *inactive*.
        None starts from the prior mean (all zeros).
    index : int, default=0
        Row of ``X`` whose code is the reference.
    n_values : int, default=9
        Columns: values per traversal.
    limit : float, default=2.5
        Traversal range ``[-limit, limit]``.
    path : str or path-like, default=None
        Save the figure there as a PNG.

    Returns
    -------
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> from skdisent.plotting import plot_traversals
    >>> fig = plot_traversals(model, X[:1000], path="traversals.png")  # doctest: +SKIP
    """
    _check_image_model(model)
    if int(n_values) < 2:
        raise ValueError(f"n_values must be at least 2, got {n_values!r}.")
    reference = _reference_code(model, X, index)
    active = None
    if X is not None and len(X) > 1:
        active = set(active_units(model.transform(X)).tolist())
    values = np.linspace(-float(limit), float(limit), int(n_values))
    levels = _levels_deep_first(model)
    heights = [s.stop - s.start for _, s in levels]
    figure = _new_figure(1.2 + _CELL_INCHES * len(values),
                         0.5 + _CELL_INCHES * sum(heights) + 0.3 * len(levels))
    axes = figure.subplots(len(levels), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, (level, columns) in zip(axes, levels):
        codes = np.repeat(reference[None, :], (columns.stop - columns.start) * len(values), axis=0)
        labels = []
        for row, column in enumerate(range(columns.start, columns.stop)):
            codes[row * len(values): (row + 1) * len(values), column] = values
            mark = "" if active is None or column in active else " (inactive)"
            labels.append(f"z{level}.{column - columns.start + 1}{mark}")
        col_labels = [f"{v:+.1f}" for v in values] if ax is axes[0] else None
        _show_grid(ax, _decode(model, codes), len(values), labels, col_labels,
                   _level_title(model, level))
    figure.suptitle(f"{type(model).__name__}: latent traversals", fontsize=10)
    return _finish(figure, path)


def plot_samples_per_level(model, X, *, index=0, n_samples=8, random_state=0, path=None):
    """Samples per level: draw one level from its prior, keep the others at an image's code.

    For each level with latents (the deepest on top), the row shows the image
    ``X[index]``, its reconstruction, then ``n_samples`` images decoded from the
    image's code with that level's latents replaced by draws from ``N(0, I)``. What
    changes along a row is what the level encodes: in a hierarchical model the deepest
    level changes the most abstract properties (the pro-VLAE paper's Figs. 5 and 6).

    Parameters
    ----------
    model : BetaVAE, VLAE or ProVLAE
        A model fitted on images (or on rows with ``image_shape``).
    X : array-like in the layout ``model`` was fitted on
        Images; only ``X[index]`` is used.
    index : int, default=0
        Row of ``X`` whose code is kept.
    n_samples : int, default=8
        Draws per level.
    random_state : int, RandomState instance or None, default=0
        Seeds the draws from the prior.
    path : str or path-like, default=None
        Save the figure there as a PNG.

    Returns
    -------
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> from skdisent.plotting import plot_samples_per_level
    >>> fig = plot_samples_per_level(model, X, index=3)  # doctest: +SKIP
    """
    from sklearn.utils import check_random_state

    _check_image_model(model)
    if int(n_samples) < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    X = np.asarray(X)
    reference = _reference_code(model, X, index)
    rng = check_random_state(random_state)
    original = _display(model, X[index: index + 1])
    levels = _levels_deep_first(model)
    rows = []
    for _, columns in levels:
        codes = np.repeat(reference[None, :], int(n_samples) + 1, axis=0)
        draws = rng.standard_normal((int(n_samples), columns.stop - columns.start))
        codes[1:, columns] = draws
        rows.append(np.concatenate([original, _decode(model, codes)]))
    n_cols = int(n_samples) + 2
    figure = _new_figure(1.4 + _CELL_INCHES * n_cols, 0.6 + _CELL_INCHES * len(levels))
    ax = figure.subplots()
    labels = [_level_title(model, level) for level, _ in levels]
    col_labels = ["input", "recon."] + [f"draw {i + 1}" for i in range(int(n_samples))]
    _show_grid(ax, np.concatenate(rows), n_cols, labels, col_labels)
    figure.suptitle(f"{type(model).__name__}: one level drawn from the prior, the others fixed",
                    fontsize=10)
    return _finish(figure, path)


def plot_reconstructions(models, X, *, n_images=8, path=None):
    """Images (top row) and their reconstructions by one or more models.

    A reconstruction decodes the posterior mean of the image: the likelihood's mean
    (pixel probabilities for a Bernoulli likelihood).

    Parameters
    ----------
    models : fitted model, or dict of name -> fitted model
        One row of reconstructions per model, in the order given.
    X : array-like in the layout the models were fitted on
        Images; the first ``n_images`` are shown.
    n_images : int, default=8
        Columns.
    path : str or path-like, default=None
        Save the figure there as a PNG.

    Returns
    -------
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> from skdisent.plotting import plot_reconstructions
    >>> fig = plot_reconstructions({"beta-VAE": bvae, "pro-VLAE": pro}, X)  # doctest: +SKIP
    """
    if not isinstance(models, dict):
        models = {type(models).__name__: models}
    if not models:
        raise ValueError("models is empty; give a fitted model or a dict of them.")
    for model in models.values():
        _check_image_model(model)
    X = np.asarray(X)[: int(n_images)]
    if len(X) == 0:
        raise ValueError("X holds no images.")
    first = next(iter(models.values()))
    rows = [_display(first, X)]
    for model in models.values():
        rows.append(_display(model, model.inverse_transform(model.transform(X))))
    figure = _new_figure(1.4 + _CELL_INCHES * len(X), 0.4 + _CELL_INCHES * len(rows))
    _show_grid(figure.subplots(), np.concatenate(rows), len(X), ["input", *models])
    figure.suptitle("reconstructions (decoded posterior means)", fontsize=10)
    return _finish(figure, path)
