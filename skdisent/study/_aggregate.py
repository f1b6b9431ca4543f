"""Aggregates of a study's rows, as the papers report them.

Plain functions of a list of records (the rows of :func:`read_results`, or any dicts
with the same keys; a pandas DataFrame works too): no pandas needed. Each returns a list
of dicts, one per group, ready for :func:`write_table`.
"""

import json
import math

import numpy as np

__all__ = ["SCORES", "LOWER_IS_BETTER", "top_k_mean", "aggregate", "is_success",
           "success_rates", "ablation_success_rates", "information_table"]

#: The scores :func:`aggregate` summarises by default.
SCORES = ("reconstruction_error", "mig", "mig_sup", "factor_vae_score")
#: Scores for which lower is better (the others: higher is better).
LOWER_IS_BETTER = frozenset({"reconstruction_error"})
# The statuses of fits that were trained and scored.
_WITH_SCORES = ("ok", "collapsed")


def _records(results):
    if hasattr(results, "to_dict"):  # a pandas DataFrame
        results = results.to_dict("records")
    return [dict(r) for r in results]


def _number(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value


def top_k_mean(values, k=3, *, higher_is_better=True):
    """The mean of the ``k`` best of ``values`` (all of them when there are fewer).

    NaN values are left out. The pro-VLAE paper reports the mean of the best three of
    3 to 5 seeds per setting.

    Parameters
    ----------
    values : array-like of float
    k : int, default=3
    higher_is_better : bool, default=True
        False takes the ``k`` lowest (reconstruction error).

    Returns
    -------
    mean : float
        NaN when no value is finite.

    Examples
    --------
    >>> from skdisent.study import top_k_mean
    >>> top_k_mean([0.1, 0.5, 0.3, 0.9], k=3)
    0.5666666666666667
    >>> top_k_mean([20.0, 25.0, 30.0], k=2, higher_is_better=False)
    22.5
    """
    if int(k) < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    values = np.asarray([_number(v) for v in values], dtype=float)
    values = np.sort(values[~np.isnan(values)])
    if not len(values):
        return math.nan
    best = values[::-1] if higher_is_better else values
    return float(best[: int(k)].mean())


def _groups(records, by):
    groups = {}
    for record in records:
        groups.setdefault(tuple(record.get(key) for key in by), []).append(record)
    return groups


def _setting_columns(group, by):
    """The columns every row of a group shares: model, parameters, beta and its norm."""
    first = group[0]
    shared = {key: first.get(key) for key in by}
    params = first.get("params")
    if isinstance(params, str):
        with_params = {k: first.get(k, v) for k, v in json.loads(params).items()}
        shared.update({k: v for k, v in with_params.items() if k not in shared})
    for key in ("model", "beta", "beta_normalized"):
        if key in first and key not in shared and all(r.get(key) == first[key] for r in group):
            shared[key] = first.get(key)
    return shared


def aggregate(results, scores=SCORES, *, top_k=3, by=("setting",), rank_by=None,
              statuses=None):
    """Mean, standard deviation and mean of the top ``k`` seeds of each setting.

    Parameters
    ----------
    results : list of dict or pandas.DataFrame
        A study's rows (:func:`read_results`).
    scores : sequence of str, default=SCORES
        The columns to summarise.
    top_k : int, default=3
        How many of the best seeds the top-k mean takes (the paper: 3).
    by : sequence of str, default=("setting",)
        The columns that define a group (``"setting"``: model and grid parameters).
    rank_by : str, default=None
        Pick the top ``k`` seeds once, by this score, and average every score over those
        seeds (one consistent point per setting, as in a score-against-reconstruction
        figure); None picks the best seeds of each score on its own.
    statuses : sequence of str, default=None
        The statuses of the rows counted (the others count in ``n_fits`` only); None
        counts every row with scores: ``"ok"`` and ``"collapsed"`` fits (a collapsed
        posterior is a result, with scores near 0), not those that failed.

    Returns
    -------
    table : list of dict
        One per group: the ``by`` columns, the setting's model, parameters, ``beta`` and
        ``beta_normalized``, ``n_fits``, ``n_counted`` (rows counted), ``top_k``, and per score
        ``<score>_mean``, ``<score>_std`` (numpy's, ddof=0) and ``<score>_top_k_mean``.
        Reconstruction error's best seeds are its lowest.

    Examples
    --------
    >>> from skdisent.study import aggregate
    >>> rows = [{"setting": "A", "status": "ok", "mig": m} for m in (0.1, 0.2, 0.6, 0.4)]
    >>> table = aggregate(rows, ["mig"], top_k=2)
    >>> table[0]["mig_top_k_mean"], table[0]["mig_mean"], table[0]["n_counted"]
    (0.5, 0.325, 4)
    """
    records = _records(results)
    out = []
    for group in _groups(records, by).values():
        counted = [r for r in group if _counted(r, statuses)]
        entry = {**_setting_columns(group, by), "n_fits": len(group), "n_counted": len(counted),
                 "top_k": int(top_k)}
        chosen = counted
        if rank_by is not None:
            order = sorted(counted, key=lambda r: _rank_key(r, rank_by))
            chosen = order[: int(top_k)]
        for score in scores:
            values = np.array([_number(r.get(score)) for r in counted], dtype=float)
            finite = values[~np.isnan(values)]
            entry[f"{score}_mean"] = float(finite.mean()) if len(finite) else math.nan
            entry[f"{score}_std"] = float(finite.std()) if len(finite) else math.nan
            if rank_by is None:
                entry[f"{score}_top_k_mean"] = top_k_mean(
                    values, top_k, higher_is_better=score not in LOWER_IS_BETTER)
            else:
                picked = [_number(r.get(score)) for r in chosen]
                picked = [v for v in picked if not math.isnan(v)]
                entry[f"{score}_top_k_mean"] = float(np.mean(picked)) if picked else math.nan
        out.append(entry)
    return out


def _counted(record, statuses):
    if statuses is None:
        return record.get("status") in _WITH_SCORES
    return record.get("status") in statuses


def _rank_key(record, score):
    value = _number(record.get(score))
    if math.isnan(value):
        return math.inf
    return value if score in LOWER_IS_BETTER else -value


def _information(record):
    return {int(k.rsplit("_", 1)[1]): _number(v) for k, v in record.items()
            if k.startswith("information_level_") and v is not None}


def is_success(record, *, min_level_information=None):
    """Whether a fit succeeded: status ``"ok"`` (and every level informative, if asked).

    Parameters
    ----------
    record : dict
        A study's row.
    min_level_information : float, default=None
        Also require ``I(x; z_l)`` of at least this many nats at every level with
        latents (a progressive fit whose new levels learned nothing then fails).

    Returns
    -------
    success : bool
    """
    if record.get("status") != "ok":
        return False
    if min_level_information is None:
        return True
    levels = _information(record)
    return bool(levels) and all(v >= min_level_information for v in levels.values())


def success_rates(results, by=("setting",), *, min_level_information=None):
    """The share of fits that succeeded, per group (see :func:`is_success`).

    Parameters
    ----------
    results : list of dict or pandas.DataFrame
    by : sequence of str, default=("setting",)
    min_level_information : float, default=None
        Passed to :func:`is_success`.

    Returns
    -------
    table : list of dict
        The ``by`` columns, ``n_fits``, ``n_success``, ``success_rate`` and the count of
        each status (``n_ok``, ``n_non_finite``, ``n_collapsed``, ``n_exploded``, ``n_error``).
    """
    out = []
    for key, group in _groups(_records(results), by).items():
        success = sum(is_success(r, min_level_information=min_level_information) for r in group)
        entry = {**dict(zip(by, key)), "n_fits": len(group), "n_success": success,
                 "success_rate": success / len(group)}
        for status in ("ok", "non_finite", "collapsed", "exploded", "error"):
            entry[f"n_{status}"] = sum(r.get("status") == status for r in group)
        out.append(entry)
    return out


def ablation_success_rates(results, *, min_level_information=None):
    """The pro-VLAE paper's Table 2: success rate with fade-in on/off x pre-KL on/off.

    Rows with both a ``fade_in`` and a ``pre_kl_coef`` column count (a study with
    ``param_grid={"fade_in": [True, False], "pre_kl_coef": [0.0, 0.5]}``); pre-KL is
    on when its coefficient is above 0. The four combinations come in the order on/on,
    on/off, off/on, off/off, those with no fit left out.

    Parameters
    ----------
    results : list of dict or pandas.DataFrame
    min_level_information : float, default=None
        Passed to :func:`is_success`.

    Returns
    -------
    table : list of dict
        ``fade_in``, ``pre_kl`` (bools) and the columns of :func:`success_rates`.

    Examples
    --------
    >>> from skdisent.study import ablation_success_rates
    >>> rows = [{"fade_in": f, "pre_kl_coef": c, "status": s} for f, c, s in
    ...         [(True, 0.5, "ok"), (True, 0.5, "ok"), (False, 0.0, "non_finite"), (False, 0.0, "ok")]]
    >>> [(r["fade_in"], r["pre_kl"], r["success_rate"]) for r in ablation_success_rates(rows)]
    [(True, True, 1.0), (False, False, 0.5)]
    """
    records = [{**r, "pre_kl": _number(r["pre_kl_coef"]) > 0, "fade_in": bool(r["fade_in"])}
               for r in _records(results)
               if r.get("fade_in") is not None and r.get("pre_kl_coef") is not None]
    table = success_rates(records, ("fade_in", "pre_kl"),
                          min_level_information=min_level_information)
    return sorted(table, key=lambda r: (not r["fade_in"], not r["pre_kl"]))


def information_table(results, by=("setting",), *, statuses=None):
    """Information per level, ``I(x; z_l)`` in nats: mean and standard deviation per group.

    The pro-VLAE paper's Tables 1 and 3-8 (over seeds; group by ``"model"`` to pool
    architectures too).

    Parameters
    ----------
    results : list of dict or pandas.DataFrame
    by : sequence of str, default=("setting",)
    statuses : sequence of str, default=None
        The statuses of the rows counted; None: the fits with scores (``"ok"`` and
        ``"collapsed"``).

    Returns
    -------
    table : list of dict
        The ``by`` columns, ``n`` (rows counted) and for each level ``l`` with a value
        ``level_<l>_mean`` and ``level_<l>_std`` (numpy's, ddof=0); level 1 is the
        shallowest.
    """
    records = _records(results)
    levels = sorted({level for r in records for level in _information(r)})
    out = []
    for key, group in _groups(records, by).items():
        counted = [_information(r) for r in group if _counted(r, statuses)]
        entry = {**dict(zip(by, key)), "n": len(counted)}
        for level in levels:
            values = np.array([info[level] for info in counted if level in info], dtype=float)
            values = values[~np.isnan(values)]
            entry[f"level_{level}_mean"] = float(values.mean()) if len(values) else math.nan
            entry[f"level_{level}_std"] = float(values.std()) if len(values) else math.nan
        out.append(entry)
    return out
