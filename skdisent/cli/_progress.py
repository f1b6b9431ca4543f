"""A fit as the command line runs it: progress on standard error, Ctrl-C ends the command.

In Python, Ctrl-C during ``fit`` keeps the model at its last completed epoch and returns
(the estimators' documented behaviour); on the command line the first Ctrl-C ends the
whole command with status 130, after the fit has written a checkpoint that the same
command, run again, resumes from.
"""

import re
import shutil
import warnings

from ..engine import Callback, ProgressBar, extra_callbacks
from ._common import notes, progress

__all__ = ["Interrupted", "EpochLines", "fit_with_progress"]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a fit; the message says where it can resume from."""


class EpochLines(Callback):
    """One short line per epoch: ``epoch 3/9  step 1  recon 45.21  KL 0.02 1.31  12.3 s``.

    When the record has the information per level (pro-VLAE at the end of a
    progressive step, NVAE after each epoch) a second line gives it. Both KL and
    information are estimates of quantities that cannot be negative; rounding and Monte
    Carlo noise take them a little below 0, and they are shown as 0.

    Parameters
    ----------
    total_epochs : int or None
        The fit's budget, shown after each epoch's number; None shows each fit's own.
    indent : str, default="    "
    """

    def __init__(self, total_epochs, indent="    "):
        self.total = total_epochs
        self.indent = indent

    def on_epoch_end(self, trainer, record):
        total = self.total if self.total is not None else trainer.n_epochs
        parts = [f"epoch {record.get('epoch', '?')}/{total}"]
        if "step" in record:
            parts.append(f"step {record['step']}")
        if "reconstruction" in record:
            parts.append(f"recon {record['reconstruction']:.2f}")
        kls = [record[k] for k in sorted((k for k in record if re.fullmatch(r"kl_\d+", k)),
                                         key=lambda k: int(k[3:]))]
        if kls:
            parts.append("KL " + " ".join(f"{max(v, 0.0):.2f}" for v in kls))
        if "time" in record:
            parts.append(f"{record['time']:.1f} s")
        progress(self.indent + "  ".join(parts))
        information = {k: v for k, v in record.items()
                       if k.startswith("information_") and k != "information_rows"}
        if information:
            shown = ", ".join(f"{k}={max(v, 0.0):.3f}" for k, v in information.items())
            where = f"end of step {record['step']}" if "step" in record else "information"
            progress(f"{self.indent}{where}: {shown}")


class _Stops(Callback):
    """Notes why a fit stopped before its end."""

    reason = None

    def on_stop(self, trainer, reason):
        self.reason = reason


def fit_with_progress(model, X, total_epochs, *, quiet=False, checkpoints=None, indent="    "):
    """Fit ``model`` on ``X`` as a command does: progress lines and bar, notes, Ctrl-C.

    Parameters
    ----------
    model : skdisent estimator
    X : array-like
    total_epochs : int
        The fit's budget, shown in the progress lines.
    quiet : bool, default=False
        No progress lines or bar (notes and errors still show).
    checkpoints : path-like, default=None
        A folder for the fit's checkpoints: a checkpoint there of the same fit is resumed,
        Ctrl-C leaves one, and a finished fit removes the folder. The model's
        ``checkpoint_dir`` and ``warm_start`` are as given again afterwards.
    indent : str, default="    "

    Raises
    ------
    Interrupted
        After Ctrl-C, once the model keeps its last completed epoch.
    """
    params = model.get_params()
    if checkpoints is not None:
        model.set_params(checkpoint_dir=str(checkpoints), warm_start=True)
    stops = _Stops()
    listeners = [stops] + ([] if quiet else [EpochLines(total_epochs, indent), ProgressBar()])
    try:
        with notes(indent), extra_callbacks(*listeners), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Training was interrupted")
            model.fit(X)
    finally:
        model.set_params(checkpoint_dir=params["checkpoint_dir"], warm_start=params["warm_start"])
    if stops.reason == "interrupted":
        where = (f"; run the same command again to continue from the checkpoint in {checkpoints}"
                 if checkpoints is not None and model.n_iter_ > 0 else "")
        raise Interrupted(f"interrupted after epoch {model.n_iter_} of {total_epochs}{where}")
    if checkpoints is not None:
        shutil.rmtree(checkpoints, ignore_errors=True)
