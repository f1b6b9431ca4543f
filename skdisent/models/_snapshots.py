"""Copies of a model kept at the end of the stages of its schedule (ProVLAE's ``snapshot_steps``).

A snapshot is a fitted estimator of the model's class, built from the model's state
document (what pickling stores) at the end of a stage: the network's weights are
copied into a network of its own on the CPU, the parameters, fitted attributes and
history are copied, and the optimisers' moments are left out (a snapshot is for
inference; they would triple its memory). Nothing of a snapshot refers to the live
model, so training on changes none of them.
"""

import copy

from ..base import BaseDisentangler
from ..engine import Callback

__all__ = ["StageSnapshots", "stage_snapshot"]


class StageSnapshots(Callback):
    """Appends :func:`stage_snapshot` of the model to ``attribute`` after each epoch that ends a stage.

    Parameters
    ----------
    attribute : str
        The model's list of snapshots; created (empty) when missing, so that a fit
        resumed with ``warm_start=True`` appends to the snapshots of the earlier fit.
    **params
        Parameters set on every snapshot (see :func:`stage_snapshot`).
    """

    def __init__(self, attribute, **params):
        self.attribute = attribute
        self.params = params

    def on_epoch_end(self, trainer, record):
        """Snapshot the model when the epoch that just ended closes a stage."""
        model = trainer.model
        if model._stage_end():
            snapshot = stage_snapshot(model, **self.params)
            vars(model).setdefault(self.attribute, []).append(snapshot)


def stage_snapshot(model, **params):
    """An independent fitted copy of ``model`` as it is now, without optimiser state.

    Parameters
    ----------
    model : skdisent estimator
        A fitted model.
    **params
        Parameters set on the copy (ProVLAE sets ``snapshot_steps=False``: snapshots
        do not nest).

    Returns
    -------
    snapshot : estimator of ``type(model)``
        On the CPU; ``transform``, ``inverse_transform``, ``sample`` and ``score``
        give what ``model`` gives now. Its training state has the model's generator
        states and schedule but empty optimisers, so ``fit`` with ``warm_start=True``
        on it trains on with fresh Adam moments: not the continuation the model
        itself would have run.
    """
    document = BaseDisentangler.__getstate__(model)  # the sections alone, no snapshots
    training = dict(document["training"])
    training["optimizers"] = {
        name: {"state": {}, "param_groups": state["param_groups"]}
        for name, state in training["optimizers"].items()
    }
    snapshot = type(model).__new__(type(model))
    # The weights are copied into the snapshot's own network by load_state_dict; the
    # plain sections are copied here, since the document shares them with the model.
    BaseDisentangler.__setstate__(snapshot, {
        "params": {**copy.deepcopy(document["params"]), **params},
        "fitted": copy.deepcopy(document["fitted"]),
        "history": [dict(record) for record in document["history"]],
        "network": document["network"],
        "training": training,
    })
    return snapshot
