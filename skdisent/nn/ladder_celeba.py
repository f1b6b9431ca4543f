"""The reference's CelebA ladder: four levels, widths doubling from 64 to 512.

Written from the pro-VLAE reference code's ``model_ladder_pro_celbA.py``, with the same
interface as :class:`~skdisent.nn.LadderNetwork` (encoder and decoder gates, the same
``forward``), so that the ladder models run it unchanged. It differs from the 64x64
ladder of METHOD.md section 1 where the reference did:

- leaky ReLU (slope 0.2) instead of ELU; widths ``w, 2w, 4w, 8w`` per level
  (``w = 64``) and dense layers of 1024;
- ladder heads of two convolutions and no hidden dense layer: level 1 a stride-2 and
  a stride-1 convolution of ``w``; level ``l`` of 2 and 3 stride-2 convolutions of
  ``w_l`` and ``w_{l+1}``; the deepest head two dense layers on the flattened ``h_4``;
- a decoder that starts at ``h_4``'s size (three dense layers, no convolution), lateral
  paths of one dense layer, two transposed convolutions per level (one of stride 1,
  TF's ``'same'`` padding), and no normalisation in the shallowest level's lateral path
  and transposed convolution;
- log-variances clipped to [-100, 3] in the KL terms and in what :meth:`encode`
  returns, while ``z`` is drawn with the unclipped ones (the reference samples before
  it clips).

Not copied: the reference's CelebA file scales the input of the head *one level
shallower* than the level being faded in (the head of level 2 while level 3 fades in,
level 1 while level 2 does, no head while level 1 does), a slip carried over from its
three-level file; here, as there, a fading level's own head input is scaled.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .distributions import kl_to_standard_normal, reparameterize
from .layers import KERNEL, Flatten, Unflatten, activation_and_norm, down, up
from .likelihoods import make_likelihood

__all__ = ["CelebALadderNetwork"]

_DEPTH = 4
LOGVAR_RANGE = (-100.0, 3.0)


class _ConvSame(nn.Conv2d):
    """A 4x4 convolution of stride 1 with TF's ``'same'`` padding (1 before, 2 after)."""

    def __init__(self, in_channels, out_channels):
        super().__init__(in_channels, out_channels, KERNEL, stride=1)

    def forward(self, x):
        return F.conv2d(F.pad(x, (1, 2, 1, 2)), self.weight, self.bias)


class _TransposedSame(nn.ConvTranspose2d):
    """A 4x4 transposed convolution of stride 1 with TF's ``'same'`` padding.

    The transpose of :class:`_ConvSame`: the full output cropped by 1 before and 2 after.
    """

    def __init__(self, in_channels, out_channels):
        super().__init__(in_channels, out_channels, KERNEL, stride=1)

    def forward(self, x):
        y = F.conv_transpose2d(x, self.weight, self.bias)
        return y[:, :, 1:-2, 1:-2]


class CelebALadderNetwork(nn.Module):
    """Encoder and decoder of the reference's four-level CelebA ladder.

    Parameters
    ----------
    input_shape : tuple of int
        ``(C, H, W)``, with ``H`` and ``W`` multiples of 32 (the reference: 64x64).
    latent_dims : sequence of int
        Latent dimensions of the four levels, shallowest first; the deepest needs at
        least one, others may have none.
    conv_channels : int or sequence of int, default=64
        Width of the first level, doubled at each deeper one, or the four widths.
    dense_units : int, default=1024
        Width of the dense layers of the deepest head and of the decoder's top.
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"
    channels_last : bool, default=True
        Weights and feature maps in channels-last memory format (rows flattened in
        ``(H, W, C)`` order, as TF's NHWC tensors are).
    normalization : {"batch", "affine"}, default="affine"
        See :mod:`skdisent.nn.layers`; the reference executed ``"affine"``.
    """

    def __init__(self, input_shape, latent_dims, conv_channels=64, dense_units=1024,
                 likelihood="bernoulli", channels_last=True, normalization="affine"):
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        self.latent_dims = tuple(int(d) for d in latent_dims)
        self.conv_channels = conv_channels if isinstance(conv_channels, int) else list(conv_channels)
        self.dense_units = int(dense_units)
        self.likelihood_name = likelihood
        self.normalization = normalization
        self.channels_last = bool(channels_last)
        if len(self.input_shape) != 3:
            raise ValueError("The CelebA network takes images (C, H, W); use the standard "
                             f"ladder for flat rows (got input_shape={input_shape}).")
        if any(s % 32 for s in self.input_shape[1:]):
            raise ValueError(f"The CelebA network needs images whose height and width are "
                             f"multiples of 32, got {self.input_shape[1]}x{self.input_shape[2]}.")
        if len(self.latent_dims) != _DEPTH or self.latent_dims[-1] < 1:
            raise ValueError(f"The CelebA network has {_DEPTH} levels, the deepest with at "
                             f"least one latent dimension; got latent_dims={self.latent_dims}.")
        widths = ([int(conv_channels) * 2**i for i in range(_DEPTH)]
                  if isinstance(conv_channels, int) else [int(w) for w in conv_channels])
        if len(widths) != _DEPTH or min(widths) < 1:
            raise ValueError(f"conv_channels must be one positive int or {_DEPTH}, one per level; "
                             f"got {conv_channels!r}.")
        self.widths = tuple(widths)
        self._build()
        if self.channels_last:
            self.to(memory_format=torch.channels_last)
        self.likelihood = make_likelihood(likelihood)

    @property
    def config(self):
        """Constructor arguments as a JSON-compatible dict."""
        return {"input_shape": list(self.input_shape), "latent_dims": list(self.latent_dims),
                "conv_channels": self.conv_channels, "dense_units": self.dense_units,
                "likelihood": self.likelihood_name, "channels_last": self.channels_last,
                "normalization": self.normalization}

    @property
    def depth(self):
        """Number of levels (4)."""
        return _DEPTH

    def _act(self, kind, width, normalize=True):
        return activation_and_norm(kind, width, self.normalization if normalize else None,
                                   activation="leaky_relu")

    def _build(self):
        (c, height, width), (w1, w2, w3, w4), units = self.input_shape, self.widths, self.dense_units
        order = self.channels_last
        size = [(height >> k, width >> k) for k in range(6)]  # s_0 .. s_5
        cells = [w * s[0] * s[1] for w, s in zip((0, w1, w2, w3, w4), size)]
        self.trunk = nn.ModuleList(
            nn.Sequential(down(i, o), *self._act("conv", o))
            for i, o in zip((c, w1, w2, w3), (w1, w2, w3, w4)))
        dims = self.latent_dims
        # Heads: two convolutions (sizes s_2, s_4, s_5 after them) or two dense layers.
        head_convs = [((w1, 2), (w1, 1)), ((w2, 2), (w3, 2)), ((w3, 2), (w4, 2))]
        head_cells = [w1 * size[2][0] * size[2][1], w3 * size[4][0] * size[4][1],
                      w4 * size[5][0] * size[5][1]]
        heads = []
        for level, (convs, n_cells, w_in) in enumerate(zip(head_convs, head_cells, (w1, w2, w3))):
            layers = []
            for out, stride in convs:
                layers += [down(w_in, out) if stride == 2 else _ConvSame(w_in, out),
                           *self._act("conv", out)]
                w_in = out
            heads.append(nn.Sequential(*layers, Flatten(order), nn.Linear(n_cells, 2 * dims[level]))
                         if dims[level] else nn.Identity())
        heads.append(nn.Sequential(Flatten(order), nn.Linear(cells[4], units), *self._act("dense", units),
                                   nn.Linear(units, units), *self._act("dense", units),
                                   nn.Linear(units, 2 * dims[3])))
        self.heads = nn.ModuleList(heads)
        self.top = nn.Sequential(
            nn.Linear(dims[3], units), *self._act("dense", units),
            nn.Linear(units, units), *self._act("dense", units),
            nn.Linear(units, cells[4]), *self._act("dense", cells[4]),
            Unflatten((w4, *size[4]), order))
        # Lateral path of level l: one dense layer to d_{l+1}'s map (no norm at level 1).
        self.laterals = nn.ModuleList(
            nn.Sequential(nn.Linear(dims[level], n), *self._act("dense", n, level > 0),
                          Unflatten((w, *size[level + 2]), order)) if dims[level] else nn.Identity()
            for level, (w, s) in enumerate(zip((w1, w3, w4), size[2:5]))
            for n in [w * s[0] * s[1]])

        def joined(level, w):
            return 2 * w if dims[level] else w

        self.ups = nn.ModuleList([
            nn.Sequential(up(joined(0, w1), w1, size[2], size[1]), *self._act("conv", w1, False)),
            nn.Sequential(up(joined(1, w3), w2, size[3], size[2]), *self._act("conv", w2),
                          _TransposedSame(w2, w1), *self._act("conv", w1)),
            nn.Sequential(_TransposedSame(joined(2, w4), w4), *self._act("conv", w4),
                          up(w4, w3, size[4], size[3]), *self._act("conv", w3)),
        ])
        self.output = up(w1, c, size[1], size[0])

    def _posterior_parameters(self, x, gates):
        """Means and unclipped log-variances of every level (empty for levels without latents)."""
        mus, logvars = [], []
        h = x.contiguous(memory_format=torch.channels_last) if self.channels_last else x
        for level, (g, head) in enumerate(zip(self.trunk, self.heads)):
            h = g(h)
            dim = self.latent_dims[level]
            stats = head(h * gates[level]) if dim else h.new_zeros((h.shape[0], 0))
            mus.append(stats[:, :dim])
            logvars.append(stats[:, dim:])
        return mus, logvars

    def encode(self, x, gates):
        """Posterior means and clipped log-variances, as :meth:`LadderNetwork.encode`."""
        mus, logvars = self._posterior_parameters(x, gates)
        return mus, [v.clamp(*LOGVAR_RANGE) for v in logvars]

    def decode(self, zs, gates):
        """Likelihood parameters from per-level latents, as :meth:`LadderNetwork.decode`."""
        d = self.top(zs[-1])
        for level in range(_DEPTH - 2, -1, -1):
            if self.latent_dims[level]:
                d = torch.cat([self.laterals[level](zs[level]) * gates[level], d], dim=1)
            d = self.ups[level](d)
        return self.output(d)

    def draw_noise(self, n, generator=None, device=None):
        """Standard normal noise per level, as :meth:`LadderNetwork.draw_noise`."""
        return [torch.randn((n, dim), generator=generator, device=device, dtype=torch.float32)
                for dim in self.latent_dims]

    def forward(self, x, encoder_gates, decoder_gates, generator=None, noise=None):
        """One stochastic pass, as :meth:`LadderNetwork.forward`; ``z`` from unclipped variances."""
        mus, logvars = self._posterior_parameters(x, encoder_gates)
        mus, logvars = [m.float() for m in mus], [v.float() for v in logvars]
        if noise is None:
            zs = [reparameterize(m, v, generator) for m, v in zip(mus, logvars)]
        else:
            zs = [m + torch.exp(0.5 * v) * eps for m, v, eps in zip(mus, logvars, noise)]
        output = self.decode(zs, decoder_gates)
        log_likelihood = self.likelihood.log_prob(output.float(), x.float())
        kl = torch.stack([kl_to_standard_normal(m, v.clamp(*LOGVAR_RANGE))
                          for m, v in zip(mus, logvars)], dim=1)
        return log_likelihood, kl
