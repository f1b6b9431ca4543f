"""The training state of a fit besides its network: what a resumed fit needs to go on.

:class:`TrainingState` is the one object an estimator keeps for training (as
``_training``); model files, checkpoints and pickles store it through
:meth:`TrainingState.to_dict`, a fixed structure of plain values and tensors.
"""

import math

import torch

from .device import derived_seed, device_generator, on_device, restore_generator
from .optim import load_optimizer_state
from .state_copy import FlatStateCopy

__all__ = ["TrainingState"]


class TrainingState:
    """Generators, optimisers and counters that a fit carries from one epoch to the next.

    Parameters
    ----------
    generator : torch.Generator
        CPU generator of the initial weights, the shuffling and any other draw made on
        the CPU.
    noise_generator : torch.Generator
        Generator on the training device of the reparameterisation noise and the
        prior draws.
    optimizers : dict of str to torch.optim.Optimizer
        The model's optimisers, by name.
    lr_scale : float, default=1.0
        Factor on the learning rates left by ``on_nan="reduce_lr"``.
    nan_retries : int, default=0
        Epochs run again after a non-finite loss, over the model's training.
    schedule : dict of str to int or float, default=None
        The model's own counters (ProVLAE: the optimisation step at which the
        newest level began to fade in).

    Attributes
    ----------
    rollback_copy : FlatStateCopy
        Where the trainer copies the state before each epoch, to roll back to. It is
        kept from one fit to the next and never saved: freeing its buffers after each
        fit would raise glibc's threshold for memory it maps, and the training steps'
        activations would then be handed back to the system and faulted in again at
        every step (``benchmarks/README.md`` measures the cost).
    """

    def __init__(self, generator, noise_generator, optimizers, *, lr_scale=1.0, nan_retries=0,
                 schedule=None):
        self.generator = generator
        self.noise_generator = noise_generator
        self.optimizers = optimizers
        self.lr_scale = lr_scale
        self.nan_retries = nan_retries
        self.schedule = dict(schedule or {})
        self.rollback_copy = FlatStateCopy()

    def follow(self, device):
        """Move what must live on the training device there, before a resumed fit.

        Optimiser moments follow their parameters (which must be on ``device``
        already), and the noise generator is replaced by one on ``device``, seeded from
        its state, if it drew elsewhere.

        Parameters
        ----------
        device : torch.device
        """
        for optimizer in self.optimizers.values():
            load_optimizer_state(optimizer, optimizer.state_dict())
        if not on_device(self.noise_generator, device):
            self.noise_generator = device_generator(device, derived_seed(self.noise_generator))

    def to_dict(self):
        """The state as plain values and CPU tensors.

        Returns
        -------
        state : dict
            ``generator``, ``noise_generator`` (generator states), ``noise_device``,
            ``optimizers`` (``state_dict`` of each), ``lr_scale``, ``nan_retries`` and
            ``schedule``.
        """
        return {
            "generator": self.generator.get_state(),
            "noise_generator": self.noise_generator.get_state(),
            "noise_device": str(self.noise_generator.device),
            "optimizers": {k: _to_cpu(o.state_dict()) for k, o in self.optimizers.items()},
            "lr_scale": float(self.lr_scale),
            "nan_retries": int(self.nan_retries),
            "schedule": dict(self.schedule),
        }

    @classmethod
    def from_dict(cls, state, optimizers):
        """Rebuild a state written by :meth:`to_dict` around fresh ``optimizers``.

        Every tensor is checked against what the optimisers' parameters imply before
        it is used: a wrong shape would otherwise be read out of bounds by the fused
        optimiser.

        Parameters
        ----------
        state : dict
            As :meth:`to_dict` returns it.
        optimizers : dict of str to torch.optim.Optimizer
            Freshly built optimisers of the network the state belongs to.

        Returns
        -------
        training_state : TrainingState

        Raises
        ------
        ValueError
            If the state does not fit the optimisers, naming what does not.
        """
        if not isinstance(state, dict):
            raise ValueError("the training state is not a mapping")
        saved = state.get("optimizers")
        if not isinstance(saved, dict) or set(saved) != set(optimizers):
            found = sorted(saved) if isinstance(saved, dict) else saved
            raise ValueError(f"the training state has optimisers {found}, the model "
                             f"{sorted(optimizers)}")
        for name, optimizer in optimizers.items():
            _check_optimizer_state(name, optimizer, saved[name])
            load_optimizer_state(optimizer, saved[name])
        generators = [_checked_generator_state(state.get(key), key)
                      for key in ("generator", "noise_generator")]
        lr_scale, nan_retries, schedule = (state.get("lr_scale"), state.get("nan_retries"),
                                           state.get("schedule"))
        if not (_is_real(lr_scale) and 0 <= lr_scale <= 1):
            raise ValueError(f"lr_scale is {lr_scale!r}, not a factor in [0, 1]")
        if not (isinstance(nan_retries, int) and not isinstance(nan_retries, bool)
                and nan_retries >= 0):
            raise ValueError(f"nan_retries is {nan_retries!r}, not a count")
        if not isinstance(schedule, dict) or not all(
                isinstance(k, str) and _is_real(v) for k, v in schedule.items()):
            raise ValueError(f"the schedule is {schedule!r}, not a mapping of names to numbers")
        generator = torch.Generator()
        generator.set_state(generators[0])
        return cls(generator, restore_generator(generators[1], state.get("noise_device")),
                   optimizers, lr_scale=float(lr_scale), nan_retries=nan_retries,
                   schedule=schedule)


def _is_real(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _checked_generator_state(value, name):
    # A CPU generator's state (Mersenne Twister) or a CUDA one's (seed and offset).
    if not (isinstance(value, torch.Tensor) and value.dtype == torch.uint8 and value.ndim == 1
            and value.numel() in (torch.Generator().get_state().numel(), 16)):
        raise ValueError(f"the {name} state is not a generator's state")
    return value


def _check_optimizer_state(name, optimizer, saved):
    expected = optimizer.state_dict()
    groups = saved.get("param_groups") if isinstance(saved, dict) else None
    if not isinstance(groups, list) or [g.get("params") for g in groups if isinstance(g, dict)] != [
            g["params"] for g in expected["param_groups"]]:
        raise ValueError(f"the state of optimiser {name!r} does not list the model's parameters")
    parameters = {index: parameter
                  for group, indices in zip(optimizer.param_groups, expected["param_groups"])
                  for index, parameter in zip(indices["params"], group["params"])}
    moments = saved.get("state")
    if not isinstance(moments, dict) or not set(moments) <= set(parameters):
        raise ValueError(f"the state of optimiser {name!r} names parameters the model lacks")
    for index, values in moments.items():
        parameter = parameters[index]
        if not isinstance(values, dict):
            raise ValueError(f"the state of optimiser {name!r} is malformed")
        for key, value in values.items():
            if not isinstance(value, torch.Tensor) or not value.is_floating_point():
                raise ValueError(f"{name}: {key} of parameter {index} is not a float tensor")
            shape = () if key == "step" else parameter.shape
            if value.shape != shape:
                raise ValueError(
                    f"{name}: {key} of parameter {index} has shape {tuple(value.shape)}, the "
                    f"parameter implies {tuple(shape)}"
                )
            if not torch.isfinite(value).all():
                raise ValueError(f"{name}: {key} of parameter {index} holds NaN or infinite "
                                 "values")


def _to_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cpu(v) for v in value]
    return value
