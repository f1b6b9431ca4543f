"""load_mnist (OpenML fetch monkeypatched), load_digits_images (bundled) and load_celeba (a folder of PNGs)."""

import urllib.error

import numpy as np
import pytest
from sklearn.utils import Bunch

from skdisent.datasets import load_celeba, load_digits_images, load_mnist
from skdisent.datasets import _celeba, _mnist


@pytest.fixture
def fake_openml(monkeypatch):
    """Replace fetch_openml by a stand-in that returns 70 small 'digits' and counts its calls."""
    calls = []
    rng = np.random.RandomState(0)
    data = rng.randint(0, 256, size=(70, 784)).astype(float)
    target = np.array([str(i % 10) for i in range(70)], dtype=object)

    def fetch_openml(**kwargs):
        calls.append(kwargs)
        return Bunch(data=data, target=target)

    monkeypatch.setattr(_mnist, "fetch_openml", fetch_openml)
    return calls, data, target


def test_load_mnist_fetches_once_then_reads_its_cache(data_home, fake_openml, check_bunch):
    calls, data, target = fake_openml
    bunch = load_mnist(data_home=data_home)
    check_bunch(bunch, 70, (10,))
    assert bunch.images.shape == (70, 1, 28, 28)
    np.testing.assert_array_equal(bunch.images.reshape(70, -1), data.astype(np.uint8))
    np.testing.assert_array_equal(bunch.factors[:, 0], target.astype(int))
    assert len(calls) == 1 and calls[0]["data_id"] == 554 and calls[0]["as_frame"] is False
    assert calls[0]["data_home"] == str(data_home.resolve())
    assert (data_home / "mnist" / "mnist_784.npz").exists()
    again = load_mnist(data_home=data_home, download_if_missing=False)
    assert len(calls) == 1
    np.testing.assert_array_equal(again.images, bunch.images)


def test_load_mnist_reads_a_cache_copied_by_hand_with_its_split(data_home, monkeypatch):
    monkeypatch.setattr(_mnist, "fetch_openml", lambda **kwargs: pytest.fail("fetched despite the cache"))
    cache = data_home / "mnist" / "mnist_784.npz"
    cache.parent.mkdir()
    images = np.random.RandomState(0).randint(1, 256, size=(70, 28, 28)).astype(np.uint8)
    np.savez(cache, images=images, labels=np.arange(70) % 10, n_train=60)
    train, test = load_mnist(data_home=data_home, subset="train"), load_mnist(data_home=data_home, subset="test")
    np.testing.assert_array_equal(train.images[:, 0], images[:60])
    np.testing.assert_array_equal(test.factors[:, 0], np.arange(60, 70) % 10)
    padded = load_mnist(data_home=data_home, size=32, return_X_y=True)[0]
    assert padded.shape == (70, 1, 32, 32)
    np.testing.assert_array_equal(padded[:, 0, 2:-2, 2:-2], images)
    assert not padded[:, :, :2].any() and not padded[:, :, :, -2:].any()
    with pytest.raises(ValueError, match="subset"):
        load_mnist(data_home=data_home, subset="valid")


def test_load_mnist_without_download_or_network(data_home, monkeypatch):
    with pytest.raises(FileNotFoundError, match="download_if_missing=True"):
        load_mnist(data_home=data_home, download_if_missing=False)

    def offline(**kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(_mnist, "fetch_openml", offline)
    with pytest.raises(ConnectionError) as info:
        load_mnist(data_home=data_home)
    assert "mnist_784.npz" in str(info.value) and str(data_home / "mnist" / "mnist_784.npz") in str(info.value)
    assert not (data_home / "mnist" / "mnist_784.npz").exists()


def test_load_digits_images():
    bunch = load_digits_images()
    assert bunch.images.shape == (1797, 1, 8, 8) and bunch.images.dtype == np.uint8
    assert bunch.images.max() == 255 and bunch.factor_sizes == (10,)
    big = load_digits_images(size=32, return_X_y=True)[0]
    assert big.shape == (1797, 1, 32, 32)
    np.testing.assert_array_equal(big[:, :, ::4, ::4], bunch.images)  # pixel blocks
    with pytest.raises(ValueError, match="multiple of 8"):
        load_digits_images(size=20)


@pytest.fixture
def celeba_folder(data_home):
    """Five 178x218 'aligned faces' as PNGs, with an attribute file beside the folder."""
    image_module = pytest.importorskip("PIL.Image")
    folder = data_home / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    names = [f"{i:06d}.png" for i in range(1, 6)]
    for i, name in enumerate(names):
        pixels = np.zeros((218, 178, 3), np.uint8)
        pixels[45:193, 15:163] = (40 * i, 100, 200)  # the crop box holds one flat colour
        image_module.fromarray(pixels).save(folder / name)
    lines = ["5", "Smiling Young"] + [f"{name} {1 if i % 2 else -1} 1" for i, name in enumerate(names)]
    (folder.parent / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    return folder


def test_load_celeba_crops_resizes_and_reads_attributes(data_home, celeba_folder, check_bunch):
    bunch = load_celeba(data_home=data_home)
    check_bunch(bunch, 5, (2, 2))
    assert bunch.images.shape == (5, 3, 64, 64)
    assert bunch.factor_names == ["Smiling", "Young"]
    np.testing.assert_array_equal(bunch.factors, [[0, 1], [1, 1], [0, 1], [1, 1], [0, 1]])
    # the crop removed the black surround: every pixel is the box's colour
    for i, image in enumerate(bunch.images):
        np.testing.assert_array_equal(image.reshape(3, -1).T, np.tile([40 * i, 100, 200], (64 * 64, 1)))
    assert bunch.filenames == sorted(p.name for p in celeba_folder.iterdir())


def test_load_celeba_cache_is_reused(data_home, celeba_folder, monkeypatch):
    first = load_celeba(data_home=data_home, size=32)
    monkeypatch.setattr(_celeba, "_decode", lambda *args: pytest.fail("decoded again instead of reading the cache"))
    np.testing.assert_array_equal(load_celeba(data_home=data_home, size=32).images, first.images)
    assert len(load_celeba(data_home=data_home, size=32, n_images=2).images) == 2


def test_load_celeba_without_attributes_or_images(data_home, celeba_folder, tmp_path):
    (celeba_folder.parent / "list_attr_celeba.txt").unlink()
    bunch = load_celeba(data_home=data_home, n_images=3, cache=False)
    assert bunch.factors.shape == (3, 0) and bunch.factor_sizes == ()
    with pytest.raises(FileNotFoundError, match="img_align_celeba.zip") as info:
        load_celeba(data_home=tmp_path / "empty")
    assert "cannot be downloaded automatically" in str(info.value)
