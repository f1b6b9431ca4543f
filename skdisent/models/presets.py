"""The pro-VLAE paper's settings for each of its data sets, as ready-made estimators.

The values are those of the reference code's training script (``train_pro-VLAE.sh``)
and network files, restated in METHOD.md section 2. In the paper's comparison every
model has the same total number of latent dimensions and the same number of
iterations: :func:`paper_model` builds ``BetaVAE``, ``VLAE`` and ``TeacherStudentVAE`` that
way from the same settings.
"""

from .beta_vae import BetaVAE
from .nvae import NVAE
from .provlae import ProVLAE
from .teacher_student import TeacherStudentVAE
from .vlae import VLAE

__all__ = ["PAPER_SETTINGS", "paper_model", "NVAE_SETTINGS", "nvae_preset"]

_COMMON = {"learning_rate": 5e-4, "likelihood": "bernoulli", "normalization": "affine",
           "initialization": "glorot"}

#: ProVLAE's parameters in the reference runs, by data set. ``"mnist"`` is not in the
#: released scripts: it is the dSprites script with three latents per level, the
#: architecture of the paper's MNIST tables (Table 1, Fig. 6).
PAPER_SETTINGS = {
    "dsprites": {**_COMMON, "levels": 3, "latent_dim": 2, "beta": 1.0, "epochs_per_step": 30,
                 "batch_size": 128, "fade_in": True, "fade_in_steps": 5000, "pre_kl_coef": 0.5,
                 "conv_channels": 32, "dense_units": 256, "architecture": "vlae"},
    "3dshapes": {**_COMMON, "levels": 3, "latent_dim": 3, "beta": 8.0, "epochs_per_step": 15,
                 "batch_size": 100, "fade_in": False, "fade_in_steps": 5000, "pre_kl_coef": 0.5,
                 "conv_channels": 32, "dense_units": 256, "architecture": "vlae"},
    "mnist": {**_COMMON, "levels": 3, "latent_dim": 3, "beta": 1.0, "epochs_per_step": 30,
              "batch_size": 128, "fade_in": True, "fade_in_steps": 5000, "pre_kl_coef": 0.5,
              "conv_channels": 32, "dense_units": 256, "architecture": "vlae"},
    "celeba": {**_COMMON, "levels": 4, "latent_dim": 7, "beta": 1.0, "epochs_per_step": 5,
               "batch_size": 128, "fade_in": True, "fade_in_steps": 5000, "pre_kl_coef": 0.1,
               "conv_channels": 64, "dense_units": 1024, "architecture": "celeba"},
}

_PROGRESSIVE_ONLY = ("levels", "latent_dim", "epochs_per_step", "fade_in", "fade_in_steps",
                     "pre_kl_coef")


def paper_model(dataset, model="provlae", **params):
    """An unfitted estimator with the pro-VLAE paper's settings for ``dataset``.

    Parameters
    ----------
    dataset : {"dsprites", "3dshapes", "mnist", "celeba"}
        Whose settings (see ``PAPER_SETTINGS``).
    model : {"provlae", "vlae", "betavae", "teacherstudent"}, default="provlae"
        ``"vlae"`` and ``"betavae"`` get the paper's fair-comparison settings: the same
        network and total latent dimensions (beta-VAE: all at the deepest level) and
        as many epochs as the progressive run's steps together. ``"teacherstudent"``:
        the VAE variant of :class:`~skdisent.TeacherStudentVAE` (``beta=1``: the paper
        varies beta for every model but this one) grown in ``levels`` steps of
        ``latent_dim`` latents and ``epochs_per_step`` epochs, with the data set's batch
        size and likelihood, and its own reference network and optimiser (the paper
        does not say which it used).
    **params
        Estimator parameters that replace the paper's (``random_state``,
        ``device``, ``epochs_per_step``...).

    Returns
    -------
    estimator : ProVLAE, VLAE, BetaVAE or TeacherStudentVAE

    Examples
    --------
    >>> from skdisent.models import paper_model
    >>> model = paper_model("3dshapes", random_state=0)
    >>> model.levels, model.latent_dim, model.beta, model.batch_size, model.fade_in
    (3, 3, 8.0, 100, False)
    >>> paper_model("3dshapes", "betavae").get_params()["n_components"]
    9
    """
    if dataset not in PAPER_SETTINGS:
        raise ValueError(f"dataset must be one of {sorted(PAPER_SETTINGS)}, got {dataset!r}.")
    settings = {**PAPER_SETTINGS[dataset], **params}
    if model == "provlae":
        return ProVLAE(**settings)
    if model == "teacherstudent":
        latent_dim = settings["latent_dim"]
        grown = {"initial_latents": latent_dim, "latents_per_step": latent_dim,
                 "n_steps": settings["levels"], "epochs_per_step": settings["epochs_per_step"],
                 "variational": True, "beta": 1.0, "batch_size": settings["batch_size"],
                 "likelihood": settings["likelihood"]}
        own = {k: v for k, v in params.items() if k not in ("levels", "latent_dim")}
        return TeacherStudentVAE(**{**grown, **own})
    if model not in ("vlae", "betavae"):
        raise ValueError(f"model must be 'provlae', 'vlae', 'betavae' or 'teacherstudent', "
                         f"got {model!r}.")
    levels, latent_dim = settings["levels"], settings["latent_dim"]
    shared = {k: v for k, v in settings.items() if k not in _PROGRESSIVE_ONLY}
    shared.setdefault("n_epochs", levels * settings["epochs_per_step"])
    if model == "vlae":
        return VLAE(levels, latent_dim, **shared)
    return BetaVAE(levels * latent_dim, depth=levels, **shared)


#: NVAE's settings in the reference's runs (README of NVlabs/NVAE), by data set. CelebA
#: 64x64: ``--num_channels_enc 64 --num_channels_dec 64 --epochs 90
#: --num_postprocess_cells 2 --num_preprocess_cells 2 --num_latent_scales 3
#: --num_latent_per_group 20 --num_cell_per_cond_enc 2 --num_cell_per_cond_dec 2
#: --num_preprocess_blocks 1 --num_postprocess_blocks 1 --weight_decay_norm 1e-1
#: --num_groups_per_scale 20 --batch_size 16 --num_nf 1 --ada_groups --use_se --res_dist``
#: on 8 GPUs; the flow (``--num_nf 1``) is not implemented, and the batch is one GPU's.
NVAE_SETTINGS = {
    "celeba64": {"channels": 64, "n_scales": 3, "groups_per_scale": 20, "adaptive_groups": True,
                 "latent_per_group": 20, "cells_per_group": 2, "process_blocks": 1,
                 "process_cells": 2, "use_se": True, "residual_posterior": True,
                 "likelihood": "logistic_mixture", "n_mixtures": 10, "n_epochs": 90,
                 "batch_size": 16, "learning_rate": 1e-2, "learning_rate_min": 1e-4,
                 "warmup_epochs": 5, "weight_decay": 3e-4, "spectral_regularization": 1e-1,
                 "information_every": 0},
}


def nvae_preset(preset="celeba64", **params):
    """An unfitted :class:`~skdisent.NVAE` with the settings of one of the paper's runs.

    Parameters
    ----------
    preset : {"celeba64"}, default="celeba64"
        Whose settings (see ``NVAE_SETTINGS``): CelebA 64x64, for a GPU (RGB images of
        64x64 as uint8; groups of 20 latent channels at 8x8, 16x16 and 32x32, 5, 10
        and 20 of them).
    **params
        Estimator parameters that replace the preset's (``random_state``, ``device``,
        ``n_epochs``...).

    Returns
    -------
    estimator : NVAE

    Examples
    --------
    >>> from skdisent.models import nvae_preset
    >>> model = nvae_preset("celeba64", n_epochs=10)
    >>> model.channels, model.n_scales, model.groups_per_scale, model.n_epochs
    (64, 3, 20, 10)
    """
    if preset not in NVAE_SETTINGS:
        raise ValueError(f"preset must be one of {sorted(NVAE_SETTINGS)}, got {preset!r}.")
    return NVAE(**{**NVAE_SETTINGS[preset], **params})
