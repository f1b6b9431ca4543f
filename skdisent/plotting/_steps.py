"""The paper's Fig. 5: samples per level and the information of each level, step by step."""

import math

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._figures import (
    _CELL_INCHES,
    _check_image_model,
    _decode,
    _finish,
    _levels_deep_first,
    _new_figure,
    _reference_code,
    _show_grid,
)

__all__ = ["plot_information_flow_steps"]

_BAR_INCHES = 1.1  # width of the information bar beside each row
_GREEN = "#3a9d3a"


def _step_snapshots(model):
    """The snapshots of ``model`` and their step-end records; ValueError when there are none."""
    check_is_fitted(model, "network_")
    snapshots = list(getattr(model, "step_snapshots_", None) or [])
    if not snapshots:
        raise ValueError(
            f"{type(model).__name__} holds no step snapshots; this figure needs a ProVLAE "
            "fitted with snapshot_steps=True through at least one progressive step."
        )
    records = [snapshot.history_[-1] if snapshot.history_ else {} for snapshot in snapshots]
    if not all("information_total" in record for record in records):
        raise ValueError("a step snapshot has no information record at its end: it was not "
                         "taken at the end of a progressive step.")
    for snapshot in snapshots:
        _check_image_model(snapshot)
    return snapshots, records


def _information_bar(ax, value, top):
    """One horizontal bar of ``value`` nats on ``ax``, on a common scale up to ``top``."""
    ax.barh([0.0], [max(value, 0.0)], height=0.5, color=_GREEN)
    ax.text(max(value, 0.0) + top * 0.03, 0.0, f"{value:.2f}", va="center", fontsize=8,
            clip_on=False)
    ax.set_xlim(0.0, top)
    ax.set_ylim(-0.6, 0.6)
    ax.set_xticks([])
    ax.set_yticks([])
    for side, spine in ax.spines.items():
        spine.set_visible(side == "left")


def plot_information_flow_steps(model, X, *, index=0, n_samples=6, random_state=0, path=None):
    """Samples per level after each progressive step, with ``I(x; z_l)`` beside each row.

    The pro-VLAE paper's Fig. 5, from the copies of the model that
    ``ProVLAE(snapshot_steps=True)`` keeps in ``step_snapshots_``. One block of rows
    per progressive step, left to right; in each, one row per level (the deepest on
    top) shows ``n_samples`` images decoded from the code of ``X[index]`` (its
    posterior mean under that step's model) with that level's latents replaced by
    draws from the prior ``N(0, I)``, the other levels fixed (as
    :func:`plot_samples_per_level`; this is not a traversal). The same draws are used
    at every step. A green bar beside each row gives ``I(x; z_l)`` in nats at the end
    of the step, and the block's title the total ``I(x; z)``: the numbers ``fit``
    recorded in the step-end records of ``history_`` (``information_per_step_``).
    A level not yet active at a step is marked *inactive*: the decoder ignores it, so
    its row repeats one image. As levels are added, information should move from the
    deepest level into the new ones, and what each level changes in the images should
    narrow to fewer, more detailed properties.

    Parameters
    ----------
    model : ProVLAE
        A model fitted with ``snapshot_steps=True`` on images (or on rows with
        ``image_shape``).
    X : array-like in the layout ``model`` was fitted on
        Images; only ``X[index]`` is used.
    index : int, default=0
        Row of ``X`` whose code is kept.
    n_samples : int, default=6
        Draws per row.
    random_state : int, RandomState instance or None, default=0
        Seeds the draws from the prior.
    path : str or path-like, default=None
        Save the figure there as a PNG.

    Returns
    -------
    figure : matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If the model holds no step snapshot (fitted without ``snapshot_steps=True``,
        not a ProVLAE, or before its first step ended).

    See Also
    --------
    plot_information_flow : the bars alone, from the fitted model's ``history_``.
    plot_samples_per_level : the rows of the fitted model alone.

    Examples
    --------
    >>> from skdisent import ProVLAE
    >>> from skdisent.plotting import plot_information_flow_steps
    >>> model = ProVLAE(snapshot_steps=True, information_rows=None).fit(X)  # doctest: +SKIP
    >>> fig = plot_information_flow_steps(model, X, path="fig5.png")  # doctest: +SKIP
    """
    snapshots, records = _step_snapshots(model)
    n_samples = int(n_samples)
    if n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    X = np.asarray(X)
    rng = check_random_state(random_state)
    levels = _levels_deep_first(snapshots[0])
    draws = [rng.standard_normal((n_samples, s.stop - s.start)) for _, s in levels]
    values = [[record[f"information_{level}"] for level, _ in levels] for record in records]
    top = max(max(max(row) for row in values), 1e-3) * 1.3
    n_levels, n_steps = len(levels), len(snapshots)
    figure = _new_figure(0.4 + n_steps * (0.6 + _CELL_INCHES * n_samples + _BAR_INCHES),
                         0.9 + _CELL_INCHES * n_levels)
    axes = figure.subplots(n_levels, 2 * n_steps, squeeze=False,
                           width_ratios=[_CELL_INCHES * n_samples, _BAR_INCHES] * n_steps)
    for block, (snapshot, record) in enumerate(zip(snapshots, records)):
        reference = _reference_code(snapshot, X, index)
        active = record.get("active_levels", n_levels)
        for row, ((level, columns), level_draws) in enumerate(zip(levels, draws)):
            codes = np.repeat(reference[None, :], n_samples, axis=0)
            codes[:, columns] = level_draws
            mark = "" if row < active else "\n(inactive)"
            image_ax, bar_ax = axes[row, 2 * block], axes[row, 2 * block + 1]
            _show_grid(image_ax, _decode(snapshot, codes), n_samples, [f"z{level}{mark}"])
            _information_bar(bar_ax, values[block][row], top)
        axes[0, 2 * block].set_title(
            f"step {record.get('step', block)}: I(x; z) = {record['information_total']:.2f}",
            fontsize=9, loc="left")
    rows = records[-1].get("information_rows")
    bound = f" (estimated on {rows} rows: at most log {rows} = {math.log(rows):.2f} nats)" \
        if rows else ""
    figure.suptitle(f"{type(model).__name__}: one level drawn from the prior after each "
                    f"progressive step; bars: I(x; z_l) in nats{bound}", fontsize=10)
    return _finish(figure, path)
