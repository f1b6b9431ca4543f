"""The stacked hierarchical VAE of Zhao, Song and Ermon (2017), section 3.

Latents ``z_1 .. z_L``, ``z_1`` the bottom (nearest the data). Generation is a Markov
chain from the top down, ``p(z_L) = N(0, I)``, ``p(z_l | z_{l+1}) = N(mu_l(z_{l+1}),
diag sigma_l^2(z_{l+1}))`` and ``p(x | z_1)``; inference is a chain from the bottom up,
``q(z_1 | x)`` and ``q(z_{l+1} | z_l)``, each a diagonal Gaussian. ``x`` depends on
``z_1`` alone: the paper's argument that such a hierarchy learns no meaningful upper
layers rests on exactly that.

The paper gives no architecture for this model. Here ``x <-> z_1`` is the ladder network
with every latent at its deepest level (:class:`~skdisent.nn.LadderNetwork` with latent
dimensions ``(0, ..., 0, d_1)``: the beta-VAE network of the same depth, so a stacked
hierarchy of ``L`` layers has the same convolutions as a ladder of ``L`` levels), and
each conditional between two latent layers is two hidden dense layers (activation and
normalisation as in the ladder) and a linear layer to the mean and log-variance, as the
dense ladder blocks of the VLAE authors' code.
"""

import torch
from torch import nn

from .distributions import kl_to_standard_normal
from .ladder import LadderNetwork
from .layers import activation_and_norm

__all__ = ["HierarchicalNetwork"]


def _gaussian_block(in_dim, out_dim, units, normalization):
    """Dense layers from ``in_dim`` inputs to a Gaussian's mean and log-variance (``2 * out_dim``)."""
    return nn.Sequential(
        nn.Linear(in_dim, units), *activation_and_norm("dense", units, normalization),
        nn.Linear(units, units), *activation_and_norm("dense", units, normalization),
        nn.Linear(units, 2 * out_dim),
    )


def _split(stats):
    mu, logvar = stats.float().chunk(2, dim=-1)
    return mu, logvar


class HierarchicalNetwork(nn.Module):
    """Generative and inference chains of a stacked hierarchical VAE.

    Parameters
    ----------
    input_shape : tuple of int
        ``(C, H, W)`` for images (convolutions between ``x`` and ``z_1``) or
        ``(n_features,)`` for flat rows (dense layers).
    latent_dims : sequence of int
        Latent dimensions per layer, bottom (``z_1``) first; each at least one.
    conv_channels : int or sequence of int, default=32
        Channels of the convolutions between ``x`` and ``z_1``: one int, or one width
        per layer (the ladder's stages, shallowest first).
    dense_units : int, default=256
        Width of every hidden dense layer.
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"
        Observation model ``p(x | z_1)``.
    channels_last : bool, default=False
        Keep the convolutions in channels-last memory format (see
        :class:`~skdisent.nn.LadderNetwork`).
    normalization : {"batch", "affine"}, default="batch"
        What follows the activation of every hidden layer.
    """

    def __init__(self, input_shape, latent_dims, conv_channels=32, dense_units=256,
                 likelihood="bernoulli", channels_last=False, normalization="batch"):
        super().__init__()
        self.latent_dims = tuple(int(d) for d in latent_dims)
        if not self.latent_dims or min(self.latent_dims) < 1:
            raise ValueError(f"Every layer needs at least one latent dimension; got "
                             f"latent_dims={list(latent_dims)}.")
        depth = len(self.latent_dims)
        self.bottom = LadderNetwork(input_shape, (0,) * (depth - 1) + (self.latent_dims[0],),
                                    conv_channels=conv_channels, dense_units=dense_units,
                                    likelihood=likelihood, channels_last=channels_last,
                                    normalization=normalization)
        self.dense_units = int(dense_units)
        self.normalization = normalization
        # inference[l]: q(z_{l+2} | z_{l+1}); generative[l]: p(z_{l+1} | z_{l+2}) (0-based l)
        self.inference = nn.ModuleList(
            _gaussian_block(lower, upper, self.dense_units, normalization)
            for lower, upper in zip(self.latent_dims[:-1], self.latent_dims[1:]))
        self.generative = nn.ModuleList(
            _gaussian_block(upper, lower, self.dense_units, normalization)
            for lower, upper in zip(self.latent_dims[:-1], self.latent_dims[1:]))

    @property
    def config(self):
        """Constructor arguments as a JSON-compatible dict."""
        bottom = self.bottom.config
        return {"input_shape": bottom["input_shape"], "latent_dims": list(self.latent_dims),
                "conv_channels": bottom["conv_channels"], "dense_units": self.dense_units,
                "likelihood": bottom["likelihood"], "channels_last": bottom["channels_last"],
                "normalization": self.normalization}

    @property
    def depth(self):
        """Number of latent layers."""
        return len(self.latent_dims)

    @property
    def likelihood(self):
        """The observation model's module (``log_prob`` and ``mean`` of decoder outputs)."""
        return self.bottom.likelihood

    @property
    def likelihood_name(self):
        """``"bernoulli"`` or ``"gaussian"``."""
        return self.bottom.likelihood_name

    # ------------------------------------------------------------ the parts

    def encode_bottom(self, x):
        """Mean and log-variance of ``q(z_1 | x)``, each ``(n, latent_dims[0])``."""
        gates = torch.ones(self.depth, device=x.device)
        mus, logvars = self.bottom.encode(x, gates)
        return mus[-1].float(), logvars[-1].float()

    def decode(self, z1):
        """Parameters of ``p(x | z_1)`` (logits or means), in the input's layout."""
        gates = torch.ones(self.depth, device=z1.device)
        return self.bottom.decode([None] * (self.depth - 1) + [z1], gates)

    def infer_up(self, layer, z_below):
        """Mean and log-variance of ``q(z_{layer+1} | z_layer)`` (``layer`` 1-based, < depth)."""
        return _split(self.inference[layer - 1](z_below))

    def prior_down(self, layer, z_above):
        """Mean and log-variance of ``p(z_layer | z_{layer+1})`` (``layer`` 1-based, < depth)."""
        return _split(self.generative[layer - 1](z_above))

    # ------------------------------------------------------------ passes

    def draw_noise(self, n, generator=None, device=None):
        """Standard normal noise for one pass: one float32 ``(n, d_l)`` tensor per layer, bottom first.

        Parameters
        ----------
        n : int
            Samples.
        generator : torch.Generator, default=None
            Source of the noise, on ``device``.
        device : torch.device, default=None

        Returns
        -------
        noise : list of torch.Tensor
        """
        return [torch.randn((n, d), generator=generator, device=device, dtype=torch.float32)
                for d in self.latent_dims]

    def forward(self, x, noise):
        """One reparameterised pass up the inference chain: the ELBO's terms per sample.

        Parameters
        ----------
        x : torch.Tensor
            A batch in the network's input layout.
        noise : list of torch.Tensor
            From :meth:`draw_noise`: ``z_l = mu + sigma * noise[l - 1]`` up the chain.

        Returns
        -------
        log_likelihood : torch.Tensor of shape (n,)
            ``log p(x | z_1)``.
        kl : torch.Tensor of shape (n, depth)
            One-sample estimates whose sum over layers has the expectation
            ``KL(q(z | x) || p(z))``: for ``l < L``, ``-H[q(z_l | z_{l-1})]`` (exact given
            the draw below) ``- log p(z_l | z_{l+1})`` at the draws; for the top layer
            ``KL(q(z_L | z_{L-1}) || N(0, I))`` in closed form. A single layer's term
            may be negative.
        """
        mu, logvar = self.encode_bottom(x)
        zs, posteriors = [], []
        for layer in range(1, self.depth + 1):
            if layer > 1:
                mu, logvar = self.infer_up(layer - 1, zs[-1])
            zs.append(mu + torch.exp(0.5 * logvar) * noise[layer - 1])
            posteriors.append(logvar)
        terms = []
        for layer in range(1, self.depth):
            prior_mu, prior_logvar = self.prior_down(layer, zs[layer])
            # log q(z_l | .) - log p(z_l | z_{l+1}), with E[log q] = -H taken exactly
            terms.append(0.5 * ((zs[layer - 1] - prior_mu).square() * torch.exp(-prior_logvar)
                                + prior_logvar - posteriors[layer - 1] - 1.0).sum(dim=1))
        terms.append(kl_to_standard_normal(mu, logvar))
        output = self.decode(zs[0])
        log_likelihood = self.likelihood.log_prob(output.float(), x.float())
        return log_likelihood, torch.stack(terms, dim=1)

    def posterior_moments(self, x, noise):
        """Mean and log-variance of each ``q(z_l | x)``, by Monte Carlo up the chain.

        ``q(z_1 | x)`` is Gaussian and given exactly. Above it ``q(z_l | x)`` is a
        continuous mixture; its mean and variance are estimated from ``K`` chains per
        row that share the draws ``noise`` (common random numbers: the estimate for a
        row does not depend on the other rows), with the law of total variance:
        ``mean = avg_k mu_l(z_{l-1}^k)``, ``var = avg_k sigma_l^2(z_{l-1}^k) + var_k
        mu_l(z_{l-1}^k)``.

        Parameters
        ----------
        x : torch.Tensor
            A batch in the network's input layout.
        noise : list of torch.Tensor
            ``depth - 1`` tensors of shape ``(K, d_l)``, for the draws of ``z_1 ..
            z_{L-1}``.

        Returns
        -------
        means, logvars : list of torch.Tensor
            One float32 ``(n, d_l)`` tensor per layer, bottom first.
        """
        mu, logvar = self.encode_bottom(x)
        means, logvars = [mu], [logvar]
        below_mu, below_logvar = mu[:, None, :], logvar[:, None, :]  # (n, 1 or K, d)
        for layer in range(2, self.depth + 1):
            draws = below_mu + torch.exp(0.5 * below_logvar) * noise[layer - 2][None]
            n, k, d = draws.shape  # K draws of z_{l-1} per row
            below_mu, below_logvar = self.infer_up(layer - 1, draws.reshape(n * k, d))
            below_mu = below_mu.reshape(n, k, -1)
            below_logvar = below_logvar.reshape(n, k, -1)
            mean = below_mu.mean(dim=1)
            spread = (below_mu - mean[:, None]).square().mean(dim=1)
            means.append(mean)
            logvars.append(torch.log(torch.exp(below_logvar).mean(dim=1) + spread))
        return means, logvars

    def codes_from_noise(self, noise):
        """Ancestral sampling from given standard normal noise, the top layer first.

        ``z_L = noise[L-1]`` and ``z_l = mu_l(z_{l+1}) + sigma_l(z_{l+1}) * noise[l-1]``.

        Parameters
        ----------
        noise : list of torch.Tensor
            One ``(n, d_l)`` tensor per layer, bottom first.

        Returns
        -------
        zs : list of torch.Tensor
            One float32 ``(n, d_l)`` tensor per layer, bottom first.
        """
        zs = [noise[-1].float()]
        for layer in range(self.depth - 1, 0, -1):
            mu, logvar = self.prior_down(layer, zs[0])
            zs.insert(0, mu + torch.exp(0.5 * logvar) * noise[layer - 1].float())
        return zs
