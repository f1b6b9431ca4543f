"""NVAE's training regime, as ``train.py`` and ``utils.py`` of NVlabs/NVAE compute it.

Pure functions of the step and the batch's KL terms, so that each can be checked
against the code's formulas on small known cases:

- :func:`kl_coefficient`: the KL warm-up (``utils.kl_coeff``);
- :func:`kl_balance_weights` and :func:`balanced_kl`: KL balancing across groups
  (``utils.kl_balancer_coeff(fun="square")`` and ``utils.kl_balancer``);
- :func:`learning_rate`: linear warm-up per step, then cosine annealing per epoch
  (``train.py``'s warm-up and ``CosineAnnealingLR``, in closed form).
"""

import math

import torch

__all__ = ["balanced_kl", "kl_balance_weights", "kl_coefficient", "learning_rate"]


def kl_coefficient(step, total_steps, anneal_portion, constant_portion, min_coefficient):
    """The KL term's weight at optimisation step ``step`` (0-based).

    ``max(min((step - constant) / anneal, 1), min_coefficient)`` with ``anneal`` and
    ``constant`` the portions of ``total_steps``: near ``min_coefficient`` for the
    first ``constant`` steps, then rising linearly to 1 over ``anneal`` steps. A zero
    ``anneal_portion`` means no warm-up (1 throughout).

    Returns
    -------
    coefficient : float
    """
    anneal = anneal_portion * total_steps
    if anneal <= 0:
        return 1.0
    constant = constant_portion * total_steps
    return max(min((step - constant) / anneal, 1.0), min_coefficient)


def kl_balance_weights(groups_per_scale):
    """The code's ``alpha_i`` (``fun="square"``), one per group in generation order.

    For the ``i``-th scale from the top (0-based) with ``g_i`` groups, ``4 ** i / g_i``,
    divided by the smallest value.

    Parameters
    ----------
    groups_per_scale : sequence of int
        Groups at each scale, finest first (as ``nn.nvae.groups_per_scale``).

    Returns
    -------
    alpha : torch.Tensor of shape (n_groups,)
    """
    counts = list(groups_per_scale)[::-1]
    alpha = torch.cat([torch.full((g,), (2.0 ** i) ** 2 / g) for i, g in enumerate(counts)])
    return alpha / alpha.min()


def balanced_kl(kl, coefficient, alpha, balance=True):
    """The KL part of the loss per sample, and the weights it gave each group.

    While ``coefficient < 1`` (the warm-up) and ``balance`` is on, each group's KL
    is weighted by ``c_g = (mean_batch |KL_g| + 0.01) / alpha_g * sum_h (mean_batch
    |KL_h| + 0.01)``, normalised to mean 1 and held constant in the gradient; after
    the warm-up every weight is 1. The sum is multiplied by ``coefficient``.

    Parameters
    ----------
    kl : torch.Tensor of shape (n, n_groups)
    coefficient : float
        From :func:`kl_coefficient`.
    alpha : torch.Tensor of shape (n_groups,)
        From :func:`kl_balance_weights`.
    balance : bool, default=True

    Returns
    -------
    total : torch.Tensor of shape (n,)
    weights : torch.Tensor of shape (n_groups,)
    """
    if balance and coefficient < 1.0:
        per_group = kl.abs().mean(dim=0, keepdim=True) + 0.01
        weights = per_group / alpha[None] * per_group.sum()
        weights = (weights / weights.mean(dim=1, keepdim=True)).detach()
        return coefficient * (kl * weights).sum(dim=1), weights[0]
    return coefficient * kl.sum(dim=1), torch.ones(kl.shape[1], device=kl.device)


def learning_rate(step, epoch, *, base, minimum, warmup_steps, warmup_epochs, n_epochs):
    """Adamax's learning rate at a step of an epoch (both 0-based).

    ``base * step / warmup_steps`` during the first ``warmup_epochs`` epochs' steps;
    afterwards ``minimum + (base - minimum) (1 + cos(pi k / T)) / 2`` with
    ``k = max(epoch - warmup_epochs, 0)`` and ``T = max(n_epochs - warmup_epochs - 1,
    1)``: the code steps its cosine schedule at the start of each epoch after the
    warm-up ones.

    Returns
    -------
    rate : float
    """
    if step < warmup_steps:
        return base * step / warmup_steps
    k = max(epoch - warmup_epochs, 0)
    period = max(n_epochs - warmup_epochs - 1, 1)
    return minimum + (base - minimum) * (1.0 + math.cos(math.pi * min(k, period) / period)) / 2
