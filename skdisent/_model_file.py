"""The model file format: a safetensors file whose header holds one versioned document.

A model file is a `safetensors <https://github.com/huggingface/safetensors>`_ file:
an 8-byte header length, a JSON header, then raw tensor bytes. Its metadata holds,
under the key ``"skdisent"``, a JSON header with the format's name and version, the
versions that wrote it, the estimator's class name and the sections of its
*document*:

- ``params``: the estimator's parameters (``get_params(deep=False)``);
- ``fitted``: its fitted attributes, by name, from a list each class declares;
- ``history``: ``history_``, one record per epoch;
- ``network``: ``{"config": ..., "weights": ...}``, how to rebuild the torch module;
- ``training``: :meth:`~skdisent.engine.TrainingState.to_dict`, what a resumed fit needs.

Tensors (weights, optimiser moments, generator states) are stored by safetensors and
named in the header. A SHA-256 digest covers the header and every tensor. Reading a
file parses JSON and copies bytes, nothing else: no pickle, no import.

Format 1 (skdisent before the training engine) kept the estimator's private
attributes as they were named in memory; :func:`read_model_file` converts it.
"""

import hashlib
import json
import os
import pathlib
import tempfile

import torch

from ._codec import CodecError, Decoder, Encoder
from ._version import __version__

__all__ = ["ModelFileError", "FORMAT_VERSION", "SECTIONS", "model_file_bytes", "write_atomic",
           "read_model_file"]

#: Version of the layout :func:`model_file_bytes` writes; :func:`read_model_file` reads 1 and 2.
FORMAT_VERSION = 2

#: The sections of a model's document, in the order they are written.
SECTIONS = ("params", "fitted", "history", "network", "training")

_FORMAT = "skdisent-model"
_METADATA_KEY = "skdisent"
_MAX_HEADER = 100 * 2**20  # bytes; a longer header means a corrupt length field


class ModelFileError(ValueError):
    """A model file cannot be read.

    Raised by :func:`skdisent.load` (and when resuming from a checkpoint) for a file
    that is truncated or corrupt, that was not written by :func:`skdisent.save`, whose
    format version this skdisent does not read, or whose weights do not match its
    parameters. The message says which, and what to do.
    """


# ------------------------------------------------------------------- writing


def model_file_bytes(class_name, document):
    """The bytes of a model file holding ``document``.

    Parameters
    ----------
    class_name : str
        The estimator's class, as :func:`skdisent.load` looks it up.
    document : dict
        One entry per name of :data:`SECTIONS`.

    Returns
    -------
    data : bytes

    Raises
    ------
    TypeError
        If the document holds a value the format cannot represent.
    """
    from safetensors.torch import save as safetensors_save

    encoder = Encoder()
    header = {
        "format": _FORMAT,
        "format_version": FORMAT_VERSION,
        "skdisent_version": __version__,
        "torch_version": torch.__version__,
        "class": class_name,
    }
    for section in SECTIONS:
        header[section] = encoder.encode(document[section], section)
    header["sha256"] = _digest(header, encoder.tensors)
    metadata = {_METADATA_KEY: json.dumps(header, allow_nan=False, separators=(",", ":"))}
    return safetensors_save(encoder.tensors, metadata=metadata)


def write_atomic(path, data):
    """Write ``data`` to ``path`` atomically: temporary file, fsync, rename, fsync folder.

    A crash while writing leaves any earlier file at ``path`` intact.

    Parameters
    ----------
    path : path-like
    data : bytes
    """
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


def read_model_file(path):
    """Parse and check a model file; nothing in it is executed or imported.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    class_name : str
        The estimator class the file names.
    document : dict
        One entry per name of :data:`SECTIONS`, in the structure of format 2.

    Raises
    ------
    ModelFileError
        If the file is not a readable skdisent model file.
    FileNotFoundError
        If there is no file at ``path``.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as safetensors_load

    path = pathlib.Path(path)
    data = path.read_bytes()
    header = _parse_header(data, path)
    try:
        tensors = safetensors_load(data)
    except SafetensorError as error:
        raise ModelFileError(
            f"{path} is truncated or corrupt ({error}); it cannot be read. If it is a "
            "checkpoint, resume from an earlier one."
        ) from None
    if header["format_version"] == 1:
        expected, digest = header.pop("tensors_sha256", None), _tensor_digest(tensors)
    else:
        expected, digest = header.pop("sha256", None), _digest(header, tensors)
    if expected != digest:
        raise ModelFileError(
            f"{path} does not match its checksum: the file is corrupt. If it is a "
            "checkpoint, resume from an earlier one."
        )
    decoder = Decoder(tensors)
    try:
        class_name = header["class"]
        if not isinstance(class_name, str):
            raise TypeError(f"the class is {class_name!r}")
        if header["format_version"] == 1:
            document = _document_of_format_1(header, decoder)
        else:
            document = {section: decoder.decode(header[section]) for section in SECTIONS}
    except (KeyError, TypeError, AttributeError, CodecError) as error:
        raise ModelFileError(f"{path} is corrupt: {_reason(error)}.") from None
    unused = set(tensors) - decoder.used
    if unused:
        raise ModelFileError(f"{path} holds tensors its header does not name: {sorted(unused)[:3]}.")
    return class_name, document


def _reason(error):
    if isinstance(error, KeyError):
        return f"its header lacks {error}"
    return str(error)


def _not_safetensors(data, path, problem):
    pickled = len(data) > 1 and data[0] == 0x80 and data[1] in (2, 3, 4, 5)
    if pickled or data[:4] == b"PK\x03\x04":
        return ModelFileError(
            f"{path} looks like a pickle or torch.save file, not a file written by "
            "skdisent.save. Open pickles with pickle.load or joblib.load, and only if you "
            "trust where they came from."
        )
    if problem.startswith("not a"):
        return ModelFileError(f"{path} is {problem}: skdisent.load reads the files skdisent.save "
                              "and checkpoints write.")
    return ModelFileError(f"{path} is {problem}. If it is a checkpoint, resume from an earlier one.")


def _parse_header(data, path):
    if len(data) < 8:
        raise _not_safetensors(data, path, f"truncated ({len(data)} bytes): it cannot be read")
    size = int.from_bytes(data[:8], "little")
    if data[8:9] != b"{":  # a safetensors header is a JSON object
        raise _not_safetensors(data, path, "not a skdisent model file (nor any safetensors "
                                           "file), or is corrupt")
    if size > _MAX_HEADER or 8 + size > len(data):
        raise _not_safetensors(
            data, path, f"truncated or corrupt: its header claims {size} bytes, the file has "
            f"{len(data)}"
        )
    try:
        raw = json.loads(data[8:8 + size])
        metadata = raw.get("__metadata__") or {}
        text = metadata.get(_METADATA_KEY)
    except (ValueError, AttributeError, RecursionError):
        raise _not_safetensors(data, path, "corrupt: its header is not valid JSON") from None
    if text is None:
        raise ModelFileError(
            f"{path} is a safetensors file without skdisent's metadata: it was not written by "
            "skdisent.save."
        )
    try:
        header = json.loads(text)
    except (ValueError, TypeError, RecursionError):
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
            f"skdisent reads formats 1 to {FORMAT_VERSION}. Upgrade skdisent to load it."
        )
    if version < 1:
        raise ModelFileError(
            f"{path} uses model file format {version}, written by skdisent {written_by}; this "
            f"skdisent reads formats 1 to {FORMAT_VERSION} only."
        )
    return header


def _digest(header, tensors):
    """SHA-256 of the header (its digest left out) and of every tensor."""
    digest = hashlib.sha256(
        json.dumps(header, sort_keys=True, separators=(",", ":"), allow_nan=False).encode())
    digest.update(b"\0" + _tensor_digest(tensors).encode())
    return digest.hexdigest()


def _tensor_digest(tensors):
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous().reshape(-1)
        digest.update(name.encode() + b"\0" + str(tensor.dtype).encode() + b"\0")
        digest.update(tensor.view(torch.uint8).numpy())
    return digest.hexdigest()


# ------------------------------------------------------------------ format 1

# The training attributes a format-1 file held, and where format 2 keeps them.
_FORMAT_1_SCHEDULE = {"_step_start": "fade_in_start"}  # ProVLAE's


def _document_of_format_1(header, decoder):
    """The format-2 document of a format-1 header (only tensors were hashed there)."""
    fitted = dict(header["fitted"])
    layout = fitted.get("layout_")
    if isinstance(layout, dict) and "__dataclass__" in layout:
        if layout["__dataclass__"] != ["skdisent.base", "InputLayout"]:
            raise CodecError(f"it names the class {layout['__dataclass__']}")
        fitted["layout_"] = layout["fields"]
    history = header["history"]
    return {
        "params": decoder.decode(header["params"]),
        "fitted": decoder.decode(fitted),
        "history": None if history is None else decoder.decode(history),
        "network": None if header["network"] is None else decoder.decode(header["network"]),
        "training": training_of_format_1(decoder.decode(header["training"])),
    }


def training_of_format_1(attributes):
    """The training state of format 2 from the private attributes format 1 kept.

    Also reads the state of estimators pickled by skdisent before the training engine.

    Parameters
    ----------
    attributes : dict
        ``_optimizer_states``, ``_rng_states``, ``_lr_scale``, ``_nan_retries`` and the
        model's schedule counters; empty for an unfitted model.

    Returns
    -------
    training : dict or None
    """
    if not attributes:
        return None
    attributes = dict(attributes)
    generators = attributes.pop("_rng_states")
    training = {
        "generator": generators["rng"],
        "noise_generator": generators["noise_rng"],
        "noise_device": generators.get("noise_rng_device"),
        "optimizers": attributes.pop("_optimizer_states"),
        "lr_scale": attributes.pop("_lr_scale", 1.0),
        "nan_retries": attributes.pop("_nan_retries", 0),
        "schedule": {new: attributes.pop(old) for old, new in _FORMAT_1_SCHEDULE.items()
                     if old in attributes},
    }
    if attributes:
        raise CodecError(f"unknown training attributes {sorted(attributes)}")
    return training
