"""The training engine under every model: one loop, its state, and the parts around it.

- :class:`Trainer` runs the epochs of one fit: batches under autocast, the finite check,
  the roll-back of an epoch that does not complete, and stops on Ctrl-C;
- :class:`TrainingState` holds the generators, optimisers and counters a fit carries
  from one epoch to the next, and what a model file keeps of them;
- :class:`Callback` and its kinds (:class:`PrintEpochs`, :class:`RetryNonFinite`,
  :class:`Checkpoints`) do what surrounds the step; :func:`extra_callbacks` adds
  others to every fit inside a ``with`` block.

The estimators build all of it inside ``fit`` from their plain parameters; the
developer guide (``docs/developer/engine.rst``) shows how a new model plugs in.
What stops a fit is :class:`skdisent.NonFiniteLossError` (defined in ``finite.py``).
"""

from .callbacks import (
    Callback,
    Checkpoints,
    PrintEpochs,
    ProgressBar,
    RetryNonFinite,
    active_extra_callbacks,
    extra_callbacks,
)
from .state import TrainingState
from .trainer import Trainer

__all__ = [
    "Trainer",
    "TrainingState",
    "Callback",
    "PrintEpochs",
    "ProgressBar",
    "RetryNonFinite",
    "Checkpoints",
    "extra_callbacks",
    "active_extra_callbacks",
]
