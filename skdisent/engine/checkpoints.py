"""Checkpoint files: model files named after the epoch, written atomically, two kept.

A checkpoint is a model file named ``epoch-<n>.safetensors`` after the number of
epochs it has run, written into the folder given as ``checkpoint_dir``. A folder
holds at most two: the newest and the one before it, so that a checkpoint spoiled
after it was written (a full disk, a faulty copy) still leaves one to resume from.
"""

import pathlib
import re

from .._model_file import ModelFileError, read_model_file, write_atomic
from .._warn import warn

__all__ = ["checkpoint_name", "checkpoint_files", "write_checkpoint", "newest_checkpoint"]

_NAME = re.compile(r"^epoch-(\d+)\.safetensors$")


def checkpoint_name(epoch):
    """File name of the checkpoint written after ``epoch`` epochs."""
    return f"epoch-{int(epoch):06d}.safetensors"


def checkpoint_files(directory):
    """The checkpoints in ``directory``, oldest first (by epoch); temporary files left out.

    Parameters
    ----------
    directory : path-like

    Returns
    -------
    files : list of pathlib.Path
    """
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match and path.is_file():
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def write_checkpoint(data, directory, epoch, keep):
    """Write the model file ``data`` as the checkpoint of ``epoch`` into ``directory``.

    Every other checkpoint in the folder but ``keep`` (the previous checkpoint of
    this fit, or None) is deleted first, so the folder never holds more than two
    and never one of an earlier, unrelated fit next to this fit's newest; so are
    temporary files that a crash in the middle of a write left behind.

    Parameters
    ----------
    data : bytes
        The model file.
    directory : path-like
        The checkpoint folder; created if needed.
    epoch : int
        Epochs the model has run.
    keep : pathlib.Path or None
        The checkpoint to keep.

    Returns
    -------
    path : pathlib.Path
        The checkpoint written.
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / checkpoint_name(epoch)
    for old in checkpoint_files(directory):
        if old != keep and old != path:
            old.unlink(missing_ok=True)
    for stale in directory.glob(".epoch-*.safetensors.*.tmp"):  # left by a crash mid-write
        stale.unlink(missing_ok=True)
    write_atomic(path, data)
    return path


def newest_checkpoint(directory):
    """The newest checkpoint of ``directory`` that reads back, parsed.

    A newest checkpoint that fails to read (truncated or corrupt) is skipped with
    a warning, and the one before it is used.

    Parameters
    ----------
    directory : path-like

    Returns
    -------
    found : tuple (path, class_name, document) or None
        None when the folder holds no readable checkpoint.
    """
    for path in reversed(checkpoint_files(directory)):
        try:
            class_name, document = read_model_file(path)
        except ModelFileError as error:
            warn(f"Skipping a checkpoint that cannot be read: {error}")
            continue
        return path, class_name, document
    return None
