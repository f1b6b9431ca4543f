"""Curves and bars: information per progressive step, scores against reconstruction."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._figures import (
    _SCORE_LABELS,
    _finish,
    _new_figure,
)

__all__ = ["plot_information_flow", "plot_score_vs_reconstruction"]


def plot_information_flow(model, *, path=None):
    """Information per level after each progressive step of a pro-VLAE (or teacher-student) fit.

    One panel per progressive step; a bar per level (the deepest on top) gives
    ``I(x; z_l)`` in nats at the end of the step, and the panel's title the total
    ``I(x; z)``. The paper's Fig. 5: as levels are added, information should move
    from the deepest level into the new ones, and end in a descending order from deep
    to shallow. The numbers are those :class:`~skdisent.ProVLAE` records during
    ``fit`` (``information_per_step_`` and the step-end records of ``history_``), so
    the fitted model is all this needs. A :class:`~skdisent.TeacherStudentVAE` grows one
    code rather than a ladder: its bars are its groups of latents, one per step (the
    first teacher's on top), the comparison of the paper's Fig. 5.

    Parameters
    ----------
    model : ProVLAE or TeacherStudentVAE
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
    groups = getattr(model, "latent_groups_", None)  # a teacher-student model's steps
    n_levels = len(model.latent_dims_ if groups is None else groups)
    unit = "level" if groups is None else "group"
    information = np.array([[r[f"information_{l + 1}"] for l in range(n_levels)] for r in records])
    top = max(float(np.nanmax(information)), 1e-3) * 1.25
    figure = _new_figure(0.4 + 2.3 * len(records), 0.9 + 0.45 * n_levels)
    axes = figure.subplots(1, len(records), squeeze=False, sharey=True)[0]
    # The deepest level on top (bar positions grow upwards); a teacher-student's first group.
    positions = np.arange(n_levels) if groups is None else np.arange(n_levels)[::-1]
    for ax, record, values in zip(axes, records, information):
        ax.barh(positions, values, color="#3a9d3a", height=0.6)
        for y, value in zip(positions, values):
            ax.text(max(value, 0.0) + top * 0.02, y, f"{value:.2f}", va="center", fontsize=8,
                    clip_on=True)
        ax.set_xlim(min(0.0, float(np.nanmin(values))), top)
        ax.set_title(f"step {record['step']}\nI(x; z) = {record['information_total']:.2f}",
                     fontsize=9)
        ax.set_xlabel(f"I(x; z_{unit[0]}), nats", fontsize=8)
        ax.tick_params(labelsize=8)
    axes[0].set_yticks(positions, [f"{unit} {l + 1}" for l in range(n_levels)])
    figure.suptitle(f"{type(model).__name__}: information per {unit} after each progressive step",
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
