"""Python values to tagged JSON and back, with tensors set aside by name.

The header of a model file is JSON; what JSON lacks (tuples, non-string keys, NaN,
numpy scalars and arrays, paths, ``RandomState`` objects, tensors) is written as an
object with one ``"__tag__"`` key. :class:`Decoder` knows exactly the tags
:class:`Encoder` writes and refuses anything else: it imports nothing and builds no
class named by the file.
"""

import math
import pathlib
from numbers import Integral

import numpy as np
import torch

__all__ = ["Encoder", "Decoder", "CodecError"]

#: Deepest nesting of values a header may hold (ours stay below 10).
MAX_DEPTH = 64


class CodecError(ValueError):
    """A header holds something the decoder does not know."""


class Encoder:
    """Encode values for a JSON header; tensors go to :attr:`tensors` under path-like names."""

    def __init__(self):
        self.tensors = {}
        self._storages = set()

    def encode(self, value, path):
        """The JSON form of ``value``; ``path`` names it in errors and names its tensors.

        Raises
        ------
        TypeError
            For a value of a type the format cannot hold.
        """
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, np.generic):
            return {"__scalar__": value.dtype.str, "value": self.encode(value.item(), path)}
        if isinstance(value, Integral):
            return int(value)
        if isinstance(value, float):
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, list):
            return [self.encode(v, f"{path}/{i}") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, f"{path}/{i}") for i, v in enumerate(value)]}
        if isinstance(value, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in value):
                return {k: self.encode(v, f"{path}/{k}") for k, v in value.items()}
            return {"__items__": [[self.encode(k, path), self.encode(v, f"{path}/{k}")]
                                  for k, v in value.items()]}
        if isinstance(value, torch.Tensor):
            return {"__tensor__": self._add_tensor(value, path)}
        if isinstance(value, np.ndarray):
            return {"__ndarray__": value.dtype.str, "shape": list(value.shape),
                    "data": [self.encode(v, path) for v in value.reshape(-1).tolist()]}
        if isinstance(value, pathlib.PurePath):
            return {"__path__": str(value)}
        if isinstance(value, np.random.RandomState):
            return {"__random_state__": self.encode(value.get_state(legacy=True), path)}
        raise TypeError(
            f"skdisent.save cannot store {path.replace('/', '.')} of type "
            f"{type(value).__name__}. Use pickle or joblib.dump for this model."
        )

    def _add_tensor(self, value, path):
        name = path
        while name in self.tensors:
            name += "'"
        tensor = value.detach().cpu().contiguous()
        storage = tensor.untyped_storage()
        if (storage.data_ptr() in self._storages or tensor.storage_offset()
                or tensor.nbytes != storage.nbytes()):
            tensor = tensor.clone()  # safetensors refuses tensors that share memory
        self._storages.add(tensor.untyped_storage().data_ptr())
        self.tensors[name] = tensor
        return name


class Decoder:
    """The inverse of :class:`Encoder`; raises :class:`CodecError` for anything else.

    Parameters
    ----------
    tensors : dict of str to torch.Tensor
        The file's tensors, by name.
    """

    def __init__(self, tensors):
        self.tensors = tensors
        self.used = set()

    def decode(self, value, depth=0):
        """The Python value of a JSON form written by :meth:`Encoder.encode`."""
        if depth > MAX_DEPTH:
            raise CodecError(f"values are nested more than {MAX_DEPTH} deep")
        if value is None or isinstance(value, (bool, str, int, float)):
            return value
        depth += 1
        if isinstance(value, list):
            return [self.decode(v, depth) for v in value]
        if not isinstance(value, dict):
            raise CodecError(f"unexpected JSON value {value!r}")
        tags = [k for k in value if k.startswith("__")]
        if not tags:
            return {k: self.decode(v, depth) for k, v in value.items()}
        tag = tags[0]
        body = value[tag]
        if tag == "__tuple__":
            return tuple(self.decode(v, depth) for v in _list(body, tag))
        if tag == "__items__":
            return {_hashable(self.decode(k, depth)): self.decode(v, depth)
                    for k, v in _pairs(body)}
        if tag == "__float__":
            if body not in ("nan", "inf", "-inf"):
                raise CodecError(f"unknown float {body!r}")
            return float(body)
        if tag == "__scalar__":
            scalar = self.decode(value.get("value"), depth)
            if not isinstance(scalar, (bool, int, float, str)):
                raise CodecError(f"a numpy scalar holds {scalar!r}")
            return numeric_dtype(body).type(scalar)
        if tag == "__tensor__":
            if body not in self.tensors:
                raise CodecError(f"the tensor {body!r} its header names is missing")
            self.used.add(body)
            return self.tensors[body]
        if tag == "__ndarray__":
            return self._array(body, value, depth)
        if tag == "__path__":
            if not isinstance(body, str):
                raise CodecError(f"a path is {body!r}")
            return pathlib.Path(body)
        if tag == "__random_state__":
            random_state = np.random.RandomState()
            try:
                random_state.set_state(self.decode(body, depth))
            except (TypeError, ValueError) as error:
                raise CodecError(f"a RandomState's state is malformed ({error})") from None
            return random_state
        raise CodecError(f"unknown tag {tag!r}")

    def _array(self, body, value, depth):
        shape = [int(s) for s in _list(value.get("shape"), "shape")]
        data = [self.decode(v, depth) for v in _list(value.get("data"), "data")]
        if any(s < 0 for s in shape) or math.prod(shape) != len(data):
            raise CodecError(f"an array of shape {shape} holds {len(data)} values")
        if body == "|O":
            array = np.empty(len(data), dtype=object)
            array[:] = data
        elif numeric_dtype(body).kind == "U":
            # Built from its strings: the length the file declares is not trusted.
            array = np.array([str(v) for v in data], dtype=str)
        else:
            try:
                array = np.array(data, dtype=numeric_dtype(body))
            except (TypeError, ValueError, OverflowError):
                raise CodecError(f"an array of {body} holds other values") from None
        return array.reshape(shape)


def numeric_dtype(text):
    """The numpy dtype ``text`` names, if it is a number or string type; else CodecError."""
    try:
        dtype = np.dtype(text)
    except TypeError:
        raise CodecError(f"unknown dtype {text!r}") from None
    if dtype.kind not in "biufcU":
        raise CodecError(f"unexpected dtype {text!r}")
    return dtype


def _list(body, what):
    if not isinstance(body, list):
        raise CodecError(f"{what} is not a list")
    return body


def _pairs(body):
    pairs = _list(body, "__items__")
    if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
        raise CodecError("__items__ is not a list of pairs")
    return pairs


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key
