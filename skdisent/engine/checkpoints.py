"""Checkpoint files: model files named after the epoch, written atomically, two kept.

A checkpoint is a model file named ``epoch-<n>.safetensors`` after the number of
epochs it has run, written into the folder given as ``checkpoint_dir``. A folder
holds at most two: the newest and the one before it, so that a checkpoint spoiled
after it was written (a full disk, a faulty copy) still leaves one to resume from.
A fit holds its folder (:func:`folder_lock`): a second fit that checkpoints into it at
the same time is refused, rather than deleting the first one's files.
"""

import contextlib
import os
import pathlib
import re
import socket

from .._model_file import ModelFileError, read_model_file, write_atomic
from .._warn import warn

__all__ = ["checkpoint_name", "checkpoint_files", "write_checkpoint", "newest_checkpoint",
           "folder_lock"]

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


@contextlib.contextmanager
def folder_lock(directory):
    """Hold ``directory`` for one fit, or raise if another live fit holds it.

    The lock is a file ``.lock`` naming the host and process that hold it, created
    atomically and removed when the ``with`` block ends. A lock whose process is gone
    (on this host) is taken over.

    Parameters
    ----------
    directory : path-like
        A ``checkpoint_dir``; created if needed.

    Raises
    ------
    ValueError
        If another fit, in this process or another one, holds the folder.
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ".lock"
    while True:
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder is None or not _gone(*holder):
                host, pid = holder or ("?", "?")
                raise ValueError(
                    f"checkpoint_dir={str(directory)!r} is in use by another fit (process {pid} "
                    f"on {host}): give each fit its own checkpoint_dir. If that fit is no "
                    f"longer running, delete {path}."
                ) from None
            path.unlink(missing_ok=True)  # left by a process that died
            continue
        with os.fdopen(descriptor, "w") as file:
            file.write(f"{socket.gethostname()} {os.getpid()}")
        break
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _holder(path):
    """``(host, pid)`` written in a lock file, or None while it is being written."""
    try:
        host, pid = path.read_text().split()
        return host, int(pid)
    except (OSError, ValueError):
        return None


def _gone(host, pid):
    """Whether the process ``pid`` of ``host`` has ended (only known on this host)."""
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
