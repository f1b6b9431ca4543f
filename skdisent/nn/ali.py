"""Adversarially learned inference (ALI) and the two-level network of LDF.

Written after "Learning generative models with locally disentangled latent factors"
(LDF, papers/001, restated in METHOD.md section 4). Each level of LDF is an ALI/BiGAN
triple (Dumoulin et al. 2017): an encoder ``q(z | x)``, a generator ``p(x | z)`` and a
discriminator ``D(x, z)`` that tells encoder pairs ``(x, E(x))`` from generator pairs
``(G(z), z)`` with ``z ~ N(0, I)``. As in the paper, both mappings are deterministic and
each level also has two reconstruction penalties: ``x -> z -> x`` and a *shortcut*
reconstruction that skips the latent bottleneck, from the encoder's last hidden layer
straight into the generator's first one. Every discriminator is stabilised with the
gradient-norm regulariser of Roth et al. (2017), :func:`gradient_norm_penalty`.

:class:`ALI` serves both levels: on pieces (images, convolutional; or flat blocks,
dense) for the lower level, and on the concatenated local codes (dense) for the upper
level. :class:`~.ldf_network.LDFNetwork` holds the two levels and the
:class:`~.pieces.PieceGrid` that cuts objects into pieces; the two levels share no
parameter.
"""

import math
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from .layers import Unflatten, down, up

__all__ = ["ALI", "conv_sizes", "gradient_norm_penalty"]

_SLOPE = 0.2


def conv_sizes(spatial_shape):
    """Spatial sizes of the stride-2 stack on a piece of ``spatial_shape``.

    Each layer halves the size (rounding down) while the smaller side is at least 8,
    so a 16x16 patch goes 16 -> 8 -> 4 and a 32x32 frame 32 -> 16 -> 8 -> 4.

    Parameters
    ----------
    spatial_shape : tuple of int
        ``(height, width)``.

    Returns
    -------
    sizes : list of tuple of int
        The input size first, then one size per layer.
    """
    sizes = [tuple(int(s) for s in spatial_shape)]
    while min(sizes[-1]) >= 8:
        sizes.append(tuple(s // 2 for s in sizes[-1]))
    return sizes


def _act():
    return nn.LeakyReLU(_SLOPE)


def _conv_act(width, normalize):
    """Activation of a hidden feature map; group-normalised in encoders and generators.

    Group norm speeds up the encoder and generator a great deal and, unlike batch norm,
    keeps every output independent of the rest of its batch. Discriminators are left
    unnormalised: the Roth et al. regulariser is what keeps them in check.
    """
    return [_act(), nn.GroupNorm(math.gcd(width, 4), width)] if normalize else [_act()]


def _trunk(shape, channels, units, normalize):
    """Observation -> hidden layer of ``units``: convolutions for images, dense for rows."""
    if len(shape) == 1:
        return nn.Sequential(nn.Linear(shape[0], units), _act(), nn.Linear(units, units), _act())
    sizes = conv_sizes(shape[1:])
    layers, width = [], shape[0]
    for i in range(len(sizes) - 1):
        layers += [down(width, channels * 2**i), *_conv_act(channels * 2**i, normalize)]
        width = channels * 2**i
    cells = width * sizes[-1][0] * sizes[-1][1]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(cells, units), _act())


def _mirror(shape, channels, units):
    """Hidden layer of ``units`` -> observation (raw output: logits or values)."""
    if len(shape) == 1:
        return nn.Sequential(nn.Linear(units, units), _act(), nn.Linear(units, shape[0]))
    sizes = conv_sizes(shape[1:])
    depth = len(sizes) - 1
    if depth == 0:
        return nn.Sequential(nn.Linear(units, shape[0] * sizes[0][0] * sizes[0][1]),
                             Unflatten(shape))
    width = channels * 2 ** (depth - 1)
    layers = [nn.Linear(units, width * sizes[-1][0] * sizes[-1][1]),
              Unflatten((width, *sizes[-1])), *_conv_act(width, True)]
    for i in range(depth - 1, 0, -1):
        layers += [up(width, channels * 2 ** (i - 1), sizes[i + 1], sizes[i]),
                   *_conv_act(channels * 2 ** (i - 1), True)]
        width = channels * 2 ** (i - 1)
    layers.append(up(width, shape[0], sizes[1], sizes[0]))
    return nn.Sequential(*layers)


class _Discriminator(nn.Module):
    """``D(x, z)``: a logit for "this pair came from the encoder"."""

    def __init__(self, shape, latent_dim, channels, units):
        super().__init__()
        self.x_path = _trunk(shape, channels, units, normalize=False)
        self.z_path = nn.Sequential(nn.Linear(latent_dim, units), _act())
        self.joint = nn.Sequential(nn.Linear(2 * units, units), _act(), nn.Linear(units, 1))

    def forward(self, x, z):
        return self.joint(torch.cat([self.x_path(x), self.z_path(z)], dim=1)).squeeze(1)


def gradient_norm_penalty(real_logits, real_inputs, fake_logits, fake_inputs):
    """The gradient-norm regulariser of Roth et al. (2017) for a standard GAN.

    ``E_P[(1 - D)^2 ||grad psi||^2] + E_Q[D^2 ||grad psi||^2]``, with ``psi`` the
    discriminator's logit, ``D = sigmoid(psi)``, ``P`` the "real" pairs (here the
    encoder's) and ``Q`` the generator's. The gradient is taken with respect to every
    input of the discriminator (the observation and the code), with a graph, so the
    penalty trains the discriminator. Add ``gamma / 2`` times it to the
    discriminator's loss.

    Parameters
    ----------
    real_logits, fake_logits : torch.Tensor of shape (n,)
        Logits of the discriminator on the two kinds of pairs.
    real_inputs, fake_inputs : tuple of torch.Tensor
        The inputs those logits were computed from; each must require grad.

    Returns
    -------
    penalty : torch.Tensor
        A scalar.
    """
    def squared_norm(logits, inputs):
        grads = torch.autograd.grad(logits.sum(), inputs, create_graph=True)
        return sum(g.float().flatten(1).pow(2).sum(dim=1) for g in grads)

    real_weight = (1.0 - torch.sigmoid(real_logits.float())).pow(2)
    fake_weight = torch.sigmoid(fake_logits.float()).pow(2)
    return (real_weight * squared_norm(real_logits, real_inputs)).mean() + (
        fake_weight * squared_norm(fake_logits, fake_inputs)
    ).mean()


@contextmanager
def _frozen(module):
    """Build the graph of ``module``'s forward passes without its parameters.

    Back-propagation then computes gradients for the inputs only: the encoder and
    generator's loss goes through the discriminator, whose own gradients the
    discriminator's optimiser would discard (it zeroes them before its next step).
    """
    parameters = [p for p in module.parameters() if p.requires_grad]
    for parameter in parameters:
        parameter.requires_grad_(False)
    try:
        yield
    finally:
        for parameter in parameters:
            parameter.requires_grad_(True)


class ALI(nn.Module):
    """An ALI/BiGAN triple with the reconstruction penalties of LDF.

    Parameters
    ----------
    observation_shape : tuple of int
        ``(C, H, W)`` (convolutional networks) or ``(n_features,)`` (dense networks).
    latent_dim : int
        Dimension of the code ``z``.
    conv_channels : int, default=32
        Channels of the first convolution; each further stride-2 layer doubles them.
    dense_units : int, default=256
        Width of the hidden dense layers, among them the encoder's last hidden layer
        and the generator's first, which the shortcut reconstruction joins.
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"
        ``"bernoulli"``: the generator outputs logits, reconstructions are scored by
        cross-entropy and the discriminator sees ``sigmoid(logits)``. ``"gaussian"``:
        the generator outputs values, scored by half the squared error.

    Attributes
    ----------
    encoder_trunk, encoder_head : torch.nn.Module
        ``x -> h`` (last hidden layer) and ``h -> z``.
    generator_stem, generator_body : torch.nn.Module
        ``z -> g`` (first hidden layer) and ``g -> output``.
    discriminator : torch.nn.Module
        ``(x, z) -> logit``.
    """

    def __init__(self, observation_shape, latent_dim, conv_channels=32, dense_units=256,
                 likelihood="bernoulli"):
        super().__init__()
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}.")
        self.observation_shape = tuple(int(s) for s in observation_shape)
        self.latent_dim = int(latent_dim)
        self.conv_channels = int(conv_channels)
        self.dense_units = int(dense_units)
        self.likelihood = likelihood
        shape, channels, units = self.observation_shape, self.conv_channels, self.dense_units
        self.encoder_trunk = _trunk(shape, channels, units, normalize=True)
        self.encoder_head = nn.Linear(units, self.latent_dim)
        self.generator_stem = nn.Sequential(nn.Linear(self.latent_dim, units), _act())
        self.generator_body = _mirror(shape, channels, units)
        self.discriminator = _Discriminator(shape, self.latent_dim, channels, units)

    @property
    def config(self):
        """Constructor arguments as a JSON-compatible dict."""
        return {
            "observation_shape": list(self.observation_shape),
            "latent_dim": self.latent_dim,
            "conv_channels": self.conv_channels,
            "dense_units": self.dense_units,
            "likelihood": self.likelihood,
        }

    def encoder_parameters(self):
        """Parameters of the encoder and the generator, which one optimiser trains.

        Returns
        -------
        parameters : list of torch.nn.Parameter
        """
        modules = (self.encoder_trunk, self.encoder_head, self.generator_stem, self.generator_body)
        return [p for m in modules for p in m.parameters()]

    def encode(self, x):
        """Encode observations.

        Parameters
        ----------
        x : torch.Tensor of shape (n, *observation_shape)

        Returns
        -------
        z : torch.Tensor of shape (n, latent_dim)
            ``E(x)``.
        """
        return self.encoder_head(self.encoder_trunk(x))

    def generate(self, z):
        """Generate from codes.

        Parameters
        ----------
        z : torch.Tensor of shape (n, latent_dim)

        Returns
        -------
        output : torch.Tensor of shape (n, *observation_shape)
            Raw output: logits (Bernoulli) or values (Gaussian); see :meth:`mean`.
        """
        return self.generator_body(self.generator_stem(z))

    def mean(self, output):
        """The observation a raw output of :meth:`generate` stands for.

        Parameters
        ----------
        output : torch.Tensor

        Returns
        -------
        x : torch.Tensor
            ``sigmoid(output)`` (Bernoulli) or ``output`` itself (Gaussian).
        """
        return torch.sigmoid(output) if self.likelihood == "bernoulli" else output

    def reconstruction_error(self, output, x):
        """Error of a raw output against the observations, feature by feature.

        Parameters
        ----------
        output : torch.Tensor of shape (n, ...)
            Raw output of :meth:`generate`.
        x : torch.Tensor of the same shape
            Observations.

        Returns
        -------
        error : torch.Tensor of shape (n, n_features)
            Cross-entropy in nats (Bernoulli) or half the squared error (Gaussian of
            unit variance, up to a constant), in float32.
        """
        output, x = output.float().flatten(1), x.float().flatten(1)
        if self.likelihood == "bernoulli":
            return F.binary_cross_entropy_with_logits(output, x, reduction="none")
        return 0.5 * (output - x).pow(2)

    def losses(self, x, z, optimize_discriminator, gradient_penalty=1.0,
               reconstruction_weight=1.0, shortcut_weight=1.0):
        """The two objectives of one ALI update, discriminator first.

        Parameters
        ----------
        x : torch.Tensor of shape (n, *observation_shape)
            Observations.
        z : torch.Tensor of shape (n, latent_dim)
            Draws from the prior ``N(0, I)``.
        optimize_discriminator : callable
            Called with the discriminator's loss; it must back-propagate and step the
            discriminator's optimiser, which happens before the encoder and generator
            are scored against the updated discriminator.
        gradient_penalty : float, default=1.0
            ``gamma`` of Roth et al.; the discriminator's loss adds ``gamma / 2`` times
            :func:`gradient_norm_penalty`. 0 turns it off.
        reconstruction_weight, shortcut_weight : float, default=1.0
            Weights of the mean per-feature reconstruction errors ``x -> z -> x`` and
            ``x -> h -> x`` (the shortcut) in the encoder and generator's loss.

        Returns
        -------
        loss : torch.Tensor
            The encoder and generator's loss (non-saturating adversarial term plus
            the weighted reconstruction penalties), to back-propagate and step.
        stats : dict of str to torch.Tensor
            Detached scalars: ``discriminator`` (its loss without the penalty),
            ``penalty``, ``adversarial``, ``reconstruction`` and ``shortcut``.
        codes : torch.Tensor of shape (n, latent_dim)
            ``E(x)``, detached.
        """
        x = x.detach()  # observations are data: no gradient leaves the level through them
        hidden = self.encoder_trunk(x)
        codes = self.encoder_head(hidden)
        fake = self.mean(self.generate(z))
        real_inputs = (x.detach().requires_grad_(gradient_penalty > 0),
                       codes.detach().requires_grad_(gradient_penalty > 0))
        fake_inputs = (fake.detach().requires_grad_(gradient_penalty > 0),
                       z.detach().requires_grad_(gradient_penalty > 0))
        real_logits = self.discriminator(*real_inputs)
        fake_logits = self.discriminator(*fake_inputs)
        d_loss = F.softplus(-real_logits.float()).mean() + F.softplus(fake_logits.float()).mean()
        penalty = torch.zeros((), device=x.device)
        if gradient_penalty > 0:
            penalty = gradient_norm_penalty(real_logits, real_inputs, fake_logits, fake_inputs)
        optimize_discriminator(d_loss + 0.5 * gradient_penalty * penalty)

        with _frozen(self.discriminator):  # its gradients here would be thrown away
            adversarial = F.softplus(self.discriminator(x, codes).float()).mean() + F.softplus(
                -self.discriminator(fake, z).float()).mean()
        reconstruction = self.reconstruction_error(self.generate(codes), x).sum(dim=1).mean()
        shortcut = self.reconstruction_error(self.generator_body(hidden), x).sum(dim=1).mean()
        loss = adversarial + reconstruction_weight * reconstruction + shortcut_weight * shortcut
        stats = {"discriminator": d_loss, "penalty": penalty, "adversarial": adversarial,
                 "reconstruction": reconstruction, "shortcut": shortcut}
        return loss, {k: v.detach() for k, v in stats.items()}, codes.detach()

