"""Information per latent group at the end of a progressive step (the pro-VLAE paper's Fig. 5).

Estimated as :class:`~skdisent.ProVLAE` estimates it: posteriors of evenly spaced rows
of the training data (no random draw of the training is used) and the sampling estimator
:func:`skdisent.metrics.information_per_level` with its own seed.
"""

import numpy as np

from .._data import evenly_spaced_rows
from ..metrics import information_per_level

__all__ = ["information_per_step", "information_record", "step_posteriors"]

#: The most samples of the aggregate posterior drawn at a step end (the reference's
#: 10,000), and the estimator's seed.
INFORMATION_SAMPLES = 10_000
INFORMATION_SEED = 0


def step_posteriors(model, source, device):
    """Posterior means and log-variances (float64) of ``model.information_rows`` rows.

    ``model`` has ``information_rows``, ``batch_size``, ``network_`` and
    ``_posterior_of_batches(batches, device, n_samples, dtype)``; its network is in
    evaluation mode while the rows are encoded, and in training mode afterwards.
    """
    n_rows = len(source) if model.information_rows is None else model.information_rows
    rows = evenly_spaced_rows(len(source), n_rows)
    batches = (source.batch(rows[start:start + model.batch_size], device)
               for start in range(0, len(rows), model.batch_size))
    model.network_.eval()
    try:
        return model._posterior_of_batches(batches, device, len(rows), dtype=np.float64)
    finally:
        model.network_.train()


def information_record(means, logvars, groups, everything, n_groups):
    """``information_<g>`` per group, ``information_total`` and ``information_rows``.

    Parameters
    ----------
    means, logvars : ndarray of shape (n_rows, n_latents)
    groups : list of slice
        Columns of the groups present, in order; the groups after them (up to
        ``n_groups``) are recorded as 0.
    everything : slice
        Columns of ``information_total``.
    n_groups : int
    """
    information = information_per_level(
        means, logvars, [*groups, everything],
        n_samples=min(len(means), INFORMATION_SAMPLES), random_state=INFORMATION_SEED)
    values = [*information[:-1], *[0.0] * (n_groups - len(groups))]
    record = {f"information_{g + 1}": float(v) for g, v in enumerate(values)}
    record.update(information_total=float(information[-1]), information_rows=len(means))
    return record


def information_per_step(history, n_groups):
    """``information_<g>`` of the step-end records of ``history``: (n_steps, n_groups) nats."""
    return np.array([[r[f"information_{g + 1}"] for g in range(n_groups)]
                     for r in history if "information_total" in r],
                    dtype=float).reshape(-1, n_groups)
