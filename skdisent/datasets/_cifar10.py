"""CIFAR-10 from the official python archive, read without running its pickles, cached as one compact file.

The official ``cifar-10-python.tar.gz`` holds Python 2 pickles: a dict per batch with ``b"data"``,
a numpy array pickled through ``numpy.core.multiarray._reconstruct``, and ``b"labels"``, a list of
ints. ``pickle.load`` on such a file runs whatever callables it names. Here an unpickler that refuses
every global but those three numpy names, and maps them to stand-ins of ours that accept only a
uint8 array's raw bytes, reads the batches: loading the archive runs no code it carries. The
archive is never extracted to disk; its members are read in memory.
"""

import pickle
import tarfile

import numpy as np

from ._base import (
    RemoteFile,
    atomic_write,
    dataset_folder,
    fetch_file,
    make_bunch,
    reading,
)

CIFAR10 = RemoteFile(
    folder="cifar10",
    filename="cifar-10-python.tar.gz",
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    checksum="md5:c58f30108f718f92721af3b95e74349a",
    size="163 MB",
)
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_FOLDER = "cifar-10-batches-py"
_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
_CACHE = "cifar10.npz"
_PIXELS = 3 * 32 * 32


class _Refused(Exception):
    """The archive is not what the official one holds; raised past ``reading`` as a ValueError."""


class _Dtype:
    """Stands in for ``numpy.dtype``: only ``uint8`` (``"u1"``), the dtype of the batches' data."""

    def __init__(self, code, align=False, copy=True):
        code = code.decode("ascii", "replace") if isinstance(code, bytes) else code
        if code != "u1":
            raise _Refused(f"an array of dtype {code!r}, where the CIFAR-10 batches hold uint8 ('u1')")

    def __setstate__(self, state):
        """Byte order and the like: nothing to keep for single bytes."""


class _Array:
    """Stands in for ``numpy.ndarray``: keeps the raw bytes of a uint8 array as a numpy array."""

    array = None  # also when a pickle makes one without calling __init__ or __setstate__

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise _Refused("an array whose pickled state is not numpy's (version, shape, dtype, order, data)")
        shape, dtype, fortran, data = state[-4:]
        if (not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape)
                or not isinstance(dtype, _Dtype) or not isinstance(data, bytes)
                or len(data) != int(np.prod(shape, dtype=np.int64))):
            raise _Refused(f"an array whose shape {shape!r} does not match its data")
        self.array = np.frombuffer(data, dtype=np.uint8).reshape(shape, order="F" if fortran else "C")


def _reconstruct(cls, shape, typecode):
    """Stands in for ``numpy.core.multiarray._reconstruct``: an empty array to be filled by its state."""
    if cls is not _Array:
        raise _Refused("numpy's _reconstruct called on something other than an ndarray")
    return _Array()


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _Array,
    ("numpy", "dtype"): _Dtype,
}


class _BatchUnpickler(pickle.Unpickler):
    """Loads plain dicts, lists, bytes, ints and strings, and numpy uint8 arrays through stand-ins."""

    def find_class(self, module, name):
        try:
            return _ALLOWED[module, name]
        except KeyError:
            raise _Refused(f"a reference to {module}.{name}") from None


def _read_batch(file, name):
    """``(images (n, 3, 32, 32), labels (n,))`` of one batch file."""
    batch = _BatchUnpickler(file, encoding="bytes").load()
    if not isinstance(batch, dict) or not {b"data", b"labels"} <= set(batch):
        raise _Refused(f"{name} without the dict of b'data' and b'labels' of a CIFAR-10 batch")
    data, labels = batch[b"data"], batch[b"labels"]
    data = data.array if isinstance(data, _Array) else None
    if (data is None or not isinstance(labels, list) or data.shape != (len(labels), _PIXELS)
            or not all(isinstance(v, int) and 0 <= v < 10 for v in labels)):
        raise _Refused(f"{name} whose data is not uint8 (n, 3072) with n labels 0..9")
    return data.reshape(-1, 3, 32, 32), np.array(labels, dtype=np.uint8)


def _read_archive(path, remedy):
    """Images and labels of the five training batches then the test batch, and the training size."""
    try:
        with reading(path, remedy), tarfile.open(path, "r:gz") as archive:
            members = set(archive.getnames())
            missing = [name for name in _BATCHES if f"{_FOLDER}/{name}" not in members]
            if missing:
                raise _Refused(f"no {_FOLDER}/{missing[0]} in the archive")
            parts = []
            for name in _BATCHES:
                with archive.extractfile(f"{_FOLDER}/{name}") as file:
                    parts.append(_read_batch(file, name))
    except (tarfile.TarError, pickle.UnpicklingError) as error:
        raise ValueError(f"{path} is damaged and cannot be read ({type(error).__name__}: {error}). {remedy}") from None
    except _Refused as refusal:
        raise ValueError(
            f"{path} is not the official CIFAR-10 python archive: it holds {refusal}. It was not loaded and "
            f"nothing in it was run. {remedy}"
        ) from None
    n_train = sum(len(labels) for _, labels in parts[:-1])
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), n_train


def load_cifar10(*, subset="all", data_home=None, download_if_missing=False, checksum=None, return_X_y=False):
    """Load CIFAR-10 as uint8 images with the class as the one factor.

    The official archive ``cifar-10-python.tar.gz`` (163 MB) is looked for in
    ``<data_home>/cifar10/``; it is downloaded only when ``download_if_missing=True``, to a
    temporary file that replaces the final name only after its checksum matched. Its batches
    are Python pickles: they are read by an unpickler that accepts nothing but dicts, lists,
    bytes, numbers and uint8 numpy arrays, so a tampered file is refused before anything in it
    can run. The decoded arrays are then cached as ``<data_home>/cifar10/cifar10.npz`` (written
    atomically), which later calls read instead of the archive.

    Parameters
    ----------
    subset : {"all", "train", "test"}, default="all"
        The 60,000 images, the 50,000 of the five training batches, or the 10,000 of the test batch.
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    download_if_missing : bool, default=False
        Download the archive when neither it nor the cache is in the data home. By default a
        missing file raises ``FileNotFoundError`` saying where to put it.
    checksum : str, default=None
        ``"algorithm:hexdigest"`` the archive must match. By default the md5 of the official
        archive, ``c58f30108f718f92721af3b95e74349a``.
    return_X_y : bool, default=False
        Return ``(images, factors)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` uint8 ``(n, 3, 32, 32)`` RGB; ``factors`` int ``(n, 1)``, the class;
        ``factor_values`` ``[array([0, ..., 9])]``, ``factor_names`` ``["class"]``,
        ``factor_sizes`` ``(10,)``, ``class_names`` (airplane, automobile, ..., truck), ``DESCR``.
    (images, factors) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        Neither the cache nor the archive is there and ``download_if_missing`` is False.
    ConnectionError
        The download failed (the message says where to put the file by hand).
    OSError
        The archive's checksum does not match.
    ValueError
        The archive or the cache is damaged, or holds anything but the CIFAR-10 batches.
    """
    if subset not in ("all", "train", "test"):
        raise ValueError(f"subset must be 'all', 'train' or 'test', got {subset!r}.")
    cache = dataset_folder(data_home, CIFAR10.folder) / _CACHE
    remedy = ("Delete it and call load_cifar10(download_if_missing=True), or put a good copy of "
              f"{CIFAR10.filename} there.")
    if not cache.exists():
        path = fetch_file(CIFAR10, data_home, download_if_missing=download_if_missing, checksum=checksum)
        images, labels, n_train = _read_archive(path, remedy)
        with atomic_write(cache) as file:
            np.savez(file, images=images, labels=labels, n_train=n_train)
    cache_remedy = "Delete it (a cache decoded from the archive) and call again."
    with reading(cache, cache_remedy), np.load(cache) as file:
        images, labels, n_train = file["images"], file["labels"], int(file["n_train"])
    if (images.dtype != np.uint8 or images.shape[1:] != (3, 32, 32) or labels.shape != (len(images),)
            or not 0 <= n_train <= len(images) or not np.isin(labels, np.arange(10)).all()):
        raise ValueError(f"{cache} is not a CIFAR-10 cache written by load_cifar10. {cache_remedy}")
    part = {"all": slice(None), "train": slice(None, n_train), "test": slice(n_train, None)}[subset]
    return make_bunch(
        images[part],
        labels[part, None].astype(np.intp),
        [np.arange(10)],
        ["class"],
        _DESCR,
        return_X_y=return_X_y,
        class_names=list(CLASS_NAMES),
    )


_DESCR = """CIFAR-10 (Krizhevsky, 2009), the official python archive cifar-10-python.tar.gz
(https://www.cs.toronto.edu/~kriz/cifar.html). 60,000 colour images of 32x32, the first 50,000 the five
training batches, the last 10,000 the test batch. Images uint8 (n, 3, 32, 32) RGB; one factor, the class
(10 classes, 6,000 images each): 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse,
8 ship, 9 truck. It is not a factor grid: only the class is labelled.
"""
