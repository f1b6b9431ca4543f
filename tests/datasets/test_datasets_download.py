"""Downloads: verified by checksum, written atomically, with errors that say what to do."""

import hashlib
import io
import urllib.error

import pytest

from skdisent.datasets import get_data_home
from skdisent.datasets import _base
from skdisent.datasets._base import RemoteFile, atomic_write, fetch_file, import_optional, parse_checksum

PAYLOAD = b"skdisent test payload " * 10_000


@pytest.fixture
def remote(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(PAYLOAD)
    return RemoteFile(
        folder="things",
        filename="thing.bin",
        url=source.as_uri(),  # a local file:// URL: urlopen reads it like a download
        checksum="sha256:" + hashlib.sha256(PAYLOAD).hexdigest(),
        size="220 kB",
    )


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


class Response(io.BytesIO):
    """A response that delivers some bytes, then fails as an interrupted transfer would."""

    def __init__(self, data, error):
        super().__init__(data)
        self.error = error

    def read(self, size=-1):
        if self.tell() >= 1000:
            raise self.error
        return super().read(min(size, 1000))


def test_get_data_home(tmp_path, monkeypatch):
    assert get_data_home(tmp_path / "a") == str((tmp_path / "a").resolve())
    assert (tmp_path / "a").is_dir()
    monkeypatch.setenv("SKDISENT_DATA", str(tmp_path / "env"))
    assert get_data_home() == str((tmp_path / "env").resolve())


def test_parse_checksum():
    assert parse_checksum("sha256:ABC") == ("sha256", "abc")
    assert parse_checksum("0" * 32) == ("md5", "0" * 32)
    assert parse_checksum("0" * 64) == ("sha256", "0" * 64)
    with pytest.raises(ValueError, match="not understood"):
        parse_checksum("12345")


def test_download_from_a_file_url_then_reuse(remote, data_home, monkeypatch):
    with pytest.raises(FileNotFoundError, match="download_if_missing=True") as info:
        fetch_file(remote, data_home)
    assert str(data_home / "things" / "thing.bin") in str(info.value)  # where to put it by hand
    path = fetch_file(remote, data_home, download_if_missing=True)
    assert path.read_bytes() == PAYLOAD
    assert leftovers(path.parent) == ["thing.bin"]
    monkeypatch.setattr(_base, "urlopen", None)  # a second call must not download again
    assert fetch_file(remote, data_home) == path


def test_checksum_mismatch_leaves_nothing_and_says_what_to_do(remote, data_home):
    wrong = remote._replace(checksum="sha256:" + "0" * 64)
    with pytest.raises(OSError, match="corrupt") as info:
        fetch_file(wrong, data_home, download_if_missing=True)
    assert "call again to retry" in str(info.value) and "checksum='sha256:" in str(info.value)
    assert leftovers(data_home / "things") == []


def test_existing_file_with_wrong_checksum_is_reported_not_replaced(remote, data_home):
    target = data_home / "things" / "thing.bin"
    target.parent.mkdir()
    target.write_bytes(b"not the file")
    with pytest.raises(OSError, match="Delete it and call again"):
        fetch_file(remote, data_home, download_if_missing=True)
    assert target.read_bytes() == b"not the file"
    md5 = hashlib.md5(b"not the file").hexdigest()
    assert fetch_file(remote, data_home, checksum="md5:" + md5) == target  # the user vouches for it


@pytest.mark.parametrize("error", [ConnectionResetError("reset by peer"), TimeoutError("timed out")])
def test_interrupted_download_leaves_no_file(remote, data_home, monkeypatch, error):
    monkeypatch.setattr(_base, "urlopen", lambda url, timeout: Response(PAYLOAD, error))
    with pytest.raises(ConnectionError) as info:
        fetch_file(remote, data_home, download_if_missing=True)
    message = str(info.value)
    assert "thing.bin" in message and str(data_home / "things" / "thing.bin") in message
    assert leftovers(data_home / "things") == []


def test_keyboard_interrupt_during_download_leaves_no_file(remote, data_home, monkeypatch):
    monkeypatch.setattr(_base, "urlopen", lambda url, timeout: Response(PAYLOAD, KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        fetch_file(remote, data_home, download_if_missing=True)
    assert leftovers(data_home / "things") == []


def test_no_network_names_the_file_and_where_to_put_it(remote, data_home, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(_base, "urlopen", offline)
    with pytest.raises(ConnectionError) as info:
        fetch_file(remote, data_home, download_if_missing=True)
    message = str(info.value)
    assert "Could not download thing.bin" in message
    assert f"put it at {data_home / 'things' / 'thing.bin'}" in message
    assert remote.url in message
    assert leftovers(data_home / "things") == []


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "cache.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as file:
            file.write(b"half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == ["cache.bin"]
    with atomic_write(target) as file:
        file.write(b"new")
    assert target.read_bytes() == b"new"


def test_import_optional_names_the_extra():
    with pytest.raises(ImportError, match=r'pip install "skdisent\[h5\]"'):
        import_optional("a_module_that_does_not_exist", "h5")


# ------------------------------------------------------------- damaged files and sizes


@pytest.mark.parametrize("make", ["make_dsprites", "make_shapes3d"])
@pytest.mark.parametrize("size_args", [{"n_samples": 10**12}, {"n_samples": 1, "size": 100_000}])
def test_a_generator_refuses_what_memory_cannot_hold_before_allocating(make, size_args):
    import skdisent.datasets as datasets

    with pytest.raises(ValueError, match=r"needs about [\d,.]+ GiB of memory; this machine has"):
        getattr(datasets, make)(**size_args)


def test_damaged_files_say_where_they_are_and_what_to_do(data_home):
    import hashlib

    import numpy as np

    from skdisent.datasets import load_dsprites, load_mnist
    from skdisent.datasets import _dsprites

    path = data_home / "dsprites" / _dsprites.DSPRITES.filename
    path.parent.mkdir()
    np.savez(path, imgs=np.zeros((2, 64, 64), np.uint8), latents_classes=np.zeros((2, 6), int))
    path.write_bytes(path.read_bytes()[:-40])  # truncated
    checksum = "md5:" + hashlib.md5(path.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match=f"{path} is damaged and cannot be read .*Delete it and "
                                         r"call load_dsprites\(download_if_missing=True\)"):
        load_dsprites(data_home=data_home, checksum=checksum)
    path.write_bytes(b"not an archive at all")
    checksum = "md5:" + hashlib.md5(path.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="is damaged and cannot be read"):
        load_dsprites(data_home=data_home, checksum=checksum)
    cache = data_home / "mnist" / "mnist_784.npz"
    cache.parent.mkdir()
    np.savez(cache, images=np.zeros((3, 28, 28), object), labels=np.arange(3), n_train=2)
    with pytest.raises(ValueError, match=r"mnist_784.npz is damaged .*load_mnist\("
                                         "download_if_missing=True"):
        load_mnist(data_home=data_home)


@pytest.mark.parametrize("labels, n_train", [([0, 1, 99], 2), ([0, 1, 2], 5), ([0, 1, 2], -1)])
def test_an_mnist_cache_out_of_its_ranges_is_refused(data_home, labels, n_train):
    import numpy as np

    from skdisent.datasets import load_mnist

    cache = data_home / "mnist" / "mnist_784.npz"
    cache.parent.mkdir()
    np.savez(cache, images=np.zeros((3, 28, 28), np.uint8), labels=np.array(labels),
             n_train=n_train)
    with pytest.raises(ValueError, match="is not an MNIST cache written by load_mnist .*labels "
                                         "0..9, the training set's size within the images"):
        load_mnist(data_home=data_home)
