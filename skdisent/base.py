"""The estimator shell every skdisent model shares.

:class:`BaseDisentangler` turns a torch network into a scikit-learn transformer: it
validates the input in each layout of DESIGN.md, picks the device, seeds every random
draw from ``random_state`` through local generators, runs the training loop over data
that stays in its own dtype (``uint8`` images become float one batch at a time), keeps
``history_``, and pickles without GPU tensors. A model subclass says what its network is
and what one training step does; the shell does the rest.
"""

import copy
import hashlib
import os
import pathlib
import time
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import _checkpoint
from ._state_copy import FlatStateCopy
from .nn.init import build_on_meta

__all__ = ["BaseDisentangler", "NonFiniteLossError"]

_INFERENCE_BATCH = 512

# Steps between two reads of the losses' finiteness on a GPU (see BaseDisentangler._check_finite).
_FINITE_CHECK_EVERY = 32


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss.

    The model that raised it keeps the weights, optimiser state and history of its
    last completed epoch, so it can still transform, be saved, or be refitted with
    ``warm_start=True`` and a lower learning rate.
    """


@dataclass(frozen=True)
class InputLayout:
    """How a user's ``X`` maps onto the network's input.

    Attributes
    ----------
    sample_shape : tuple of int
        Shape of one sample as the user gave it (``X.shape[1:]``).
    network_shape : tuple of int
        Shape of one sample as the network sees it: ``(C, H, W)`` or ``(n_features,)``.
    """

    sample_shape: tuple
    network_shape: tuple

    @property
    def is_image(self):
        """Whether the network is convolutional."""
        return len(self.network_shape) >= 3


class BatchSource:
    """Float batches cut from an array that keeps its own dtype.

    ``uint8`` data are read as 0..255 and scaled to [0, 1]; other dtypes are used as
    they are. Only the rows of one batch are ever copied or converted.

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)
        The data, in the user's layout.
    layout : InputLayout
        How one sample maps onto the network's input.
    """

    def __init__(self, X, layout):
        self.X = X
        self.layout = layout
        self.scale = 1.0 / 255.0 if X.dtype == np.uint8 else None

    def __len__(self):
        return self.X.shape[0]

    def batch(self, indices, device):
        """Rows ``indices`` as a float32 tensor of shape ``(len(indices), *network_shape)``."""
        rows = torch.from_numpy(np.take(self.X, np.asarray(indices), axis=0))
        if device.type == "cuda":
            # From page-locked memory the copy runs asynchronously, in the data's own dtype
            # (a quarter of float32's bytes for uint8); the conversion happens on the GPU.
            rows = rows.pin_memory()
        tensor = rows.to(device, non_blocking=True)
        tensor = tensor.reshape(len(rows), *self.layout.network_shape).float()
        return tensor.mul_(self.scale) if self.scale is not None else tensor

    def batches(self, device, batch_size=_INFERENCE_BATCH):
        """Every row in order, ``batch_size`` rows at a time."""
        for start in range(0, len(self), batch_size):
            yield self.batch(np.arange(start, min(start + batch_size, len(self))), device)


def stack_rows(blocks, n_rows, dtype=np.float32):
    """Stack consecutive blocks of rows into arrays allocated once, written in place.

    What ``transform`` and the other batched inference methods return is built this
    way rather than by concatenating a list of per-batch results at the end: that
    list holds one small allocation per batch for the whole pass while the large
    batches come and go, which fragments the C heap so that each batch leaves its
    buffer behind (the eager fp32 ``transform`` of the full dSprites grid peaked at
    13.4 GiB; written in place, see ``benchmarks/README.md``). It also saves the
    final copy.

    Parameters
    ----------
    blocks : iterable of torch.Tensor or of tuples of torch.Tensor
        Consecutive blocks of rows (one per batch, on any device, of any float
        type); a tuple per block fills as many arrays.
    n_rows : int
        Rows of all blocks together.
    dtype : numpy dtype, default=np.float32
        Type of the arrays.

    Returns
    -------
    arrays : ndarray or tuple of ndarray
        One array of shape ``(n_rows, *block.shape[1:])`` per tensor of a block; a
        single array when the blocks are tensors.
    """
    arrays, start = None, 0
    for block in blocks:
        parts = block if isinstance(block, tuple) else (block,)
        if arrays is None:
            arrays = tuple(np.empty((n_rows, *part.shape[1:]), dtype=dtype) for part in parts)
        stop = start + len(parts[0])
        if stop > n_rows:
            raise RuntimeError(f"Expected blocks of {n_rows} rows in all, got more.")
        for array, part in zip(arrays, parts):
            array[start:stop] = part.float().cpu().numpy()
        start = stop
    if arrays is None or start != n_rows:
        raise RuntimeError(f"Expected blocks of {n_rows} rows in all, got {start}.")
    return arrays if isinstance(block, tuple) else arrays[0]


def training_batches(order, batch_size):
    """Split a permutation into batches of ``batch_size``.

    A last batch of a single sample is left out of this epoch: batch-norm cannot
    train on one sample, and the shuffle gives that sample its turn in other epochs.
    """
    batches = list(torch.split(order, batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches.pop()
    return batches


class BaseDisentangler(TransformerMixin, BaseEstimator):
    """Base class of the skdisent models: a scikit-learn transformer over a torch network.

    Subclasses set their own ``__init__`` parameters (which must include those in
    ``_parameter_constraints`` below) and implement:

    - ``_network_class``: the torch module's class, rebuilt from its ``config`` on unpickling;
    - ``_n_epochs_total()``: how many epochs a full fit runs;
    - ``_build_network(layout)``: the torch module, built from the layout;
    - ``_build_optimizers(network)``: a dict of optimisers;
    - ``_train_step(x)``: one optimisation step on a float batch; it calls
      :meth:`_step` for each optimiser and returns a dict of detached per-sample
      means to record in ``history_``;
    - ``_encode(x)``, ``_decode(codes)``, ``_elbo(x, generator)``,
      ``_sample_codes(n, generator)`` and ``_feature_names()`` for the public methods.

    It may also override ``_input_layout`` (other layouts, e.g. videos),
    ``_epoch_start(epoch)`` / ``_epoch_record()`` for schedules,
    ``_at_stage_end()`` to checkpoint at the end of a schedule's stages, and
    ``_check_values(X)`` for value constraints.

    Besides its own, a subclass takes the parameters ``checkpoint_dir``,
    ``checkpoint_every``, ``on_nan``, ``nan_lr_factor`` and ``max_nan_retries``
    (see ``COMMON_PARAMETERS`` in ``models/_ladder.py``).
    """

    # Counters a schedule depends on; restored with the weights when an epoch is rolled back.
    _resumable_attributes = ("n_iter_", "n_steps_")

    _parameter_constraints: dict = {
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
        resume = self.warm_start and (hasattr(self, "network_") or self._resume_from_checkpoint())
        X = self._validate_X(X, reset=not resume, min_samples=2)
        layout = self._input_layout(X)
        if resume and layout != self.layout_:
            raise ValueError(
                f"warm_start=True needs data of the shape the model was fitted on: one sample "
                f"was {self.layout_.sample_shape}, now {layout.sample_shape}."
            )
        device = self._resolve_device()
        if not resume:
            self._initialize(layout, device)
        else:
            self.network_.to(device)
        self._begin_fit(device, resume)
        self._train(BatchSource(X, layout), device)
        return self

    def _initialize(self, layout, device):
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self._rng = torch.Generator().manual_seed(seed)
        self._noise_rng = _device_generator(device, seed + 1)
        self.layout_ = layout
        self.input_shape_ = layout.sample_shape
        self.network_ = build_on_meta(lambda: self._build_network(layout), device, self._rng)
        self._optimizers = self._build_optimizers(self.network_)
        self.history_ = []
        self.n_iter_ = 0
        self.n_steps_ = 0
        self._compiled = None
        self._lr_scale = 1.0
        self._nan_retries = 0
        self._checkpoint_last = None

    def _train(self, source, device):
        n_epochs = self._n_epochs_total()
        if self.n_iter_ < n_epochs:
            self._check_training_plan(len(source))
        while self.n_iter_ < n_epochs:
            snapshot = self._snapshot()
            try:
                self._run_epoch(source, device)
            except NonFiniteLossError as error:
                self._restore(snapshot)
                if self._lower_learning_rate_after(error):
                    continue
                self._checkpoint_on_stop()
                raise NonFiniteLossError(
                    f"{error} The model keeps the weights of its last completed epoch "
                    f"({self.n_iter_}); {self._non_finite_advice()}"
                ) from None
            except KeyboardInterrupt:
                self._restore(snapshot)
                self._stop_on_interrupt(n_epochs)
                return
            try:
                self._end_epoch(n_epochs)
            except KeyboardInterrupt:
                self._stop_on_interrupt(n_epochs)
                return

    def _run_epoch(self, source, device):
        self.network_.train()
        self._epoch_start(self.n_iter_)
        order = torch.randperm(len(source), generator=self._rng)
        totals, n_seen = {}, 0
        self._nonfinite_pending = None
        started = time.perf_counter()
        for indices in training_batches(order, self.batch_size):
            x = source.batch(indices, device)
            with self._autocast(device):
                stats = self._train_step(x)
            self.n_steps_ += 1
            for key, value in stats.items():
                totals[key] = totals.get(key, 0.0) + value.detach().float() * len(indices)
            n_seen += len(indices)
        self._flush_finite_check()
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # the epoch's time includes its queued work
        seconds = time.perf_counter() - started
        self.n_iter_ += 1
        record = {"epoch": self.n_iter_, "n_steps": self.n_steps_}
        record.update(self._epoch_record())
        for key, total in totals.items():
            mean = (total / n_seen).cpu()
            if mean.ndim == 0:
                record[key] = float(mean)
            else:
                record.update({f"{key}_{i + 1}": float(v) for i, v in enumerate(mean)})
        record["time"] = seconds
        record["images_per_s"] = n_seen / seconds if seconds > 0 else float("inf")
        self.history_.append(record)
        if self.verbose:
            shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()}
            print(f"[{type(self).__name__}] {shown}", flush=True)

    def _check_training_plan(self, n_samples):
        """Warn about settings that make no sense for ``n_samples``; nothing by default."""

    def _epoch_start(self, epoch):
        """Called before each epoch (0-based) with the schedule's counters current."""

    def _epoch_record(self):
        """Schedule fields for the history record of the epoch that just ended."""
        return {}

    def _step(self, loss, optimizer):
        """Back-propagate ``loss`` and step ``optimizer``, refusing a non-finite loss."""
        self._check_finite(loss)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def _check_finite(self, loss):
        """Raise :class:`NonFiniteLossError` for a NaN or infinite ``loss``.

        On the CPU each loss is checked at once (reading it costs nothing there). On a
        GPU, reading a loss would make the host wait for the device at every step, so
        the losses' finiteness is gathered on the device and read every
        ``_FINITE_CHECK_EVERY`` steps and at the end of the epoch; the steps in
        between are rolled back with the rest of the epoch all the same.
        """
        loss = loss.detach()
        if not self._defer_finite_check(loss.device):
            if not torch.isfinite(loss):
                raise NonFiniteLossError(
                    f"Training produced a non-finite loss ({float(loss):.4g}) at epoch "
                    f"{self.n_iter_ + 1}, step {self.n_steps_ + 1}."
                )
            return
        bad, step = ~torch.isfinite(loss), self.n_steps_ + 1
        pending = getattr(self, "_nonfinite_pending", None)
        if pending is not None:
            bad = bad | pending[0]
        first = step if pending is None else pending[1]
        self._nonfinite_pending = (bad, first, step)
        if step - first + 1 >= _FINITE_CHECK_EVERY:
            self._flush_finite_check()

    def _defer_finite_check(self, device):
        """Whether losses on ``device`` are checked in groups (see :meth:`_check_finite`)."""
        return device.type != "cpu"

    def _flush_finite_check(self):
        """Read the finiteness gathered since the last check; raise if a loss was not."""
        pending = getattr(self, "_nonfinite_pending", None)
        self._nonfinite_pending = None
        if pending is not None and bool(pending[0]):
            raise NonFiniteLossError(
                f"Training produced a non-finite loss at epoch {self.n_iter_ + 1}, between "
                f"steps {pending[1]} and {pending[2]}."
            )

    def _snapshot(self):
        copier = getattr(self, "_epoch_snapshot", None) or FlatStateCopy()
        self._epoch_snapshot = copier
        state = {
            "tensors": copier.update({
                "network": self.network_.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in self._optimizers.items()},
            }),
            "rng": self._rng.get_state(),
            "noise_rng": self._noise_rng.get_state(),
            "history": len(self.history_),
            "attributes": {name: getattr(self, name) for name in self._resumable_attributes},
        }
        return state

    def _restore(self, state):
        self.network_.load_state_dict(state["tensors"]["network"])
        for key, optimizer in self._optimizers.items():
            load_optimizer_state(optimizer, state["tensors"]["optimizers"][key])
        self._rng.set_state(state["rng"])
        self._noise_rng.set_state(state["noise_rng"])
        for name, value in state["attributes"].items():
            setattr(self, name, value)
        del self.history_[state["history"]:]
        # The optimisers may now hold the copy's own tensors: the next copy is a new one.
        self._epoch_snapshot = None

    # ---------------------------------- resuming, checkpoints, non-finite losses

    def _resume_from_checkpoint(self):
        """Load the newest checkpoint of ``checkpoint_dir`` into this unfitted model.

        Called by a ``fit`` with ``warm_start=True`` on a model that has no fitted
        state in memory; the model keeps its own parameters. Returns whether a
        checkpoint was loaded.
        """
        directory = getattr(self, "checkpoint_dir", None)
        if directory is None:
            return False
        path = _checkpoint.resume_into(self, directory)
        if path is None:
            return False
        self._checkpoint_last = path
        if self.verbose:
            print(f"[{type(self).__name__}] resuming from {path} after epoch {self.n_iter_}",
                  flush=True)
        return True

    def _begin_fit(self, device, resume):
        """Settle the training state on ``device`` before this fit's first epoch."""
        self.__dict__.setdefault("_lr_scale", 1.0)
        self.__dict__.setdefault("_nan_retries", 0)
        self.__dict__.setdefault("_checkpoint_last", None)
        self._epoch_retries = 0
        if resume:
            # Optimiser moments follow their parameters (load_state_dict moves them), and
            # the noise generator must live where the noise is drawn.
            for optimizer in self._optimizers.values():
                load_optimizer_state(optimizer, optimizer.state_dict())
            if not _on_device(self._noise_rng, device):
                self._noise_rng = _device_generator(device, _derived_seed(self._noise_rng))
            if self.n_iter_ >= self._n_epochs_total():
                warnings.warn(
                    f"fit with warm_start=True has nothing to do: the model has run "
                    f"{self.n_iter_} epochs, its whole budget of {self._n_epochs_total()}. "
                    "Raise the number of epochs to train on, or set warm_start=False to "
                    "start again.",
                    UserWarning,
                    stacklevel=4,
                )
        else:
            self._warn_about_earlier_checkpoints()
        self._apply_learning_rate()

    def _apply_learning_rate(self):
        """Set every optimiser's rate from ``learning_rate`` and the reductions so far.

        The rates a fresh ``_build_optimizers`` would give, times the factor left by
        ``on_nan="reduce_lr"``: so a ``learning_rate`` changed with ``set_params``
        takes effect when training resumes with ``warm_start=True``.
        """
        fresh = self._build_optimizers(self.network_)
        for key, optimizer in self._optimizers.items():
            for group, new in zip(optimizer.param_groups, fresh[key].param_groups):
                group["lr"] = new["lr"] * self._lr_scale

    def _lower_learning_rate_after(self, error):
        """After a non-finite loss (the epoch rolled back): lower the rate and retry?"""
        if getattr(self, "on_nan", "raise") != "reduce_lr":
            return False
        if self._nan_retries >= self.max_nan_retries:
            return False
        self._nan_retries += 1
        self._epoch_retries += 1
        self._lr_scale *= self.nan_lr_factor
        self._apply_learning_rate()
        warnings.warn(
            f"{error} Epoch {self.n_iter_ + 1} starts again from the weights of the last "
            f"completed epoch with the learning rate times {self._lr_scale:.4g} (retry "
            f"{self._nan_retries} of max_nan_retries={self.max_nan_retries}).",
            RuntimeWarning,
            stacklevel=5,
        )
        return True

    def _non_finite_advice(self):
        """How to go on after a non-finite loss, for the error message."""
        if getattr(self, "on_nan", "raise") == "reduce_lr":
            return (
                f"{self._nan_retries} retries with a lower learning rate did not help "
                "(max_nan_retries); lower learning_rate further and refit with "
                "warm_start=True, or check the data."
            )
        return (
            "lower learning_rate and refit with warm_start=True, set on_nan='reduce_lr', or "
            "check the data."
        )

    def _end_epoch(self, n_epochs):
        """After a completed epoch: note non-finite retries, write a checkpoint when due."""
        if getattr(self, "on_nan", "raise") == "reduce_lr":
            self.history_[-1]["lr_scale"] = self._lr_scale
            self.history_[-1]["nan_retries"] = self._epoch_retries
        self._epoch_retries = 0
        if getattr(self, "checkpoint_dir", None) is None:
            return
        if (
            self.n_iter_ % self.checkpoint_every == 0
            or self.n_iter_ >= n_epochs
            or self._at_stage_end()
        ):
            self._write_checkpoint()

    def _at_stage_end(self):
        """Whether the epoch that just ended closes a stage of the schedule.

        A checkpoint is written there whatever ``checkpoint_every`` says; ProVLAE
        says True at the end of each progressive step. False by default.
        """
        return False

    def _write_checkpoint(self):
        path = _checkpoint.write_checkpoint(self, self.checkpoint_dir, keep=self._checkpoint_last)
        self._checkpoint_last = path
        return path

    def _checkpoint_on_stop(self):
        """Checkpoint the state a stopped fit keeps, unless that is the newest already."""
        directory = getattr(self, "checkpoint_dir", None)
        if directory is None or self.n_iter_ == 0:
            return None
        path = pathlib.Path(directory) / _checkpoint.checkpoint_name(self.n_iter_)
        last = self._checkpoint_last
        if last is not None and pathlib.Path(last).resolve() == path.resolve():
            return last
        return self._write_checkpoint()

    def _stop_on_interrupt(self, n_epochs):
        path = self._checkpoint_on_stop()
        saved = f", saved in {path}" if path is not None else ""
        warnings.warn(
            f"Training was interrupted; the model keeps its state after epoch {self.n_iter_} "
            f"of {n_epochs}{saved}. Call fit again with warm_start=True to continue.",
            RuntimeWarning,
            stacklevel=5,
        )

    def _warn_about_earlier_checkpoints(self):
        directory = getattr(self, "checkpoint_dir", None)
        if directory is None:
            return
        earlier = _checkpoint.checkpoint_files(directory)
        if earlier:
            warnings.warn(
                f"checkpoint_dir={str(directory)!r} holds checkpoints of an earlier fit (the "
                f"newest: {earlier[-1].name}). This fit starts afresh (warm_start=False) and "
                "deletes them when it writes its first checkpoint; pass warm_start=True to "
                "continue from them instead.",
                UserWarning,
                stacklevel=5,
            )

    def _autocast(self, device):
        return torch.autocast(
            device_type=device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"
        )

    def _network_call(self):
        """The network's training pass, compiled once when ``compile=True``."""
        return self._compiled_function("forward", self.network_)

    def _compiled_function(self, name, function, options=None):
        """``function`` (``network_`` or one of its methods) compiled when ``compile=True``.

        Each is compiled once per network and kept in ``_compiled``, which is never
        pickled. The batch dimension is compiled as dynamic: one compilation serves
        full batches, the shorter last batch of an epoch and inference batches alike
        (on the CPU it runs as fast as a graph specialised to one batch size).
        ``options`` are inductor settings for this compilation.
        """
        if not self.compile:
            return function
        compiled = getattr(self, "_compiled", None)
        if not isinstance(compiled, dict) or compiled.get("network") is not self.network_:
            compiled = self._compiled = {"network": self.network_}
        if name not in compiled:
            compiled[name] = torch.compile(function, dynamic=True, options=options)
        return compiled[name]

    # ------------------------------------------------------------ validation

    def _validate_X(self, X, reset, min_samples=1):
        """Validate ``X`` as scikit-learn does and check its sample shape and values."""
        X = validate_data(
            self,
            X,
            reset=reset,
            allow_nd=True,
            dtype=[np.float32, np.float64, np.uint8],
            ensure_min_samples=min_samples,
            ensure_min_features=1,
        )
        if X.ndim > 2 and 0 in X.shape[1:]:
            raise ValueError(f"X has an empty dimension: shape {X.shape}.")
        if not reset and X.shape[1:] != tuple(self.input_shape_):
            raise ValueError(
                f"X has samples of shape {X.shape[1:]}, but {type(self).__name__} was "
                f"fitted on samples of shape {tuple(self.input_shape_)}."
            )
        self._check_values(X)
        return X

    def _check_values(self, X):
        """Refuse floats outside [0, 1] when the likelihood is Bernoulli."""
        if X.dtype == np.uint8 or getattr(self, "likelihood", "bernoulli") != "bernoulli":
            return
        low, high = float(X.min()), float(X.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"X holds values in [{low:.4g}, {high:.4g}], but a Bernoulli likelihood needs "
                "floats in [0, 1] (or uint8 images in 0..255). Rescale X, pass it as uint8, "
                "or use likelihood='gaussian'."
            )

    def _input_layout(self, X):
        """Map ``X``'s layout to the network input: images or flat rows."""
        sample_shape = tuple(X.shape[1:])
        image_shape = self.image_shape
        if X.ndim == 4:
            network_shape = sample_shape
        elif X.ndim == 3:
            network_shape = (1, *sample_shape)
        elif X.ndim == 2 and image_shape is None:
            network_shape = sample_shape
        elif X.ndim == 2:
            shape = tuple(int(s) for s in image_shape)
            if len(shape) == 2:
                shape = (1, *shape)
            if len(shape) != 3 or min(shape) < 1:
                raise ValueError(
                    f"image_shape must be (H, W) or (C, H, W) of positive sizes, got {image_shape}."
                )
            if int(np.prod(shape)) != sample_shape[0]:
                raise ValueError(
                    f"image_shape {tuple(image_shape)} holds {int(np.prod(shape))} values, but "
                    f"the rows of X have {sample_shape[0]} features."
                )
            network_shape = shape
        else:
            raise ValueError(
                f"X must be flat rows (n_samples, n_features), images (n_samples, H, W) or "
                f"(n_samples, C, H, W); got an array with {X.ndim} dimensions, shape {X.shape}."
            )
        if X.ndim > 2 and image_shape is not None:
            raise ValueError(
                "image_shape is for flat rows only; X already has the image shape "
                f"{sample_shape}. Leave image_shape=None."
            )
        return InputLayout(sample_shape=sample_shape, network_shape=tuple(network_shape))

    def _resolve_device(self, fallback=False):
        """The torch device ``device`` names here.

        With ``fallback=True`` (inference), a CUDA device on a machine without one
        gives the CPU and a warning, so that a model fitted on a GPU works where
        it is loaded; ``fit`` refuses instead.
        """
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            device = torch.device(self.device)
        except (RuntimeError, ValueError):
            raise ValueError(
                f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {self.device!r}."
            ) from None
        if device.type == "cuda" and not torch.cuda.is_available():
            if fallback:
                warnings.warn(
                    f"device={self.device!r}, but no CUDA GPU is available here: the model "
                    "runs on the CPU. Set device='cpu' or 'auto' to silence this warning.",
                    UserWarning,
                    stacklevel=4,
                )
                return torch.device("cpu")
            raise ValueError(
                f"device={self.device!r} was asked for, but no CUDA GPU is available. Set "
                "device='cpu' or 'auto' (e.g. with set_params) to train on this machine."
            )
        return device

    # -------------------------------------------------------- public methods

    def _fitted_source(self, X):
        check_is_fitted(self, "network_")
        X = self._validate_X(X, reset=False)
        device = self._resolve_device(fallback=True)
        self.network_.to(device)
        self.network_.eval()
        return BatchSource(X, self.layout_), device

    def transform(self, X):
        """Encode ``X`` as posterior means.

        Parameters
        ----------
        X : array-like of the layout and sample shape seen in ``fit``
            Data to encode.

        Returns
        -------
        codes : ndarray of shape ``(n_samples, n_components_)``, dtype float32
            Posterior means, levels concatenated from the shallowest to the deepest.
        """
        source, device = self._fitted_source(X)
        with torch.no_grad(), self._autocast(device):
            return stack_rows((self._encode(x) for x in source.batches(device)), len(source))

    def inverse_transform(self, X):
        """Decode codes back to data in the layout ``fit`` was given.

        Parameters
        ----------
        X : array-like of shape ``(n_samples, n_components_)``
            Codes, as returned by :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape ``(n_samples, *input_shape_)``, dtype float32
            The likelihood's mean: pixel probabilities in [0, 1] for a Bernoulli
            likelihood, on the [0, 1] scale for ``uint8`` training data.
        """
        check_is_fitted(self, "network_")
        codes = check_array(X, dtype=[np.float32, np.float64])
        if codes.shape[1] != self.n_components_:
            raise ValueError(
                f"inverse_transform expects codes with {self.n_components_} columns "
                f"(n_components_), got {codes.shape[1]}."
            )
        return self._decode_array(torch.from_numpy(np.asarray(codes, dtype=np.float32)))

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
        check_is_fitted(self, "network_")
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        generator = _seeded_generator(random_state)
        codes = self._sample_codes(int(n_samples), generator)
        return self._decode_array(codes)

    def score(self, X, y=None):
        """Mean evidence lower bound (ELBO) per sample, in nats; higher is better.

        Uses one reparameterised draw per sample from a generator seeded with
        ``random_state``, so repeated calls agree; KL terms use ``beta=1`` (the true
        ELBO, whatever ``beta`` the model was trained with).

        Parameters
        ----------
        X : array-like of the layout and sample shape seen in ``fit``
            Data to score.
        y : Ignored

        Returns
        -------
        score : float
            Mean ELBO per sample.
        """
        source, device = self._fitted_source(X)
        generator = _device_generator(device, _seed_of(self.random_state))
        total = 0.0
        with torch.no_grad(), self._autocast(device):
            for x in source.batches(device):
                total += float(self._elbo(x, generator).sum())
        return total / len(source)

    def get_feature_names_out(self, input_features=None):
        """Names of the latent dimensions, by level.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the names seen in ``fit``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``"<model>_level<l>_z<j>"`` for each latent dimension.
        """
        check_is_fitted(self, "network_")
        if input_features is not None and hasattr(self, "feature_names_in_"):
            if list(input_features) != list(self.feature_names_in_):
                raise ValueError("input_features is not equal to feature_names_in_.")
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}_{name}" for name in self._feature_names()], dtype=object)

    def _decode_array(self, codes):
        device = self._resolve_device(fallback=True)
        self.network_.to(device)
        self.network_.eval()
        with torch.no_grad(), self._autocast(device):
            decoded = stack_rows(
                (self._decode(chunk.to(device)) for chunk in torch.split(codes, _INFERENCE_BATCH)),
                len(codes),
            )
        return decoded.reshape(len(decoded), *self.layout_.sample_shape)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    # -------------------------------------------------------------- pickling

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_compiled", None)
        for name in _TRANSIENT_ATTRIBUTES:
            state.pop(name, None)
        if "network_" in state:
            network = state.pop("network_")
            state["_network_state"] = {
                "config": network.config,
                "weights": {k: v.detach().cpu() for k, v in network.state_dict().items()},
            }
            state["_optimizer_states"] = {
                k: _to_cpu(o.state_dict()) for k, o in state.pop("_optimizers").items()
            }
            noise_rng = state.pop("_noise_rng")
            state["_rng_states"] = {
                "rng": state.pop("_rng").get_state(),
                "noise_rng": noise_rng.get_state(),
                "noise_rng_device": str(noise_rng.device),
            }
        return state

    def __setstate__(self, state):
        network_state = state.pop("_network_state", None)
        optimizer_states = state.pop("_optimizer_states", None)
        rng_states = state.pop("_rng_states", None)
        self.__dict__.update(state)
        self._compiled = None
        if network_state is None:
            return
        network = self._network_class(**network_state["config"])
        network.load_state_dict(network_state["weights"])
        self.network_ = network
        self._optimizers = self._build_optimizers(network)
        for key, optimizer in self._optimizers.items():
            load_optimizer_state(optimizer, optimizer_states[key])
        self._rng = torch.Generator()
        self._rng.set_state(rng_states["rng"])
        self._noise_rng = _restore_generator(
            rng_states["noise_rng"], rng_states.get("noise_rng_device")
        )


def to_device(tensor, device):
    """A small CPU ``tensor`` (gates, weights) on ``device``, without a wait on a GPU.

    A plain copy from ordinary memory to a GPU waits for the work queued on it, once
    per training step; from page-locked memory the copy is queued like the rest.

    Parameters
    ----------
    tensor : torch.Tensor
        On the CPU.
    device : torch.device
        Where it is needed.

    Returns
    -------
    tensor : torch.Tensor
        On ``device``.
    """
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


def load_optimizer_state(optimizer, state):
    """Load ``state`` into ``optimizer``, each moment in the memory layout of its parameter.

    ``Optimizer.load_state_dict`` moves the state to its parameters' device and dtype
    but keeps its strides; a file format that stores tensors contiguously (safetensors)
    thus gives a channels-last weight contiguous moments, and the fused optimiser then
    takes another, not bit-identical, path.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
    state : dict
        An ``optimizer.state_dict()`` of the same parameter groups.
    """
    optimizer.load_state_dict(state)
    for parameter, moments in optimizer.state.items():
        for name, value in moments.items():
            if (isinstance(value, torch.Tensor) and value.shape == parameter.shape
                    and value.stride() != parameter.stride()):
                moments[name] = torch.empty_like(parameter, dtype=value.dtype).copy_(value)


def fused_adam(parameters, **options):
    """``torch.optim.Adam`` in its fused form (one kernel per step) where torch has it.

    The fused step is several times faster than the default one on the CPU (torch
    2.4 and later) and on CUDA, and as deterministic. It assumes that each parameter
    and its optimiser state share a memory layout, which holds as long as parameters
    are not converted to another memory format (e.g. channels-last) after the
    optimiser state exists.

    Parameters
    ----------
    parameters : iterable of torch.nn.Parameter
        What the optimiser updates.
    **options
        Adam's other arguments (``lr``, ``betas``, ...).

    Returns
    -------
    optimizer : torch.optim.Adam
    """
    parameters = list(parameters)
    try:
        return torch.optim.Adam(parameters, fused=True, **options)
    except (RuntimeError, TypeError, ValueError):  # older torch, or a device without it
        return torch.optim.Adam(parameters, **options)


def _to_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cpu(v) for v in value]
    return value


def _seed_of(random_state):
    if isinstance(random_state, Integral):
        return int(random_state)
    return 0


def _seeded_generator(random_state):
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    return torch.Generator().manual_seed(seed)


def _device_generator(device, seed):
    generator = torch.Generator(device=device) if device.type == "cuda" else torch.Generator()
    return generator.manual_seed(int(seed))


# Bookkeeping of one process's fit, never pickled or saved.
_TRANSIENT_ATTRIBUTES = (
    "_checkpoint_last", "_epoch_retries", "_nonfinite_pending", "_epoch_snapshot",
)


def _on_device(generator, device):
    """Whether ``generator`` draws on ``device``."""
    if generator.device.type != device.type:
        return False
    if device.type != "cuda" or device.index is None:
        return True
    return generator.device.index == device.index


def _derived_seed(state):
    """A seed drawn deterministically from a generator or its saved state."""
    if isinstance(state, torch.Generator):
        state = state.get_state()
    digest = hashlib.sha256(state.detach().cpu().contiguous().numpy().tobytes()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _restore_generator(state, device):
    """A generator in ``state``, on its device where there is one, else on the CPU.

    A CUDA generator's state (pickled on a GPU machine) cannot be set on a CPU
    generator. Where no GPU is available, the CPU generator is seeded from that
    state instead: resumed training is then repeatable, but draws other noise than
    it would have on the GPU (as it would anyway: CPU and CUDA draw differently).
    """
    device = torch.device(device or "cpu")
    if device.type == "cuda" and torch.cuda.is_available():
        try:
            generator = torch.Generator(device=device)
            generator.set_state(state)
            return generator
        except (RuntimeError, ValueError):
            pass
    generator = torch.Generator()
    if device.type == "cpu":
        try:
            generator.set_state(state)
            return generator
        except (RuntimeError, ValueError):
            pass  # an older pickle of a CUDA generator, without its device
    return generator.manual_seed(_derived_seed(state))
