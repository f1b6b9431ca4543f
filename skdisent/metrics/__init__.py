"""Disentanglement metrics: plain functions of ``codes`` and ``factors`` arrays, and scorers.

``codes`` is (n_samples, n_latents), usually posterior means (``model.transform(X)``);
``factors`` is (n_samples, n_factors) of non-negative integer classes. Two families of
estimators, named in the API because the same score name hides different numbers:

- disentanglement_lib's (Locatello et al. 2019): histogram mutual information with 20
  equal-width bins per latent (:func:`mutual_info_matrix`, :func:`mig`, :func:`mig_sup`,
  :func:`modularity`), classifiers (:func:`sap`, :func:`dci`, :func:`beta_vae_score`),
  votes (:func:`factor_vae_score`); the last two draw their groups from a pool of samples.
- the pro-VLAE reference's (Chen et al. 2018): mutual information by sampling the
  posteriors over a full factor grid (:func:`mutual_info_matrix_sampling`,
  :func:`mig_sampling`, :func:`information_per_level`).

:func:`mmd` measures how far apart two sets of samples (e.g. images) lie; the
diagnostics of :mod:`skdisent.hierarchy` compare sample sets with it.

Sample quality offline: :class:`FactorClassifier`, a small CNN fitted on data with known
factors, reads generated samples for :func:`factor_inception_score` (the Inception Score's
formula per factor) and :func:`frechet_factor_distance` (the FID formula on its features);
:func:`inception_score` and :func:`frechet_inception_distance` are the real ones, from
Inception weights the user has locally (never downloaded unasked).

Scorers for ``GridSearchCV`` and ``cross_validate`` take ``y`` = the factor matrix:
:data:`mig_scorer`, :data:`mig_sup_scorer`, :data:`factor_vae_scorer`, :data:`dci_scorer`
score ``model.transform(X)``; :data:`mig_sampling_scorer` and
:data:`mig_sup_sampling_scorer` score ``model.posterior(X)`` with the sampling estimator;
:func:`make_disentanglement_scorer` builds one for any metric.
"""

from ._beta_vae import beta_vae_score
from ._dci import dci
from ._factor_classifier import FactorClassifier
from ._factor_vae import factor_vae_score
from ._inception import frechet_inception_distance, inception_score
from ._information import information_per_level
from ._mig import active_units, mig, mig_sup
from ._mmd import mmd
from ._modularity import modularity
from ._mutual_info import mutual_info_matrix
from ._sample_quality import factor_inception_score, frechet_factor_distance
from ._sampling import mig_sampling, mutual_info_matrix_sampling
from ._sap import sap
from ._scorers import (
    dci_scorer,
    factor_vae_scorer,
    make_disentanglement_scorer,
    mig_sampling_scorer,
    mig_scorer,
    mig_sup_sampling_scorer,
    mig_sup_scorer,
)
from ._summary import disentanglement_scores

__all__ = [
    "mutual_info_matrix",
    "mig",
    "mig_sup",
    "active_units",
    "sap",
    "dci",
    "factor_vae_score",
    "beta_vae_score",
    "modularity",
    "disentanglement_scores",
    "mutual_info_matrix_sampling",
    "mig_sampling",
    "information_per_level",
    "mmd",
    "FactorClassifier",
    "factor_inception_score",
    "frechet_factor_distance",
    "inception_score",
    "frechet_inception_distance",
    "make_disentanglement_scorer",
    "mig_scorer",
    "mig_sup_scorer",
    "factor_vae_scorer",
    "dci_scorer",
    "mig_sampling_scorer",
    "mig_sup_sampling_scorer",
]
