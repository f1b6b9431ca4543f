"""NVAE's network (Vahdat and Kautz 2020): ``AutoEncoder`` of NVlabs/NVAE's ``model.py``.

A bidirectional encoder and a top-down generative model share one tower of groups of
spatial latents at several scales. The encoder runs bottom-up (stem, pre-processing
cells, then per scale its cells, with a combiner cell stored before each group); the
decoder starts from a learned feature map at the top, and for each group forms the
prior from its features, the posterior from the stored encoder features combined with
them (residual Normal: ``q = N(mu_p + dmu, sigma)``, log-sigmas added), draws ``z``
and combines it into its features; post-processing cells and a last convolution give
the likelihood's parameters.

Here the groups are listed in generation order (the top group first); the estimator
numbers them from the data up. Differences from the code: the normalising flows
(``num_nf``) and the code's memory savings (checkpointing, fused kernels) are left
out; the model pads an image whose sides are not multiples of ``2 ** (process_blocks
+ n_scales - 1)`` symmetrically with zeros and crops the decoder's output (the code
pads 28x28 MNIST to 32x32 and crops the same way), and reads flat rows as one-row
images; one ``channels`` serves encoder and decoder, one ``cells_per_group``,
``process_blocks`` and ``process_cells`` both directions.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .likelihoods import make_likelihood
from .nvae_cells import Cell, DecoderCombiner, EncoderCombiner, WeightNormConv2d
from .nvae_distributions import DiscretizedLogisticMixture, NVAENormal, mixture_channels

__all__ = ["NVAENetwork", "groups_per_scale"]


def groups_per_scale(n_scales, groups, adaptive, minimum=1):
    """Groups at each scale, finest first (the code's ``groups_per_scale``, divider 2)."""
    counts, n = [], int(groups)
    for _ in range(int(n_scales)):
        counts.append(n)
        if adaptive:
            n = max(int(minimum), n // 2)
    return counts


class NVAENetwork(nn.Module):
    """Encoder, top-down generative model and likelihood of NVAE.

    Parameters
    ----------
    input_shape : tuple of int
        ``(C, H, W)``, or ``(n_features,)`` read as a ``(1, 1, n_features)`` image.
    latent_per_group : int
        Latent channels of every group (``num_latent_per_group``).
    n_scales : int
        Spatial scales of latent groups (``num_latent_scales``).
    groups : int
        Groups at the finest scale (``num_groups_per_scale``).
    adaptive_groups : bool
        Halve the groups at each coarser scale, keeping at least ``min_groups``.
    min_groups : int
    channels : int
        Channels after the stem (``num_channels_enc`` and ``num_channels_dec``).
    cells_per_group : int
        Cells per group in the encoder and in the decoder.
    process_blocks, process_cells : int
        Down-sampling blocks before the latent scales (up-sampling after), and cells
        in each, the last (first) of which changes the scale.
    use_se : bool
        Squeeze-and-excitation in every cell.
    residual_posterior : bool
        The residual Normal (``res_dist``); else ``q`` is parameterised on its own.
    likelihood : {"bernoulli", "gaussian", "logistic_mixture"}
    n_mixtures : int
        Components of the logistic mixture.
    """

    def __init__(self, input_shape, latent_per_group=4, n_scales=2, groups=2,
                 adaptive_groups=True, min_groups=1, channels=16, cells_per_group=1,
                 process_blocks=2, process_cells=1, use_se=True, residual_posterior=True,
                 likelihood="bernoulli", n_mixtures=10):
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        image = self.input_shape if len(self.input_shape) == 3 else (1, 1, self.input_shape[0])
        self.settings = {"latent_per_group": int(latent_per_group), "n_scales": int(n_scales),
                             "groups": int(groups), "adaptive_groups": bool(adaptive_groups),
                             "min_groups": int(min_groups), "channels": int(channels),
                             "cells_per_group": int(cells_per_group),
                             "process_blocks": int(process_blocks), "process_cells": int(process_cells),
                             "use_se": bool(use_se), "residual_posterior": bool(residual_posterior),
                             "likelihood": likelihood, "n_mixtures": int(n_mixtures)}
        s = self.settings
        self.residual_posterior = s["residual_posterior"]
        self.likelihood_name = likelihood
        factor = 2 ** (s["process_blocks"] + s["n_scales"] - 1)
        in_channels, height, width = image
        padded = [-(-side // factor) * factor for side in (height, width)]
        self.padding = ((padded[1] - width) // 2, padded[1] - width - (padded[1] - width) // 2,
                        (padded[0] - height) // 2, padded[0] - height - (padded[0] - height) // 2)
        self.image_shape = image
        latent = s["latent_per_group"]
        counts = groups_per_scale(s["n_scales"], s["groups"], s["adaptive_groups"],
                                  s["min_groups"])
        ch = s["channels"]
        self.stem = WeightNormConv2d(in_channels, ch, 3, padding=1)
        self.preprocess, mult = self._process(ch, "down"), 2 ** s["process_blocks"]
        # encoder tower, finest scale first: cells, then a combiner before each group
        # but the last; a down-sampling cell between scales
        tower, kinds = [], []
        for scale, count in enumerate(counts):
            for g in range(count):
                for _ in range(s["cells_per_group"]):
                    tower.append(Cell(ch * mult, "normal", "residual", s["use_se"]))
                    kinds.append("cell")
                if not (scale == len(counts) - 1 and g == count - 1):
                    tower.append(EncoderCombiner(ch * mult, ch * mult))
                    kinds.append("combiner")
            if scale < len(counts) - 1:
                tower.append(Cell(ch * mult, "down", "residual", s["use_se"]))
                kinds.append("cell")
                mult *= 2
        self.encoder_tower, self.encoder_kinds = nn.ModuleList(tower), tuple(kinds)
        self.encoder_top = nn.Sequential(nn.ELU(), WeightNormConv2d(ch * mult, ch * mult, 1),
                                         nn.ELU())
        top_side = (padded[0] // factor, padded[1] // factor)
        self.prior_features = nn.Parameter(torch.zeros(ch * mult, *top_side))
        # generation order: the coarsest scale first
        posterior_heads, prior_heads, tower, kinds, shapes = [], [], [], [], []
        for index, count in enumerate(reversed(counts)):
            side = (top_side[0] * 2 ** index, top_side[1] * 2 ** index)
            for g in range(count):
                first = index == 0 and g == 0
                posterior_heads.append(WeightNormConv2d(ch * mult, 2 * latent, 3, padding=1))
                if not first:
                    prior_heads.append(nn.Sequential(
                        nn.ELU(), WeightNormConv2d(ch * mult, 2 * latent, 1)))
                    for _ in range(s["cells_per_group"]):
                        tower.append(Cell(ch * mult, "normal", "separable", s["use_se"]))
                        kinds.append("cell")
                tower.append(DecoderCombiner(ch * mult, latent))
                kinds.append("combiner")
                shapes.append((latent, *side))
            if index < len(counts) - 1:
                tower.append(Cell(ch * mult, "up", "separable", s["use_se"]))
                kinds.append("cell")
                mult //= 2
        self.posterior_heads = nn.ModuleList(posterior_heads)
        self.prior_heads = nn.ModuleList(prior_heads)
        self.decoder_tower, self.decoder_kinds = nn.ModuleList(tower), tuple(kinds)
        self.group_shapes = tuple(shapes)
        self.postprocess = self._process(ch * mult, "up")
        if likelihood == "logistic_mixture":
            out_channels = mixture_channels(in_channels, s["n_mixtures"])
            self.likelihood = DiscretizedLogisticMixture(s["n_mixtures"])
        else:
            out_channels = in_channels
            self.likelihood = make_likelihood(likelihood)
        self.image_conditional = nn.Sequential(
            nn.ELU(), WeightNormConv2d(ch, out_channels, 3, padding=1))

    def _process(self, channels, kind):
        s = self.settings
        cells = []
        for _ in range(s["process_blocks"]):
            for c in range(s["process_cells"]):
                if kind == "down":
                    last = c == s["process_cells"] - 1
                    cell = Cell(channels, "down" if last else "normal", "residual", s["use_se"])
                else:
                    cell = Cell(channels, "up" if c == 0 else "normal", "separable_post",
                                s["use_se"])
                channels = cell.out_channels
                cells.append(cell)
        return nn.ModuleList(cells)

    @property
    def config(self):
        """Constructor arguments as a JSON-compatible dict."""
        return {"input_shape": list(self.input_shape), **self.settings}

    @property
    def n_groups(self):
        """Number of latent groups."""
        return len(self.group_shapes)

    @torch.no_grad()
    def initialize_(self, generator):
        """The code's initial values of what PyTorch's defaults do not set.

        The weight norms from the weights, the power-iteration vectors and the top
        feature map (uniform in [0, 1), ``torch.rand``), drawn from ``generator``.
        """
        for module in self.modules():
            if isinstance(module, WeightNormConv2d):
                module.initialize_from_weight(generator)
        self.prior_features.copy_(torch.rand(self.prior_features.shape, generator=generator))

    def convolutions(self):
        """Every convolution, for the spectral regulariser."""
        return [m for m in self.modules() if isinstance(m, WeightNormConv2d)]

    def batch_norms(self):
        """Every batch-norm layer, for its regulariser."""
        return [m for m in self.modules() if isinstance(m, nn.BatchNorm2d)]

    # ------------------------------------------------------------ passes

    def _encode_features(self, x):
        x = x.reshape(len(x), *self.image_shape)
        s = self.stem(2.0 * F.pad(x, self.padding) - 1.0)
        for cell in self.preprocess:
            s = cell(s)
        stored = []
        for kind, module in zip(self.encoder_kinds, self.encoder_tower):
            if kind == "combiner":
                stored.append((module, s))
            else:
                s = module(s)
        stored.reverse()
        return self.encoder_top(s), stored

    def _top_prior(self, reference):
        zeros = torch.zeros_like(reference)
        return NVAENormal(zeros, zeros)

    def _walk(self, n, group_step):
        """Run the decoder tower; ``group_step(index, features) -> z`` gives each group's latents."""
        s = self.prior_features.unsqueeze(0).expand(n, -1, -1, -1)
        index = 0
        for kind, module in zip(self.decoder_kinds, self.decoder_tower):
            if kind == "combiner":
                s = module(s, group_step(index, s))
                index += 1
            else:
                s = module(s)
        for cell in self.postprocess:
            s = cell(s)
        output = self.image_conditional(s)
        left, right, top, bottom = self.padding
        return output[:, :, top:output.shape[2] - bottom, left:output.shape[3] - right]

    def _posterior(self, index, features, encoded, stored):
        """``(q, p)`` of group ``index`` given the decoder's ``features``."""
        if index == 0:
            mu, log_sigma = self.posterior_heads[0](encoded).float().chunk(2, dim=1)
            q = NVAENormal(mu, log_sigma)
            return q, self._top_prior(q.mu)
        mu_p, log_sigma_p = self.prior_heads[index - 1](features).float().chunk(2, dim=1)
        combiner, encoder_features = stored[index - 1]
        head = self.posterior_heads[index](combiner(encoder_features, features))
        mu_q, log_sigma_q = head.float().chunk(2, dim=1)
        if self.residual_posterior:
            q = NVAENormal(mu_p + mu_q, log_sigma_p + log_sigma_q)
        else:
            q = NVAENormal(mu_q, log_sigma_q)
        return q, NVAENormal(mu_p, log_sigma_p)

    def forward(self, x, noise):
        """One reparameterised pass: the ELBO's terms per sample.

        Parameters
        ----------
        x : torch.Tensor
            A batch in the network's input layout.
        noise : list of torch.Tensor
            Standard normal noise of every group, generation order (``group_shapes``).

        Returns
        -------
        log_likelihood : torch.Tensor of shape (n,)
        kl : torch.Tensor of shape (n, n_groups)
            ``KL(q(z_g | x, z_<g) || p(z_g | z_<g))`` summed over the group's latents,
            in closed form given the draws of the groups before, generation order.
        """
        encoded, stored = self._encode_features(x)
        kls = []

        def step(index, features):
            q, p = self._posterior(index, features, encoded, stored)
            z = q.sample(noise[index])
            kls.append(q.kl(p).flatten(1).sum(dim=1))
            return z.to(features.dtype)

        output = self._walk(len(x), step)
        x = x.reshape(len(x), *self.image_shape).float()
        return self.likelihood.log_prob(output.float(), x), torch.stack(kls, dim=1)

    def posterior_parameters(self, x):
        """Means and log-variances of every ``q(z_g | x, z_<g)``, earlier groups at their means.

        Returns
        -------
        means, logvars : list of torch.Tensor
            One float32 ``(n, *group_shape)`` tensor per group, generation order.
        """
        encoded, stored = self._encode_features(x)
        means, logvars = [], []

        def step(index, features):
            q, _ = self._posterior(index, features, encoded, stored)
            means.append(q.mu)
            logvars.append(2.0 * torch.log(q.sigma))
            return q.mu.to(features.dtype)

        self._walk(len(x), step)
        return means, logvars

    def decode(self, zs):
        """Parameters of ``p(x | z)`` from every group's latents (generation order).

        Always in the image layout ``(n, channels, H, W)`` (of ``image_shape``).
        """
        return self._walk(len(zs[0]), lambda index, features: zs[index].to(features.dtype))

    def prior_codes(self, noise, temperature=1.0):
        """Ancestral sampling from given noise: ``z_g = mu_p + t * sigma_p * eps_g``.

        Parameters
        ----------
        noise : list of torch.Tensor
            Standard normal noise of every group, generation order.
        temperature : float, default=1.0
            Multiplies every prior standard deviation (the code's ``t``).

        Returns
        -------
        zs : list of torch.Tensor
            Float32 latents of every group, generation order.
        """
        zs = []

        def step(index, features):
            if index == 0:
                p = NVAENormal(torch.zeros_like(noise[0]), torch.zeros_like(noise[0]),
                               temperature)
            else:
                mu, log_sigma = self.prior_heads[index - 1](features).float().chunk(2, dim=1)
                p = NVAENormal(mu, log_sigma, temperature)
            zs.append(p.sample(noise[index].float()))
            return zs[-1].to(features.dtype)

        self._walk(len(noise[0]), step)
        return zs
