"""The data home, downloads verified by checksum, and the Bunch every data set returns.

A download goes to a hidden temporary file in the destination folder, is hashed while it streams, and
is moved into place with :func:`os.replace` only once its checksum matches. An interrupted download,
a network error or a wrong checksum therefore never leaves a file under the final name.
"""

import contextlib
import hashlib
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple
from urllib.request import urlopen

from sklearn.utils import Bunch

_CHUNK = 1 << 20
_TIMEOUT = 60


def get_data_home(data_home=None):
    """Return the folder where skdisent keeps downloaded and cached data sets.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. By default the environment variable ``SKDISENT_DATA`` if it is set, else
        ``~/skdisent_data``. The folder is created if it does not exist.

    Returns
    -------
    data_home : str
        The absolute path of the folder.

    Examples
    --------
    >>> import tempfile
    >>> from skdisent.datasets import get_data_home
    >>> folder = get_data_home(tempfile.mkdtemp())
    """
    if data_home is None:
        data_home = os.environ.get("SKDISENT_DATA", os.path.join("~", "skdisent_data"))
    path = Path(data_home).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def dataset_folder(data_home, name):
    """Return (and create) the sub-folder ``name`` of the data home."""
    folder = Path(get_data_home(data_home)) / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class RemoteFile(NamedTuple):
    """A file that can be downloaded: where it goes, where it comes from, its checksum."""

    folder: str  # sub-folder of the data home
    filename: str
    url: str
    checksum: str  # "algorithm:hexdigest"
    size: str  # for messages, e.g. "26 MB"


def parse_checksum(checksum):
    """Split ``"sha256:abc..."`` (or a bare hex digest, algorithm told by its length) in two."""
    algorithm, _, digest = str(checksum).rpartition(":")
    digest = digest.strip().lower()
    if not algorithm:
        algorithm = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}.get(len(digest), "")
    algorithm = algorithm.strip().lower()
    if algorithm not in hashlib.algorithms_available or not digest:
        raise ValueError(
            f"checksum={checksum!r} is not understood: give 'algorithm:hexdigest' (e.g. 'sha256:...') "
            "or a bare md5 (32 hex digits) or sha256 (64 hex digits)."
        )
    return algorithm, digest


def file_digest(path, algorithm):
    """Hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as file:
        while block := file.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def fetch_file(remote, data_home=None, *, download_if_missing=False, checksum=None):
    """Return the local path of ``remote``, downloading it first if asked to.

    Parameters
    ----------
    remote : RemoteFile
        The file.
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    download_if_missing : bool, default=False
        Download the file when it is not in the data home; otherwise raise ``FileNotFoundError``.
    checksum : str, default=None
        ``"algorithm:hexdigest"`` that the file must match; by default ``remote.checksum``.

    Returns
    -------
    path : pathlib.Path
        The verified file.
    """
    algorithm, expected = parse_checksum(remote.checksum if checksum is None else checksum)
    path = dataset_folder(data_home, remote.folder) / remote.filename
    if path.exists():
        actual = file_digest(path, algorithm)
        if actual != expected:
            raise OSError(
                f"{path} exists but its {algorithm} checksum is {actual}, not {expected}: it is corrupt or "
                f"not the official {remote.filename}. Delete it and call again with "
                f"download_if_missing=True, or, if you trust this file, pass checksum='{algorithm}:{actual}'."
            )
        return path
    if not download_if_missing:
        raise FileNotFoundError(
            f"{remote.filename} is not in {path.parent}. Pass download_if_missing=True to download it "
            f"({remote.size}) from {remote.url}, or download it by hand and put it at {path}."
        )
    _download(remote.url, path, algorithm, expected)
    return path


def _read_chunks(url, path):
    """Yield the bytes at ``url``; any network failure becomes a ConnectionError that says what to do."""
    try:
        with urlopen(url, timeout=_TIMEOUT) as response:
            while block := response.read(_CHUNK):
                yield block
    except OSError as exc:  # URLError, timeouts and connection resets are all OSErrors
        raise ConnectionError(
            f"Could not download {path.name} from {url} ({exc}). Nothing was written to {path}. "
            f"Call again to retry, or, without network access, download {url} by hand and put it at {path}."
        ) from exc


def _download(url, path, algorithm, expected):
    """Stream ``url`` into a temporary file beside ``path``, verify it, then move it into place."""
    with atomic_write(path) as file:
        digest = hashlib.new(algorithm)
        for block in _read_chunks(url, path):
            digest.update(block)
            file.write(block)
        actual = digest.hexdigest()
        if actual != expected:
            raise OSError(
                f"The download of {path.name} from {url} has {algorithm} checksum {actual}, expected "
                f"{expected}: it is corrupt or the file changed upstream. Nothing was written to {path}; "
                f"call again to retry, or, if you trust the new file, pass checksum='{algorithm}:{actual}'."
            )


@contextlib.contextmanager
def atomic_write(path):
    """Open a hidden temporary file beside ``path`` for writing; move it to ``path`` only on success.

    Whatever interrupts the block (an error, a wrong checksum, ``KeyboardInterrupt``) removes the
    temporary file, so ``path`` is either absent or complete.
    """
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as file:
            yield file
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def physical_memory():
    """Bytes of memory of this machine, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(nbytes, what):
    """Refuse, before allocating, to make something larger than this machine's memory.

    Parameters
    ----------
    nbytes : int
        What it would take, at least.
    what : str
        Named in the message, e.g. ``"make_dsprites(n_samples=10**9, size=64)"``.
    """
    total = physical_memory()
    if total is not None and nbytes > total:
        raise ValueError(
            f"{what} needs about {nbytes / 2**30:,.1f} GiB of memory; this machine has "
            f"{total / 2**30:,.1f} GiB. Ask for fewer samples or smaller images."
        )


@contextlib.contextmanager
def reading(path, remedy):
    """Turn what reading a damaged file raises into one error that says where it is and what to do.

    Parameters
    ----------
    path : path-like
        The file read inside the ``with`` block.
    remedy : str
        How to get a good file again.
    """
    try:
        yield
    except (OSError, EOFError, KeyError, IndexError, ValueError, TypeError, zipfile.BadZipFile,
            zlib.error) as error:
        raise ValueError(
            f"{path} is damaged and cannot be read ({type(error).__name__}: {error}). {remedy}"
        ) from None


def import_optional(module, extra):
    """Import an optional dependency or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{module} is needed here but is not installed: pip install \"skdisent[{extra}]\""
        ) from exc


def make_bunch(data, factors, factor_values, factor_names, descr, *, return_X_y, key="images", **extra):
    """The data set as ``(data, factors)`` or as the Bunch described in the package's data conventions."""
    if return_X_y:
        return data, factors
    factor_values = [v for v in factor_values]
    return Bunch(
        **{key: data},
        factors=factors,
        factor_values=factor_values,
        factor_names=list(factor_names),
        factor_sizes=tuple(len(v) for v in factor_values),
        DESCR=descr,
        **extra,
    )
