"""Pictures of fitted ladder models: the figures of the pro-VLAE paper.

Every function takes a fitted :class:`~skdisent.BetaVAE`, :class:`~skdisent.VLAE` or
:class:`~skdisent.ProVLAE` (or the results of several fits), returns a
:class:`matplotlib.figure.Figure`, and saves it as a PNG when given ``path``:

- :func:`plot_traversals`: each latent dimension varied over a range while the others
  stay fixed, one row per dimension, one block per level (the paper's Figs. 4 and 7);
- :func:`plot_samples_per_level`: one level drawn from its prior while the others keep
  an image's code (the paper's Figs. 5 and 6);
- :func:`plot_information_flow`: ``I(x; z_l)`` per level at the end of every
  progressive step of a :class:`~skdisent.ProVLAE` fit (the bars of Fig. 5);
- :func:`plot_reconstructions`: images and their reconstructions, for one or more models;
- :func:`plot_score_vs_reconstruction`: disentanglement scores against reconstruction
  error across models and settings (Fig. 2).

Matplotlib is an optional dependency (``pip install "skdisent[plot]"``), imported when a
function is first called. Figures are made with :class:`matplotlib.figure.Figure`
directly, not through ``pyplot``: no window opens, no global figure list grows, and any
backend (or none) works. In a notebook the returned figure displays itself.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "plot_traversals",
    "plot_samples_per_level",
    "plot_information_flow",
    "plot_reconstructions",
    "plot_score_vs_reconstruction",
]

_DPI = 100
_CELL_INCHES = 0.75  # size of one image cell in a grid
_SCORE_LABELS = {
    "mig": "MIG",
    "mig_sup": "MIG-sup",
    "factor_vae_score": "FactorVAE score",
    "beta_vae_score": "BetaVAE score",
    "reconstruction_error": "reconstruction error (nats per image)",
}


def _new_figure(width, height):
    """A figure that belongs to no pyplot state; ImportError naming the extra without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            'skdisent.plotting needs matplotlib; install it with: pip install "skdisent[plot]"'
        ) from None
    return Figure(figsize=(width, height), dpi=_DPI, layout="constrained")


def _finish(figure, path):
    if path is not None:
        figure.savefig(path, dpi=_DPI, format="png")
    return figure


# ----------------------------------------------------------------- images


def _check_image_model(model):
    check_is_fitted(model, "network_")
    if not hasattr(model, "level_slices"):
        raise TypeError(
            f"{type(model).__name__} is not a ladder model (BetaVAE, VLAE or ProVLAE): it has no "
            "levels to picture."
        )
    if not model.layout_.is_image:
        raise ValueError(
            f"{type(model).__name__} was fitted on flat rows without image_shape, so its outputs "
            "are not images; fit it with images or with image_shape=(H, W) to picture it."
        )


def _display(model, batch):
    """Images ``(n, H, W)`` or ``(n, H, W, 3)`` in [0, 1] from data in the model's input layout."""
    batch = np.asarray(batch)
    scale = 1.0 / 255.0 if batch.dtype == np.uint8 else 1.0
    images = batch.reshape(len(batch), *model.layout_.network_shape).astype(np.float32) * scale
    images = np.clip(images, 0.0, 1.0)
    channels = images.shape[1]
    if channels == 1:
        return images[:, 0]
    if channels in (3, 4):
        return np.moveaxis(images[:, :3], 1, -1)
    return images.mean(axis=1)


def _mosaic(images, n_cols, pad=1):
    """Tile images ``(n, H, W[, 3])`` into one array, ``n_cols`` per row, white gaps of ``pad``."""
    n, height, width = images.shape[:3]
    n_rows = -(-n // n_cols)
    shape = (n_rows * (height + pad) - pad, n_cols * (width + pad) - pad, *images.shape[3:])
    canvas = np.ones(shape, dtype=np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, n_cols)
        canvas[r * (height + pad): r * (height + pad) + height,
               c * (width + pad): c * (width + pad) + width] = image
    return canvas


def _show_grid(ax, images, n_cols, row_labels=None, col_labels=None, title=None):
    """Draw a grid of images on ``ax`` with optional row and column labels."""
    height, width = images.shape[1:3]
    ax.imshow(_mosaic(images, n_cols), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([] if col_labels is None else
                  [c * (width + 1) + width / 2 - 0.5 for c in range(len(col_labels))])
    if col_labels is not None:
        ax.set_xticklabels(col_labels, fontsize=7)
        ax.xaxis.set_ticks_position("top")
    ax.set_yticks([] if row_labels is None else
                  [r * (height + 1) + height / 2 - 0.5 for r in range(len(row_labels))])
    if row_labels is not None:
        ax.set_yticklabels(row_labels, fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title is not None:
        ax.set_title(title, fontsize=9, loc="left")


def _levels_deep_first(model):
    """``(level number, column slice)`` of every level with latents, deepest first."""
    levels = [(i + 1, s) for i, s in enumerate(model.level_slices()) if s.stop > s.start]
    return levels[::-1]


def _level_title(model, level):
    n_levels = len(model.latent_dims_)
    if n_levels == 1:
        return "latents"
    where = " (deepest)" if level == n_levels else " (shallowest)" if level == 1 else ""
    return f"level {level}{where}"


def _reference_code(model, X, index):
    """The posterior mean of ``X[index]``, or the prior mean when ``X`` is None."""
    if X is None:
        return np.zeros(model.n_components_, dtype=np.float32)
    X = np.asarray(X)
    if not 0 <= index < len(X):
        raise ValueError(f"index={index} is out of range for X with {len(X)} samples.")
    return model.transform(X[index: index + 1])[0]


def _decode(model, codes):
    return _display(model, model.inverse_transform(np.asarray(codes, dtype=np.float32)))


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
        from .metrics import active_units

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


# ------------------------------------------------------------------ curves


def plot_information_flow(model, *, path=None):
    """Information per level after each progressive step of a pro-VLAE fit.

    One panel per progressive step; a bar per level (the deepest on top) gives
    ``I(x; z_l)`` in nats at the end of the step, and the panel's title the total
    ``I(x; z)``. The paper's Fig. 5: as levels are added, information should move
    from the deepest level into the new ones, and end in a descending order from deep
    to shallow. The numbers are those :class:`~skdisent.ProVLAE` records during
    ``fit`` (``information_per_step_`` and the step-end records of ``history_``), so
    the fitted model is all this needs.

    Parameters
    ----------
    model : ProVLAE
        A fitted model.
    path : str or path-like, default=None
        Save the figure there as a PNG.

    Returns
    -------
    figure : matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If the model recorded no progressive step (not a ProVLAE, or fitted without
        completing one).

    Examples
    --------
    >>> from skdisent.plotting import plot_information_flow
    >>> fig = plot_information_flow(ProVLAE(epochs_per_step=5).fit(X))  # doctest: +SKIP
    """
    check_is_fitted(model, "network_")
    records = [r for r in getattr(model, "history_", []) if "information_total" in r]
    if not records:
        raise ValueError(
            f"{type(model).__name__} recorded no information per progressive step; the "
            "information flow needs a ProVLAE fitted through at least one progressive step."
        )
    n_levels = len(model.latent_dims_)
    information = np.array([[r[f"information_{l + 1}"] for l in range(n_levels)] for r in records])
    top = max(float(np.nanmax(information)), 1e-3) * 1.25
    figure = _new_figure(0.4 + 2.3 * len(records), 0.9 + 0.45 * n_levels)
    axes = figure.subplots(1, len(records), squeeze=False, sharey=True)[0]
    positions = np.arange(n_levels)[::-1]  # the deepest level on top
    for ax, record, values in zip(axes, records, information):
        ax.barh(positions, values, color="#3a9d3a", height=0.6)
        for y, value in zip(positions, values):
            ax.text(max(value, 0.0) + top * 0.02, y, f"{value:.2f}", va="center", fontsize=8,
                    clip_on=True)
        ax.set_xlim(min(0.0, float(np.nanmin(values))), top)
        ax.set_title(f"step {record['step']}\nI(x; z) = {record['information_total']:.2f}",
                     fontsize=9)
        ax.set_xlabel("I(x; z_l), nats", fontsize=8)
        ax.tick_params(labelsize=8)
    axes[0].set_yticks(positions, [f"level {l + 1}" for l in range(n_levels)])
    figure.suptitle(f"{type(model).__name__}: information per level after each progressive step",
                    fontsize=10)
    return _finish(figure, path)


def _records(results):
    if hasattr(results, "to_dict"):  # a pandas DataFrame
        results = results.to_dict("records")
    records = [dict(r) for r in results]
    if not records:
        raise ValueError("results is empty; give one record (dict) per fitted model.")
    return records


def plot_score_vs_reconstruction(results, *, scores=("factor_vae_score", "mig", "mig_sup"),
                                 top_k=None, path=None):
    """Disentanglement scores against reconstruction error, across models and settings.

    One panel per score, reconstruction error on the x axis: the pro-VLAE paper's
    Fig. 2, where the best models sit at the top left. Records of the same model and
    ``beta`` (several seeds) are averaged into one point annotated with its ``beta``;
    the points of one model are joined in order of ``beta``.

    Parameters
    ----------
    results : list of dict or pandas.DataFrame
        One record per fitted model with keys ``"model"``, ``"reconstruction_error"``,
        each name in ``scores``, and optionally ``"beta"`` and ``"seed"`` (the records
        that ``skdisent demo`` writes to ``results.json``).
    scores : sequence of str, default=("factor_vae_score", "mig", "mig_sup")
        Keys of the scores to plot, one panel each.
    top_k : int, default=None
        Average only the ``top_k`` best seeds of each setting by the panel's score
        (the paper's "average of the top three"); None averages them all.
    path : str or path-like, default=None
        Save the figure there as a PNG.

    Returns
    -------
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> import json
    >>> from skdisent.plotting import plot_score_vs_reconstruction
    >>> results = json.load(open("skdisent_output/results.json"))["results"]  # doctest: +SKIP
    >>> fig = plot_score_vs_reconstruction(results, top_k=3)  # doctest: +SKIP
    """
    records = _records(results)
    scores = list(scores)
    for key in ("model", "reconstruction_error", *scores):
        missing = [i for i, r in enumerate(records) if key not in r]
        if missing:
            raise ValueError(f"results record {missing[0]} has no {key!r}.")
    if top_k is not None and int(top_k) < 1:
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}.")
    settings = {}
    for record in records:
        settings.setdefault((record["model"], record.get("beta")), []).append(record)
    models = list(dict.fromkeys(model for model, _ in settings))
    colors = [f"C{i}" for i in range(len(models))]
    figure = _new_figure(0.6 + 3.2 * len(scores), 3.2)
    axes = figure.subplots(1, len(scores), squeeze=False)[0]
    for ax, score in zip(axes, scores):
        for model, color in zip(models, colors):
            betas = sorted((beta for m, beta in settings if m == model),
                           key=lambda b: (b is None, b if b is not None else 0))
            points = []
            for beta in betas:
                group = sorted(settings[(model, beta)], key=lambda r: r[score], reverse=True)
                group = group[: int(top_k)] if top_k is not None else group
                points.append((np.mean([r["reconstruction_error"] for r in group]),
                               np.mean([r[score] for r in group]), beta))
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            ax.plot(xs, ys, "o-", color=color, label=model, markersize=5, linewidth=1)
            for x, y, beta in points:
                if beta is not None:
                    ax.annotate(f"β={beta:g}", (x, y), textcoords="offset points", xytext=(4, 3),
                                fontsize=7, color=color)
        ax.margins(0.15)  # room for the beta labels
        ax.set_xlabel(_SCORE_LABELS["reconstruction_error"], fontsize=8)
        ax.set_ylabel(_SCORE_LABELS.get(score, score), fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle("disentanglement against reconstruction (top left is best)", fontsize=10)
    return _finish(figure, path)
