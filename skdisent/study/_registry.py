"""The models a study builds by name, each with the paper's fair-comparison budget.

The pro-VLAE paper compares models at the same total number of latent dimensions and
the same number of training iterations (METHOD.md section 2). A study states that budget
once, as ``levels``, ``latent_dim`` and ``epochs_per_level``, and each registered model
turns it into its own parameters: ``BetaVAE`` gets ``levels * latent_dim`` latents at its
one level of a ``levels``-deep network and ``levels * epochs_per_level`` epochs, ``VLAE``
the same epochs, ``ProVLAE`` ``epochs_per_level`` epochs per progressive step.

New models join with :func:`register_model`; nothing else in the study names a model.
"""

from collections.abc import Callable
from dataclasses import dataclass

from ..models import NVAE, VLAE, BetaVAE, HierarchicalVAE, ProVLAE, TeacherStudentVAE
from ..models.nvae import groups_per_scale

__all__ = ["ModelSpec", "MODELS", "BUDGET_KEYS", "register_model", "model_spec", "fair_model",
           "budget_of", "canonical_name"]

#: The study-level parameters every registered model takes (the fair-comparison budget).
BUDGET_KEYS = ("levels", "latent_dim", "epochs_per_level")
#: Parameters the study sets itself for each fit.
STUDY_MANAGED = ("random_state", "checkpoint_dir", "warm_start")


@dataclass(frozen=True)
class ModelSpec:
    """How a study builds one kind of model and reads its budget.

    Parameters
    ----------
    name : str
        The model's name in result tables (its class name, e.g. ``"ProVLAE"``).
    estimator : type
        The estimator class.
    build : callable
        ``build(levels, latent_dim, epochs_per_level, n_samples, **params) -> estimator``:
        an unfitted estimator with the budget's latents and epochs and ``params``.
        ``n_samples`` (the training set's size, or None) resolves parameters defined
        relative to an epoch, such as pro-VLAE's default fade-in.
    budget : callable
        ``budget(estimator) -> (n_latents, n_epochs)`` of an estimator of this class.
    """

    name: str
    estimator: type
    build: Callable
    budget: Callable

    def parameters(self):
        """The names a study may set on this model: the budget's and the estimator's."""
        return set(BUDGET_KEYS) | set(self.estimator().get_params())


def _total(levels, latent_dim):
    return sum(latent_dim) if isinstance(latent_dim, (list, tuple)) else levels * latent_dim


def _build_betavae(levels, latent_dim, epochs_per_level, n_samples, **params):
    return BetaVAE(n_components=_total(levels, latent_dim), n_epochs=levels * epochs_per_level,
                   depth=levels, **params)


def _build_vlae(levels, latent_dim, epochs_per_level, n_samples, **params):
    return VLAE(levels, latent_dim, n_epochs=levels * epochs_per_level, **params)


def _build_provlae(levels, latent_dim, epochs_per_level, n_samples, **params):
    if params.get("fade_in_steps", 0) is None:  # a third of one progressive step
        batches = (n_samples or 0) // params.get("batch_size", ProVLAE().batch_size)
        params["fade_in_steps"] = max(1, batches * epochs_per_level // 3)
    return ProVLAE(levels, latent_dim, epochs_per_step=epochs_per_level, **params)


def _build_hierarchicalvae(levels, latent_dim, epochs_per_level, n_samples, **params):
    return HierarchicalVAE(levels, latent_dim, n_epochs=levels * epochs_per_level, **params)


def _build_teacherstudent(levels, latent_dim, epochs_per_level, n_samples, **params):
    # One growth step per level, ``latent_dim`` latents each; the pro-VLAE paper's VAE variant.
    params.setdefault("variational", True)
    return TeacherStudentVAE(initial_latents=latent_dim, latents_per_step=latent_dim,
                             n_steps=levels, epochs_per_step=epochs_per_level, **params)


def _build_nvae(levels, latent_dim, epochs_per_level, n_samples, **params):
    # One group per scale, a ladder level each: ``levels`` scales of ``latent_dim`` latent
    # channels (each a feature map, so the dimensions grow with the image), as many epochs.
    if isinstance(latent_dim, (list, tuple)):
        raise TypeError("NVAE takes one latent_dim for every group (its latent channels); "
                         f"got {latent_dim}.")
    params = {"groups_per_scale": 1, "adaptive_groups": False, **params}
    return NVAE(n_scales=levels, latent_per_group=latent_dim,
                n_epochs=levels * epochs_per_level, **params)


def _nvae_budget(model):
    groups = groups_per_scale(model.n_scales, model.groups_per_scale, model.adaptive_groups,
                              model.min_groups_per_scale)
    return sum(groups) * model.latent_per_group, model.n_epochs


def _teacher_student_budget(model):
    latents = model.initial_latents + (model.n_steps - 1) * model.latents_per_step
    return latents, model.n_steps * model.epochs_per_step


#: The registered models, by lower-case name (``"betavae"``, ``"vlae"``, ``"provlae"``,
#: ``"hierarchicalvae"``, ``"teacherstudent"``, ``"nvae"``: its budget counts latent channels,
#: one group of ``latent_dim`` per scale).
MODELS = {
    "betavae": ModelSpec("BetaVAE", BetaVAE, _build_betavae,
                         lambda m: (m.n_components, m.n_epochs)),
    "vlae": ModelSpec("VLAE", VLAE, _build_vlae,
                      lambda m: (_total(m.levels, m.latent_dim), m.n_epochs)),
    "provlae": ModelSpec("ProVLAE", ProVLAE, _build_provlae,
                         lambda m: (_total(m.levels, m.latent_dim), m.levels * m.epochs_per_step)),
    "hierarchicalvae": ModelSpec("HierarchicalVAE", HierarchicalVAE, _build_hierarchicalvae,
                                 lambda m: (m.levels * m.latent_dim, m.n_epochs)),
    "teacherstudent": ModelSpec("TeacherStudentVAE", TeacherStudentVAE, _build_teacherstudent,
                                _teacher_student_budget),
    "nvae": ModelSpec("NVAE", NVAE, _build_nvae, _nvae_budget),
}


def canonical_name(name):
    """``"Pro-VLAE"``, ``"pro_vlae"``, ``"ProVLAE"`` -> ``"provlae"``."""
    return str(name).lower().replace("-", "").replace("_", "")


def register_model(name, estimator, build, budget):
    """Make a model available to studies by name.

    Parameters
    ----------
    name : str
        The name studies use (matched without case, ``-`` or ``_``).
    estimator : type
        The estimator class.
    build : callable
        ``build(levels, latent_dim, epochs_per_level, n_samples, **params) -> estimator``,
        an unfitted estimator with ``levels * latent_dim`` latent dimensions in all and
        as many iterations as ``levels * epochs_per_level`` epochs (see :class:`ModelSpec`).
    budget : callable
        ``budget(estimator) -> (n_latents, n_epochs)``, to check estimators given as
        instances.

    Returns
    -------
    spec : ModelSpec

    Examples
    --------
    >>> from skdisent import VLAE
    >>> from skdisent.study import register_model
    >>> spec = register_model(
    ...     "wide_vlae", VLAE,
    ...     lambda levels, latent_dim, epochs_per_level, n_samples, **params:
    ...         VLAE(levels, latent_dim, n_epochs=levels * epochs_per_level,
    ...              **{"conv_channels": 64, **params}),
    ...     lambda model: (model.levels * model.latent_dim, model.n_epochs))
    >>> spec.name
    'VLAE'
    """
    spec = ModelSpec(estimator.__name__, estimator, build, budget)
    MODELS[canonical_name(name)] = spec
    return spec


def model_spec(name_or_estimator):
    """The :class:`ModelSpec` of a model name, an estimator class or an estimator.

    Raises
    ------
    ValueError
        For a name or class no study knows.
    """
    if isinstance(name_or_estimator, str):
        spec = MODELS.get(canonical_name(name_or_estimator))
        if spec is None:
            raise ValueError(f"unknown model {name_or_estimator!r}; a study builds "
                             f"{', '.join(MODELS)} (skdisent.study.register_model adds others)")
        return spec
    cls = name_or_estimator if isinstance(name_or_estimator, type) else type(name_or_estimator)
    for spec in MODELS.values():
        if spec.estimator is cls:
            return spec
    raise ValueError(f"a study cannot check the budget of a {cls.__name__}: register it with "
                     "skdisent.study.register_model, or pass check_fairness=False")


def fair_model(name, *, levels=3, latent_dim=2, epochs_per_level=3, n_samples=None, **params):
    """An unfitted model with the fair comparison's latents and iterations.

    Parameters
    ----------
    name : str
        A registered model: ``"betavae"``, ``"vlae"``, ``"provlae"`` or one added with
        :func:`register_model`.
    levels, latent_dim : int, default=3, 2
        ``levels * latent_dim`` latent dimensions in all: ``latent_dim`` at each of
        ``levels`` levels for VLAE and pro-VLAE, all at the deepest level of a
        ``levels``-deep network for beta-VAE.
    epochs_per_level : int, default=3
        Epochs of each progressive step of pro-VLAE; the other models train
        ``levels * epochs_per_level`` epochs, the same number of iterations.
    n_samples : int, default=None
        Training images; with ``fade_in_steps=None`` pro-VLAE fades a new level in over
        a third of one progressive step's iterations.
    **params
        Other parameters of the estimator (``beta``, ``batch_size``, ``random_state``...).
        Parameters the model does not take are an error; a study leaves them out for it.

    Returns
    -------
    estimator : BetaVAE, VLAE, ProVLAE or a registered model

    Examples
    --------
    >>> from skdisent.study import fair_model
    >>> fair_model("betavae", levels=3, latent_dim=2, epochs_per_level=5).get_params()["n_epochs"]
    15
    >>> fair_model("provlae", levels=3, latent_dim=2, epochs_per_level=5).epochs_per_step
    5
    """
    spec = model_spec(name)
    unknown = sorted(set(params) - spec.parameters())
    if unknown:
        raise ValueError(f"{spec.name} has no parameter {', '.join(map(repr, unknown))}")
    return spec.build(levels, latent_dim, epochs_per_level, n_samples, **params)


def budget_of(estimator):
    """``(n_latents, n_epochs, batch_size)`` of an unfitted estimator: what fairness compares."""
    n_latents, n_epochs = model_spec(estimator).budget(estimator)
    return int(n_latents), int(n_epochs), getattr(estimator, "batch_size", None)
