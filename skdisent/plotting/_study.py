"""Pictures of a study's results, and the report of a results folder (figures and tables)."""

import json
import math
import os
import pathlib

import numpy as np

from ..study import read_results, study_tables, top_k_mean, write_table
from ._curves import plot_score_vs_reconstruction
from ._figures import _SCORE_LABELS, _finish, _new_figure

__all__ = ["plot_mig_vs_mig_sup", "plot_information_per_level", "plot_success_rates",
           "write_study_report"]

_FIG2_SCORES = ("factor_vae_score", "mig", "mig_sup")


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _series(row):
    """A row's model and its grid parameters other than beta: one line of a figure."""
    try:
        params = json.loads(row.get("params") or "{}")
    except (TypeError, ValueError):
        params = {}
    extra = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in sorted(params.items()) if k != "beta")
    return f"{row.get('model')} {extra}".strip()


def _scored(results, keys):
    rows = [dict(r) for r in (results.to_dict("records") if hasattr(results, "to_dict")
                              else results)]
    return [{**r, "model": _series(r)} for r in rows
            if all(not math.isnan(_number(r.get(k))) for k in keys)]


def _empty(title, message, path):
    figure = _new_figure(5.0, 2.5)
    ax = figure.subplots()
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=10, wrap=True)
    ax.set_axis_off()
    figure.suptitle(title, fontsize=10)
    return _finish(figure, path)


def plot_mig_vs_mig_sup(results, *, top_k=3, path=None):
    """MIG against MIG-sup, one point per setting: the pro-VLAE paper's Fig. 3.

    Each setting (model and parameters) is the mean of its ``top_k`` best seeds on each
    axis, annotated with its ``beta``; single fits are the small faint points. Good
    disentanglement sits at the top right: each factor in one latent (MIG) and each
    latent holding one factor (MIG-sup).

    Parameters
    ----------
    results : list of dict or pandas.DataFrame
        A study's rows (:func:`skdisent.study.read_results`), or any records with
        ``model``, ``mig``, ``mig_sup`` and optionally ``beta``, ``params``, ``setting``.
    top_k : int, default=3
    path : str or path-like, default=None
        Save the figure there as a PNG.

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    rows = _scored(results, ("mig", "mig_sup"))
    if not rows:
        return _empty("MIG against MIG-sup", "no fit with scores yet", path)
    settings = {}
    for row in rows:
        settings.setdefault((row["model"], row.get("beta")), []).append(row)
    figure = _new_figure(4.6, 3.8)
    ax = figure.subplots()
    series = list(dict.fromkeys(model for model, _ in settings))
    for i, model in enumerate(series):
        color = f"C{i % 10}"
        points = []
        for (name, beta), group in settings.items():
            if name != model:
                continue
            ax.scatter([_number(r["mig"]) for r in group], [_number(r["mig_sup"]) for r in group],
                       s=10, color=color, alpha=0.3, linewidths=0)
            points.append((top_k_mean([r["mig"] for r in group], top_k),
                           top_k_mean([r["mig_sup"] for r in group], top_k), beta))
        ax.scatter([p[0] for p in points], [p[1] for p in points], s=36, color=color, label=model)
        for x, y, beta in points:
            if beta is not None:
                ax.annotate(f"β={_number(beta):g}", (x, y), textcoords="offset points",
                            xytext=(4, 3), fontsize=7, color=color)
    ax.set_xlabel(_SCORE_LABELS["mig"], fontsize=8)
    ax.set_ylabel(_SCORE_LABELS["mig_sup"], fontsize=8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"MIG against MIG-sup (mean of the top {top_k} seeds; top right is best)",
                 fontsize=9)
    return _finish(figure, path)


def plot_information_per_level(table, *, path=None):
    """Bars of ``I(x; z_l)`` per level and group, with the standard deviation over seeds.

    Parameters
    ----------
    table : list of dict
        :func:`skdisent.study.information_table`'s rows.
    path : str or path-like, default=None
        Save the figure there as a PNG.

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    levels = sorted({int(k.split("_")[1]) for row in table for k in row
                     if k.startswith("level_") and k.endswith("_mean")})
    if not table or not levels:
        return _empty("information per level", "no fit with information yet", path)
    labels = [" ".join(str(v) for k, v in row.items()
                       if k != "n" and not k.startswith("level_")) for row in table]
    figure = _new_figure(0.8 + 1.1 * len(table) * max(1, len(levels)) / 2, 3.4)
    ax = figure.subplots()
    width = 0.8 / len(levels)
    x = np.arange(len(table))
    for j, level in enumerate(levels):
        means = [_number(row.get(f"level_{level}_mean")) for row in table]
        stds = [_number(row.get(f"level_{level}_std")) for row in table]
        ax.bar(x + (j - (len(levels) - 1) / 2) * width, np.nan_to_num(means), width,
               yerr=np.nan_to_num(stds), capsize=2, color=f"C{j % 10}", label=f"level {level}")
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("I(x; z_l), nats", fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.legend(fontsize=7, title="level (1: shallowest)", title_fontsize=7)
    ax.set_title("information per level (mean and standard deviation over seeds)", fontsize=9)
    return _finish(figure, path)


def plot_success_rates(table, *, path=None):
    """Horizontal bars of the share of fits that succeeded, per group (Table 2).

    Parameters
    ----------
    table : list of dict
        :func:`skdisent.study.success_rates` or
        :func:`~skdisent.study.ablation_success_rates` rows.
    path : str or path-like, default=None
        Save the figure there as a PNG.

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    if not table:
        return _empty("success rates", "no fit yet", path)
    counts = ("n_fits", "n_success", "success_rate")
    labels = [", ".join(f"{k}={v}" if isinstance(v, bool) else str(v) for k, v in row.items()
                        if k not in counts and not k.startswith("n_")) for row in table]
    figure = _new_figure(5.2, 0.9 + 0.35 * len(table))
    ax = figure.subplots()
    y = np.arange(len(table))[::-1]
    rates = [row["success_rate"] for row in table]
    ax.barh(y, rates, color="#3a9d3a", height=0.6)
    for yi, row in zip(y, table):
        ax.text(min(row["success_rate"], 0.8) + 0.02, yi, f"{row['n_success']}/{row['n_fits']}",
                va="center", fontsize=8)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel("success rate (status ok)", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_title("fits that trained successfully", fontsize=9)
    return _finish(figure, path)


def _save(figure, path):
    temporary = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(temporary, format="png")
    os.replace(temporary, path)  # a report read while it is redrawn is never half
    return path


def write_study_report(path, output=None, *, top_k=3, min_level_information=None):
    """Figures and tables of a study's results folder, also while the study runs.

    Writes, each as a PNG and as a CSV and Markdown table: Fig. 2 (each score against
    reconstruction error, the mean of the top ``top_k`` seeds per setting), Fig. 3 (MIG
    against MIG-sup), the information per level (mean and standard deviation over
    seeds) and the success rates (Table 2 when the study varies ``fade_in`` and
    ``pre_kl_coef``, per setting otherwise); and ``report.md``, which shows them all.

    Parameters
    ----------
    path : str or path-like
        The study's folder (with ``results.csv``).
    output : str or path-like, default=None
        Where to write; ``<path>/report`` when None.
    top_k : int, default=3
        Seeds in each setting's mean.
    min_level_information : float, default=None
        Passed to :func:`skdisent.study.is_success`.

    Returns
    -------
    paths : list of pathlib.Path
        The files written.
    """
    results = read_results(path)
    output = pathlib.Path(output) if output is not None else pathlib.Path(path) / "report"
    output.mkdir(parents=True, exist_ok=True)
    tables = study_tables(results, top_k=top_k, min_level_information=min_level_information)
    scores = tables["scores"]
    fig3 = [{k: row.get(k) for k in ("setting", "n_counted", "mig_top_k_mean", "mig_mean",
                                      "mig_std", "mig_sup_top_k_mean", "mig_sup_mean",
                                      "mig_sup_std")} for row in scores]
    fig2_rows = _scored(results, ("reconstruction_error", *_FIG2_SCORES))
    pictures = {
        "fig2_scores_vs_reconstruction": (
            plot_score_vs_reconstruction(fig2_rows, scores=_FIG2_SCORES, top_k=top_k)
            if fig2_rows else _empty("scores against reconstruction", "no fit with scores yet",
                                     None), scores),
        "fig3_mig_vs_mig_sup": (plot_mig_vs_mig_sup(results, top_k=top_k), fig3),
        "information_per_level": (plot_information_per_level(tables["information_per_level"]),
                                  tables["information_per_level"]),
        "success_rates": (plot_success_rates(tables["success_rates"]), tables["success_rates"]),
    }
    written, sections = [], [f"# Study report: {len(results)} fits\n"]
    for name, (figure, table) in pictures.items():
        written.append(_save(figure, output / f"{name}.png"))
        written += write_table(table, output / name)
        sections.append(f"## {name.replace('_', ' ')}\n\n![{name}]({name}.png)\n\n"
                        f"{(output / f'{name}.md').read_text(encoding='utf-8')}")
    report = output / "report.md"
    report.write_text("\n".join(sections), encoding="utf-8")
    return written + [report]
