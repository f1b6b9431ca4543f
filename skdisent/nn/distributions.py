"""Diagonal Gaussian posteriors: sampling, KL to the standard normal, entropy."""

import math

import torch

__all__ = ["reparameterize", "kl_to_standard_normal", "gaussian_entropy"]


def reparameterize(mu, logvar, generator=None):
    """Draw ``z = mu + sigma * eps`` with ``eps ~ N(0, I)`` from ``generator``.

    Parameters
    ----------
    mu, logvar : torch.Tensor of shape (n, d)
        Posterior means and log-variances.
    generator : torch.Generator, default=None
        Source of ``eps``, on ``mu``'s device.

    Returns
    -------
    z : torch.Tensor of shape (n, d)
    """
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_to_standard_normal(mu, logvar):
    """``KL(N(mu, diag exp(logvar)) || N(0, I))`` per sample, in nats.

    Parameters
    ----------
    mu, logvar : torch.Tensor of shape (n, d)

    Returns
    -------
    kl : torch.Tensor of shape (n,)
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def gaussian_entropy(logvar):
    """Differential entropy of ``N(., diag exp(logvar))`` per sample, in nats.

    Parameters
    ----------
    logvar : torch.Tensor of shape (n, d)

    Returns
    -------
    entropy : torch.Tensor of shape (n,)
    """
    return 0.5 * (logvar + 1.0 + math.log(2 * math.pi)).sum(dim=1)
