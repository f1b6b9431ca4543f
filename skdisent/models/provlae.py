"""pro-VLAE: the ladder grown progressively from its deepest level (METHOD.md section 2)."""

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from .._warn import warn
from ._ladder import COMMON_PARAMETERS, LadderModel
from ._snapshots import StageSnapshots
from ._step_information import information_per_step, information_record, step_posteriors

__all__ = ["ProVLAE"]


class ProVLAE(LadderModel):
    __doc__ = """Progressive variational ladder autoencoder (Li et al. 2020).

    Training runs in ``levels`` progressive steps of ``epochs_per_step`` epochs.
    Step 0 trains the deepest level alone; each later step switches on the next
    shallower level. The whole network exists and trains from the start; a level
    that is not yet active does not reach the decoder (its decoder path is
    multiplied by 0), while its ladder head, as in the reference code, always sees
    the real features, so that the pre-KL penalty trains it. At step ``s`` the
    loss is::

        -E_q[log p(x | z_active)] + beta * sum_{l active} KL_l
                                  + pre_kl_coef * sum_{l inactive} KL_l

    - *Fade-in*: when a level becomes active a coefficient rises linearly from 0
      to 1 over ``fade_in_steps`` iterations and scales both the input of its
      ladder head and its decoder path (before and after its fade-in, the head's
      input is not scaled).
    - *Pre-KL*: the KL of inactive levels is penalised with ``pre_kl_coef`` so
      that they sit at the prior before they are switched on.

    Parameters
    ----------
    levels : int, default=3
        Number of levels, hence of progressive steps.
    latent_dim : int, default=3
        Latent dimensions per level.
    beta : float, default=1.0
        Weight of the KL terms of active levels.
    epochs_per_step : int, default=15
        Epochs in each progressive step (the reference: 15 on 3DShapes, 30 on
        dSprites, 5 on CelebA). A fit runs ``levels * epochs_per_step`` epochs.
    fade_in : bool, default=True
        Fade new levels in; False switches them on at once (the paper's ablation).
    fade_in_steps : int, default=5000
        Iterations over which a new level's gate rises from 0 to 1 (the paper's
        5000). Keep it below the iterations of one step, or the last level ends
        the fit partly faded in (a warning says so).
    pre_kl_coef : float, default=0.5
        Weight of the KL of inactive levels; 0 switches the pre-KL penalty off.
    information_rows : int >= 2 or None, default=2048
        Rows of the training data (evenly spaced, no random draw) on which
        ``I(x; z_l)`` is estimated at the end of each progressive step; None uses
        every row (the full factor grid, as the reference did). The estimate cannot
        exceed ``log(rows)`` (7.62 nats for 2,048 rows, 13.08 for the 480,000 of
        3DShapes; see ``information_per_step_``), so raise it to see information
        beyond that. The aggregate posterior is sampled at ``min(rows, 10000)``
        of the rows (10,000 as in the reference); the cost per step end is one
        forward pass over the rows and about ``samples x rows x n_components_ x 2``
        Gaussian log-densities (about two minutes on one CPU thread for the whole
        3DShapes grid and 9 latents).
    snapshot_steps : bool, default=False
        Keep a copy of the model at the end of each progressive step in
        ``step_snapshots_`` (for the paper's Fig. 5,
        :func:`skdisent.plotting.plot_information_flow_steps`). Each copy holds the
        network's weights and buffers on the CPU, 4 bytes per parameter, and no
        optimiser state: 23 MB per step for the reference 64x64 network (5.7M
        parameters), 69 MB for its three steps. False keeps none.
    %s

    Attributes
    ----------
    network_ : LadderNetwork
        The trained torch module (on CPU after unpickling).
    n_components_ : int
        Total latent dimensions, ``levels * latent_dim``.
    latent_dims_ : tuple of int
        Latent dimensions per level, shallowest first.
    likelihood_ : {"bernoulli", "gaussian"}
        The observation model in use (what ``likelihood="auto"`` chose).
    history_ : list of dict
        One record per epoch: ``epoch``, ``n_steps``, ``step`` (the progressive
        step), ``active_levels``, ``fade_in`` (the newest level's gate at the end of
        the epoch), ``loss``, ``reconstruction`` (negative log-likelihood per sample,
        nats), ``kl_<l>`` per level (level 1 the shallowest), ``time`` (seconds),
        ``images_per_s`` and ``threads`` (torch's CPU threads). The record of the
        last epoch of each progressive step also holds ``information_<l>``,
        ``I(x; z_l)`` in nats per level, ``information_total``, ``I(x; z)``, and
        ``information_rows``, the rows they were estimated on (see
        ``information_per_step_``).
    information_per_step_ : ndarray of shape (n_completed_steps, levels)
        ``I(x; z_l)`` in nats per level (columns shallowest first) at the end of
        each completed progressive step: the information flow of the paper's
        Fig. 5, read from ``history_``. Estimated with
        :func:`skdisent.metrics.information_per_level` on ``information_rows``
        rows of the training data (evenly spaced; ``min(rows, 10000)`` samples of
        the aggregate posterior, seed 0), so it leaves the training's random draws
        untouched. Every value, and ``I(x; z)``, is at most ``log(rows)`` up to
        Monte Carlo noise of a few hundredths of a nat: the estimator's aggregate
        posterior is a mixture of one posterior per row, so it can tell at most
        ``rows`` inputs apart, ``log(rows)`` nats, however much the encoder keeps
        of each image. The values are comparable only between fits estimated on
        the same number of rows.
    step_snapshots_ : list of ProVLAE
        Only with ``snapshot_steps=True``: the model at the end of each
        progressive step completed, in order (``step_snapshots_[s]`` after step
        ``s``, with ``s + 1`` levels active and ``n_iter_ == (s + 1) *
        epochs_per_step``). Each is a fitted ``ProVLAE`` of its own (its weights
        copied to the CPU, its ``history_`` up to that step, ``snapshot_steps``
        and ``checkpoint_dir`` off) that transforms, decodes and samples as the
        model did then; further training changes none of them. They leave out the
        optimiser's moments (a snapshot is for inference: ``fit`` with
        ``warm_start=True`` on one trains on with fresh Adam moments). A fit with
        ``warm_start=True`` keeps the snapshots it finds and adds those of the
        steps it completes; a fresh fit starts them again. They pickle with the
        model (pickle, joblib, ``copy.deepcopy``), but :func:`skdisent.save`,
        model files and checkpoints do not hold them: a model read by
        :func:`skdisent.load`, or resumed from a checkpoint, has only the
        snapshots of steps completed after that. Absent when ``snapshot_steps``
        is False (as scikit-learn's ``oob_score_`` without ``oob_score``).
    n_iter_ : int
        Number of epochs run.
    n_steps_ : int
        Number of optimisation steps run.
    n_features_in_ : int
        ``X.shape[1]`` seen in ``fit``.
    input_shape_ : tuple of int
        Shape of one sample seen in ``fit``.

    See Also
    --------
    VLAE : the same ladder with every level trained from the start.
    BetaVAE : the same network with one level.

    Examples
    --------
    >>> import numpy as np
    >>> from skdisent import ProVLAE
    >>> X = np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)
    >>> model = ProVLAE(levels=2, latent_dim=2, epochs_per_step=1, fade_in_steps=1,
    ...                 random_state=0).fit(X)
    >>> model.transform(X).shape
    (64, 4)
    >>> [record["step"] for record in model.history_]
    [0, 1]
    """ % COMMON_PARAMETERS

    _parameter_constraints: dict = {
        **LadderModel._parameter_constraints,
        "levels": [Interval(Integral, 1, None, closed="left")],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "epochs_per_step": [Interval(Integral, 0, None, closed="left")],
        "fade_in": ["boolean"],
        "fade_in_steps": [Interval(Integral, 0, None, closed="left")],
        "pre_kl_coef": [Interval(Real, 0, None, closed="left")],
        "information_rows": [Interval(Integral, 2, None, closed="left"), None],
        "snapshot_steps": ["boolean"],
    }

    def __init__(
        self,
        levels=3,
        latent_dim=3,
        *,
        beta=1.0,
        epochs_per_step=15,
        fade_in=True,
        fade_in_steps=5000,
        pre_kl_coef=0.5,
        information_rows=2048,
        snapshot_steps=False,
        likelihood="auto",
        batch_size=128,
        learning_rate=5e-4,
        conv_channels=32,
        architecture="vlae",
        dense_units=256,
        normalization="affine",
        initialization="torch",
        image_shape=None,
        device="auto",
        precision="fp32",
        compile=False,
        warm_start=False,
        checkpoint_dir=None,
        checkpoint_every=1,
        on_nan="raise",
        nan_lr_factor=0.5,
        max_nan_retries=3,
        n_threads=None,
        random_state=None,
        verbose=0,
    ):
        self.levels = levels
        self.latent_dim = latent_dim
        self.beta = beta
        self.epochs_per_step = epochs_per_step
        self.fade_in = fade_in
        self.fade_in_steps = fade_in_steps
        self.pre_kl_coef = pre_kl_coef
        self.information_rows = information_rows
        self.snapshot_steps = snapshot_steps
        self.likelihood = likelihood
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.conv_channels = conv_channels
        self.architecture = architecture
        self.dense_units = dense_units
        self.normalization = normalization
        self.initialization = initialization
        self.image_shape = image_shape
        self.device = device
        self.precision = precision
        self.compile = compile
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.on_nan = on_nan
        self.nan_lr_factor = nan_lr_factor
        self.max_nan_retries = max_nan_retries
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def _latent_dims(self):
        return (self.latent_dim,) * self.levels

    def _n_epochs_total(self):
        return self.levels * self.epochs_per_step

    # ----------------------------------------------------------- the schedule

    def progressive_step(self, epoch):
        """Progressive step that epoch ``epoch`` (0-based) belongs to.

        Parameters
        ----------
        epoch : int

        Returns
        -------
        step : int
            0 for the deepest level alone, up to ``levels - 1``.
        """
        if self.epochs_per_step == 0:
            return self.levels - 1
        return min(epoch // self.epochs_per_step, self.levels - 1)

    def _position(self, training):
        """``(step, fade_in)`` now: during an epoch, or after the last one."""
        n_iter = getattr(self, "n_iter_", 0)
        epoch = n_iter if training else max(n_iter - 1, 0)
        step = self.progressive_step(epoch)
        if step == 0 or not self.fade_in or self.fade_in_steps == 0:
            return step, 1.0
        since = self.n_steps_ - self._training.schedule["fade_in_start"]
        return step, min(1.0, since / self.fade_in_steps)

    def _gates(self, training):
        # As the reference: an inactive level's head sees h_l unscaled, its lateral path
        # is multiplied by 0; the newest level's head input and lateral path are both
        # multiplied by the fade-in coefficient during its fade-in.
        step, alpha = self._position(training)
        newest = self.levels - 1 - step
        encoder = torch.ones(self.levels)
        encoder[newest] = alpha
        decoder = torch.zeros(self.levels)
        decoder[newest + 1:] = 1.0
        decoder[newest] = alpha
        return encoder, decoder

    def _kl_weights(self):
        step, _ = self._position(training=True)
        newest = self.levels - 1 - step
        weights = torch.full((self.levels,), float(self.pre_kl_coef))
        weights[newest:] = float(self.beta)
        return weights

    def _initial_schedule(self):
        # The optimisation step at which the current progressive step (and the fade-in
        # of its level) began.
        return {"fade_in_start": 0}

    def _check_training_plan(self, n_samples):
        if not self.fade_in or self.levels < 2 or self.epochs_per_step == 0:
            return
        per_epoch = max(1, n_samples // self.batch_size)
        per_step = per_epoch * self.epochs_per_step
        if self.fade_in_steps > per_step:
            warn(f"fade_in_steps={self.fade_in_steps} is more than the {per_step} iterations of "
                 "one progressive step, so each new level is still fading in when the next "
                 "step starts and the last level ends the fit partly faded in. Lower "
                 "fade_in_steps or raise epochs_per_step.")

    def _epoch_start(self, epoch):
        if self.epochs_per_step and epoch % self.epochs_per_step == 0:
            self._training.schedule["fade_in_start"] = self.n_steps_

    def _epoch_record(self, data, device):
        step, alpha = self._position(training=False)
        record = {"step": step, "active_levels": step + 1, "fade_in": alpha}
        if self._stage_end():
            record.update(self._information_record(data, device))
        return record

    def _stage_end(self):
        # The epoch that just ended closes a progressive step: a checkpoint is written.
        return bool(self.epochs_per_step) and self.n_iter_ % self.epochs_per_step == 0

    # ------------------------------------- information per level at each step's end

    def _information_record(self, source, device):
        """``I(x; z_l)`` per level and ``I(x; z)`` now, on ``information_rows`` rows of ``source``.

        The rows are evenly spaced over the data and the estimator has its own seed, so
        the numbers are repeatable and no random draw of the training is consumed
        (:mod:`skdisent.models._step_information`, shared with the teacher-student model).
        """
        means, logvars = step_posteriors(self, source, device)
        return information_record(means, logvars, self.level_slices(),
                                  slice(0, self.n_components_), self.levels_)

    @property
    def information_per_step_(self):
        """``I(x; z_l)`` per level at the end of each completed progressive step.

        Returns
        -------
        information : ndarray of shape (n_completed_steps, levels)
            Nats; columns are levels, shallowest first. Each value is at most
            ``log(rows)`` of the rows it was estimated on (``information_rows``, kept
            in each step-end record of ``history_``), up to Monte Carlo noise.
        """
        check_is_fitted(self, "network_")
        return information_per_step(self.history_, self.levels_)

    # ------------------------------------------- copies of the model at each step's end

    def _initialize(self, layout, device, X, likelihood):
        super()._initialize(layout, device, X, likelihood)
        vars(self).pop("step_snapshots_", None)  # a fresh fit starts the snapshots again
        if self.snapshot_steps:
            self.step_snapshots_ = []

    def _callbacks(self):
        callbacks = super()._callbacks()
        if self.snapshot_steps:  # snapshots do not nest, nor write into the model's folder
            callbacks.append(StageSnapshots("step_snapshots_", snapshot_steps=False,
                                            checkpoint_dir=None))
        return callbacks

    # Snapshots pickle with the model, besides the sections of its state document
    # (which model files and checkpoints store, without them).
    def __getstate__(self):
        state = super().__getstate__()
        if "step_snapshots_" in vars(self):
            state["step_snapshots"] = list(self.step_snapshots_)
        return state

    def __setstate__(self, state):
        state = dict(state)
        snapshots = state.pop("step_snapshots", None)
        super().__setstate__(state)
        if snapshots is not None:
            self.step_snapshots_ = list(snapshots)
