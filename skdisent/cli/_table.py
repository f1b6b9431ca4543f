"""Results as an aligned text table."""

import math

__all__ = ["format_table"]

_COLUMNS = [
    ("model", "model", "{}"),
    ("beta", "beta", "{:g}"),
    ("seed", "seed", "{}"),
    ("reconstruction_error", "recon. error", "{:.2f}"),
    ("mig", "MIG", "{:.3f}"),
    ("mig_sup", "MIG-sup", "{:.3f}"),
    ("factor_vae_score", "FactorVAE", "{:.3f}"),
    ("time_s", "time (s)", "{:.0f}"),
]


def format_table(records, columns=None):
    """The results as an aligned text table, one row per record.

    Parameters
    ----------
    records : list of dict
        Records with (some of) the keys ``model``, ``beta``, ``seed``,
        ``reconstruction_error``, ``mig``, ``mig_sup``, ``factor_vae_score``, ``time_s``.
    columns : list of (key, title, format), default=None
        The columns to show, those of the keys above when None; a column no record has
        is left out.

    Returns
    -------
    table : str
    """
    columns = [c for c in (columns or _COLUMNS) if any(c[0] in r for r in records)]
    rows = [[title for _, title, _ in columns]]
    for record in records:
        row = []
        for key, _, fmt in columns:
            value = record.get(key)
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            row.append("-" if missing else fmt.format(value))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
