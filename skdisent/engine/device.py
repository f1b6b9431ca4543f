"""Devices, random generators on them, and mixed precision."""

import contextlib
import functools
import hashlib
import os

import torch

from .._warn import warn

__all__ = ["resolve_device", "to_device", "device_generator", "restore_generator",
           "derived_seed", "on_device", "autocast", "thread_count", "torch_threads",
           "with_threads"]


def resolve_device(name, fallback=False):
    """The torch device that an estimator's ``device`` parameter names here.

    Parameters
    ----------
    name : str
        ``"auto"`` (a CUDA GPU when there is one, else the CPU), ``"cpu"``, ``"cuda"``
        or ``"cuda:N"``.
    fallback : bool, default=False
        For inference: a CUDA device on a machine without one gives the CPU and a
        warning, so that a model fitted on a GPU works where it is loaded. ``fit``
        refuses instead.

    Returns
    -------
    device : torch.device
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {name!r}. skdisent trains "
            "and runs on CPUs and CUDA GPUs."
        )
    if device.type == "cuda" and not torch.cuda.is_available():
        if fallback:
            warn(f"device={name!r}, but no CUDA GPU is available here: the model runs on the "
                 "CPU. Set device='cpu' or 'auto' to silence this warning.")
            return torch.device("cpu")
        raise ValueError(
            f"device={name!r} was asked for, but no CUDA GPU is available. Set device='cpu' "
            "or 'auto' (e.g. with set_params) to train on this machine."
        )
    return device


def to_device(tensor, device):
    """A small CPU ``tensor`` (gates, weights) on ``device``, without a wait on a GPU.

    A plain copy from ordinary memory to a GPU waits for the work queued on it, once
    per training step; from page-locked memory the copy is queued like the rest.

    Parameters
    ----------
    tensor : torch.Tensor
        On the CPU.
    device : torch.device
        Where it is needed.

    Returns
    -------
    tensor : torch.Tensor
        On ``device``.
    """
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


def device_generator(device, seed):
    """A ``torch.Generator`` drawing on ``device`` (a CUDA one on a GPU), seeded with ``seed``.

    Parameters
    ----------
    device : torch.device
    seed : int

    Returns
    -------
    generator : torch.Generator
    """
    generator = torch.Generator(device=device) if device.type == "cuda" else torch.Generator()
    return generator.manual_seed(int(seed))


def on_device(generator, device):
    """Whether ``generator`` draws on ``device``."""
    if generator.device.type != device.type:
        return False
    if device.type != "cuda" or device.index is None:
        return True
    return generator.device.index == device.index


def derived_seed(state):
    """A seed drawn deterministically from a generator or its saved state."""
    if isinstance(state, torch.Generator):
        state = state.get_state()
    digest = hashlib.sha256(state.detach().cpu().contiguous().numpy().tobytes()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def restore_generator(state, device):
    """A generator in ``state``, on its device where there is one, else on the CPU.

    A CUDA generator's state (saved on a GPU machine) cannot be set on a CPU
    generator. Where no GPU is available, the CPU generator is seeded from that
    state instead: resumed training is then repeatable, but draws other noise than
    it would have on the GPU (as it would anyway: CPU and CUDA draw differently).

    Parameters
    ----------
    state : torch.Tensor
        A ``Generator.get_state()``.
    device : str or None
        The device the generator drew on.

    Returns
    -------
    generator : torch.Generator
    """
    device = torch.device(device or "cpu")
    if device.type == "cuda" and torch.cuda.is_available():
        try:
            generator = torch.Generator(device=device)
            generator.set_state(state)
            return generator
        except (RuntimeError, ValueError):
            pass
    generator = torch.Generator()
    if device.type == "cpu":
        try:
            generator.set_state(state)
            return generator
        except (RuntimeError, ValueError):
            pass  # an older pickle of a CUDA generator, without its device
    return generator.manual_seed(derived_seed(state))


def autocast(device, precision):
    """bfloat16 autocast on ``device`` when ``precision`` is ``"bf16"``, else nothing.

    Parameters
    ----------
    device : torch.device
    precision : {"fp32", "bf16"}

    Returns
    -------
    context : torch.autocast
    """
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                          enabled=precision == "bf16")


def thread_count(n_threads):
    """The torch CPU threads that an estimator's ``n_threads`` parameter asks for here.

    Parameters
    ----------
    n_threads : int or None
        A positive count; a negative one counts back from the CPUs this process may use
        (-1: all of them); None: all of them but one, at least one, and no more than
        torch is allowed already (``OMP_NUM_THREADS``, or joblib's limit in its workers).
        Leaving a CPU free keeps a fit from collapsing when anything else runs: torch's
        threads wait for each other by spinning, and one busy CPU stalls them all.

    Returns
    -------
    threads : int
    """
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    if n_threads is None:
        return max(1, min(torch.get_num_threads(), available - 1))
    if n_threads < 0:
        return max(1, available + 1 + n_threads)
    return int(n_threads)


@contextlib.contextmanager
def torch_threads(threads):
    """Run the ``with`` block with ``threads`` torch CPU threads, then restore the count.

    Parameters
    ----------
    threads : int
    """
    before = torch.get_num_threads()
    if threads != before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def with_threads(method):
    """Run an estimator's ``method`` with the torch threads of its ``n_threads`` parameter.

    Parameters
    ----------
    method : callable
        A method of an object with an ``n_threads`` attribute (None where it lacks one).

    Returns
    -------
    method : callable
    """
    @functools.wraps(method)
    def threaded(self, *args, **kwargs):
        with torch_threads(thread_count(getattr(self, "n_threads", None))):
            return method(self, *args, **kwargs)

    return threaded
