"""Optimisers: the fused Adam, and optimiser state that keeps its parameters' layout."""

import torch

__all__ = ["fused_adam", "load_optimizer_state", "set_learning_rates"]


def fused_adam(parameters, **options):
    """``torch.optim.Adam`` in its fused form (one kernel per step) where torch has it.

    The fused step is several times faster than the default one on the CPU (torch
    2.4 and later) and on CUDA, and as deterministic. It assumes that each parameter
    and its optimiser state share a memory layout, which holds as long as parameters
    are not converted to another memory format (e.g. channels-last) after the
    optimiser state exists.

    Parameters
    ----------
    parameters : iterable of torch.nn.Parameter
        What the optimiser updates.
    **options
        Adam's other arguments (``lr``, ``betas``, ...).

    Returns
    -------
    optimizer : torch.optim.Adam
    """
    parameters = list(parameters)
    try:
        return torch.optim.Adam(parameters, fused=True, **options)
    except (RuntimeError, TypeError, ValueError):  # older torch, or a device without it
        return torch.optim.Adam(parameters, **options)


def load_optimizer_state(optimizer, state):
    """Load ``state`` into ``optimizer``, each moment in the memory layout of its parameter.

    ``Optimizer.load_state_dict`` moves the state to its parameters' device and dtype
    but keeps its strides; a file format that stores tensors contiguously (safetensors)
    thus gives a channels-last weight contiguous moments, and the fused optimiser then
    takes another, not bit-identical, path.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
    state : dict
        An ``optimizer.state_dict()`` of the same parameter groups.
    """
    optimizer.load_state_dict(state)
    for parameter, moments in optimizer.state.items():
        for name, value in moments.items():
            if (isinstance(value, torch.Tensor) and value.shape == parameter.shape
                    and value.stride() != parameter.stride()):
                moments[name] = torch.empty_like(parameter, dtype=value.dtype).copy_(value)


def set_learning_rates(optimizers, reference, scale):
    """Set every group's rate to the rate of the same group in ``reference``, times ``scale``.

    Parameters
    ----------
    optimizers : dict of str to torch.optim.Optimizer
        The optimisers in use.
    reference : dict of str to torch.optim.Optimizer
        Fresh optimisers built from the estimator's parameters (their rates are read).
    scale : float
        The factor left by earlier reductions.
    """
    for key, optimizer in optimizers.items():
        for group, fresh in zip(optimizer.param_groups, reference[key].param_groups):
            group["lr"] = fresh["lr"] * scale
