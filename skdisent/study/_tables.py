"""A study's tables as CSV and Markdown files: what a report holds besides its pictures."""

import csv
import io
import math
import os
import pathlib

from ._aggregate import (
    ablation_success_rates,
    aggregate,
    information_table,
    success_rates,
)

__all__ = ["study_tables", "write_table", "format_markdown"]


def _text(value, digits):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _columns(table):
    return list(dict.fromkeys(key for row in table for key in row))


def format_markdown(table, *, digits=4):
    """A list of dicts as a Markdown table (``-`` for a missing value).

    Parameters
    ----------
    table : list of dict
    digits : int, default=4
        Significant digits of floats.

    Returns
    -------
    text : str

    Examples
    --------
    >>> from skdisent.study import format_markdown
    >>> print(format_markdown([{"model": "ProVLAE", "mig": 0.12345}]))
    | model | mig |
    | --- | --- |
    | ProVLAE | 0.1235 |
    """
    columns = _columns(table)
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    lines += ["| " + " | ".join(_text(row.get(c), digits) for c in columns) + " |"
              for row in table]
    return "\n".join(lines)


def write_table(table, path, *, digits=4):
    """Write a list of dicts as ``<path>.csv`` (full precision) and ``<path>.md``.

    Parameters
    ----------
    table : list of dict
    path : str or path-like
        The files' path without a suffix.
    digits : int, default=4
        Significant digits of floats in the Markdown table.

    Returns
    -------
    paths : list of pathlib.Path
        The CSV file and the Markdown file.
    """
    path = pathlib.Path(path)
    columns = _columns(table)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in table:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    written = []
    for suffix, text in ((".csv", buffer.getvalue()),
                         (".md", format_markdown(table, digits=digits) + "\n")):
        target = path.with_name(path.name + suffix)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)  # a report read while it is redrawn is never half
        written.append(target)
    return written


def study_tables(results, *, top_k=3, min_level_information=None):
    """The tables of a study's report, by name.

    Parameters
    ----------
    results : list of dict or pandas.DataFrame
        A study's rows (:func:`read_results`).
    top_k : int, default=3
        Seeds in each setting's top-k mean.
    min_level_information : float, default=None
        Passed to :func:`is_success`.

    Returns
    -------
    tables : dict of str to list of dict
        ``"scores"`` (:func:`aggregate` of reconstruction error, MIG, MIG-sup, FactorVAE
        score per setting: Figs. 2 and 3), ``"information_per_level"``
        (:func:`information_table`), ``"success_rates"`` (Table 2,
        :func:`ablation_success_rates`, when the rows vary ``fade_in`` and
        ``pre_kl_coef``; otherwise :func:`success_rates` per setting).
    """
    ablation = ablation_success_rates(results, min_level_information=min_level_information)
    if len(ablation) < 2:
        ablation = success_rates(results, min_level_information=min_level_information)
    return {
        "scores": aggregate(results, top_k=top_k),
        "information_per_level": information_table(results),
        "success_rates": ablation,
    }
