"""What happens around the training step: records, retries, checkpoints, progress.

Each part is a :class:`Callback` that the estimators build from their own plain
parameters (``verbose``, ``on_nan``, ``checkpoint_dir`` ...), in the manner of
skorch's and Lightning's callbacks; :func:`extra_callbacks` adds others to every fit
started inside a ``with`` block (the command line's progress lines are one).
"""

import contextlib
import contextvars
import importlib
import pathlib
import sys

from .._warn import warn
from .checkpoints import checkpoint_files, checkpoint_name, write_checkpoint

__all__ = ["Callback", "PrintEpochs", "ProgressBar", "RetryNonFinite", "Checkpoints",
           "extra_callbacks", "active_extra_callbacks"]

_EXTRA = contextvars.ContextVar("skdisent_extra_callbacks", default=())


class Callback:
    """Base class of the parts of a fit that surround its training step.

    A :class:`~skdisent.engine.Trainer` calls each method of each of its callbacks, in
    order; the defaults do nothing. ``trainer.model`` is the estimator being fitted.
    """

    def on_fit_begin(self, trainer):
        """Before the first epoch of a fit (after a resume, with the counters it restored)."""

    def on_epoch_begin(self, trainer):
        """Before each epoch, including an epoch run again after a non-finite loss."""

    def on_batch_end(self, trainer, n_rows):
        """After each batch of ``n_rows`` rows (only called where a callback defines it)."""

    def on_epoch_end(self, trainer, record):
        """After each completed epoch.

        Parameters
        ----------
        trainer : Trainer
        record : dict
            The epoch's record, already the last item of ``history_``; a callback may
            add entries to it.
        """

    def on_nonfinite(self, trainer, error):
        """After a non-finite loss, once the epoch has been rolled back.

        Returns
        -------
        retry : bool
            True to run the epoch again.
        """
        return False

    def nonfinite_advice(self):
        """What to tell the user when a non-finite loss ends the fit; None for the default."""
        return None

    def on_stop(self, trainer, reason):
        """When a fit stops before its end, with the state of its last completed epoch.

        Parameters
        ----------
        trainer : Trainer
        reason : {"interrupted", "nonfinite"}

        Returns
        -------
        path : pathlib.Path or None
            Where the stopped state was saved, if this callback saved it.
        """
        return None

    def on_fit_end(self, trainer):
        """After the last epoch of a fit that ran to its end."""


class PrintEpochs(Callback):
    """Print each epoch's record on one line (``verbose``)."""

    def on_epoch_end(self, trainer, record):
        shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()}
        print(f"[{type(trainer.model).__name__}] {shown}", flush=True)


class ProgressBar(Callback):
    """A bar over each epoch's images, with their rate and the time left, in a terminal.

    Drawn with `tqdm <https://tqdm.github.io>`_ on standard error, and cleared at the
    end of each epoch. It does nothing where standard error is not a terminal (a log
    file, a notebook's captured output, CI) or tqdm is not installed (``pip install
    "skdisent[progress]"``).

    Parameters
    ----------
    file : file object, default=None
        Where to draw; standard error when None.
    """

    def __init__(self, file=None):
        self.file = file if file is not None else sys.stderr
        self._bar = None

    def _tqdm(self):
        isatty = getattr(self.file, "isatty", None)
        if not (isatty and isatty()):
            return None
        try:
            return importlib.import_module("tqdm").tqdm
        except ImportError:
            return None

    def on_epoch_begin(self, trainer):
        self._close()
        tqdm = self._tqdm()
        if tqdm is not None:
            model = trainer.model
            self._bar = tqdm(total=len(trainer.data), unit="img", unit_scale=True, leave=False,
                             file=self.file, dynamic_ncols=True,
                             desc=f"{type(model).__name__} epoch {model.n_iter_ + 1}/"
                                  f"{trainer.n_epochs}")

    def on_batch_end(self, trainer, n_rows):
        if self._bar is not None:
            self._bar.update(n_rows)

    def on_epoch_end(self, trainer, record):
        self._close()

    def on_stop(self, trainer, reason):
        self._close()

    def _close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class RetryNonFinite(Callback):
    """Run an epoch again with lower learning rates after a non-finite loss (``on_nan="reduce_lr"``).

    The factor in use and the count of retries over the model's training live in the
    model's :class:`~skdisent.engine.TrainingState`, so a saved model keeps them; each
    epoch's record gets ``lr_scale`` (the factor) and ``nan_retries`` (its restarts).

    Parameters
    ----------
    factor : float
        In (0, 1): multiplies the learning rates at each retry.
    max_retries : int
        Retries allowed over the model's training.
    """

    def __init__(self, factor, max_retries):
        self.factor = factor
        self.max_retries = max_retries
        self._epoch_retries = 0

    def on_nonfinite(self, trainer, error):
        state = trainer.state
        if state.nan_retries >= self.max_retries:
            return False
        state.nan_retries += 1
        self._epoch_retries += 1
        state.lr_scale *= self.factor
        trainer.apply_learning_rates()
        warn(f"{error} Epoch {trainer.model.n_iter_ + 1} starts again from the weights of the "
             f"last completed epoch with the learning rate times {state.lr_scale:.4g} (retry "
             f"{state.nan_retries} of max_nan_retries={self.max_retries}).", RuntimeWarning)
        return True

    def nonfinite_advice(self):
        return (f"{self.max_retries} retries with a lower learning rate did not help "
                "(max_nan_retries); lower learning_rate further and refit with "
                "warm_start=True, or check the data.")

    def on_epoch_end(self, trainer, record):
        record["lr_scale"] = trainer.state.lr_scale
        record["nan_retries"] = self._epoch_retries
        self._epoch_retries = 0


class Checkpoints(Callback):
    """Write a checkpoint every ``every`` epochs, at stage ends, at the end and on a stop.

    Parameters
    ----------
    directory : path-like
        The ``checkpoint_dir``.
    every : int
        Epochs between checkpoints.
    serialize : callable
        Called with no argument; returns the model file's bytes.
    stage_end : callable
        Called with no argument after each epoch; True when the epoch closes a stage
        of the model's schedule (a checkpoint is written there whatever ``every``
        says).
    """

    def __init__(self, directory, every, serialize, stage_end):
        self.directory = pathlib.Path(directory)
        self.every = every
        self.serialize = serialize
        self.stage_end = stage_end
        self.last = None

    def on_fit_begin(self, trainer):
        epoch = trainer.model.n_iter_
        if epoch > 0:  # a resumed fit keeps the checkpoint of the epoch it resumes from
            path = self.directory / checkpoint_name(epoch)
            self.last = path if path.is_file() else None
            return
        earlier = checkpoint_files(self.directory)
        if earlier:
            warn(f"checkpoint_dir={str(self.directory)!r} holds checkpoints of an earlier fit "
                 f"(the newest: {earlier[-1].name}). This fit starts afresh (warm_start=False) "
                 "and deletes them when it writes its first checkpoint; pass warm_start=True "
                 "to continue from them instead.")

    def on_epoch_end(self, trainer, record):
        epoch = trainer.model.n_iter_
        if epoch % self.every == 0 or epoch >= trainer.n_epochs or self.stage_end():
            self._write(epoch)

    def on_stop(self, trainer, reason):
        epoch = trainer.model.n_iter_
        if epoch == 0:
            return None
        path = self.directory / checkpoint_name(epoch)
        if self.last is not None and self.last.resolve() == path.resolve():
            return self.last
        return self._write(epoch)

    def _write(self, epoch):
        self.last = write_checkpoint(self.serialize(), self.directory, epoch, keep=self.last)
        return self.last


@contextlib.contextmanager
def extra_callbacks(*callbacks):
    """Run ``callbacks`` in every fit started inside the ``with`` block, after the model's own.

    Parameters
    ----------
    *callbacks : Callback

    Examples
    --------
    >>> from skdisent.engine import Callback, extra_callbacks
    >>> class Losses(Callback):
    ...     def __init__(self):
    ...         self.losses = []
    ...     def on_epoch_end(self, trainer, record):
    ...         self.losses.append(record["loss"])
    >>> losses = Losses()
    >>> with extra_callbacks(losses):  # doctest: +SKIP
    ...     model.fit(X)
    """
    token = _EXTRA.set(_EXTRA.get() + tuple(callbacks))
    try:
        yield
    finally:
        _EXTRA.reset(token)


def active_extra_callbacks():
    """The callbacks that :func:`extra_callbacks` adds here and now."""
    return _EXTRA.get()
