"""Observation models ``p(x | z)`` over decoder outputs."""

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BernoulliLikelihood", "GaussianLikelihood", "make_likelihood"]


class BernoulliLikelihood(nn.Module):
    """Independent Bernoulli pixels; the decoder outputs logits.

    The reference pro-VLAE implementation uses it for every data set, grey or
    colour, with pixel intensities in [0, 1] read as probabilities.
    """

    def log_prob(self, output, x):
        """Log-likelihood of ``x`` per sample, summed over features, in nats."""
        nll = F.binary_cross_entropy_with_logits(output, x, reduction="none")
        return -nll.flatten(1).sum(dim=1)

    def mean(self, output):
        """Expected value of ``x``: the pixel probabilities."""
        return torch.sigmoid(output)


class GaussianLikelihood(nn.Module):
    """Independent Gaussian features with one learned standard deviation.

    The decoder outputs the mean; a single log standard deviation, shared by every
    feature, is learned with the network (the "optimal sigma" of Rybkin et al. 2021),
    so the balance between reconstruction and KL does not hinge on the data's scale.
    """

    def __init__(self):
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(()))

    def reset_parameters(self):
        """Start at unit standard deviation."""
        with torch.no_grad():
            self.log_scale.zero_()

    def log_prob(self, output, x):
        """Log-likelihood of ``x`` per sample, summed over features, in nats."""
        log_scale = self.log_scale.float()
        z = (x - output) * torch.exp(-log_scale)
        per_feature = -0.5 * z.pow(2) - log_scale - 0.5 * math.log(2 * math.pi)
        return per_feature.flatten(1).sum(dim=1)

    def mean(self, output):
        """Expected value of ``x``: the decoder output itself."""
        return output


def make_likelihood(name):
    """Return the likelihood module called ``name`` ("bernoulli" or "gaussian")."""
    if name == "bernoulli":
        return BernoulliLikelihood()
    if name == "gaussian":
        return GaussianLikelihood()
    raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {name!r}.")
