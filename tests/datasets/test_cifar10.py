"""load_cifar10: a small archive with the official layout (Python 2 pickles), served as a download.

The batches are written opcode by opcode as Python 2's cPickle writes them (protocol 2, strings
as BINSTRING, the data a numpy array pickled through numpy.core.multiarray._reconstruct), so the
loader meets the real file's layout without the 163 MB download.
"""

import hashlib
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

from skdisent.datasets import _cifar10, load_cifar10
from skdisent.datasets._cifar10 import CIFAR10

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def py2_string(data):
    """A Python 2 ``str``: SHORT_BINSTRING or BINSTRING (bytes under ``encoding="bytes"``)."""
    return (b"U" + bytes([len(data)]) if len(data) < 256 else b"T" + struct.pack("<i", len(data))) + data


def py2_int(value):
    if 0 <= value < 256:
        return b"K" + bytes([value])
    if 0 <= value < 65536:
        return b"M" + struct.pack("<H", value)
    return b"J" + struct.pack("<i", value)


def py2_uint8_array(array):
    """``numpy.ndarray.__reduce__`` of a C-ordered uint8 array, as numpy 1 under Python 2 pickles it."""
    shape = b"(" + b"".join(py2_int(n) for n in array.shape) + b"t"
    dtype = (b"cnumpy\ndtype\n" + py2_string(b"u1") + py2_int(0) + py2_int(1) + b"\x87R"
             + b"(" + py2_int(3) + py2_string(b"|") + b"NNN" + b"J\xff\xff\xff\xff" * 2 + py2_int(0) + b"tb")
    return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + py2_int(0) + b"\x85" + py2_string(b"b")
            + b"\x87R" + b"(" + py2_int(1) + shape + dtype + b"\x89" + py2_string(array.tobytes()) + b"tb")


def py2_batch(data, labels, batch_label=b"training batch 1 of 5"):
    items = [(b"data", py2_uint8_array(data)),
             (b"labels", b"](" + b"".join(py2_int(int(v)) for v in labels) + b"e"),
             (b"batch_label", py2_string(batch_label)),
             (b"filenames", b"](" + b"".join(py2_string(b"img_%d.png" % i) for i in range(len(labels))) + b"e")]
    return b"\x80\x02}(" + b"".join(py2_string(key) + value for key, value in items) + b"u."


def fake_batches(n_per_batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return {name: (rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8),
                   rng.integers(0, 10, size=n_per_batch)) for name in BATCHES}


def write_archive(path, batches, replace=None):
    """A tar.gz with ``cifar-10-batches-py/<batch>`` members; ``replace`` maps names to raw bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    members = {name: py2_batch(*batch) for name, batch in batches.items()}
    members["batches.meta"] = b"\x80\x02}(U\x0blabel_namesq\x01](U\x08airplanee" + b"u."
    members.update(replace or {})
    with tarfile.open(path, "w:gz") as archive:
        for name, payload in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path


def md5(path):
    return "md5:" + hashlib.md5(path.read_bytes()).hexdigest()


def test_the_hand_written_pickles_are_what_numpy_makes_of_them():
    data, labels = fake_batches()["data_batch_1"]
    batch = pickle.loads(py2_batch(data, labels), encoding="bytes")  # our own bytes: safe to unpickle here
    np.testing.assert_array_equal(batch[b"data"], data)
    assert batch[b"data"].dtype == np.uint8 and batch[b"labels"] == labels.tolist()
    images, read_labels = _cifar10._read_batch(io.BytesIO(py2_batch(data, labels)), "data_batch_1")
    np.testing.assert_array_equal(images, data.reshape(-1, 3, 32, 32))
    np.testing.assert_array_equal(read_labels, labels)


def test_reads_the_official_layout_in_order_and_caches_it(data_home, check_bunch, monkeypatch):
    batches = fake_batches()
    path = write_archive(data_home / "cifar10" / CIFAR10.filename, batches)
    bunch = load_cifar10(data_home=data_home, checksum=md5(path))
    check_bunch(bunch, 24, (10,))
    expected = np.concatenate([batches[name][0] for name in BATCHES]).reshape(-1, 3, 32, 32)
    np.testing.assert_array_equal(bunch.images, expected)
    np.testing.assert_array_equal(bunch.factors[:, 0], np.concatenate([batches[name][1] for name in BATCHES]))
    # channel-major rows: the first 1024 bytes are the red plane of the first image
    np.testing.assert_array_equal(bunch.images[0, 0].ravel(), batches["data_batch_1"][0][0, :1024])
    assert bunch.factor_names == ["class"] and bunch.class_names[0] == "airplane" and "CIFAR-10" in bunch.DESCR
    assert (data_home / "cifar10" / "cifar10.npz").exists()
    monkeypatch.setattr(_cifar10, "_read_archive", lambda *args: pytest.fail("read the archive despite the cache"))
    images, _ = load_cifar10(subset="test", data_home=data_home, return_X_y=True)
    np.testing.assert_array_equal(images, expected[20:])
    assert load_cifar10(subset="train", data_home=data_home).images.shape == (20, 3, 32, 32)


def test_never_downloads_unasked(data_home):
    with pytest.raises(FileNotFoundError, match="download_if_missing=True") as info:
        load_cifar10(data_home=data_home)
    assert str(data_home / "cifar10" / CIFAR10.filename) in str(info.value)
    assert CIFAR10.url in str(info.value)


def test_downloads_verifies_and_refuses_a_wrong_checksum(data_home, tmp_path, monkeypatch):
    source = write_archive(tmp_path / "server" / CIFAR10.filename, fake_batches(n_per_batch=2))
    monkeypatch.setattr(_cifar10, "CIFAR10", CIFAR10._replace(url=source.as_uri()))
    with pytest.raises(OSError, match="checksum"):  # the official md5 does not match the fake archive
        load_cifar10(data_home=data_home, download_if_missing=True)
    assert not any((data_home / "cifar10").iterdir())
    bunch = load_cifar10(data_home=data_home, download_if_missing=True, checksum=md5(source))
    assert bunch.images.shape == (12, 3, 32, 32)
    assert (data_home / "cifar10" / CIFAR10.filename).read_bytes() == source.read_bytes()


class _RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("kind", ["os.system", "builtins.eval", "numpy.frombuffer"])
def test_a_malicious_pickle_is_refused_without_running(data_home, tmp_path, kind):
    marker = tmp_path / "ran"
    payload = {
        "os.system": pickle.dumps({b"data": _RunsACommand(marker), b"labels": []}, protocol=2),
        "builtins.eval": b"\x80\x02c__builtin__\neval\n" + py2_string(f"open({str(marker)!r}, 'w')".encode())
        + b"\x85R.",
        "numpy.frombuffer": b"\x80\x02cnumpy\nfrombuffer\nU\x01a\x85R.",
    }[kind]
    path = write_archive(data_home / "cifar10" / CIFAR10.filename, fake_batches(), {"data_batch_3": payload})
    with pytest.raises(ValueError, match="not the official CIFAR-10 python archive") as info:
        load_cifar10(data_home=data_home, checksum=md5(path))
    assert "nothing in it was run" in str(info.value)
    assert not marker.exists()
    assert not (data_home / "cifar10" / "cifar10.npz").exists()


@pytest.mark.parametrize("payload, match", [
    (b"\x80\x02}(U\x04dataK\x01U\x06labels](K\x01eu.", "data is not uint8"),
    (b"\x80\x02](K\x01e.", "without the dict"),
    (b"\x80\x02}(U\x04datacnumpy\nndarray\n)\x81U\x06labels]u.", "data is not uint8"),  # NEWOBJ, no state
])
def test_batches_of_another_layout_are_refused(data_home, payload, match):
    path = write_archive(data_home / "cifar10" / CIFAR10.filename, fake_batches(), {"test_batch": payload})
    with pytest.raises(ValueError, match=match):
        load_cifar10(data_home=data_home, checksum=md5(path))


def test_arrays_of_another_dtype_or_size_are_refused(data_home):
    batches = fake_batches()
    wrong_dtype = py2_batch(*batches["data_batch_2"]).replace(py2_string(b"u1"), py2_string(b"f8"), 1)
    wrong_size = py2_batch(batches["data_batch_2"][0][:, :100], batches["data_batch_2"][1])
    for payload, match in [(wrong_dtype, "dtype 'f8'"), (wrong_size, "data is not uint8")]:
        path = write_archive(data_home / "cifar10" / CIFAR10.filename, batches, {"data_batch_2": payload})
        with pytest.raises(ValueError, match=match):
            load_cifar10(data_home=data_home, checksum=md5(path))


def test_damaged_or_incomplete_archives_are_reported(data_home):
    path = data_home / "cifar10" / CIFAR10.filename
    path.parent.mkdir()
    path.write_bytes(b"not a tar file at all")
    with pytest.raises(ValueError, match="damaged"):
        load_cifar10(data_home=data_home, checksum=md5(path))
    batches = fake_batches()
    del batches["test_batch"]
    write_archive(path, batches)
    with pytest.raises(ValueError, match="no cifar-10-batches-py/test_batch"):
        load_cifar10(data_home=data_home, checksum=md5(path))
    with pytest.raises(ValueError, match="subset"):
        load_cifar10(subset="validation", data_home=data_home)
