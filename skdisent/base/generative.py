"""The scikit-learn contract every skdisent model shares: fit, the engine, sample, state.

:class:`BaseGenerativeModel` makes a torch network a scikit-learn estimator: it
validates the input in each layout of DESIGN.md, sets up the fitted state on the first
``fit`` (every random draw seeded from ``random_state`` through local generators),
hands the epochs to the engine's :class:`~skdisent.engine.Trainer`, generates with
:meth:`~BaseGenerativeModel.sample`, and describes itself as one explicit *state
document* that pickles, model files and checkpoints all store. Models with an encoder
are transformers too: :class:`~skdisent.base.BaseDisentangler` adds ``transform`` and
the methods built on it.

A model subclass says what its network is and what one training batch does; the hooks
are listed in the class docstring and, with an example, in ``docs/developer/engine.rst``.
"""

import os
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._data import (
    INFERENCE_BATCH,
    BatchSource,
    input_layout,
    likelihood_for,
    stack_rows,
    validate_input,
)
from .._model_file import model_file_bytes
from .._state_document import (
    apply_state_document,
    resume_from_checkpoint,
    state_document,
)
from .._warn import warn
from ..engine import (
    Checkpoints,
    PrintEpochs,
    ProgressBar,
    RetryNonFinite,
    Trainer,
    TrainingState,
    active_extra_callbacks,
)
from ..engine.checkpoints import folder_lock
from ..engine.compiled import CompiledFunctions
from ..engine.device import autocast, device_generator, resolve_device, with_threads
from ..nn.init import build_on_meta

__all__ = ["BaseGenerativeModel"]


class BaseGenerativeModel(BaseEstimator):
    """Base class of the skdisent models: a scikit-learn estimator over a torch network.

    Subclasses set their own ``__init__`` parameters (which must include those in
    ``_parameter_constraints`` below) and implement:

    - ``_network_class``: the torch module's class, rebuilt from its ``config``;
    - ``_build_network(layout)``: the torch module, built from the input layout;
    - ``_build_optimizers(network)``: a dict of optimisers, by name;
    - ``_n_epochs_total()``: how many epochs a full fit runs;
    - ``_train_batch(x, trainer)``: one batch's training; it calls
      ``trainer.optimize(loss, name)`` for each optimiser update and returns a dict of
      detached per-sample means to record in ``history_``;
    - ``_sample_codes(n, generator)`` and ``_decode(codes)`` for :meth:`sample`;
    - ``_score_batch(x, generator)``: per-sample values of the network in evaluation
      mode, which the engine checks are finite after each epoch (a
      :class:`~skdisent.base.BaseDisentangler`'s ``score`` is their mean).

    It may also override ``_input_layout`` (other layouts, e.g. videos),
    ``_initial_schedule()``, ``_epoch_start(epoch)``, ``_epoch_record(data, device)``
    and ``_stage_end()`` (a schedule), ``_check_training_plan(n_samples)`` (warnings
    about settings), ``_validate_fit_inputs`` with ``_training_data`` (``fit``
    arguments besides ``X``, checked with the fit's likelihood), and ``_fitted_from_network(network)`` (fitted attributes the network
    determines). The fitted attributes a model file keeps are listed in
    ``_fitted_attributes``.

    Besides its own, a subclass takes the parameters ``checkpoint_dir``,
    ``checkpoint_every``, ``on_nan``, ``nan_lr_factor``, ``max_nan_retries`` and
    ``n_threads`` (see ``COMMON_PARAMETERS`` in ``models/_ladder.py``).
    """

    _network_class = None

    #: Fitted attributes a state document keeps (those set), besides ``history_``.
    _fitted_attributes = ("n_features_in_", "feature_names_in_", "layout_", "input_shape_",
                          "input_dtype_", "n_iter_", "n_steps_")

    _parameter_constraints: ClassVar[dict] = {
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "image_shape": [None, tuple, list],
        "device": [str],
        "precision": [StrOptions({"fp32", "bf16"})],
        "compile": ["boolean"],
        "warm_start": ["boolean"],
        "checkpoint_dir": [None, str, os.PathLike],
        "checkpoint_every": [Interval(Integral, 1, None, closed="left")],
        "on_nan": [StrOptions({"raise", "reduce_lr"})],
        "nan_lr_factor": [Interval(Real, 0, 1, closed="neither")],
        "max_nan_retries": [Interval(Integral, 0, None, closed="left")],
        "n_threads": [None, Interval(Integral, 1, None, closed="left"),
                      Interval(Integral, None, -1, closed="right")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the model to ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W), (n_samples, H, W) or (n_samples, n_features)
            Training data. ``uint8`` is read as 0..255; floats must lie in [0, 1]
            for a Bernoulli likelihood. Flat rows are reshaped to ``image_shape``
            when it is set, and use a dense network otherwise.
        y : Ignored
            Accepted so that factors or labels can ride along in pipelines.

        Returns
        -------
        self : object
            The fitted model.
        """
        return self._fit(X)

    @with_threads
    def _fit(self, X, **fit_inputs):
        """``fit``'s body, holding ``checkpoint_dir`` when there is one."""
        if self.checkpoint_dir is None:
            return self._fit_held(X, **fit_inputs)
        with folder_lock(self.checkpoint_dir):
            return self._fit_held(X, **fit_inputs)

    def _fit_held(self, X, **fit_inputs):
        """Validate, set up or resume the fitted state, and train."""
        resume = self.warm_start and (hasattr(self, "network_") or self._resume_from_checkpoint())
        X = validate_input(self, X, reset=not resume, min_samples=2)
        likelihood = likelihood_for(self, X, reset=not resume)  # X's values checked against it
        layout = self._input_layout(X)
        if resume and layout != self.layout_:
            raise ValueError(
                f"warm_start=True needs data of the shape the model was fitted on: one sample "
                f"was {self.layout_.sample_shape}, now {layout.sample_shape}."
            )
        inputs = self._validate_fit_inputs(layout, likelihood=likelihood, **fit_inputs)
        device = resolve_device(self.device)
        if resume:
            self.network_.to(device)
            self._training.follow(device)
            if self.n_iter_ >= self._n_epochs_total():
                warn(f"fit with warm_start=True has nothing to do: the model has run "
                     f"{self.n_iter_} epochs, its whole budget of {self._n_epochs_total()}. "
                     "Raise the number of epochs to train on, or set warm_start=False to "
                     "start again.")
        else:
            self._initialize(layout, device, X, likelihood)
        data = self._training_data(BatchSource(X, layout), **inputs)
        Trainer(self, device, self._callbacks()).fit(data, self._n_epochs_total())
        return self

    def _initialize(self, layout, device, X, likelihood):
        """Set up the fitted state of a fresh fit on ``X``: network, generators, optimisers..."""
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        generator = torch.Generator().manual_seed(seed)
        noise_generator = device_generator(device, seed + 1)
        self.layout_ = layout
        self.input_shape_ = layout.sample_shape
        self.input_dtype_ = X.dtype.name
        if likelihood is not None:
            self.likelihood_ = likelihood
        self.network_ = build_on_meta(lambda: self._build_network(layout), device, generator,
                                      getattr(self, "initialization", "torch"))
        vars(self).update(self._fitted_from_network(self.network_))
        self._training = TrainingState(generator, noise_generator,
                                       self._build_optimizers(self.network_),
                                       schedule=self._initial_schedule())
        self.history_ = []
        self.n_iter_ = 0
        self.n_steps_ = 0
        self._compiled = None

    def _callbacks(self):
        """The parts around the training step, from this estimator's parameters."""
        callbacks = []
        if self.on_nan == "reduce_lr":
            callbacks.append(RetryNonFinite(self.nan_lr_factor, self.max_nan_retries))
        if self.checkpoint_dir is not None:
            callbacks.append(Checkpoints(self.checkpoint_dir, self.checkpoint_every,
                                         serialize=self._model_file_bytes,
                                         stage_end=self._stage_end))
        if self.verbose:
            callbacks += [PrintEpochs(), ProgressBar()]
        callbacks.extend(active_extra_callbacks())
        return callbacks

    def _resume_from_checkpoint(self):
        """Load ``checkpoint_dir``'s newest checkpoint into this unfitted model; whether one was."""
        path = resume_from_checkpoint(self, self.checkpoint_dir) if self.checkpoint_dir else None
        if path is not None and self.verbose:
            print(f"[{type(self).__name__}] resuming from {path} after epoch {self.n_iter_}",
                  flush=True)
        return path is not None

    def _model_file_bytes(self):
        return model_file_bytes(type(self).__name__, state_document(self))

    # The hooks a model may override (see the class docstring).

    def _validate_fit_inputs(self, layout, likelihood=None):
        """Check ``fit``'s other arguments against the layout and likelihood; a dict of them."""
        return {}

    def _training_data(self, source, **inputs):
        """What the epochs run over: ``source`` (the rows of ``X``) by default."""
        return source

    def _fitted_from_network(self, network):
        """Fitted attributes the network determines (a ladder's ``latent_dims_``...)."""
        return {}

    def _initial_schedule(self):
        """The model's own counters at the start of a fit, kept in its training state."""
        return {}

    def _check_training_plan(self, n_samples):
        """Warn about settings that make no sense for ``n_samples``; nothing by default."""

    def _epoch_start(self, epoch):
        """Called before each epoch (0-based) with the schedule's counters current."""

    def _epoch_record(self, data, device):
        """Entries for the record of the epoch that just ended (``n_iter_`` counts it)."""
        return {}

    def _stage_end(self):
        """Whether the epoch that just ended closes a stage of the schedule.

        A checkpoint is written there whatever ``checkpoint_every`` says; ProVLAE
        says True at the end of each progressive step. False by default.
        """
        return False

    def _compiled_function(self, name, function, options=None):
        """``function`` (``network_`` or one of its methods) compiled when ``compile=True``.

        Each is compiled once per network and kept in ``_compiled``, never pickled,
        so that later fits and inference calls of the same network reuse it.
        ``options`` are inductor settings for this compilation.
        """
        if not self.compile:
            return function
        compiled = getattr(self, "_compiled", None)
        if compiled is None or compiled.network is not self.network_:
            compiled = self._compiled = CompiledFunctions(self.network_)
        return compiled.get(name, function, options)

    # ------------------------------------------------------------ validation

    def _validate_X(self, X):
        """Validate ``X`` against the fitted model: sample shape, scale and values."""
        X = validate_input(self, X, reset=False)
        likelihood_for(self, X, reset=False)  # refuses values the likelihood cannot take
        return X

    def _input_layout(self, X):
        """Map ``X``'s layout to the network input: images or flat rows."""
        return input_layout(X, self.image_shape)

    # -------------------------------------------------------- public methods

    def _fitted_source(self, X):
        check_is_fitted(self, "network_")
        X = self._validate_X(X)
        device = resolve_device(self.device, fallback=True)
        self.network_.to(device)
        self.network_.eval()
        return BatchSource(X, self.layout_), device

    @with_threads
    def sample(self, n_samples=1, random_state=None):
        """Generate data by decoding draws from the prior.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws from the prior.

        Returns
        -------
        X : ndarray of shape ``(n_samples, *input_shape_)``, dtype float32
            The likelihood's mean for each draw, in the layout ``fit`` was given.
        """
        return self._sample(n_samples, random_state)

    def _sample(self, n_samples, random_state, **options):
        """:meth:`sample`'s work; ``options`` go to ``_sample_codes`` (NVAE's temperature)."""
        check_is_fitted(self, "network_")
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
        codes = self._sample_codes(int(n_samples), torch.Generator().manual_seed(seed), **options)
        return self._decode_array(codes)

    def _decode_array(self, codes):
        device = resolve_device(self.device, fallback=True)
        self.network_.to(device)
        self.network_.eval()
        with torch.no_grad(), autocast(device, self.precision):
            decoded = stack_rows(
                (self._decode(chunk.to(device)) for chunk in torch.split(codes, INFERENCE_BATCH)),
                len(codes),
            )
        return decoded.reshape(len(decoded), *self.layout_.sample_shape)

    # -------------------------------------------------------------- pickling

    def __getstate__(self):
        return state_document(self)

    def __setstate__(self, state):
        apply_state_document(self, state, source="the pickle", params=True)
