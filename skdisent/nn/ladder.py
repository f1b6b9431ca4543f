"""The variational ladder network shared by BetaVAE, VLAE and ProVLAE.

Written as in METHOD.md section 1. Inference runs bottom-up through a trunk
``h_l = g_l(h_{l-1})``; a ladder head ``e_l`` on each ``h_l`` gives the Gaussian
posterior of level ``l``. Generation runs top-down: ``d_L = f_L(z_L)`` and
``d_l = f_l([d_{l+1}, u_l(z_l)])``, and an output layer maps ``d_1`` to the
likelihood's parameters at the input's size.

Every level has two *gates* in [0, 1], as in the reference code of pro-VLAE: an
encoder gate scales the input of its ladder head (``gate * h_l``) and a decoder gate
its lateral path (``gate * u_l(z_l)``). Gates of one are a plain VLAE; ProVLAE closes
the decoder gate of an inactive level (0) while its head still sees ``h_l`` (encoder
gate 1, so the pre-KL penalty trains the head), and sets both gates of the level
being added to the fade-in coefficient during its fade-in. Levels with zero latent
dimensions have no head and no lateral path: BetaVAE is the ladder whose latents all
sit at the deepest level.
"""

import torch
from torch import nn

from .distributions import kl_to_standard_normal, reparameterize
from .layers import Flatten, Unflatten, activation_and_norm, down, up
from .likelihoods import make_likelihood

__all__ = ["LadderNetwork", "ladder_sizes"]


def ladder_sizes(spatial_shape, depth):
    """Spatial sizes ``s_0 .. s_{depth+1}`` of a conv ladder on ``spatial_shape``.

    ``s_0`` is the input, ``s_l`` the trunk output of level ``l`` and ``s_{depth+1}``
    the output of the deepest head's convolution; each stride-2 layer halves the
    size, rounding down.

    Parameters
    ----------
    spatial_shape : tuple of int
        ``(height, width)`` of the images.
    depth : int
        Number of levels.

    Returns
    -------
    sizes : list of tuple of int
        ``depth + 2`` sizes, input first.

    Raises
    ------
    ValueError
        If the images are too small for ``depth`` levels.
    """
    sizes = [tuple(int(s) for s in spatial_shape)]
    for _ in range(depth + 1):
        sizes.append(tuple(s // 2 for s in sizes[-1]))
    if min(sizes[-1]) < 1:
        minimum = 2 ** (depth + 1)
        raise ValueError(
            f"Images of size {spatial_shape[0]}x{spatial_shape[1]} are too small for a "
            f"ladder of {depth} levels: each level halves the size, so the images must be "
            f"at least {minimum}x{minimum}. Use fewer levels or larger images."
        )
    return sizes


class LadderNetwork(nn.Module):
    """Encoder and decoder of a variational ladder autoencoder.

    Parameters
    ----------
    input_shape : tuple of int
        ``(C, H, W)`` for images (a convolutional ladder) or ``(n_features,)`` for
        flat rows (a dense ladder).
    latent_dims : sequence of int
        Latent dimensions per level, shallowest first; one entry per level. The
        deepest level must have at least one; others may have none.
    conv_channels : int or sequence of int, default=32
        Channels of every convolution (convolutional ladder), or one width per level:
        level ``l``'s trunk convolution, ladder-head convolution and decoder map at
        ``h_l``'s size have ``conv_channels[l]``.
    dense_units : int, default=256
        Width of every hidden dense layer.
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"
        Observation model; the decoder outputs its parameters.
    normalization : {"batch", "affine"}, default="batch"
        What follows the activation of every hidden layer: batch norm, or a learned
        per-channel scale and shift with no running statistics (what the reference
        code executed; see :mod:`skdisent.nn.layers`).
    channels_last : bool, default=False
        Convolutional ladder only: keep weights and feature maps in channels-last
        memory format, and flatten feature maps to rows (and back) in ``(H, W, C)``
        order, so that no layer has to reorder memory. The same function as with
        ``False`` up to a fixed permutation of some dense weights, and faster on the
        CPU. The estimators build their networks this way; ``False`` keeps the layout
        of model files written before it existed.
    """

    def __init__(
        self,
        input_shape,
        latent_dims,
        conv_channels=32,
        dense_units=256,
        likelihood="bernoulli",
        channels_last=False,
        normalization="batch",
    ):
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        self.latent_dims = tuple(int(d) for d in latent_dims)
        self.conv_channels = (int(conv_channels) if isinstance(conv_channels, int)
                              else [int(c) for c in conv_channels])
        self.dense_units = int(dense_units)
        self.likelihood_name = likelihood
        self.normalization = normalization
        if len(self.latent_dims) < 1 or self.latent_dims[-1] < 1:
            raise ValueError("The deepest level of a ladder needs at least one latent dimension.")
        widths = ([self.conv_channels] * len(self.latent_dims)
                  if isinstance(self.conv_channels, int) else self.conv_channels)
        if len(widths) != len(self.latent_dims) or min(widths) < 1:
            raise ValueError(f"conv_channels must be one positive int or one per level "
                             f"({len(self.latent_dims)}); got {conv_channels!r}.")
        self.widths = tuple(widths)
        self.channels_last = bool(channels_last) and len(self.input_shape) == 3
        if len(self.input_shape) == 3:
            self.kind = "conv"
            self._build_conv()
            if self.channels_last:
                self.to(memory_format=torch.channels_last)
        elif len(self.input_shape) == 1:
            self.kind = "dense"
            self._build_dense()
        else:
            raise ValueError(f"input_shape must be (C, H, W) or (n_features,), got {input_shape}.")
        self.likelihood = make_likelihood(likelihood)

    @property
    def config(self):
        """Constructor arguments as a JSON-compatible dict."""
        return {
            "input_shape": list(self.input_shape),
            "latent_dims": list(self.latent_dims),
            "conv_channels": self.conv_channels,
            "dense_units": self.dense_units,
            "likelihood": self.likelihood_name,
            "channels_last": self.channels_last,
            "normalization": self.normalization,
        }

    @property
    def depth(self):
        """Number of levels."""
        return len(self.latent_dims)

    def _act_norm(self, kind, width):
        return activation_and_norm(kind, width, self.normalization)

    def _build_conv(self):
        widths, units = self.widths, self.dense_units
        order = self.channels_last
        sizes = ladder_sizes(self.input_shape[1:], self.depth)
        self.sizes = sizes
        trunk, heads, laterals, ups = [], [], [], []
        for level in range(1, self.depth + 1):
            width = widths[level - 1]
            in_channels = self.input_shape[0] if level == 1 else widths[level - 2]
            trunk.append(nn.Sequential(down(in_channels, width), *self._act_norm("conv", width)))
            head_cells = sizes[level + 1][0] * sizes[level + 1][1] * width
            dim = self.latent_dims[level - 1]
            heads.append(
                nn.Sequential(
                    down(width, width), *self._act_norm("conv", width), Flatten(order),
                    nn.Linear(head_cells, units), *self._act_norm("dense", units),
                    nn.Linear(units, 2 * dim),
                ) if dim else None
            )
        # Top of the decoder: z_L -> map of the deepest head's size -> deconv to s_L.
        depth = self.depth
        top_size, deepest = sizes[depth + 1], widths[-1]
        top_cells = deepest * top_size[0] * top_size[1]
        self.top = nn.Sequential(
            nn.Linear(self.latent_dims[-1], units), *self._act_norm("dense", units),
            nn.Linear(units, top_cells), *self._act_norm("dense", top_cells),
            Unflatten((deepest, *top_size), order),
            up(deepest, deepest, top_size, sizes[depth]), *self._act_norm("conv", deepest),
        )
        for level in range(1, depth):
            dim = self.latent_dims[level - 1]
            # u_l produces a map of d_{l+1}'s size (s_{l+1}) and width; f_l upsamples to s_l.
            below = widths[level]
            cells = below * sizes[level + 1][0] * sizes[level + 1][1]
            laterals.append(
                nn.Sequential(
                    nn.Linear(dim, units), *self._act_norm("dense", units),
                    nn.Linear(units, cells), *self._act_norm("dense", cells),
                    Unflatten((below, *sizes[level + 1]), order),
                ) if dim else None
            )
            in_ch = 2 * below if dim else below
            ups.append(nn.Sequential(up(in_ch, widths[level - 1], sizes[level + 1], sizes[level]),
                                     *self._act_norm("conv", widths[level - 1])))
        self.output = up(widths[0], self.input_shape[0], sizes[1], sizes[0])
        self._register(trunk, heads, laterals, ups)

    def _build_dense(self):
        units = self.dense_units
        n_features = self.input_shape[0]
        trunk, heads, laterals, ups = [], [], [], []
        for level in range(1, self.depth + 1):
            trunk.append(nn.Sequential(nn.Linear(n_features if level == 1 else units, units),
                                       *self._act_norm("dense", units)))
            dim = self.latent_dims[level - 1]
            heads.append(
                nn.Sequential(nn.Linear(units, units), *self._act_norm("dense", units),
                              nn.Linear(units, 2 * dim)) if dim else None
            )
        self.top = nn.Sequential(
            nn.Linear(self.latent_dims[-1], units), *self._act_norm("dense", units),
            nn.Linear(units, units), *self._act_norm("dense", units),
        )
        for level in range(1, self.depth):
            dim = self.latent_dims[level - 1]
            laterals.append(
                nn.Sequential(nn.Linear(dim, units), *self._act_norm("dense", units),
                              nn.Linear(units, units), *self._act_norm("dense", units)) if dim else None
            )
            ups.append(nn.Sequential(nn.Linear(2 * units if dim else units, units),
                                     *self._act_norm("dense", units)))
        self.output = nn.Linear(units, n_features)
        self._register(trunk, heads, laterals, ups)

    def _register(self, trunk, heads, laterals, ups):
        # ModuleList cannot hold None: levels without latents get an Identity that is never called.
        self.trunk = nn.ModuleList(trunk)
        self.heads = nn.ModuleList([h if h is not None else nn.Identity() for h in heads])
        self.laterals = nn.ModuleList([m if m is not None else nn.Identity() for m in laterals])
        self.ups = nn.ModuleList(ups)

    def encode(self, x, gates):
        """Posterior parameters of every level that has latents.

        Parameters
        ----------
        x : torch.Tensor
            A batch in the network's input layout, values in [0, 1].
        gates : torch.Tensor of shape (depth,)
            Per-level encoder gate; it scales the input of each ladder head.

        Returns
        -------
        mus, logvars : list of torch.Tensor
            One ``(n, latent_dims[l])`` tensor per level, shallowest first; levels
            without latents give an empty ``(n, 0)`` tensor.
        """
        mus, logvars = [], []
        h = x.contiguous(memory_format=torch.channels_last) if self.channels_last else x
        for level, (g, head) in enumerate(zip(self.trunk, self.heads)):
            h = g(h)
            dim = self.latent_dims[level]
            if dim:
                stats = head(h * gates[level])
                mus.append(stats[:, :dim])
                logvars.append(stats[:, dim:])
            else:
                empty = h.new_zeros((h.shape[0], 0))
                mus.append(empty)
                logvars.append(empty)
        return mus, logvars

    def decode(self, zs, gates):
        """Likelihood parameters (logits or means) from per-level latents.

        Parameters
        ----------
        zs : list of torch.Tensor
            One ``(n, latent_dims[l])`` tensor per level, shallowest first.
        gates : torch.Tensor of shape (depth,)
            Per-level decoder gate; it scales each lateral path ``u_l(z_l)``.

        Returns
        -------
        output : torch.Tensor
            Same layout as the network's input.
        """
        d = self.top(zs[-1])
        for level in range(self.depth - 2, -1, -1):
            if self.latent_dims[level]:
                lateral = self.laterals[level](zs[level]) * gates[level]
                d = torch.cat([d, lateral], dim=1)
            d = self.ups[level](d)
        return self.output(d)

    def draw_noise(self, n, generator=None, device=None):
        """Standard normal noise for the reparameterisation of one batch.

        Drawn level by level, shallowest first, as :func:`reparameterize` would draw it
        during :meth:`forward`: passing the result to ``forward(noise=...)`` gives the
        same pass as ``forward(generator=...)`` from the same generator state, and
        keeps the generator out of a compiled network.

        Parameters
        ----------
        n : int
            Samples in the batch.
        generator : torch.Generator, default=None
            Source of the noise, on ``device``.
        device : torch.device, default=None
            Where the noise is made.

        Returns
        -------
        noise : list of torch.Tensor
            One float32 ``(n, latent_dims[l])`` tensor per level.
        """
        return [
            torch.randn((n, dim), generator=generator, device=device, dtype=torch.float32)
            for dim in self.latent_dims
        ]

    def forward(self, x, encoder_gates, decoder_gates, generator=None, noise=None):
        """One stochastic pass: encode, draw ``z`` by reparameterisation, decode.

        Parameters
        ----------
        x : torch.Tensor
            A batch in the network's input layout, values in [0, 1].
        encoder_gates, decoder_gates : torch.Tensor of shape (depth,)
            Per-level gates of the ladder heads' inputs and of the lateral paths.
        generator : torch.Generator, default=None
            Source of the reparameterisation noise when ``noise`` is not given.
        noise : list of torch.Tensor, default=None
            The standard normal noise of each level, from :meth:`draw_noise`.

        Returns
        -------
        log_likelihood : torch.Tensor of shape (n,)
            ``log p(x | z)`` per sample.
        kl : torch.Tensor of shape (n, depth)
            ``KL(q(z_l | x) || N(0, I))`` per sample and level (0 for levels without latents).
        """
        mus, logvars = self.encode(x, encoder_gates)
        if noise is None:
            zs = [reparameterize(m.float(), v.float(), generator) for m, v in zip(mus, logvars)]
        else:
            zs = [m.float() + torch.exp(0.5 * v.float()) * eps
                  for m, v, eps in zip(mus, logvars, noise)]
        output = self.decode(zs, decoder_gates)
        log_likelihood = self.likelihood.log_prob(output.float(), x.float())
        kl = torch.stack(
            [kl_to_standard_normal(m.float(), v.float()) for m, v in zip(mus, logvars)], dim=1
        )
        return log_likelihood, kl
