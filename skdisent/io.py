"""Model files that open without running code: :func:`save`, :func:`load`, :func:`load_checkpoint`.

A model file (see :mod:`skdisent._model_file` for its layout) holds an estimator's
parameters, fitted attributes, ``history_``, weights and training state, so a loaded
model transforms identically and continues with ``warm_start=True`` exactly where the
saved one stopped. :func:`load` builds only the estimator classes named in
:data:`MODEL_CLASSES`, whatever the file says.

Pickle and :func:`joblib.dump` keep working for trusted files; this format is for
files that cross machines or people.
"""

import pathlib

from ._model_file import FORMAT_VERSION, ModelFileError, read_model_file, write_atomic
from ._state_document import apply_state_document, completed_params
from .base import BaseGenerativeModel
from .engine.checkpoints import newest_checkpoint
from .models import (
    NVAE,
    VLAE,
    BetaVAE,
    HierarchicalVAE,
    JointGAN,
    LDFModel,
    ProVLAE,
    TeacherStudentVAE,
)

__all__ = ["save", "load", "load_checkpoint", "ModelFileError", "FORMAT_VERSION", "MODEL_CLASSES"]

#: The estimators a model file may name, by the class name it stores.
MODEL_CLASSES = {cls.__name__: cls for cls in (BetaVAE, VLAE, ProVLAE, LDFModel,
                                                 HierarchicalVAE, TeacherStudentVAE, JointGAN,
                                                 NVAE)}


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
    if not isinstance(model, BaseGenerativeModel):
        raise TypeError(
            f"save writes skdisent estimators; got {type(model).__name__}. Use pickle or "
            "joblib.dump for other objects."
        )
    path = pathlib.Path(path)
    write_atomic(path, model._model_file_bytes())
    return path


def load(path):
    """Read a model written by :func:`save`.

    Nothing in the file is executed: the JSON header is parsed, the estimator's
    class is looked up among skdisent's own, the network is rebuilt from the
    saved parameters and the weights are copied in after the file's checksum and
    every tensor's shape are checked.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save` (or a checkpoint), by this skdisent or an
        earlier one.

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
    class_name, document = read_model_file(path)
    return _build(class_name, document, path)


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
    path, class_name, document = found
    return _build(class_name, document, path).set_params(warm_start=True)


def _build(class_name, document, source):
    cls = MODEL_CLASSES.get(class_name)
    if cls is None:
        raise ModelFileError(
            f"{source} holds a {class_name!r}, which is not one of this skdisent's estimators "
            f"({', '.join(MODEL_CLASSES)}). Load it with the skdisent version that wrote it."
        )
    params = document["params"]
    if not isinstance(params, dict) or not set(params) <= set(cls._get_param_names()):
        raise ModelFileError(f"{source} is corrupt: its parameters are not those of a "
                             f"{class_name}.")
    try:
        model = cls(**completed_params(cls, params))
        model._validate_params()
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{source} holds invalid parameters of a {class_name}: {error}") \
            from None
    apply_state_document(model, document, source=source)
    return model
