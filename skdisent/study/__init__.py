"""The papers' experiments: models x parameter grid x seeds, resumable, with their aggregates.

A :class:`Study` fits every model of a comparison at every parameter setting with every
seed, at the same total number of latents and iterations (the pro-VLAE paper's fair
comparison), and writes one row per finished fit to ``<folder>/results.csv``: model,
parameters, seed, status, scores (MIG and MIG-sup with their estimator named),
reconstruction error, information per level, time. Run again, it fits only what is
missing; fits run through joblib, so ``n_jobs`` or a Dask cluster spread them.

Success: a fit succeeds when its status is ``"ok"`` (:data:`STATUSES` lists the others:
``"non_finite"``, ``"collapsed"``, ``"exploded"``, ``"error"``); :func:`is_success` can also ask
every level to hold information.

The aggregates are plain functions of the rows (no pandas needed): :func:`aggregate`
(mean, standard deviation and mean of the top ``k`` seeds per setting),
:func:`normalized_beta`, :func:`information_table`, :func:`success_rates` and
:func:`ablation_success_rates` (Table 2). :func:`study_tables` and :func:`write_table`
write them as CSV and Markdown; :func:`skdisent.plotting.write_study_report` adds the
pictures.
"""

from ._aggregate import (
    LOWER_IS_BETTER,
    SCORES,
    ablation_success_rates,
    aggregate,
    information_table,
    is_success,
    success_rates,
    top_k_mean,
)
from ._fit import STATUSES, FitInterrupted
from ._registry import MODELS, ModelSpec, fair_model, register_model
from ._results import StudyMismatchError, read_results
from ._study import Study, normalized_beta
from ._tables import format_markdown, study_tables, write_table

__all__ = [
    "Study",
    "StudyMismatchError",
    "FitInterrupted",
    "STATUSES",
    "MODELS",
    "ModelSpec",
    "fair_model",
    "register_model",
    "read_results",
    "aggregate",
    "top_k_mean",
    "normalized_beta",
    "is_success",
    "success_rates",
    "ablation_success_rates",
    "information_table",
    "study_tables",
    "write_table",
    "format_markdown",
    "SCORES",
    "LOWER_IS_BETTER",
]
