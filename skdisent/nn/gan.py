"""The joint GAN the LDF paper compares with: one generator and one discriminator of whole objects.

Section 5 of "Learning generative models with locally disentangled latent factors"
(LDF, papers/001) measures LDF against "a GAN where the discriminator sees all of the
visible variables directly and the generator outputs all variables in the visible
space directly"; for videos the paper's baseline stacks the frames along the channels
(5 frames of 3 colours: an image of 15 channels). :class:`GANNetwork` is that GAN,
built by the layer rules of LDF's lower-level ALI (:mod:`skdisent.nn.ali`: the same
stride-2 stack for the size of its input, widths, leaky ReLU, group norm in the
generator and none in the discriminator) so that a comparison with LDF differs only in
what LDF is about. It has no encoder and no reconstruction term, and its discriminator
``D(x)`` sees the observation alone; it is trained as an ALI level is: the
non-saturating GAN loss and the gradient-norm regulariser of Roth et al. (2017).

The paper does not give its baseline's layers; these are our choice, the ones that
make the two models comparable.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .ali import _act, _frozen, _mirror, _trunk, gradient_norm_penalty

__all__ = ["GANNetwork"]


class GANNetwork(nn.Module):
    """A generator ``G(z)`` of whole objects and a discriminator ``D(x)`` of whole objects.

    Parameters
    ----------
    observation_shape : tuple of int
        ``(C, H, W)`` (convolutional networks; a video's frames stacked on the channels)
        or ``(n_features,)`` (dense networks).
    latent_dim : int
        Dimension of the noise ``z ~ N(0, I)``.
    conv_channels : int, default=32
        Channels of the first convolution; each further stride-2 layer doubles them.
    dense_units : int, default=256
        Width of the hidden dense layers.
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"
        ``"bernoulli"``: the generator outputs logits and the discriminator sees their
        sigmoid, data in [0, 1]. ``"gaussian"``: the generator outputs values.

    Attributes
    ----------
    generator_stem, generator_body : torch.nn.Module
        ``z -> g`` (first hidden layer) and ``g -> output``, as the generator of
        :class:`~skdisent.nn.ali.ALI`.
    discriminator : torch.nn.Sequential
        ``x -> h`` (the trunk of an ALI discriminator's observation path, no
        normalisation), then ``h -> logit``.

    Examples
    --------
    >>> import torch
    >>> from skdisent.nn.gan import GANNetwork
    >>> gan = GANNetwork((6, 16, 16), latent_dim=4, conv_channels=2, dense_units=8)
    >>> x = gan.mean(gan.generate(torch.randn(3, 4)))
    >>> tuple(x.shape), tuple(gan.discriminate(x).shape)
    ((3, 6, 16, 16), (3,))
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
        self.generator_stem = nn.Sequential(nn.Linear(self.latent_dim, units), _act())
        self.generator_body = _mirror(shape, channels, units)
        # An ALI discriminator without its code path: the observation's trunk, then the
        # same two dense layers to the logit.
        self.discriminator = nn.Sequential(
            _trunk(shape, channels, units, normalize=False),
            nn.Sequential(nn.Linear(units, units), _act(), nn.Linear(units, 1)))

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

    def generator_parameters(self):
        """Parameters of the generator.

        Returns
        -------
        parameters : list of torch.nn.Parameter
        """
        return [*self.generator_stem.parameters(), *self.generator_body.parameters()]

    def discriminator_parameters(self):
        """Parameters of the discriminator.

        Returns
        -------
        parameters : list of torch.nn.Parameter
        """
        return list(self.discriminator.parameters())

    def generate(self, z):
        """Raw outputs from noise.

        Parameters
        ----------
        z : torch.Tensor of shape (n, latent_dim)

        Returns
        -------
        output : torch.Tensor of shape (n, *observation_shape)
            Logits (Bernoulli) or values (Gaussian); see :meth:`mean`.
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

    def discriminate(self, x):
        """The discriminator's logit for "``x`` is data".

        Parameters
        ----------
        x : torch.Tensor of shape (n, *observation_shape)
            Observations (probabilities or values, as :meth:`mean` gives them).

        Returns
        -------
        logits : torch.Tensor of shape (n,)
        """
        return self.discriminator(x).squeeze(1)

    def losses(self, x, z, optimize_discriminator, gradient_penalty=1.0):
        """The two objectives of one GAN update, discriminator first.

        As an update of :class:`~skdisent.nn.ali.ALI`, without encoder or
        reconstructions: the discriminator minimises ``softplus(-D(x)) + softplus(D(G(z)))``
        plus ``gamma / 2`` times :func:`~skdisent.nn.ali.gradient_norm_penalty`, then the
        generator minimises the non-saturating ``softplus(-D(G(z)))`` against the updated
        discriminator.

        Parameters
        ----------
        x : torch.Tensor of shape (n, *observation_shape)
            Observations.
        z : torch.Tensor of shape (n, latent_dim)
            Draws from ``N(0, I)``.
        optimize_discriminator : callable
            Called with the discriminator's loss; it must back-propagate and step the
            discriminator's optimiser.
        gradient_penalty : float, default=1.0
            ``gamma`` of Roth et al.; 0 turns the regulariser off.

        Returns
        -------
        loss : torch.Tensor
            The generator's loss, to back-propagate and step.
        stats : dict of str to torch.Tensor
            Detached scalars: ``discriminator`` (its loss without the penalty),
            ``penalty`` and ``adversarial`` (the generator's loss).
        """
        penalized = gradient_penalty > 0
        fake = self.mean(self.generate(z))
        real_inputs = (x.detach().requires_grad_(penalized),)
        fake_inputs = (fake.detach().requires_grad_(penalized),)
        real_logits = self.discriminate(*real_inputs)
        fake_logits = self.discriminate(*fake_inputs)
        d_loss = F.softplus(-real_logits.float()).mean() + F.softplus(fake_logits.float()).mean()
        penalty = torch.zeros((), device=x.device)
        if penalized:
            penalty = gradient_norm_penalty(real_logits, real_inputs, fake_logits, fake_inputs)
        optimize_discriminator(d_loss + 0.5 * gradient_penalty * penalty)

        with _frozen(self.discriminator):  # its gradients here would be thrown away
            adversarial = F.softplus(-self.discriminate(fake).float()).mean()
        stats = {"discriminator": d_loss, "penalty": penalty, "adversarial": adversarial}
        return adversarial, {k: v.detach() for k, v in stats.items()}
