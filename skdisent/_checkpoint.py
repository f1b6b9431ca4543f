"""Periodic checkpoints of a fit, and resuming from the newest one.

A checkpoint is a model file (:mod:`skdisent.io`) named ``epoch-<n>.safetensors``
after the number of epochs it has run, written atomically into the folder given as
``checkpoint_dir``. A folder holds at most two: the newest and the one before it,
so that a checkpoint spoiled after it was written (a full disk, a faulty copy) still
leaves one to resume from.
"""

import pathlib
import re
import warnings

from .io import ModelFileError, _apply_state, _read_model_file, _to_bytes, _write_atomic

__all__ = ["load_checkpoint"]

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


def write_checkpoint(model, directory, keep):
    """Write ``model``'s checkpoint into ``directory`` atomically.

    Every other checkpoint in the folder but ``keep`` (the previous checkpoint of
    this fit, or None) is deleted first, so the folder never holds more than two
    and never one of an earlier, unrelated fit next to this fit's newest; so are
    temporary files that a crash in the middle of a write left behind.

    Parameters
    ----------
    model : skdisent estimator
        A fitted model.
    directory : path-like
        The checkpoint folder; created if needed.
    keep : pathlib.Path or None
        The checkpoint to keep.

    Returns
    -------
    path : pathlib.Path
        The checkpoint written.
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / checkpoint_name(model.n_iter_)
    data = _to_bytes(model)
    for old in checkpoint_files(directory):
        if old != keep and old != path:
            old.unlink(missing_ok=True)
    for stale in directory.glob(".epoch-*.safetensors.*.tmp"):  # left by a crash mid-write
        stale.unlink(missing_ok=True)
    _write_atomic(path, data)
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
    found : tuple (path, cls, params, state) or None
        None when the folder holds no readable checkpoint.
    """
    for path in reversed(checkpoint_files(directory)):
        try:
            cls, params, state = _read_model_file(path)
        except ModelFileError as error:
            warnings.warn(f"Skipping a checkpoint that cannot be read: {error}", UserWarning,
                          stacklevel=3)
            continue
        return path, cls, params, state
    return None


def resume_into(model, directory):
    """Load the newest checkpoint of ``directory`` into ``model``, keeping its parameters.

    Parameters
    ----------
    model : skdisent estimator
        The estimator whose ``fit`` resumes; its class must be the checkpoint's.
    directory : path-like

    Returns
    -------
    path : pathlib.Path or None
        The checkpoint loaded, or None when there is none.
    """
    found = newest_checkpoint(directory)
    if found is None:
        return None
    path, cls, _, state = found
    if cls is not type(model):
        raise ValueError(
            f"checkpoint_dir={str(directory)!r} holds a checkpoint of a {cls.__name__}; this "
            f"is a {type(model).__name__}. Give each model its own checkpoint_dir."
        )
    _apply_state(model, state, source=path)
    return path


def load_checkpoint(directory):
    """The model saved in the newest checkpoint of a folder, ready to resume.

    Parameters
    ----------
    directory : str or path-like
        A ``checkpoint_dir`` a fit wrote into.

    Returns
    -------
    model : skdisent estimator
        The model as it was after the checkpoint's epoch, with its training
        state and ``warm_start=True``, so ``model.fit(X)`` continues the
        interrupted fit (with the same data) to the end of its epoch budget,
        equal bit for bit on a CPU to a fit that was never interrupted.

    Raises
    ------
    FileNotFoundError
        If the folder holds no readable checkpoint.

    See Also
    --------
    skdisent.load : read one model file.

    Notes
    -----
    The same happens without this function: an estimator with
    ``checkpoint_dir`` set and ``warm_start=True`` resumes from that folder's
    newest checkpoint when it is fitted before any other ``fit`` call, so a
    script killed in a long fit continues when it is simply run again.

    Examples
    --------
    >>> from skdisent import ProVLAE, load_checkpoint
    >>> model = ProVLAE(checkpoint_dir="runs/provlae", warm_start=True)  # doctest: +SKIP
    >>> model.fit(X)  # killed at epoch 20, run again: continues from epoch 20  # doctest: +SKIP
    >>> load_checkpoint("runs/provlae").n_iter_  # doctest: +SKIP
    20
    """
    found = newest_checkpoint(directory)
    if found is None:
        raise FileNotFoundError(f"No readable checkpoint in {str(directory)!r}.")
    path, cls, params, state = found
    model = cls(**params)
    _apply_state(model, state, source=path)
    model.set_params(warm_start=True)
    model._checkpoint_last = path
    return model
