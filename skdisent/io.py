"""Model files that open without running code: :func:`save` and :func:`load`.

A model file is a `safetensors <https://github.com/huggingface/safetensors>`_ file:
an 8-byte header length, a JSON header, then raw tensor bytes. Its tensors are the
network's weights (named ``network/weights/<parameter>``) and the training state
(optimiser moments, generator states); the header's metadata holds, under the key
``"skdisent"``, one JSON document with the file's format version, the estimator's
class and parameters, its fitted attributes, its ``history_`` and a SHA-256 of the
tensors. Reading one parses JSON and copies bytes, nothing else: no pickle, no
import of anything outside skdisent, whoever wrote the file.

Pickle and :func:`joblib.dump` keep working for trusted files; this format is for
files that cross machines or people. Both carry the full training state, so a loaded
model continues with ``warm_start=True`` exactly where the saved one stopped.
"""

import dataclasses
import hashlib
import importlib
import json
import math
import os
import pathlib
import tempfile
from numbers import Integral

import numpy as np
import torch

__all__ = ["save", "load", "ModelFileError", "FORMAT_VERSION"]

#: Version of the model file layout written by :func:`save`; :func:`load` reads this one.
FORMAT_VERSION = 1

_FORMAT = "skdisent-model"

# Network settings that choose how the weights are laid out, not what the model computes:
# a file may differ from today's default in them, and its network is rebuilt as saved.
_MEMORY_LAYOUT_KEYS = frozenset({"channels_last"})
_METADATA_KEY = "skdisent"
_MAX_HEADER = 100 * 2**20  # bytes; a longer header means a corrupt length field


class ModelFileError(ValueError):
    """A model file cannot be read.

    Raised by :func:`load` (and when resuming from a checkpoint) for a file that is
    truncated or corrupt, that was not written by :func:`save`, whose format
    version this skdisent does not read, or whose weights do not match its
    parameters. The message says which, and what to do.
    """


# ---------------------------------------------------------------- public API


def save(model, path):
    """Write a skdisent model to a file that loads without running code.

    The file holds the parameters, the fitted attributes, ``history_``, the
    weights and the training state (optimiser and generator states), so the
    model loaded by :func:`load` transforms identically and can continue
    training with ``warm_start=True``. The write is atomic: a temporary file in
    the same folder is written, flushed to disk and renamed over ``path``, so a
    crash while saving leaves any previous file at ``path`` intact.

    Parameters
    ----------
    model : BetaVAE, VLAE, ProVLAE or another skdisent estimator
        The model to save, fitted or not.
    path : str or path-like
        Where to write. The file is a safetensors file; ``.safetensors`` is a
        good suffix.

    Returns
    -------
    path : pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        If ``model`` is not a skdisent estimator, or holds an attribute this
        format cannot represent.

    See Also
    --------
    load : read the file back.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skdisent import BetaVAE, save, load
    >>> X = np.random.default_rng(0).integers(0, 256, size=(32, 1, 16, 16), dtype=np.uint8)
    >>> model = BetaVAE(n_components=2, n_epochs=1, depth=2, random_state=0).fit(X)
    >>> path = save(model, os.path.join(tempfile.mkdtemp(), "model.safetensors"))
    >>> np.array_equal(load(path).transform(X), model.transform(X))
    True
    """
    path = pathlib.Path(path)
    _write_atomic(path, _to_bytes(model))
    return path


def load(path):
    """Read a model written by :func:`save`.

    Nothing in the file is executed: the JSON header is parsed, the estimator's
    class is looked up among skdisent's own, the network is rebuilt from the
    saved parameters and the weights are copied in after their checksum and
    shapes are checked.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save` (or a checkpoint).

    Returns
    -------
    model : skdisent estimator
        The model, with its parameters, fitted attributes, ``history_`` and
        training state; on the CPU until it is used.

    Raises
    ------
    ModelFileError
        If the file is truncated or corrupt, was not written by :func:`save`, has
        a format version this skdisent does not read, or holds weights that do
        not match its parameters.
    FileNotFoundError
        If there is no file at ``path``.

    See Also
    --------
    save : write a model file.
    skdisent.load_checkpoint : the newest checkpoint of a folder, ready to resume.
    """
    path = pathlib.Path(path)
    cls, params, state = _read_model_file(path)
    model = cls(**params)
    _apply_state(model, state, source=path)
    return model


# ------------------------------------------------- writing (used by checkpoints)


def _to_bytes(model):
    from safetensors.torch import save as safetensors_save

    from . import __version__
    from .base import BaseDisentangler

    if not isinstance(model, BaseDisentangler):
        raise TypeError(
            f"save writes skdisent estimators; got {type(model).__name__}. Use pickle or "
            "joblib.dump for other objects."
        )
    cls = type(model)
    params = model.get_params(deep=False)
    state = model.__getstate__()
    for name in params:
        state.pop(name, None)
    sections = {"fitted": {}, "history": None, "network": None, "training": {}}
    for name, value in state.items():
        if name == "history_":
            sections["history"] = value
        elif name == "_network_state":
            sections["network"] = value
        elif name.startswith("_"):
            sections["training"][name] = value
        else:
            sections["fitted"][name] = value

    encoder = _Encoder()
    header = {
        "format": _FORMAT,
        "format_version": FORMAT_VERSION,
        "skdisent_version": __version__,
        "torch_version": torch.__version__,
        "class": cls.__qualname__,
        "module": cls.__module__,
        "params": encoder.encode(params, "params"),
    }
    for section, value in sections.items():
        header[section] = encoder.encode(value, section)
    header["tensors_sha256"] = _digest(encoder.tensors)
    metadata = {_METADATA_KEY: json.dumps(header, allow_nan=False, separators=(",", ":"))}
    return safetensors_save(encoder.tensors, metadata=metadata)


def _write_atomic(path, data):
    """Write ``data`` to ``path`` atomically: temp file, fsync, rename, fsync folder."""
    path = pathlib.Path(path)
    folder = path.parent if str(path.parent) else pathlib.Path(".")
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            _write_all(file, data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, _file_mode(path))  # mkstemp's 0o600 would outlive the rename
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)


def _write_all(file, data):
    file.write(data)


def _file_mode(path):
    """The mode of the file being replaced, else what ``open`` would give a new one."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_folder(folder):
    """Make a rename in ``folder`` durable (POSIX); a no-op where folders cannot be opened."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


# ------------------------------------------------------------------- reading


def _read_model_file(path):
    """Parse and check a model file without building the estimator.

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    cls : type
        The estimator class, one of skdisent's.
    params : dict
        Its parameters.
    state : dict
        The state :meth:`BaseDisentangler.__setstate__` takes, parameters left out.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as safetensors_load

    data = path.read_bytes()
    header = _parse_header(data, path)
    try:
        tensors = safetensors_load(data)
    except SafetensorError as error:
        raise ModelFileError(
            f"{path} is truncated or corrupt ({error}); it cannot be read. If it is a "
            "checkpoint, resume from an earlier one."
        ) from None
    expected = header.get("tensors_sha256")
    if expected != _digest(tensors):
        raise ModelFileError(
            f"The tensors of {path} do not match their checksum: the file is corrupt. If it "
            "is a checkpoint, resume from an earlier one."
        )
    decoder = _Decoder(tensors, path)
    try:
        cls = _resolve_class(header["module"], header["class"], path)
        params = decoder.decode(header["params"])
        state = dict(decoder.decode(header["fitted"]))
        state.update(decoder.decode(header["training"]))
        if header["history"] is not None:
            state["history_"] = decoder.decode(header["history"])
        if header["network"] is not None:
            state["_network_state"] = decoder.decode(header["network"])
    except (KeyError, TypeError, AttributeError) as error:
        raise ModelFileError(
            f"{path} has a malformed skdisent header ({type(error).__name__}: {error})."
        ) from None
    unused = set(tensors) - decoder.used
    if unused:
        raise ModelFileError(
            f"{path} holds tensors its header does not name: {sorted(unused)[:3]}."
        )
    return cls, params, state


def _not_safetensors(data, path, problem):
    pickled = len(data) > 1 and data[0] == 0x80 and data[1] in (2, 3, 4, 5)
    if pickled or data[:4] == b"PK\x03\x04":
        return ModelFileError(
            f"{path} looks like a pickle or torch.save file, not a file written by "
            "skdisent.save. Open pickles with pickle.load or joblib.load, and only if you "
            "trust where they came from."
        )
    return ModelFileError(
        f"{path} is {problem}. If it is a checkpoint, resume from an earlier one."
    )


def _parse_header(data, path):
    if len(data) < 8:
        raise _not_safetensors(data, path, f"truncated ({len(data)} bytes): it cannot be read")
    size = int.from_bytes(data[:8], "little")
    if size > _MAX_HEADER or 8 + size > len(data):
        raise _not_safetensors(
            data, path, f"truncated or corrupt: its header claims {size} bytes, the file has "
            f"{len(data)}"
        )
    try:
        raw = json.loads(data[8:8 + size])
        metadata = raw.get("__metadata__") or {}
        text = metadata.get(_METADATA_KEY)
    except (ValueError, AttributeError):
        raise _not_safetensors(data, path, "corrupt: its header is not valid JSON") from None
    if text is None:
        raise ModelFileError(
            f"{path} is a safetensors file without skdisent's metadata: it was not written by "
            "skdisent.save."
        )
    try:
        header = json.loads(text)
    except ValueError:
        raise ModelFileError(f"{path} is corrupt: its skdisent header is not valid JSON.") from None
    if not isinstance(header, dict) or header.get("format") != _FORMAT:
        raise ModelFileError(f"{path} is not a skdisent model file.")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"{path} is corrupt: format_version is {version!r}.")
    written_by = header.get("skdisent_version", "unknown")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} uses model file format {version}, written by skdisent {written_by}; this "
            f"skdisent reads format {FORMAT_VERSION}. Upgrade skdisent to load it."
        )
    if version < FORMAT_VERSION:
        raise ModelFileError(
            f"{path} uses model file format {version}, written by skdisent {written_by}; this "
            f"skdisent reads format {FORMAT_VERSION} only. Load it with that skdisent version "
            "and save it again with this one."
        )
    return header


def _resolve_class(module, name, path):
    from .base import BaseDisentangler

    if not isinstance(module, str) or not isinstance(name, str) or not (
        module == "skdisent" or module.startswith("skdisent.")
    ):
        raise ModelFileError(
            f"{path} names the class {module}.{name}; skdisent.load only builds skdisent's "
            "own estimators."
        )
    try:
        cls = importlib.import_module(module)
        for part in name.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError):
        raise ModelFileError(
            f"{path} holds a {name} from {module}, which this skdisent does not have. Load "
            "it with the skdisent version that wrote it "
            "or one that has this model."
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, BaseDisentangler)):
        raise ModelFileError(f"{path} names {module}.{name}, which is not a skdisent estimator.")
    return cls


def _apply_state(model, state, source):
    """Check ``state`` against ``model``'s parameters and set it on ``model``.

    Parameters
    ----------
    model : skdisent estimator
        An estimator whose parameters the state must fit.
    state : dict
        As returned by :func:`_read_model_file`.
    source : path-like
        Named in error messages.
    """
    network = state.get("_network_state")
    if network is not None:
        _check_network(model, state, network, source)
    model.__setstate__(state)


def _check_network(model, state, network, source):
    layout = state.get("layout_")
    if layout is None or not isinstance(network.get("weights"), dict):
        raise ModelFileError(f"{source} is corrupt: it has weights but no input layout.")
    name = type(model).__name__
    try:
        with torch.device("meta"):
            expected = model._build_network(layout)
    except (ValueError, TypeError) as error:
        raise ModelFileError(
            f"The parameters in {source} do not describe a valid {name} for its data: {error}"
        ) from None
    saved = network.get("config")
    if not isinstance(saved, dict):
        raise ModelFileError(f"{source} is corrupt: its network has no configuration.")
    differing = [
        key for key in sorted(set(expected.config) | set(saved))
        if key not in _MEMORY_LAYOUT_KEYS and expected.config.get(key) != saved.get(key)
    ]
    if differing:
        differences = ", ".join(
            f"{key}={expected.config.get(key)!r} from the parameters but "
            f"{saved.get(key)!r} in the file"
            for key in differing
        )
        raise ModelFileError(
            f"The weights in {source} do not match the parameters of the {name}: {differences}."
        )
    shapes = {key: tuple(value.shape) for key, value in expected.state_dict().items()}
    found = {key: tuple(value.shape) for key, value in network["weights"].items()}
    problems = [f"missing {key}" for key in shapes if key not in found]
    problems += [f"unexpected {key}" for key in found if key not in shapes]
    problems += [
        f"{key} has shape {found[key]}, the parameters give {shapes[key]}"
        for key in shapes
        if key in found and found[key] != shapes[key]
    ]
    if problems:
        shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
        raise ModelFileError(
            f"The weights in {source} do not match the parameters of the {name}: {shown}."
        )


def _digest(tensors):
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous().reshape(-1)
        digest.update(name.encode() + b"\0" + str(tensor.dtype).encode() + b"\0")
        digest.update(tensor.view(torch.uint8).numpy())
    return digest.hexdigest()


# ---------------------------------------------------------------- JSON codec


def _allowed_module(module):
    return module == "skdisent" or module.startswith("skdisent.")


class _Encoder:
    """Python values to JSON with tags; tensors set aside under path-like names."""

    def __init__(self):
        self.tensors = {}
        self._storages = set()

    def encode(self, value, path):
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
            return {"__tensor__": name}
        if isinstance(value, np.ndarray):
            return {"__ndarray__": value.dtype.str, "shape": list(value.shape),
                    "data": [self.encode(v, path) for v in value.reshape(-1).tolist()]}
        if isinstance(value, pathlib.PurePath):
            return {"__path__": str(value)}
        if isinstance(value, np.random.RandomState):
            return {"__random_state__": self.encode(value.get_state(legacy=True), path)}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            cls = type(value)
            if _allowed_module(cls.__module__):
                fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
                return {"__dataclass__": [cls.__module__, cls.__qualname__],
                        "fields": self.encode(fields, path)}
        raise TypeError(
            f"skdisent.save cannot store {path.replace('/', '.')} of type "
            f"{type(value).__name__}. Use pickle or joblib.dump for this model."
        )


class _Decoder:
    """The inverse of :class:`_Encoder`; refuses any tag it does not know."""

    def __init__(self, tensors, source):
        self.tensors = tensors
        self.source = source
        self.used = set()

    def _error(self, what):
        return ModelFileError(f"{self.source} is corrupt: {what}.")

    def decode(self, value):
        if value is None or isinstance(value, (bool, str, int, float)):
            return value
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            raise self._error(f"unexpected JSON value {value!r}")
        tags = [k for k in value if k.startswith("__")]
        if not tags:
            return {k: self.decode(v) for k, v in value.items()}
        tag = tags[0]
        body = value[tag]
        if tag == "__tuple__":
            return tuple(self.decode(v) for v in body)
        if tag == "__items__":
            return {_hashable(self.decode(k)): self.decode(v) for k, v in body}
        if tag == "__float__":
            if body not in ("nan", "inf", "-inf"):
                raise self._error(f"unknown float {body!r}")
            return float(body)
        if tag == "__scalar__":
            return np.dtype(_numeric_dtype(body, self)).type(self.decode(value["value"]))
        if tag == "__tensor__":
            if body not in self.tensors:
                raise self._error(f"the tensor {body!r} its header names is missing")
            self.used.add(body)
            return self.tensors[body]
        if tag == "__ndarray__":
            dtype = object if body == "|O" else _numeric_dtype(body, self)
            data = [self.decode(v) for v in value["data"]]
            array = np.empty(len(data), dtype=dtype)
            array[:] = data
            return array.reshape([int(s) for s in value["shape"]])
        if tag == "__path__":
            return pathlib.Path(body)
        if tag == "__random_state__":
            random_state = np.random.RandomState()
            random_state.set_state(self.decode(body))
            return random_state
        if tag == "__dataclass__":
            module, name = body
            if not _allowed_module(module):
                raise self._error(f"it names the class {module}.{name}")
            cls = importlib.import_module(module)
            for part in name.split("."):
                cls = getattr(cls, part)
            if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
                raise self._error(f"{module}.{name} is not a data class")
            return cls(**self.decode(value["fields"]))
        raise self._error(f"unknown tag {tag!r}")


def _numeric_dtype(text, decoder):
    try:
        dtype = np.dtype(text)
    except TypeError:
        raise decoder._error(f"unknown dtype {text!r}") from None
    if dtype.kind not in "biufcU":
        raise decoder._error(f"unexpected dtype {text!r}")
    return dtype


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key
