"""The variational ladder network shared by BetaVAE, VLAE and ProVLAE.

Written as in METHOD.md section 1. Inference runs bottom-up through a trunk
``h_l = g_l(h_{l-1})``; a ladder head ``e_l`` on each ``h_l`` gives the Gaussian
posterior of level ``l``. Generation runs top-down: ``d_L = f_L(z_L)`` and
``d_l = f_l([d_{l+1}, u_l(z_l)])``, and an output layer maps ``d_1`` to the
likelihood's parameters at the input's size.

Every level has a *gate* in [0, 1] that scales both of its paths: the input of
its ladder head (``gate * h_l``) and its decoder path (``gate * u_l(z_l)``). Gates
of one are a plain VLAE; ProVLAE sets zero for inactive levels and the fade-in
coefficient for the level being added. Levels with zero latent dimensions have no
head and no lateral path: BetaVAE is the ladder whose latents all sit at the
deepest level.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .distributions import kl_to_standard_normal, reparameterize
from .likelihoods import make_likelihood

__all__ = ["LadderNetwork", "ladder_sizes"]

_KERNEL = 4


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


def _act_norm(kind, width):
    norm = nn.BatchNorm2d(width) if kind == "conv" else nn.BatchNorm1d(width)
    return [_ELU(), norm]


class _ELU(nn.ELU):
    """An ELU whose backward pass reads its output instead of its input.

    The same function and gradient as :class:`torch.nn.ELU`: for a negative input the
    derivative ``alpha * exp(x)`` is ``output + alpha``, as PyTorch's in-place ELU
    computes it. Keeping the output rather than the input spares the exponential a
    compiled network otherwise evaluates again in the backward pass and in the pass
    that applies the batch-norm statistics (one ``exp`` per element and step instead
    of five or more; the exponential is the costliest element-wise operation of the
    ladder on the CPU), and the batch norm that follows saves the same tensor, so the
    backward pass keeps one feature map fewer.
    """

    def forward(self, x):
        if self.inplace:
            return super().forward(x)
        return _ELUFunction.apply(x, self.alpha)


class _ELUFunction(torch.autograd.Function):
    """``elu(x, alpha)``, saving its output for the gradient."""

    @staticmethod
    def forward(ctx, x, alpha):
        y = F.elu(x, alpha)
        ctx.alpha = alpha
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return torch.ops.aten.elu_backward(grad, ctx.alpha, 1, 1, True, y), None


def _down(in_channels, out_channels):
    return nn.Conv2d(in_channels, out_channels, _KERNEL, stride=2, padding=1)


def _up(in_channels, out_channels, size_in, size_out):
    padding = tuple(o - 2 * i for i, o in zip(size_in, size_out))
    return _TransposedConvolution(
        in_channels, out_channels, _KERNEL, stride=2, padding=1, output_padding=padding
    )


class _TransposedConvolution(nn.ConvTranspose2d):
    """A transposed convolution that adds its bias after the convolution.

    The same function and parameters as :class:`torch.nn.ConvTranspose2d`. oneDNN's
    backward pass of a transposed convolution is slower on the CPU when it computes
    the bias gradient itself (``benchmarks/README.md`` has the figures); added
    separately, the bias's gradient is a plain sum, which a compiled network fuses
    into the neighbouring element-wise kernels.
    """

    def forward(self, x):
        y = F.conv_transpose2d(x, self.weight, None, self.stride, self.padding,
                               self.output_padding, self.groups, self.dilation)
        if self.bias is None:
            return y
        # Under autocast ``y`` is bf16 while the bias stays float32: keep ``y``'s type.
        return y + self.bias.to(y.dtype).view(1, -1, 1, 1)


class _Flatten(nn.Module):
    """Feature maps ``(n, C, H, W)`` to rows, in ``(C, H, W)`` or ``(H, W, C)`` order."""

    def __init__(self, channels_last=False):
        super().__init__()
        self.channels_last = channels_last

    def forward(self, x):
        if self.channels_last:
            x = x.permute(0, 2, 3, 1)  # a view when x is in channels-last memory format
        return x.flatten(1)


class _Unflatten(nn.Module):
    """Rows to feature maps of ``shape = (C, H, W)``, the inverse of :class:`_Flatten`."""

    def __init__(self, shape, channels_last=False):
        super().__init__()
        self.shape = tuple(shape)
        self.channels_last = channels_last

    def forward(self, x):
        if self.channels_last:
            channels, height, width = self.shape
            return x.reshape(x.shape[0], height, width, channels).permute(0, 3, 1, 2)
        return x.reshape(x.shape[0], *self.shape)


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
    conv_channels : int, default=32
        Channels of every convolution (convolutional ladder).
    dense_units : int, default=256
        Width of every hidden dense layer.
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"
        Observation model; the decoder outputs its parameters.
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
    ):
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        self.latent_dims = tuple(int(d) for d in latent_dims)
        self.conv_channels = int(conv_channels)
        self.dense_units = int(dense_units)
        self.likelihood_name = likelihood
        if len(self.latent_dims) < 1 or self.latent_dims[-1] < 1:
            raise ValueError("The deepest level of a ladder needs at least one latent dimension.")
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
        }

    @property
    def depth(self):
        """Number of levels."""
        return len(self.latent_dims)

    def _build_conv(self):
        channels, units = self.conv_channels, self.dense_units
        order = self.channels_last
        sizes = ladder_sizes(self.input_shape[1:], self.depth)
        self.sizes = sizes
        in_channels = self.input_shape[0]
        trunk, heads, laterals, ups = [], [], [], []
        for level in range(1, self.depth + 1):
            trunk.append(nn.Sequential(_down(in_channels if level == 1 else channels, channels),
                                       *_act_norm("conv", channels)))
            head_cells = sizes[level + 1][0] * sizes[level + 1][1] * channels
            dim = self.latent_dims[level - 1]
            heads.append(
                nn.Sequential(
                    _down(channels, channels), *_act_norm("conv", channels), _Flatten(order),
                    nn.Linear(head_cells, units), *_act_norm("dense", units),
                    nn.Linear(units, 2 * dim),
                ) if dim else None
            )
        # Top of the decoder: z_L -> map of the deepest head's size -> deconv to s_L.
        depth = self.depth
        top_size = sizes[depth + 1]
        self.top = nn.Sequential(
            nn.Linear(self.latent_dims[-1], units), *_act_norm("dense", units),
            nn.Linear(units, channels * top_size[0] * top_size[1]), *_act_norm("dense", channels * top_size[0] * top_size[1]),
            _Unflatten((channels, *top_size), order),
            _up(channels, channels, top_size, sizes[depth]), *_act_norm("conv", channels),
        )
        for level in range(1, depth):
            dim = self.latent_dims[level - 1]
            # u_l produces a map of d_{l+1}'s size (s_{l+1}); f_l upsamples to s_l.
            cells = channels * sizes[level + 1][0] * sizes[level + 1][1]
            laterals.append(
                nn.Sequential(
                    nn.Linear(dim, units), *_act_norm("dense", units),
                    nn.Linear(units, cells), *_act_norm("dense", cells),
                    _Unflatten((channels, *sizes[level + 1]), order),
                ) if dim else None
            )
            in_ch = 2 * channels if dim else channels
            ups.append(nn.Sequential(_up(in_ch, channels, sizes[level + 1], sizes[level]),
                                     *_act_norm("conv", channels)))
        self.output = _up(channels, self.input_shape[0], sizes[1], sizes[0])
        self._register(trunk, heads, laterals, ups)

    def _build_dense(self):
        units = self.dense_units
        n_features = self.input_shape[0]
        trunk, heads, laterals, ups = [], [], [], []
        for level in range(1, self.depth + 1):
            trunk.append(nn.Sequential(nn.Linear(n_features if level == 1 else units, units),
                                       *_act_norm("dense", units)))
            dim = self.latent_dims[level - 1]
            heads.append(
                nn.Sequential(nn.Linear(units, units), *_act_norm("dense", units),
                              nn.Linear(units, 2 * dim)) if dim else None
            )
        self.top = nn.Sequential(
            nn.Linear(self.latent_dims[-1], units), *_act_norm("dense", units),
            nn.Linear(units, units), *_act_norm("dense", units),
        )
        for level in range(1, self.depth):
            dim = self.latent_dims[level - 1]
            laterals.append(
                nn.Sequential(nn.Linear(dim, units), *_act_norm("dense", units),
                              nn.Linear(units, units), *_act_norm("dense", units)) if dim else None
            )
            ups.append(nn.Sequential(nn.Linear(2 * units if dim else units, units),
                                     *_act_norm("dense", units)))
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
            Per-level gate; it scales the input of each ladder head.

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
            Per-level gate; it scales each lateral path ``u_l(z_l)``.

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

    def forward(self, x, gates, generator=None, noise=None):
        """One stochastic pass: encode, draw ``z`` by reparameterisation, decode.

        Parameters
        ----------
        x : torch.Tensor
            A batch in the network's input layout, values in [0, 1].
        gates : torch.Tensor of shape (depth,)
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
        mus, logvars = self.encode(x, gates)
        if noise is None:
            zs = [reparameterize(m.float(), v.float(), generator) for m, v in zip(mus, logvars)]
        else:
            zs = [m.float() + torch.exp(0.5 * v.float()) * eps
                  for m, v, eps in zip(mus, logvars, noise)]
        output = self.decode(zs, gates)
        log_likelihood = self.likelihood.log_prob(output.float(), x.float())
        kl = torch.stack(
            [kl_to_standard_normal(m.float(), v.float()) for m, v in zip(mus, logvars)], dim=1
        )
        return log_likelihood, kl
