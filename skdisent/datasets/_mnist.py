"""MNIST through scikit-learn's OpenML fetcher, cached as one compact file in the data home."""

import importlib.util

import numpy as np
from sklearn.datasets import fetch_openml

from ._base import atomic_write, dataset_folder, get_data_home, make_bunch, reading

MNIST_OPENML_ID = 554  # mnist_784, version 1: 60,000 training then 10,000 test images
_CACHE = "mnist_784.npz"


def _fetch(cache, data_home):
    """Fetch MNIST from OpenML and write the compact cache (atomically)."""
    parser = "pandas" if importlib.util.find_spec("pandas") else "liac-arff"
    try:
        mnist = fetch_openml(data_id=MNIST_OPENML_ID, data_home=data_home, as_frame=False, parser=parser)
    except OSError as exc:  # no network: URLError, timeouts, resets
        raise ConnectionError(
            f"Could not fetch MNIST (OpenML data set {MNIST_OPENML_ID}, mnist_784) ({exc}). Without network "
            f"access, copy {cache.name} from the data home of a machine where load_mnist() worked and put it "
            f"at {cache}."
        ) from exc
    images = np.asarray(mnist.data).astype(np.uint8).reshape(-1, 28, 28)
    labels = np.asarray(mnist.target).astype(np.intp)
    with atomic_write(cache) as file:
        np.savez(file, images=images, labels=labels, n_train=min(60_000, len(images)))


def load_mnist(*, subset="all", size=28, data_home=None, download_if_missing=True, return_X_y=False):
    """Load MNIST handwritten digits as uint8 images with the digit as the one factor.

    The first call fetches the data set from OpenML with :func:`sklearn.datasets.fetch_openml`
    (about 15 MB, OpenML's own cache under ``<data_home>/openml``) and writes a compact
    ``<data_home>/mnist/mnist_784.npz`` (through a temporary file, so an interrupted call leaves
    nothing half-written); later calls read only that file and need no network.

    Parameters
    ----------
    subset : {"all", "train", "test"}, default="all"
        The 70,000 images, the first 60,000 (the official training set) or the last 10,000.
    size : {28, 32}, default=28
        28 keeps the original images; 32 pads them with 2 black pixels on every side (the LeNet
        convention), a size that halves cleanly in every ladder level.
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    download_if_missing : bool, default=True
        Fetch from OpenML when the cache is missing, like scikit-learn's fetchers; otherwise raise
        ``FileNotFoundError``.
    return_X_y : bool, default=False
        Return ``(images, factors)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` uint8 ``(n, 1, size, size)``, 0 (background) .. 255 (ink); ``factors`` int
        ``(n, 1)``, the digit; ``factor_values`` ``[array([0, ..., 9])]``, ``factor_names``
        ``["digit"]``, ``factor_sizes`` ``(10,)``, ``DESCR``.
    (images, factors) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        The cache is missing and ``download_if_missing`` is False.
    ConnectionError
        OpenML could not be reached (the message says where to put the file by hand).
    """
    if subset not in ("all", "train", "test"):
        raise ValueError(f"subset must be 'all', 'train' or 'test', got {subset!r}.")
    if size not in (28, 32):
        raise ValueError(f"size must be 28 or 32, got {size!r}.")
    cache = dataset_folder(data_home, "mnist") / _CACHE
    if not cache.exists():
        if not download_if_missing:
            raise FileNotFoundError(
                f"MNIST is not in {cache.parent}. Pass download_if_missing=True to fetch it from OpenML, or "
                f"copy {_CACHE} from the data home of a machine where load_mnist() worked to {cache}."
            )
        _fetch(cache, get_data_home(data_home))
    remedy = "Delete it and call load_mnist(download_if_missing=True) to fetch MNIST again."
    with reading(cache, remedy), np.load(cache) as file:
        images, labels, n_train = file["images"], file["labels"], int(file["n_train"])
    if (images.dtype != np.uint8 or images.shape[1:] != (28, 28) or labels.shape != (len(images),)
            or not 0 <= n_train <= len(images) or not np.isin(labels, np.arange(10)).all()):
        raise ValueError(
            f"{cache} is not an MNIST cache written by load_mnist (images of 28x28 uint8, labels "
            f"0..9, the training set's size within the images). {remedy}"
        )
    part = {"all": slice(None), "train": slice(None, n_train), "test": slice(n_train, None)}[subset]
    images, labels = images[part], labels[part].astype(np.intp)
    if size == 32:
        images = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    return make_bunch(
        images[:, None],
        labels[:, None],
        [np.arange(10)],
        ["digit"],
        _DESCR,
        return_X_y=return_X_y,
    )


_DESCR = """MNIST handwritten digits (LeCun et al., 1998), from OpenML (data set 554, mnist_784) via
scikit-learn's fetch_openml. 70,000 grey images, the first 60,000 the official training set. Images uint8
(n, 1, 28, 28) or (n, 1, 32, 32) padded; one factor, the digit (10 classes). It is not a factor grid:
only the digit is a ground-truth factor, the writing style is not labelled.
"""
