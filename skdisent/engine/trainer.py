"""The training loop every model shares: epochs, batches, roll-back, stops.

:class:`Trainer` is built by ``fit`` for one call and dropped when it returns; it is
never pickled or saved. What the model being trained provides is listed in its
docstring (and, with an example, in the developer guide ``docs/developer/engine.rst``).
"""

import time

import torch

from .._warn import warn
from .callbacks import Callback
from .device import autocast, device_generator
from .finite import FiniteCheck, NonFiniteLossError
from .optim import load_optimizer_state, set_learning_rates
from .state_copy import FlatStateCopy

__all__ = ["Trainer", "training_batches"]

# Rows of an epoch's last batch scored after it: weights grown past what inference holds
# overflow on any row (evaluation mode treats rows apart), and a few cost little.
_CHECKED_ROWS = 8


def training_batches(order, batch_size):
    """Split a permutation into batches of ``batch_size``.

    A last batch of a single sample is left out of this epoch: batch-norm cannot
    train on one sample, and the shuffle gives that sample its turn in other epochs.
    """
    batches = list(torch.split(order, batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches.pop()
    return batches


class Trainer:
    """Runs the epochs of one fit of a model.

    Each epoch shuffles the data with the model's generator, runs the model's step
    on every batch under autocast, and appends a record of the epoch's mean losses to
    ``history_``. An epoch either completes or leaves no trace: before it starts, the
    weights, optimiser and generator states, counters and data position are copied,
    and a non-finite loss or Ctrl-C restores them. Checkpoints, retries and progress
    are :class:`~skdisent.engine.Callback` objects.

    The model is an estimator with

    - ``network_`` (a torch module on ``device``), ``_training`` (its
      :class:`~skdisent.engine.TrainingState`), ``n_iter_`` (epochs run), ``n_steps_``
      (optimisation steps run), ``history_``, and the parameters ``batch_size`` and
      ``precision``;
    - ``_train_batch(batch, trainer)``: one batch's training, calling
      :meth:`optimize` once per optimiser update; returns detached per-sample means
      (scalars or vectors) to record;
    - ``_build_optimizers(network)``: fresh optimisers (their learning rates are read);
    - ``_epoch_start(epoch)`` (before an epoch), ``_epoch_record(data, device)``
      (entries of the record of an epoch that just ended: the schedule's position,
      measurements) and ``_check_training_plan(n_samples)`` (warnings about settings).

    Parameters
    ----------
    model : skdisent estimator
        The model to train, with its state set up for this fit.
    device : torch.device
        Where the network is.
    callbacks : sequence of Callback, default=()
        Called in order.
    """

    def __init__(self, model, device, callbacks=()):
        self.model = model
        self.device = device
        self.callbacks = list(callbacks)
        self.n_epochs = None
        self.data = None
        self._finite = FiniteCheck(device)

    @property
    def state(self):
        """The model's :class:`~skdisent.engine.TrainingState`."""
        return self.model._training

    def apply_learning_rates(self):
        """Set every optimiser's rate from the model's ``learning_rate`` and ``lr_scale``.

        The rates freshly built optimisers would have, times the factor left by
        retries: so a ``learning_rate`` changed with ``set_params`` takes effect when
        training resumes.
        """
        model = self.model
        set_learning_rates(self.state.optimizers, model._build_optimizers(model.network_),
                           self.state.lr_scale)

    def fit(self, data, n_epochs):
        """Train until the model has run ``n_epochs`` epochs.

        A non-finite loss that no callback retries raises
        :class:`~skdisent.engine.NonFiniteLossError`; Ctrl-C returns normally, with a
        warning. Either way the model keeps its last completed epoch.

        Parameters
        ----------
        data : object
            What the epochs run over: ``len(data)`` rows, ``data.batch(indices,
            device)`` the batch of those rows, and optionally ``state_dict()`` and
            ``load_state_dict(state)`` for a position that must roll back with an
            epoch.
        n_epochs : int
            The model's whole budget of epochs.
        """
        model = self.model
        self.n_epochs, self.data = n_epochs, data
        if model.n_iter_ < n_epochs:
            model._check_training_plan(len(data))
        self.apply_learning_rates()
        self._notify("on_fit_begin")
        while model.n_iter_ < n_epochs:
            saved = self._save(data)
            try:
                record = self._run_epoch(data)
            except NonFiniteLossError as error:
                self._restore(saved, data)
                if any(callback.on_nonfinite(self, error) for callback in self.callbacks):
                    continue  # the first callback that retries runs the epoch again
                self._stop("nonfinite")
                raise NonFiniteLossError(
                    f"{error} The model keeps the weights of its last completed epoch "
                    f"({model.n_iter_}); {self._nonfinite_advice()}"
                ) from None
            except KeyboardInterrupt:
                self._restore(saved, data)
                self._stop_on_interrupt()
                return
            try:
                self._notify("on_epoch_end", record)
            except KeyboardInterrupt:
                self._stop_on_interrupt()
                return
        self._notify("on_fit_end")

    def optimize(self, loss, name):
        """Back-propagate ``loss`` and step the optimiser ``name``, refusing a non-finite loss.

        Parameters
        ----------
        loss : torch.Tensor
            A scalar.
        name : str
            A key of the model's optimisers.
        """
        model = self.model
        self._finite.check(loss, epoch=model.n_iter_ + 1, step=model.n_steps_ + 1)
        optimizer = self.state.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def _notify(self, event, *args):
        for callback in self.callbacks:
            getattr(callback, event)(self, *args)

    def _run_epoch(self, data):
        model, device = self.model, self.device
        model.network_.train()
        model._epoch_start(model.n_iter_)
        order = torch.randperm(len(data), generator=self.state.generator)
        batches = training_batches(order, model.batch_size)
        self._notify("on_epoch_begin")
        watching = [c for c in self.callbacks if type(c).on_batch_end is not Callback.on_batch_end]
        totals, n_seen = {}, 0
        self._finite.reset()
        started = time.perf_counter()
        for indices in batches:
            batch = data.batch(indices, device)
            with autocast(device, model.precision):
                stats = model._train_batch(batch, self)
            model.n_steps_ += 1
            for key, value in stats.items():
                totals[key] = totals.get(key, 0.0) + value.detach().float() * len(indices)
            n_seen += len(indices)
            for callback in watching:
                callback.on_batch_end(self, len(indices))
        self._finite.flush(model.n_iter_ + 1)
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # the epoch's time includes its queued work
        seconds = time.perf_counter() - started
        self._check_result(batch)
        model.n_iter_ += 1
        record = {"epoch": model.n_iter_, "n_steps": model.n_steps_}
        record.update(model._epoch_record(data, device))
        for key, total in totals.items():
            mean = (total / n_seen).cpu()
            if mean.ndim == 0:
                record[key] = float(mean)
            else:
                record.update({f"{key}_{i + 1}": float(v) for i, v in enumerate(mean)})
        record["time"] = seconds
        record["images_per_s"] = n_seen / seconds if seconds > 0 else float("inf")
        record["threads"] = torch.get_num_threads()  # results depend on it (float sums)
        model.history_.append(record)
        return record

    def _check_result(self, batch):
        """Refuse an epoch that leaves the model unusable, though every loss was finite.

        The last step of an epoch can make the weights or the optimiser's moments
        non-finite (a NaN gradient), or so large that inference overflows while
        training, normalised by its batch statistics, does not: then ``transform`` and
        ``score`` would give NaN. The state is checked, and the first rows of the epoch's
        last batch are scored as ``score`` does, in evaluation mode with a generator of
        its own (no training draw is used, no statistic updated).
        """
        model, epoch = self.model, self.model.n_iter_ + 1
        tensors = [*model.network_.state_dict().values(),
                   *(value for optimizer in self.state.optimizers.values()
                     for moments in optimizer.state.values() for value in moments.values())]
        finite = [torch.isfinite(t).all() for t in tensors if t.is_floating_point()]
        if not bool(torch.stack(finite).all()):
            raise NonFiniteLossError(
                f"Training made the weights or the optimiser's state non-finite in epoch {epoch}."
            )
        x = batch[0] if isinstance(batch, tuple) else batch  # objects first, extras after
        x = x[:_CHECKED_ROWS]
        model.network_.eval()
        try:
            with torch.no_grad(), autocast(self.device, model.precision):
                scores = model._score_batch(x, device_generator(self.device, 0))
        finally:
            model.network_.train()
        if not bool(torch.isfinite(scores).all()):
            raise NonFiniteLossError(
                f"After epoch {epoch} the model gives non-finite results in evaluation mode "
                "(transform and score would be NaN): its weights grew beyond what float32 "
                "inference can hold."
            )

    # ------------------------------------------------------------ roll-back

    def _save(self, data):
        """Copy what an epoch changes, to restore if it does not complete."""
        model, state = self.model, self.state
        return {
            "tensors": state.rollback_copy.update({
                "network": model.network_.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in state.optimizers.items()},
            }),
            "generator": state.generator.get_state(),
            "noise_generator": state.noise_generator.get_state(),
            "schedule": dict(state.schedule),
            "counters": (model.n_iter_, model.n_steps_, len(model.history_)),
            "data": data.state_dict() if hasattr(data, "state_dict") else None,
        }

    def _restore(self, saved, data):
        model, state = self.model, self.state
        model.network_.load_state_dict(saved["tensors"]["network"])
        for key, optimizer in state.optimizers.items():
            load_optimizer_state(optimizer, saved["tensors"]["optimizers"][key])
        state.generator.set_state(saved["generator"])
        state.noise_generator.set_state(saved["noise_generator"])
        state.schedule = saved["schedule"]
        model.n_iter_, model.n_steps_, n_records = saved["counters"]
        del model.history_[n_records:]
        if saved["data"] is not None:
            data.load_state_dict(saved["data"])
        self._finite.reset()
        # The optimisers may now hold the copy's own tensors: the next copy is a new one.
        state.rollback_copy = FlatStateCopy()

    # ---------------------------------------------------------------- stops

    def _stop(self, reason):
        """Tell the callbacks; return where the stopped state was saved, if anywhere."""
        paths = [callback.on_stop(self, reason) for callback in self.callbacks]
        return next((path for path in paths if path is not None), None)

    def _stop_on_interrupt(self):
        path = self._stop("interrupted")
        saved = f", saved in {path}" if path is not None else ""
        warn(f"Training was interrupted; the model keeps its state after epoch "
             f"{self.model.n_iter_} of {self.n_epochs}{saved}. Call fit again with "
             "warm_start=True to continue.", RuntimeWarning)

    def _nonfinite_advice(self):
        for callback in self.callbacks:
            advice = callback.nonfinite_advice()
            if advice is not None:
                return advice
        return ("lower learning_rate and refit with warm_start=True, set on_nan='reduce_lr', "
                "or check the data.")
