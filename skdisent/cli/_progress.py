"""Progress of a fit on standard error, from the epoch records the engine passes on."""

import re

from ..engine import Callback, extra_callbacks
from ._common import notes, progress

__all__ = ["EpochLines", "fit_with_progress"]


class EpochLines(Callback):
    """One short line per epoch: ``epoch 3/9  step 1  recon 45.21  KL 0.02 1.31  12.3 s``.

    At the end of a progressive step (pro-VLAE) a second line gives the information
    per level.

    Parameters
    ----------
    total_epochs : int
        The fit's budget, shown after each epoch's number.
    indent : str, default="    "
    """

    def __init__(self, total_epochs, indent="    "):
        self.total = total_epochs
        self.indent = indent

    def on_epoch_end(self, trainer, record):
        parts = [f"epoch {record.get('epoch', '?')}/{self.total}"]
        if "step" in record:
            parts.append(f"step {record['step']}")
        if "reconstruction" in record:
            parts.append(f"recon {record['reconstruction']:.2f}")
        kls = [record[k] for k in sorted(k for k in record if re.fullmatch(r"kl_\d+", k))]
        if kls:
            parts.append("KL " + " ".join(f"{v:.2f}" for v in kls))
        if "time" in record:
            parts.append(f"{record['time']:.1f} s")
        progress(self.indent + "  ".join(parts))
        information = {k: v for k, v in record.items() if k.startswith("information_")}
        if information:
            shown = ", ".join(f"{k}={v:.3f}" for k, v in information.items())
            progress(f"{self.indent}end of step {record.get('step', '?')}: {shown}")


def fit_with_progress(model, X, total_epochs, quiet=False):
    """Fit ``model`` on ``X``, with a line per epoch unless ``quiet``; warnings become notes."""
    listeners = () if quiet else (EpochLines(total_epochs),)
    with notes(), extra_callbacks(*listeners):
        model.fit(X)
