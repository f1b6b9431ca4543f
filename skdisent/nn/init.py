"""Parameter initialisation that draws from a local generator.

PyTorch's layers initialise themselves from the global random state when they are
built. The estimators build their networks on the ``meta`` device instead and
initialise them here, from a ``torch.Generator`` seeded by ``random_state``, so that a
fit never reads or advances the global torch state.
"""

import math

import torch
from torch import nn

__all__ = ["build_on_meta", "reset_parameters"]


def build_on_meta(factory, device, generator, scheme="torch"):
    """Build a module without touching the global random state.

    Parameters
    ----------
    factory : callable
        Called with no arguments; returns the module to build.
    device : torch.device
        Where the parameters are placed.
    generator : torch.Generator
        CPU generator the initial values are drawn from.
    scheme : {"torch", "glorot"}, default="torch"
        See :func:`reset_parameters`.

    Returns
    -------
    module : torch.nn.Module
        The module, initialised as ``scheme`` says, from ``generator``.
    """
    with torch.device("meta"):
        module = factory()
    module = module.to_empty(device="cpu")
    reset_parameters(module, generator, scheme)
    return module.to(device)


def reset_parameters(module, generator, scheme="torch"):
    """Initialise every layer of ``module``, drawing from ``generator``.

    With ``scheme="torch"``, linear and convolution layers get PyTorch's default
    (Kaiming-uniform weights with ``a=sqrt(5)``, biases uniform in ``+-1/sqrt(fan_in)``);
    with ``scheme="glorot"``, TF1's default, which the pro-VLAE reference ran with
    (Glorot-uniform weights, in ``+-sqrt(6 / (fan_in + fan_out))``, and zero biases).
    Batch-norm layers get unit weights, zero biases and fresh running statistics.
    Parameters of other modules keep whatever their owner's ``reset_parameters`` gives
    them.

    Parameters
    ----------
    module : torch.nn.Module
        The module whose layers are initialised in place.
    generator : torch.Generator
        CPU generator the values are drawn from.
    scheme : {"torch", "glorot"}, default="torch"
        How linear and convolution layers are initialised.
    """
    if scheme not in ("torch", "glorot"):
        raise ValueError(f"scheme must be 'torch' or 'glorot', got {scheme!r}.")
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Conv1d)):
            weight = layer.weight
            with torch.no_grad():
                values = torch.empty(weight.shape, dtype=weight.dtype)
                if scheme == "glorot":
                    nn.init.xavier_uniform_(values, generator=generator)
                    weight.copy_(values)
                    if layer.bias is not None:
                        layer.bias.zero_()
                    continue
                nn.init.kaiming_uniform_(values, a=math.sqrt(5), generator=generator)
                weight.copy_(values)
                if layer.bias is not None:
                    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(values)
                    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                    bias = torch.empty(layer.bias.shape, dtype=layer.bias.dtype)
                    bias.uniform_(-bound, bound, generator=generator)
                    layer.bias.copy_(bias)
        elif isinstance(layer, nn.modules.batchnorm._BatchNorm):
            layer.reset_parameters()
        elif hasattr(layer, "reset_parameters") and not list(layer.children()):
            layer.reset_parameters()
