"""NVAE's distributions (``distributions.py`` of NVlabs/NVAE).

- :class:`NVAENormal`: the code's ``Normal``: means and log standard deviations
  soft-clamped to ``[-5, 5]`` (``5 tanh(t / 5)``), ``sigma = exp(log_sigma) + 0.01``,
  times a temperature when sampling; its KL to another is in closed form.
- :class:`DiscretizedLogisticMixture`: the likelihood of 8-bit natural images
  (``DiscMixLogistic``): a mixture of discretised logistics per pixel whose colour
  channels depend linearly on the channels before them, as in PixelCNN++.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DiscretizedLogisticMixture", "NVAENormal", "mixture_channels", "soft_clamp"]


def soft_clamp(x):
    """``5 tanh(x / 5)``: a differentiable clamp to [-5, 5] (the code's ``soft_clamp5``)."""
    return 5.0 * torch.tanh(x / 5.0)


class NVAENormal:
    """A diagonal Gaussian parameterised as in the code.

    Parameters
    ----------
    mu, log_sigma : torch.Tensor
        Raw network outputs; both are soft-clamped.
    temperature : float, default=1.0
        Multiplies the standard deviation.
    """

    def __init__(self, mu, log_sigma, temperature=1.0):
        self.mu = soft_clamp(mu)
        self.sigma = torch.exp(soft_clamp(log_sigma)) + 1e-2
        if temperature != 1.0:
            self.sigma = self.sigma * temperature

    def sample(self, eps):
        """``mu + sigma * eps``."""
        return self.mu + self.sigma * eps

    def log_p(self, z):
        """Log-density of ``z``, element by element."""
        normalized = (z - self.mu) / self.sigma
        return -0.5 * normalized * normalized - 0.5 * math.log(2 * math.pi) - torch.log(self.sigma)

    def kl(self, other):
        """``KL(self || other)``, element by element."""
        term1 = (self.mu - other.mu) / other.sigma
        term2 = self.sigma / other.sigma
        return 0.5 * (term1 * term1 + term2 * term2) - 0.5 - torch.log(term2)


def mixture_channels(image_channels, n_mixtures):
    """Decoder output channels for a mixture of ``n_mixtures`` on 1- or 3-channel images."""
    if image_channels == 3:
        return 10 * n_mixtures
    if image_channels == 1:
        return 3 * n_mixtures
    raise ValueError(f"The discretised logistic mixture models images of 1 or 3 channels; "
                     f"these have {image_channels}. Use likelihood='bernoulli' or 'gaussian'.")


class DiscretizedLogisticMixture(nn.Module):
    """Mixture of discretised logistics for 8-bit images, the code's ``DiscMixLogistic``.

    The decoder outputs, per pixel, ``M`` mixture logits, then for RGB images the
    code's layout ``(3, 3M)``: per channel ``M`` means, ``M`` log-scales (clamped at
    -7) and ``M`` raw coefficients (``tanh``: green depends on red, blue on red and
    green). Grey images (our extension: the code takes RGB only) have ``M`` means and
    ``M`` log-scales. Values are read on [0, 1] and mapped to [-1, 1] with bins of
    ``2 / 255``; the top value uses the upper tail from ``> 0.99``, as the code does: the
    value 254 (0.992 on [-1, 1]) gets that tail too, so that over the 256 values the
    probabilities sum to a little more than 1 (PixelCNN++ reads the tail from
    ``> 0.999``).

    Parameters
    ----------
    n_mixtures : int, default=10
        Components per pixel (the code's ``num_mixture_dec``).
    """

    def __init__(self, n_mixtures=10):
        super().__init__()
        self.n_mixtures = int(n_mixtures)
        self.max_value = 255.0
        self.upper_tail_from = 0.99  # the code's; PixelCNN++'s 0.999 makes exact bins

    def _split(self, output):
        m = self.n_mixtures
        n, _, height, width = output.shape
        logits = output[:, :m]
        channels = 3 if output.shape[1] == 10 * m else 1
        rest = output[:, m:].reshape(n, channels, -1, height, width)
        means = rest[:, :, :m]
        log_scales = torch.clamp(rest[:, :, m:2 * m], min=-7.0)
        coeffs = torch.tanh(rest[:, :, 2 * m:3 * m]) if channels == 3 else None
        return logits, means, log_scales, coeffs

    def log_prob(self, output, x):
        """Log-likelihood of ``x`` (in [0, 1]) per sample, summed over pixels, in nats."""
        logits, means, log_scales, coeffs = self._split(output.float())
        samples = (2.0 * x - 1.0).unsqueeze(2)  # (n, C, 1, H, W)
        if coeffs is not None:
            means = torch.stack([
                means[:, 0],
                means[:, 1] + coeffs[:, 0] * samples[:, 0],
                means[:, 2] + coeffs[:, 1] * samples[:, 0] + coeffs[:, 2] * samples[:, 1],
            ], dim=1)
        centered = samples - means
        inv_stdv = torch.exp(-log_scales)
        plus_in = inv_stdv * (centered + 1.0 / self.max_value)
        min_in = inv_stdv * (centered - 1.0 / self.max_value)
        cdf_delta = torch.sigmoid(plus_in) - torch.sigmoid(min_in)
        log_cdf_plus = plus_in - F.softplus(plus_in)
        log_one_minus_cdf_min = -F.softplus(min_in)
        mid_in = inv_stdv * centered
        log_pdf_mid = mid_in - log_scales - 2.0 * F.softplus(mid_in)
        log_mid = torch.where(cdf_delta > 1e-5, torch.log(torch.clamp(cdf_delta, min=1e-10)),
                              log_pdf_mid - math.log(self.max_value / 2))
        log_probs = torch.where(samples < -0.999, log_cdf_plus,
                                torch.where(samples > self.upper_tail_from, log_one_minus_cdf_min,
                                            log_mid))
        per_pixel = torch.logsumexp(log_probs.sum(dim=1) + F.log_softmax(logits, dim=1), dim=1)
        return per_pixel.flatten(1).sum(dim=1)

    def mean(self, output):
        """The code's ``mean()``: mixture-weighted means through the channel coefficients, on [0, 1]."""
        logits, means, _, coeffs = self._split(output.float())
        weights = torch.softmax(logits, dim=1).unsqueeze(1)  # (n, 1, M, H, W)
        x = (means * weights).sum(dim=2)
        x0 = torch.clamp(x[:, 0], -1.0, 1.0)
        if coeffs is None:
            return (x0.unsqueeze(1) + 1.0) / 2.0
        c = (coeffs * weights).sum(dim=2)
        x1 = torch.clamp(x[:, 1] + c[:, 0] * x0, -1.0, 1.0)
        x2 = torch.clamp(x[:, 2] + c[:, 1] * x0 + c[:, 2] * x1, -1.0, 1.0)
        return (torch.stack([x0, x1, x2], dim=1) + 1.0) / 2.0
