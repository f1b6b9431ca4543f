"""A reusable copy of training state, held in one flat buffer per dtype and device."""

import copy

import torch

__all__ = ["FlatStateCopy"]


class FlatStateCopy:
    """A deep copy of nested tensors, refreshed in place from one epoch to the next.

    The copied tensors are views into one contiguous buffer per (dtype, device), made
    once and rewritten by every later :meth:`update` of the same structure. The
    estimators keep such a copy of their weights and optimiser state during each
    epoch, to roll back to if the epoch fails. Holding it as many separate tensors,
    allocated afresh every epoch, changed where glibc's allocator placed the
    training steps' activations: it returned freed memory to the system after each
    step, and the next step page-faulted it back in (``benchmarks/README.md``
    measures the cost). One large block per dtype lies outside the allocator's heap,
    and reusing it allocates nothing after the first epoch.
    """

    def __init__(self):
        self._signature = None
        self._views = None

    def update(self, source):
        """Copy ``source`` into the buffers; return the copy.

        Parameters
        ----------
        source : object
            Tensors nested in dicts, lists and tuples (``state_dict`` results), and
            plain values, which are deep-copied.

        Returns
        -------
        value : object
            ``source``'s structure with every tensor replaced by its copy; a
            ``state_dict``'s ``_metadata`` is kept. It shares no memory with
            ``source`` and stays valid until the next :meth:`update`.
        """
        tensors = [tensor.detach() for tensor in _tensors(source)]
        signature = [(t.shape, t.stride(), t.dtype, t.device) for t in tensors]
        if signature != self._signature:
            self._views = _flat_views(signature)
            self._signature = signature
        with torch.no_grad():
            for view, tensor in zip(self._views, tensors):
                view.copy_(tensor)
        replacements = iter(self._views)
        return _replace_tensors(source, lambda tensor: next(replacements))


def _tensors(structure):
    """The tensors of a nested structure, in the order :func:`_replace_tensors` visits."""
    if isinstance(structure, torch.Tensor):
        yield structure
    elif isinstance(structure, dict):
        for value in structure.values():
            yield from _tensors(value)
    elif isinstance(structure, (list, tuple)):
        for value in structure:
            yield from _tensors(value)


def _replace_tensors(structure, replacement):
    if isinstance(structure, torch.Tensor):
        return replacement(structure)
    if isinstance(structure, dict):
        result = type(structure)(
            (key, _replace_tensors(value, replacement)) for key, value in structure.items()
        )
        if hasattr(structure, "_metadata"):
            result._metadata = copy.deepcopy(structure._metadata)
        return result
    if isinstance(structure, (list, tuple)):
        return type(structure)(_replace_tensors(value, replacement) for value in structure)
    return copy.deepcopy(structure)


def _flat_views(signature):
    """Tensors of the given shapes and strides, in one new buffer per (dtype, device).

    Each keeps the strides of the tensor it copies (an optimiser's fused kernels pair
    a parameter and its moments element by element in memory, so a channels-last
    weight needs channels-last moments). A tensor whose elements do not fill one dense
    block gets a buffer of its own.
    """
    dense = [_is_dense(shape, stride) for shape, stride, _, _ in signature]
    sizes = {}
    for (shape, _, dtype, device), fits in zip(signature, dense):
        if fits:
            sizes[dtype, device] = sizes.get((dtype, device), 0) + shape.numel()
    buffers = {key: torch.empty(size, dtype=key[0], device=key[1]) for key, size in sizes.items()}
    offsets = dict.fromkeys(buffers, 0)
    views = []
    for (shape, stride, dtype, device), fits in zip(signature, dense):
        if not fits:
            views.append(torch.empty_strided(shape, stride, dtype=dtype, device=device))
            continue
        start = offsets[dtype, device]
        offsets[dtype, device] = start + shape.numel()
        views.append(buffers[dtype, device].as_strided(shape, stride, start))
    return views


def _is_dense(shape, stride):
    """Whether a tensor's elements fill ``numel`` consecutive places of memory, each once.

    Sorted by stride, each dimension must step over exactly the block of the ones
    before it (dimensions of size 1 or 0 take no place).
    """
    span = 1
    for step, size in sorted((step, size) for size, step in zip(shape, stride) if size > 1):
        if step != span:
            return False
        span *= size
    return True
