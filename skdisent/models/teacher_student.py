"""Teacher-student growth of the latent code with Jacobian supervision (Lezama 2019)."""

import itertools
import re
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..base import BaseDisentangler
from ..engine.optim import fused_adam
from ..nn.distributions import kl_to_standard_normal, reparameterize
from ..nn.teacher_student import (
    TeacherStudentNetwork,
    cross_covariance_loss,
    jacobian_supervision_loss,
    swap_factors,
)
from ._ladder import COMMON_PARAMETERS
from ._posterior import GaussianPosterior
from ._step_information import information_per_step, information_record, step_posteriors

__all__ = ["TeacherStudentVAE"]

#: Log-variance given to a deterministic code where a Gaussian posterior is expected
#: (``posterior``, the information estimates): a point mass, to the estimators.
POINT_MASS_LOGVAR = -20.0


def _common(*names):
    """The entries ``names`` of the ladder models' shared parameter docs."""
    entries = re.split(r"\n    (?=\w+ : )", COMMON_PARAMETERS)
    found = {entry.split(" : ")[0]: entry for entry in entries}
    return "\n    ".join(found[name] for name in names)


class TeacherStudentVAE(GaussianPosterior, BaseDisentangler):
    __doc__ = """Teacher-student growth of the latent code with Jacobian supervision (Lezama 2019).

    A *teacher* with ``initial_latents`` latents trains alone (step 0). At each later
    step a *student* with ``latents_per_step`` more latents, at the same depth, learns
    to reconstruct while three terms keep the teacher's factors: its first latents
    predict the teacher's code (``lambda_z``); when two samples swap their factor
    latents, the student's output changes as the teacher's does (``lambda_jacobian``,
    the finite-difference form of matching Jacobians); its new latents do not correlate
    with the old ones in a batch (``lambda_xcov``). The student then becomes the next
    teacher. With ``P`` values per image, ``f`` and ``n`` the student's old and new
    latents, ``t`` the teacher's code and ``d`` an output's change under a swap, a
    student step minimises::

        NLL(x | z) / P + lambda_z * mean((f - t)^2) + lambda_xcov * xcov(n, f)
                       + lambda_jacobian * mean((d_teacher - d_student)^2)

    (``+ beta * KL / P`` when ``variational``); the first teacher, the first term alone.

    **As the reference ran it** (``jlezama/disentangling-jacobian``,
    ``train_progressive.py`` on MNIST; the defaults): a *deterministic autoencoder*, not
    a VAE; a ReLU perceptron 256-128-64 each way on the flattened image; a batch norm
    without affine parameters on the first teacher's code only (while it teaches, on
    the batch's statistics: the reference leaves it in training mode); 2 latents, one
    more per step up to 16 (15 steps of 100 epochs); Adam (3e-4, weight decay 1e-6)
    started afresh for each student; batches of 128; ``lambda_z=0.25``,
    ``lambda_jacobian=0.1``, ``lambda_xcov=1e-3``; each student starts from its
    teacher's weights, the new latents' rows and columns drawn as PyTorch draws a
    fresh layer; the swap pairs a batch with a random permutation of itself.

    **Where it differs**: the reconstruction term is the likelihood's negative
    log-likelihood per output value (``likelihood``, as every model here), where the
    reference has the mean squared error of a tanh output (a Gaussian of fixed scale);
    ``d`` is taken on the likelihood's mean (pixel values); new latents follow the old
    ones in the code, where the reference puts them first (a permutation: training is
    the same). Deterministic codes have no prior and no KL: :meth:`score` is minus the
    reconstruction's NLL per sample, and :meth:`sample` draws each latent from a Gaussian
    of the training codes' mean and standard deviation (measured at each step's end).

    **The VAE variant** (``variational=True``): the pro-VLAE paper compares with "a
    teacher-student strategy ... to progressively increase the number of latent
    dimensions in VAE" and reports its ``I(x; z)``, which needs a posterior; it says no
    more. Chosen here: Gaussian posteriors, the ``beta``-weighted KL of the active
    latents; no batch norm on the first code (the KL sets its scale); the three terms
    on posterior means (the teacher's code is its mean, the student's swapped outputs
    are decoded from means), reconstruction and KL on one draw. Also left open by both
    papers: the network for dSprites and 3DShapes (here the reference's perceptron),
    the steps and latents per step of the fair comparison
    (:func:`~skdisent.models.paper_model` gives ``levels`` steps of ``latent_dim``
    latents and the pro-VLAE run's epochs per step), and ``beta``.

    Parameters
    ----------
    initial_latents : int, default=2
        Latents of the first teacher.
    latents_per_step : int, default=1
        Latents added at each later step.
    n_steps : int, default=15
        Steps, the first teacher's included: ``initial_latents + (n_steps - 1) *
        latents_per_step`` latents in the end.
    epochs_per_step : int, default=100
        Epochs of each step; a fit runs ``n_steps * epochs_per_step`` epochs.
    lambda_z : float, default=0.25
        Weight of the prediction of the teacher's code (the paper's ``lambda_y``).
    lambda_jacobian : float, default=0.1
        Weight of the Jacobian (difference) supervision (``lambda_diff``).
    lambda_xcov : float, default=1e-3
        Weight of the cross-covariance of the new latents with the old ones.
    variational : bool, default=False
        Gaussian posteriors and a KL term (the pro-VLAE paper's VAE variant) rather
        than the reference's deterministic codes.
    beta : float, default=1.0
        Weight of the KL term when ``variational``; unused otherwise.
    hidden_units : tuple of int, default=(256, 128, 64)
        Hidden widths of the encoder (the decoder's in reverse).
    information_rows : int >= 2 or None, default=2048
        Rows of the training data (evenly spaced) on which ``I(x; z_g)`` is estimated
        at each step's end, as :class:`ProVLAE` does; None for all of them.
    likelihood : {{"auto", "bernoulli", "gaussian"}}, default="auto"
        Observation model of the reconstruction term: ``"auto"`` chooses Bernoulli for
        ``uint8`` data or data within [0, 1], Gaussian (one learned standard deviation)
        otherwise, as for the other models; ``likelihood_`` keeps the choice.
    batch_size : int, default=128
        Samples per training step (the reference's).
    learning_rate : float, default=3e-4
        Adam's learning rate (the reference's).
    weight_decay : float, default=1e-6
        Adam's L2 weight decay (the reference's progressive script).
    image_shape : tuple of int, default=None
        ``(H, W)`` or ``(C, H, W)``: read flat rows of ``X`` as images of this shape
        (the network flattens every image; the outputs take this shape).
    {rest}

    Attributes
    ----------
    network_ : TeacherStudentNetwork
        The student (``network_.student``) and its teacher (``network_.teacher``).
    n_components_ : int
        Latents at the end of the growth; those not yet added (a fit stopped early)
        are 0 in :meth:`transform` and ignored by :meth:`inverse_transform`.
    latent_groups_ : tuple of int
        Latents added at each step: group ``g`` (1-based) is step ``g - 1``'s.
    latent_dims_ : tuple of int
        ``(n_components_,)``: every latent is at the same depth (one level).
    likelihood_ : {{"bernoulli", "gaussian"}}
        The observation model in use.
    history_ : list of dict
        One record per epoch: ``epoch``, ``n_steps``, ``step`` (0: the first
        teacher), ``latents`` (the student's), ``latents_added`` (at this step),
        ``loss`` (the objective above, per output value), ``reconstruction``
        (negative log-likelihood per sample, nats), ``kl``, ``latent_prediction``,
        ``jacobian`` and ``xcov`` (0 where they do not apply), ``time``,
        ``images_per_s`` and ``threads``. A step's last record also holds
        ``information_<g>``, ``I(x; z_g)`` in nats per latent group (0 for groups not
        yet added), ``information_total`` and ``information_rows``, estimated as
        :class:`ProVLAE` does. With deterministic codes they are point masses: every
        group that varies holds the estimator's ceiling, ``log(information_rows)``;
        the information flow of the pro-VLAE paper's Fig. 5 needs ``variational=True``.
    information_per_step_ : ndarray of shape (n_completed_steps, n_groups)
        ``I(x; z_g)`` per group at the end of each completed step, from ``history_``.
    n_iter_ : int
        Epochs run.
    n_steps_ : int
        Optimisation steps run.
    n_features_in_ : int
        ``X.shape[1]`` seen in ``fit``.
    input_shape_ : tuple of int
        Shape of one sample seen in ``fit``.

    See Also
    --------
    ProVLAE : grows a ladder's depth, not the width of one code.

    References
    ----------
    .. [1] J. Lezama, "Overcoming the disentanglement vs reconstruction trade-off via
       Jacobian supervision", ICLR 2019.
    .. [2] Z. Li, J. V. Murkute, P. K. Gyawali and L. Wang, "Progressive learning and
       disentanglement of hierarchical representations", ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent import TeacherStudentVAE
    >>> X = np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)
    >>> model = TeacherStudentVAE(n_steps=3, epochs_per_step=1, hidden_units=(32,),
    ...                           random_state=0).fit(X)
    >>> model.transform(X).shape, model.latent_groups_
    ((64, 4), (2, 1, 1))
    >>> [record["latents"] for record in model.history_]
    [2, 3, 4]
    """.format(rest=_common("device", "precision", "warm_start", "checkpoint_dir",
                            "checkpoint_every", "on_nan", "nan_lr_factor", "max_nan_retries",
                            "n_threads", "random_state", "verbose"))

    _network_class = TeacherStudentNetwork
    _fitted_attributes = (*BaseDisentangler._fitted_attributes, "n_components_",
                          "latent_groups_", "latent_dims_")

    _parameter_constraints: dict = {
        **{k: v for k, v in BaseDisentangler._parameter_constraints.items() if k != "compile"},
        "initial_latents": [Interval(Integral, 1, None, closed="left")],
        "latents_per_step": [Interval(Integral, 1, None, closed="left")],
        "n_steps": [Interval(Integral, 1, None, closed="left")],
        "epochs_per_step": [Interval(Integral, 1, None, closed="left")],
        "lambda_z": [Interval(Real, 0, None, closed="left")],
        "lambda_jacobian": [Interval(Real, 0, None, closed="left")],
        "lambda_xcov": [Interval(Real, 0, None, closed="left")],
        "variational": ["boolean"],
        "beta": [Interval(Real, 0, None, closed="left")],
        "hidden_units": [tuple, list],
        "information_rows": [Interval(Integral, 2, None, closed="left"), None],
        "likelihood": [StrOptions({"auto", "bernoulli", "gaussian"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, initial_latents=2, latents_per_step=1, n_steps=15, *,
                 epochs_per_step=100, lambda_z=0.25, lambda_jacobian=0.1, lambda_xcov=1e-3,
                 variational=False, beta=1.0, hidden_units=(256, 128, 64),
                 information_rows=2048, likelihood="auto", batch_size=128,
                 learning_rate=3e-4, weight_decay=1e-6, image_shape=None, device="auto",
                 precision="fp32", warm_start=False, checkpoint_dir=None, checkpoint_every=1,
                 on_nan="raise", nan_lr_factor=0.5, max_nan_retries=3, n_threads=None,
                 random_state=None, verbose=0):
        self.initial_latents, self.latents_per_step, self.n_steps = (
            initial_latents, latents_per_step, n_steps)
        self.epochs_per_step = epochs_per_step
        self.lambda_z, self.lambda_jacobian, self.lambda_xcov = (
            lambda_z, lambda_jacobian, lambda_xcov)
        self.variational, self.beta, self.hidden_units = variational, beta, hidden_units
        self.information_rows, self.likelihood = information_rows, likelihood
        self.batch_size, self.learning_rate, self.weight_decay = (
            batch_size, learning_rate, weight_decay)
        self.image_shape, self.device, self.precision = image_shape, device, precision
        self.warm_start, self.checkpoint_dir, self.checkpoint_every = (
            warm_start, checkpoint_dir, checkpoint_every)
        self.on_nan, self.nan_lr_factor, self.max_nan_retries = (
            on_nan, nan_lr_factor, max_nan_retries)
        self.n_threads, self.random_state, self.verbose = n_threads, random_state, verbose

    # ------------------------------------------------------------- the growth

    def _groups(self):
        return (self.initial_latents,) + (self.latents_per_step,) * (self.n_steps - 1)

    def _n_epochs_total(self):
        return self.n_steps * self.epochs_per_step

    def _initial_schedule(self):
        # The step the network is at, the student's latents and its teacher's (0: none).
        return {"step": 0, "latents": self.initial_latents, "teacher_latents": 0}

    def _build_network(self, layout):
        hidden = self.hidden_units
        if not all(isinstance(u, Integral) and u >= 1 for u in hidden):
            raise ValueError(f"hidden_units must be positive integers, got {hidden!r}.")
        return TeacherStudentNetwork(layout.network_shape, sum(self._groups()), hidden,
                                     likelihood=self.likelihood_, variational=self.variational)

    def _build_optimizers(self, network):
        return {"adam": fused_adam(network.trainable_parameters(), lr=self.learning_rate,
                                   weight_decay=self.weight_decay)}

    def _fitted_from_network(self, network):
        return {"n_components_": network.n_components, "latent_dims_": (network.n_components,),
                "latent_groups_": self._groups(), "likelihood_": network.likelihood_name}

    def _initialize(self, layout, device, X, likelihood):
        super()._initialize(layout, device, X, likelihood)
        # The first teacher as the reference builds it: its decoder's fan-in is its own code.
        self.network_.student.draw_latents(0, self.initial_latents, self._training.generator,
                                           decoder_bias=True)

    def _validate_fit_inputs(self, layout, likelihood=None):
        if self.warm_start and hasattr(self, "network_") and (
                self.network_.n_components != sum(self._groups())):
            raise ValueError(
                f"warm_start=True continues a model of {self.network_.n_components} latents; "
                f"the parameters now give {sum(self._groups())}. Keep initial_latents, "
                "latents_per_step and n_steps, or set warm_start=False.")
        return {}

    def _epoch_start(self, epoch):
        schedule = self._training.schedule
        while schedule["step"] < min(epoch // self.epochs_per_step, self.n_steps - 1):
            teacher = int(schedule["latents"])
            latents = teacher + self.latents_per_step
            self.network_.grow(teacher, latents, self._training.generator)
            for optimizer in self._training.optimizers.values():
                optimizer.state.clear()  # a fresh Adam for each student, as the reference
            schedule.update(step=schedule["step"] + 1, latents=latents, teacher_latents=teacher)

    def _stage_end(self):
        return self.n_iter_ % self.epochs_per_step == 0

    def _normalizes(self, step):
        """Whether the network of ``step`` normalises its code (the reference's first teacher)."""
        return not self.variational and step == 0

    # ------------------------------------------------------------ the training

    def _student_encode(self, x):
        """The student's posterior means and log-variances (None: deterministic)."""
        schedule = self._training.schedule
        return self.network_.student.encode(x, int(schedule["latents"]),
                                            self._normalizes(schedule["step"]))

    def _forward(self, x, generator):
        """Posterior means, the decoder's output, and the NLL and KL per sample."""
        mean, logvar = self._student_encode(x)
        if logvar is None:
            z, kl = mean, torch.zeros(len(x), device=x.device)
        else:
            mean, logvar = mean.float(), logvar.float()
            z = reparameterize(mean, logvar, generator)
            kl = kl_to_standard_normal(mean, logvar)  # 0 for inactive latents
        output = self.network_.student.decode(z, int(self._training.schedule["latents"]))
        nll = -self.network_.likelihood.log_prob(output.float().view_as(x), x)
        return mean, output, nll, kl

    def _train_batch(self, x, trainer):
        mean, output, nll, kl = self._forward(x, self._training.noise_generator)
        beta = self.beta if self.variational else 0.0
        loss = (nll + beta * kl).mean() / x[0].numel()
        stats = {"reconstruction": nll.mean(), "kl": kl.mean()}
        stats.update(self._supervision(x, mean, output))
        loss = loss + (self.lambda_z * stats["latent_prediction"]
                       + self.lambda_xcov * stats["xcov"]
                       + self.lambda_jacobian * stats["jacobian"])
        trainer.optimize(loss, "adam")
        return {"loss": loss, **stats}

    def _supervision(self, x, mean, output):
        """The teacher's three terms (zeros while the first teacher trains alone)."""
        schedule, network = self._training.schedule, self.network_
        n_teacher, latents = int(schedule["teacher_latents"]), int(schedule["latents"])
        if n_teacher == 0:
            zero = torch.zeros((), device=x.device)
            return {"latent_prediction": zero, "jacobian": zero, "xcov": zero}
        with torch.no_grad():
            teacher, _ = network.teacher.encode(
                x, n_teacher, self._normalizes(schedule["step"] - 1), batch_statistics=True)
            order = torch.randperm(len(x), generator=self._training.noise_generator,
                                   device=x.device)
            teacher_out = network.mean(network.teacher.decode(teacher, n_teacher))
            teacher_swapped = network.mean(network.teacher.decode(
                swap_factors(teacher, n_teacher, order), n_teacher))
        mean = mean.float()
        factors = mean[:, :n_teacher]
        if self.variational:  # supervise the function of the posterior means
            output = network.student.decode(mean, latents)
        student_swapped = network.student.decode(swap_factors(mean, n_teacher, order), latents)
        jacobian = jacobian_supervision_loss(network.mean(output), network.mean(student_swapped),
                                             teacher_out, teacher_swapped)
        return {"latent_prediction": (factors - teacher[:, :n_teacher].float()).pow(2).mean(),
                "jacobian": jacobian.mean(),
                "xcov": cross_covariance_loss(mean[:, n_teacher:latents], factors)}

    # ------------------------------------------------- records at each step's end

    def _epoch_record(self, data, device):
        step = int(self._training.schedule["step"])
        record = {"step": step, "latents": int(self._training.schedule["latents"]),
                  "latents_added": self._groups()[step]}
        if self._stage_end():
            record.update(self._step_end_record(data, device))
        return record

    def _step_end_record(self, source, device):
        """``I(x; z_g)`` per group and ``I(x; z)``; the code's statistics, for ``sample``."""
        means, logvars = step_posteriors(self, source, device)
        latents = int(self._training.schedule["latents"])
        self.network_.code_statistics.update(means[:, :latents])
        groups = [s for s in self.group_slices() if s.stop <= latents]
        return information_record(means, logvars, groups, slice(0, latents), self.n_steps)

    @property
    def information_per_step_(self):
        """``I(x; z_g)`` per group (columns, in order) at each completed step's end, in nats."""
        check_is_fitted(self, "network_")
        return information_per_step(self.history_, len(self.latent_groups_))

    def group_slices(self):
        """Column slices of :meth:`transform`'s output, one per latent group (step), in order."""
        bounds = np.cumsum([0, *self._groups()])
        return [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]

    def level_slices(self):
        """``[slice(0, n_components_)]``: one level, every latent at the same depth."""
        return [slice(0, sum(self._groups()))]

    # --------------------------------------------------------- public methods

    def _posterior_function(self, device):
        # Deterministic codes (variational=False) get log-variances of POINT_MASS_LOGVAR:
        # point masses, to the estimators.
        def parameters(x):
            mean, logvar = self._student_encode(x)
            if logvar is None:
                logvar = torch.full_like(mean, POINT_MASS_LOGVAR)
            return mean, logvar

        return parameters

    def _encode(self, x):
        return self._student_encode(x)[0]

    def _decode(self, codes):
        output = self.network_.student.decode(codes, int(self._training.schedule["latents"]))
        return self.network_.mean(output)

    def score(self, X, y=None):
        """Mean ELBO per sample (``variational=True``), else minus the mean NLL; in nats.

        The ELBO as the other models' (one draw seeded with ``random_state``, KL at
        ``beta=1``). The reference's autoencoder (the default) has deterministic codes and
        no KL: the score is minus the NLL of each sample's reconstruction.

        Parameters
        ----------
        X : array-like of the layout and sample shape seen in ``fit``
        y : Ignored

        Returns
        -------
        score : float
        """
        return super().score(X, y)

    def _score_batch(self, x, generator):
        """The ELBO per sample (``beta=1``), or minus the NLL of a deterministic code."""
        _, _, nll, kl = self._forward(x, generator)
        return -(nll + kl)

    def _sample_codes(self, n_samples, generator):
        network, latents = self.network_, int(self._training.schedule["latents"])
        z = torch.randn(n_samples, network.n_components, generator=generator)
        if not self.variational:  # no prior: the training codes' Gaussian
            statistics = network.code_statistics
            z = statistics.mean.cpu() + statistics.std.cpu() * z
        z[:, latents:] = 0.0
        return z

    def _feature_names(self):
        return [f"group{g + 1}_z{j}" for g, size in enumerate(self._groups())
                for j in range(size)]
