"""Layers of the ladder networks: convolutions, activations and normalisations.

The ladder of METHOD.md section 1 puts an activation, then a normalisation, after every
hidden layer. Two normalisations are offered:

- ``"batch"``: PyTorch's batch norm, with batch statistics in training and running
  statistics in evaluation.
- ``"affine"``: a learned per-channel scale and shift, the same in training and
  evaluation, with no running statistics. This is what the reference code of pro-VLAE
  executed: its ``tf.layers.batch_normalization`` calls keep TF1's default
  ``training=False`` and no update op ever runs, so every one of them normalises with
  its initial statistics (mean 0, variance 1, epsilon 0.001) for the whole training.
  :class:`ChannelAffine` computes exactly that function, ``x / sqrt(1 + 0.001)`` scaled
  and shifted.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ACTIVATIONS",
    "NORMALIZATIONS",
    "ChannelAffine",
    "Flatten",
    "OutputSavingELU",
    "TransposedConvolution",
    "Unflatten",
    "activation_and_norm",
    "down",
    "up",
]

KERNEL = 4
ACTIVATIONS = ("elu", "leaky_relu")
NORMALIZATIONS = ("batch", "affine")

# TF1's batch-normalisation epsilon and leaky-ReLU slope, as the reference ran them.
_TF_EPSILON = 1e-3
_TF_LEAKY_SLOPE = 0.2


class ChannelAffine(nn.Module):
    """A learned scale and shift per channel: TF1's batch norm as the reference ran it.

    ``y = weight * x / sqrt(1 + eps) + bias`` over the channel axis (axis 1), the
    function of a batch-normalisation layer whose statistics stay at mean 0 and
    variance 1. Identical in training and evaluation; no running statistics.

    Parameters
    ----------
    num_features : int
        Channels (feature maps) or features (rows).
    eps : float, default=0.001
        TF1's default epsilon.
    """

    def __init__(self, num_features, eps=_TF_EPSILON):
        super().__init__()
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.weight = nn.Parameter(torch.ones(self.num_features))
        self.bias = nn.Parameter(torch.zeros(self.num_features))

    def reset_parameters(self):
        """Unit scale and zero shift, as TF1 initialises them."""
        with torch.no_grad():
            self.weight.fill_(1.0)
            self.bias.zero_()

    def forward(self, x):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        scale = (self.weight * (1.0 / math.sqrt(1.0 + self.eps))).to(x.dtype).view(shape)
        return x * scale + self.bias.to(x.dtype).view(shape)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}"


def activation_and_norm(kind, width, normalization="batch", activation="elu"):
    """The activation and normalisation that follow a hidden layer.

    Parameters
    ----------
    kind : {"conv", "dense"}
        Feature maps ``(n, C, H, W)`` or rows ``(n, width)``.
    width : int
        Channels or features.
    normalization : {"batch", "affine", None}, default="batch"
        See the module's docstring; None adds no normalisation.
    activation : {"elu", "leaky_relu"}, default="elu"
        ELU, or a leaky ReLU of slope 0.2 (TF1's default, the reference's CelebA
        network).

    Returns
    -------
    layers : list of torch.nn.Module
    """
    layers = [OutputSavingELU() if activation == "elu" else nn.LeakyReLU(_TF_LEAKY_SLOPE)]
    if normalization == "batch":
        layers.append(nn.BatchNorm2d(width) if kind == "conv" else nn.BatchNorm1d(width))
    elif normalization == "affine":
        layers.append(ChannelAffine(width))
    elif normalization is not None:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS} or None, got {normalization!r}.")
    return layers


class OutputSavingELU(nn.ELU):
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


def down(in_channels, out_channels):
    """A 4x4 convolution of stride 2 that halves the size (TF's ``'same'`` padding).

    Parameters
    ----------
    in_channels, out_channels : int

    Returns
    -------
    layer : torch.nn.Conv2d
    """
    return nn.Conv2d(in_channels, out_channels, KERNEL, stride=2, padding=1)


def up(in_channels, out_channels, size_in, size_out):
    """A 4x4 transposed convolution of stride 2 from ``size_in`` to ``size_out``.

    Parameters
    ----------
    in_channels, out_channels : int
    size_in, size_out : tuple of int
        ``(H, W)`` before and after; ``size_out`` is twice ``size_in``, plus one where
        the matching convolution rounded down.

    Returns
    -------
    layer : TransposedConvolution
    """
    padding = tuple(o - 2 * i for i, o in zip(size_in, size_out))
    return TransposedConvolution(
        in_channels, out_channels, KERNEL, stride=2, padding=1, output_padding=padding
    )


class TransposedConvolution(nn.ConvTranspose2d):
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


class Flatten(nn.Module):
    """Feature maps ``(n, C, H, W)`` to rows, in ``(C, H, W)`` or ``(H, W, C)`` order."""

    def __init__(self, channels_last=False):
        super().__init__()
        self.channels_last = channels_last

    def forward(self, x):
        if self.channels_last:
            x = x.permute(0, 2, 3, 1)  # a view when x is in channels-last memory format
        return x.flatten(1)


class Unflatten(nn.Module):
    """Rows to feature maps of ``shape = (C, H, W)``, the inverse of :class:`Flatten`."""

    def __init__(self, shape, channels_last=False):
        super().__init__()
        self.shape = tuple(shape)
        self.channels_last = channels_last

    def forward(self, x):
        if self.channels_last:
            channels, height, width = self.shape
            return x.reshape(x.shape[0], height, width, channels).permute(0, 3, 1, 2)
        return x.reshape(x.shape[0], *self.shape)
