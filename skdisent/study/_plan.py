"""A study's fits: models x parameter grid x seeds, each with a stable identity.

A fit is identified by its model, its parameters and its seed (``fit_id``): the same
fit planned again, in this process or another, gets the same identity, which is how a
study resumes. The study's identity digests what every row shares instead: the data,
the budget, the shared parameters and the evaluation.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import ParameterGrid

from ._registry import (
    BUDGET_KEYS,
    MODELS,
    STUDY_MANAGED,
    budget_of,
    canonical_name,
    fair_model,
    model_spec,
)

__all__ = ["Fit", "plan_fits", "canonical", "digest", "data_fingerprint", "RUNTIME_PARAMS"]

#: Parameters that change how a fit runs, not what it computes: left out of identities.
RUNTIME_PARAMS = ("device", "n_threads", "verbose", "checkpoint_every")


def canonical(value):
    """``value`` in a JSON-ready form in which equal settings are equal (1 == 1.0)."""
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, str):
        return bool(value) if isinstance(value, np.bool_) else value
    if isinstance(value, (Integral, Real)):
        return float(value)
    if isinstance(value, BaseEstimator):
        return {"estimator": type(value).__name__, "params": canonical(value.get_params())}
    return repr(value)


def digest(value, length=12):
    """A short hexadecimal digest of ``canonical(value)``."""
    text = json.dumps(canonical(value), sort_keys=True, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def data_fingerprint(array):
    """Shape, dtype and a digest of an array's bytes (None for None)."""
    if array is None:
        return None
    array = np.ascontiguousarray(array)
    return {"shape": list(array.shape), "dtype": str(array.dtype),
            "sha256": hashlib.sha256(array.view(np.uint8).reshape(-1)).hexdigest()}


def _label(model, params, seed=None):
    parts = [model] + [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in sorted(params.items())]
    return " ".join(parts + ([f"seed={seed}"] if seed is not None else []))


@dataclass
class Fit:
    """One fit of a study.

    Attributes
    ----------
    fit_id : str
        Stable identity of (model, params, seed): a readable stem and a digest.
    model : str
        The model's name in the results (``"ProVLAE"``, or the key given in ``models``).
    params : dict
        The grid point this model takes (keys of the grid it has no parameter for are
        left out).
    seed : int
        Its ``random_state``.
    setting : str
        ``model`` and ``params``, readable: the group its seeds are aggregated over.
    estimator : estimator
        The unfitted estimator, parameters set.
    """

    fit_id: str
    model: str
    params: dict
    seed: int
    setting: str
    estimator: object = field(repr=False)


def _entries(models):
    """``[(name in the results, registry name or None, estimator template or None)]``."""
    if isinstance(models, (str, BaseEstimator)):
        models = [models]
    items = models.items() if isinstance(models, dict) else [(None, m) for m in models]
    entries = []
    for given, model in items:
        if isinstance(model, str):
            entries.append((given or model_spec(model).name, model, None))
        elif isinstance(model, BaseEstimator):
            entries.append((given or type(model).__name__, None, model))
        else:
            raise TypeError(f"models holds {model!r}; expected model names or estimators")
    names = [name for name, _, _ in entries]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"two models are named {', '.join(twice)}; give models as a dict "
                         "{name: model} to tell them apart")
    return entries


def _accepted(registry_name, template):
    if template is not None:
        return set(template.get_params())
    return model_spec(registry_name).parameters()


def plan_fits(models, param_grid, seeds, *, budget, model_params, n_samples,
              reserved=(), check_fairness=True):
    """Every fit of a study, in order: grid points, then models, then seeds.

    Parameters
    ----------
    models : str, estimator, list or dict
        Names of registered models or estimators (a dict names them in the results).
    param_grid : dict, list of dict or None
        As :class:`sklearn.model_selection.ParameterGrid`; a ``"model"`` key restricts a
        grid to those model names.
    seeds : iterable of int
    budget : dict
        ``levels``, ``latent_dim``, ``epochs_per_level`` for the models built by name.
    model_params : dict
        Parameters shared by every model that takes them.
    n_samples : int or None
        Training images (pro-VLAE's default fade-in is a third of a step).
    reserved : iterable of str
        Names a parameter may not take (the result table's own columns).
    check_fairness : bool, default=True
        Refuse a grid point whose models differ in total latents, epochs or batch size.

    Returns
    -------
    fits : list of Fit
    """
    entries = _entries(models)
    by_name = {name: (registry, template) for name, registry, template in entries}
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("a study needs at least one seed")
    grid = []
    for point in ParameterGrid(param_grid if param_grid is not None else {}):
        point = dict(point)
        names = ([_resolve(point.pop("model"), by_name)] if "model" in point
                 else [name for name, _, _ in entries])
        grid.append((names, point))
    shared = dict(model_params or {})
    grid_keys = {key for _, point in grid for key in point}
    taken = set().union(*(_accepted(r, t) for r, t in by_name.values()))
    unknown = sorted(grid_keys - taken)
    if unknown:
        raise ValueError(f"no model of this study has a parameter {', '.join(map(repr, unknown))}")
    # shared parameters may be meant for models of other studies (a preset): not typos
    anywhere = taken.union(*(spec.parameters() for spec in MODELS.values()))
    unknown = sorted(set(shared) - anywhere)
    if unknown:
        raise ValueError(f"no model has a parameter {', '.join(map(repr, unknown))}")
    managed = sorted(((grid_keys | set(shared)) & set(STUDY_MANAGED)) | (grid_keys & set(reserved)))
    if managed:
        raise ValueError(f"{', '.join(map(repr, managed))} cannot be set: the study sets "
                         "random_state from its seeds and manages checkpoints itself, and the "
                         "results table uses these names for its own columns")
    fits, seen = [], set()
    for names, point in grid:
        for name in names:
            registry, template = by_name[name]
            accepted = _accepted(registry, template)
            params = {k: v for k, v in point.items() if k in accepted}
            for seed in seeds:
                fit = _make_fit(name, registry, template, params, seed, budget, shared,
                                n_samples)
                if fit.fit_id not in seen:
                    seen.add(fit.fit_id)
                    fits.append(fit)
    if check_fairness:
        _check_fairness(fits)
    return fits


def _resolve(chosen, by_name):
    """The results name of the model a grid's ``"model"`` value names (added if new)."""
    for name, (registry, _) in by_name.items():
        if chosen == name or (registry is not None
                              and canonical_name(registry) == canonical_name(chosen)):
            return name
    spec = model_spec(chosen)
    by_name.setdefault(spec.name, (chosen, None))
    return spec.name


def _make_fit(name, registry, template, params, seed, budget, shared, n_samples):
    if template is not None:
        own = {k: v for k, v in shared.items() if k in template.get_params()}
        estimator = clone(template).set_params(**own, **params, random_state=seed)
        kept = {k: v for k, v in template.get_params().items() if k not in RUNTIME_PARAMS}
        identity = {"model": name, "estimator": type(template).__name__,
                    "template": kept, "params": params, "seed": seed}
    else:
        accepted = model_spec(registry).parameters()
        own = {k: v for k, v in shared.items() if k in accepted}
        size = {k: params.get(k, budget[k]) for k in BUDGET_KEYS}
        rest = {k: v for k, v in {**own, **params}.items() if k not in BUDGET_KEYS}
        estimator = fair_model(registry, **size, n_samples=n_samples, **rest, random_state=seed)
        identity = {"model": name, "params": params, "seed": seed}
    stem = re.sub(r"[^A-Za-z0-9.]+", "_", _label(name, params, seed).replace("=", "")).lower()
    return Fit(fit_id=f"{stem[:80]}-{digest(identity, 8)}", model=name, params=dict(params),
               seed=seed, setting=_label(name, params), estimator=estimator)


#: Parameters that change a model's latents or iterations.
_BUDGET_PARAMS = (*BUDGET_KEYS, "batch_size", "n_components", "n_epochs", "epochs_per_step")


def _check_fairness(fits):
    """Fits whose parameters leave the budget alone must share it (latents, epochs, batch)."""
    groups = {}
    for fit in fits:
        key = json.dumps(canonical({k: v for k, v in fit.params.items() if k in _BUDGET_PARAMS}),
                         sort_keys=True)
        groups.setdefault(key, {}).setdefault(fit.model, budget_of(fit.estimator))
    for budgets in groups.values():
        if len(set(budgets.values())) > 1:
            shown = ", ".join(f"{m}: {b[0]} latents, {b[1]} epochs, batch {b[2]}"
                              for m, b in budgets.items())
            raise ValueError(
                "the models of one setting must have the same total latents and iterations "
                f"(the paper's fair comparison); got {shown}. Build them by name with the "
                "study's levels, latent_dim and epochs_per_level, or pass check_fairness=False"
            )
