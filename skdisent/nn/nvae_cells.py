"""The cells of NVAE (Vahdat and Kautz 2020), as the authors' code builds them.

``neural_operations.py`` and ``model.py`` of NVlabs/NVAE, architecture ``res_mbconv``
(the code's default): encoder and pre-processing cells of two batch-norm, Swish and
3x3 convolution steps; generative (decoder) and post-processing cells of one inverted
residual block (1x1 expansion, depthwise separable 5x5 convolution, 1x1 projection,
batch norm and Swish between); every cell ends with squeeze-and-excitation and adds
``0.1`` times its output to a skip connection. Convolutions carry the code's weight
normalisation (a learned log-norm per output channel) and the two vectors of the
power iteration that the spectral regulariser (:func:`spectral_regularization`) keeps
from one step to the next.

Differences from the code: batch norm is :class:`torch.nn.BatchNorm2d` followed by
:class:`torch.nn.SiLU` (the code fuses them in a synchronised CUDA kernel; the
arithmetic is the same); the data-dependent initialisation of the ``res_elu`` cells is
absent with them (``res_mbconv`` does not use it).
"""

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "BN_MOMENTUM",
    "Cell",
    "DecoderCombiner",
    "EncoderCombiner",
    "WeightNormConv2d",
    "batchnorm_regularization",
    "spectral_regularization",
]

#: The code's batch-norm settings (``BN_EPS``, ``momentum=0.05``).
BN_EPS = 1e-5
BN_MOMENTUM = 0.05
#: The skip connection adds this much of a cell's output (``Cell.forward``).
CELL_SCALE = 0.1
#: Power iterations of the spectral regulariser's first step (the code's ``10 * 4``).
FIRST_POWER_ITERATIONS = 40


class WeightNormConv2d(nn.Conv2d):
    """A convolution with the code's weight normalisation (its ``Conv2D``).

    The weight used is ``exp(log_weight_norm) * w / (||w|| + 1e-5)`` per output
    channel; without weight normalisation, ``w`` itself. ``spectral_u`` and
    ``spectral_v`` are the left and right vectors of the power iteration for the
    largest singular value of that weight, as a ``(out, in * k * k)`` matrix.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, groups=1,
                 bias=True, weight_norm=True):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         groups=groups, bias=bias)
        self.log_weight_norm = (nn.Parameter(torch.zeros(out_channels, 1, 1, 1))
                                if weight_norm else None)
        rows, cols = self.weight.shape[0], self.weight[0].numel()
        self.register_buffer("spectral_u", torch.zeros(rows))
        self.register_buffer("spectral_v", torch.zeros(cols))

    def normalized_weight(self):
        """The weight the convolution applies."""
        if self.log_weight_norm is None:
            return self.weight
        norm = torch.sqrt(torch.sum(self.weight * self.weight, dim=[1, 2, 3]))
        return torch.exp(self.log_weight_norm) * self.weight / (norm.view(-1, 1, 1, 1) + 1e-5)

    def forward(self, x):
        return F.conv2d(x, self.normalized_weight(), self.bias, self.stride, self.padding,
                        self.dilation, self.groups)

    @torch.no_grad()
    def initialize_from_weight(self, generator):
        """Set the log-norm from the weight (``log(||w|| + 0.01)``) and draw the power vectors."""
        if self.log_weight_norm is not None:
            norm = torch.sqrt(torch.sum(self.weight * self.weight, dim=[1, 2, 3]))
            self.log_weight_norm.copy_(torch.log(norm + 1e-2).view(-1, 1, 1, 1))
        for vector in (self.spectral_u, self.spectral_v):
            draw = torch.randn(vector.shape, generator=generator)
            vector.copy_(F.normalize(draw, dim=0, eps=1e-3))


def _bn(channels):
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class _BNSwishConv(nn.Module):
    """Batch norm, Swish, [nearest up-sampling], 3x3 convolution (``res_bnswish``)."""

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.upsample = stride == -1
        self.norm = _bn(in_channels)
        self.conv = WeightNormConv2d(in_channels, out_channels, 3, stride=abs(stride), padding=1)

    def forward(self, x):
        out = F.silu(self.norm(x))
        if self.upsample:
            out = F.interpolate(out, scale_factor=2, mode="nearest")
        return self.conv(out)


class _InvertedResidual(nn.Module):
    """The depthwise separable block ``mconv_e<ex>k5g0`` (MobileNetV2's inverted residual)."""

    def __init__(self, in_channels, out_channels, stride, expansion, kernel_size=5):
        super().__init__()
        hidden = round(in_channels * expansion)
        layers = [nn.Upsample(scale_factor=2, mode="nearest")] if stride == -1 else []
        layers += [
            _bn(in_channels),
            WeightNormConv2d(in_channels, hidden, 1, bias=False, weight_norm=False),
            _bn(hidden), nn.SiLU(),
            WeightNormConv2d(hidden, hidden, kernel_size, stride=abs(stride),
                             padding=(kernel_size - 1) // 2, groups=hidden, bias=False,
                             weight_norm=False),
            _bn(hidden), nn.SiLU(),
            WeightNormConv2d(hidden, out_channels, 1, bias=False, weight_norm=False),
            _bn(out_channels),
        ]
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return self.block(x)


class _SqueezeExcitation(nn.Module):
    """Channel gates from the spatial mean: ``max(C // 16, 4)`` hidden units."""

    def __init__(self, channels):
        super().__init__()
        hidden = max(channels // 16, 4)
        self.gates = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(),
                                   nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, x):
        return x * self.gates(x.mean(dim=[2, 3]))[:, :, None, None]


class _FactorizedReduce(nn.Module):
    """The skip of a down-sampling cell: Swish, four shifted 1x1 stride-2 convolutions."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        quarter = out_channels // 4
        widths = (quarter, quarter, quarter, out_channels - 3 * quarter)
        self.convs = nn.ModuleList(WeightNormConv2d(in_channels, w, 1, stride=2) for w in widths)

    def forward(self, x):
        out = F.silu(x)
        shifted = (out, out[:, :, 1:, 1:], out[:, :, :, 1:], out[:, :, 1:, :])
        return torch.cat([conv(part) for conv, part in zip(self.convs, shifted)], dim=1)


class _UpSkip(nn.Module):
    """The skip of an up-sampling cell: bilinear up-sampling and a 1x1 convolution."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = WeightNormConv2d(in_channels, out_channels, 1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True))


class Cell(nn.Module):
    """A residual cell: ``skip(x) + 0.1 * SE(ops(x))``.

    Parameters
    ----------
    in_channels : int
    kind : {"normal", "down", "up"}
        Stride 1; stride 2 with twice the channels; nearest up-sampling with half.
    block : {"residual", "separable", "separable_post"}
        ``res_bnswish`` twice (encoder and pre-processing cells), the inverted residual
        of expansion 6 (generative cells) or 3 (post-processing cells).
    use_se : bool, default=True
        End with squeeze-and-excitation.
    """

    def __init__(self, in_channels, kind, block, use_se=True):
        super().__init__()
        stride = {"normal": 1, "down": 2, "up": -1}[kind]
        out_channels = {1: in_channels, 2: 2 * in_channels, -1: in_channels // 2}[stride]
        if stride == 1:
            self.skip = nn.Identity()
        elif stride == 2:
            self.skip = _FactorizedReduce(in_channels, out_channels)
        else:
            self.skip = _UpSkip(in_channels, out_channels)
        if block == "residual":
            self.ops = nn.Sequential(_BNSwishConv(in_channels, out_channels, stride),
                                     _BNSwishConv(out_channels, out_channels, 1))
        else:
            expansion = 6 if block == "separable" else 3
            self.ops = _InvertedResidual(in_channels, out_channels, stride, expansion)
        self.se = _SqueezeExcitation(out_channels) if use_se else nn.Identity()
        self.out_channels = out_channels

    def forward(self, x):
        return self.skip(x) + CELL_SCALE * self.se(self.ops(x))


class EncoderCombiner(nn.Module):
    """Encoder features plus a 1x1 convolution of the decoder's (``EncCombinerCell``)."""

    def __init__(self, encoder_channels, decoder_channels):
        super().__init__()
        self.conv = WeightNormConv2d(decoder_channels, encoder_channels, 1)

    def forward(self, encoder_features, decoder_features):
        return encoder_features + self.conv(decoder_features)


class DecoderCombiner(nn.Module):
    """A 1x1 convolution of the decoder's features and a group's latents (``DecCombinerCell``)."""

    def __init__(self, channels, latent_channels):
        super().__init__()
        self.conv = WeightNormConv2d(channels + latent_channels, channels, 1)

    def forward(self, features, z):
        return self.conv(torch.cat([features, z], dim=1))


def spectral_regularization(convolutions, n_iterations):
    """Sum of the largest singular values of the convolutions' weights (``spectral_norm_parallel``).

    Each weight, as a ``(out, in * k * k)`` matrix, gets ``n_iterations`` steps of the
    power iteration from its stored vectors (updated in place, without gradient); the
    singular value ``u^T W v`` carries the gradient. Weights of one shape are batched,
    as in the code.

    Parameters
    ----------
    convolutions : list of WeightNormConv2d
    n_iterations : int

    Returns
    -------
    total : torch.Tensor
        A float32 scalar.
    """
    by_shape = {}
    for conv in convolutions:
        by_shape.setdefault(tuple(conv.weight.shape), []).append(conv)
    device = convolutions[0].weight.device
    total = torch.zeros((), device=device)
    with torch.autocast(device.type, enabled=False):
        for convs in by_shape.values():
            weights = torch.stack([c.normalized_weight().float().flatten(1) for c in convs])
            with torch.no_grad():
                u = torch.stack([c.spectral_u for c in convs])
                v = torch.stack([c.spectral_v for c in convs])
                for _ in range(n_iterations):
                    v = F.normalize(torch.bmm(u[:, None], weights).squeeze(1), dim=1, eps=1e-3)
                    u = F.normalize(torch.bmm(weights, v[:, :, None]).squeeze(2), dim=1, eps=1e-3)
                for i, conv in enumerate(convs):
                    conv.spectral_u.copy_(u[i])
                    conv.spectral_v.copy_(v[i])
            sigma = torch.bmm(u[:, None], torch.bmm(weights, v[:, :, None]))
            total = total + sigma.sum()
    return total


def batchnorm_regularization(norms):
    """Sum over batch-norm layers of the largest ``|gamma|`` (the code's ``batchnorm_loss``).

    Parameters
    ----------
    norms : list of torch.nn.BatchNorm2d

    Returns
    -------
    total : torch.Tensor
        A float32 scalar.
    """
    return torch.stack([n.weight.float().abs().max() for n in norms if n.affine]).sum()
