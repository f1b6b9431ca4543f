import hashlib

import numpy as np
import pytest

from skdisent.datasets import indices_to_factors, load_dsprites, make_dsprites
from skdisent.datasets import _dsprites

SIZES = (3, 6, 40, 32, 32)


def centroid(image):
    rows, cols = np.nonzero(image[0])
    return rows.mean(), cols.mean()


def test_random_draw_follows_the_data_conventions(check_bunch):
    bunch = make_dsprites(n_samples=50, random_state=0)
    check_bunch(bunch, 50, SIZES)
    assert bunch.images.shape == (50, 1, 64, 64)
    assert set(np.unique(bunch.images)) <= {0, 255}
    assert bunch.factor_names == ["shape", "scale", "orientation", "posX", "posY"]
    assert bunch.shape_names == ["square", "ellipse", "heart"]
    np.testing.assert_allclose(bunch.factor_values[1], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    np.testing.assert_allclose(bunch.factor_values[2][[0, -1]], [0, 2 * np.pi])
    X, y = make_dsprites(n_samples=50, random_state=0, return_X_y=True)
    np.testing.assert_array_equal(X, bunch.images)
    np.testing.assert_array_equal(y, bunch.factors)


def test_deterministic(assert_deterministic):
    assert_deterministic(make_dsprites, n_samples=20)


def test_every_step_of_every_factor_changes_the_image(assert_every_step_changes):
    # "step": classes k and k + 1 of one factor, the others fixed (orientation does not wrap 39 -> 0)
    assert_every_step_changes(make_dsprites, SIZES, n_points=3)


def test_first_and_last_orientation_coincide_as_in_the_official_file():
    points = make_dsprites(n_samples=6, random_state=0, return_X_y=True)[1]
    first, last = points.copy(), points.copy()
    first[:, 2], last[:, 2] = 0, 39
    np.testing.assert_array_equal(
        make_dsprites(factors=first, return_X_y=True)[0], make_dsprites(factors=last, return_X_y=True)[0]
    )


def test_factors_mean_what_their_names_say():
    base = np.array([0, 2, 0, 10, 10])

    def image(**change):
        row = base.copy()
        for name, value in change.items():
            row[_dsprites.FACTOR_NAMES.index(name)] = value
        return make_dsprites(factors=[row], return_X_y=True)[0][0]

    y0, x0 = centroid(image())
    y1, x1 = centroid(image(posY=20))
    assert y1 - y0 == pytest.approx(10 * 1.25, abs=0.5) and x1 == pytest.approx(x0)
    y2, x2 = centroid(image(posX=20))
    assert x2 - x0 == pytest.approx(10 * 1.25, abs=0.5) and y2 == pytest.approx(y0)
    areas = [np.count_nonzero(image(scale=s)) for s in range(6)]
    assert areas == sorted(areas) and areas[-1] > 3 * areas[0]
    # the square at orientation 0 is axis-aligned: its white pixels fill their bounding box
    square = image(scale=5)[0] > 0
    rows, cols = np.nonzero(square)
    assert square[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()


def test_sprites_stay_inside_the_image():
    corners = np.array([[s, 5, o, x, y] for s in range(3) for o in (0, 5, 15) for x in (0, 31) for y in (0, 31)])
    images = make_dsprites(factors=corners, return_X_y=True)[0][:, 0]
    assert not images[:, [0, -1], :].any() and not images[:, :, [0, -1]].any()


def test_other_sizes():
    images = make_dsprites(n_samples=5, size=32, random_state=0, return_X_y=True)[0]
    assert images.shape == (5, 1, 32, 32) and images.any(axis=(1, 2, 3)).all()
    with pytest.raises(ValueError, match="size"):
        make_dsprites(n_samples=1, size=8)


def write_fake_file(folder, factors):
    """A small file with the official layout: imgs 0/1, latents_classes with the colour column first."""
    images = make_dsprites(factors=factors, return_X_y=True)[0][:, 0] // 255
    classes = np.column_stack([np.zeros(len(factors), int), factors])
    values = np.column_stack([np.ones(len(factors))] + [v[f] for v, f in zip(_dsprites._factor_values(), factors.T)])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _dsprites.DSPRITES.filename
    np.savez_compressed(path, imgs=images.astype(np.uint8), latents_classes=classes, latents_values=values)
    return path


def md5(path):
    return "md5:" + hashlib.md5(path.read_bytes()).hexdigest()


def test_load_dsprites_reads_the_official_layout(data_home, check_bunch):
    factors = indices_to_factors(np.arange(0, 737_280, 9_001), SIZES)
    path = write_fake_file(data_home / "dsprites", factors)
    bunch = load_dsprites(data_home=data_home, checksum=md5(path))
    check_bunch(bunch, len(factors), SIZES)
    made = make_dsprites(factors=factors)
    np.testing.assert_array_equal(bunch.images, made.images)
    np.testing.assert_array_equal(bunch.factors, factors)
    assert bunch.factor_names == made.factor_names and bunch.factor_sizes == made.factor_sizes


def test_load_dsprites_never_downloads_unasked(data_home):
    with pytest.raises(FileNotFoundError, match="download_if_missing=True") as info:
        load_dsprites(data_home=data_home)
    assert str(data_home / "dsprites" / _dsprites.DSPRITES.filename) in str(info.value)


def test_load_dsprites_downloads_verifies_and_rejects(data_home, tmp_path, monkeypatch):
    source = write_fake_file(tmp_path / "server", indices_to_factors(np.arange(0, 737_280, 50_000), SIZES))
    monkeypatch.setattr(_dsprites, "DSPRITES", _dsprites.DSPRITES._replace(url=source.as_uri()))
    with pytest.raises(OSError, match="checksum"):  # the official md5 does not match the fake file
        load_dsprites(data_home=data_home, download_if_missing=True)
    assert not any((data_home / "dsprites").iterdir())
    bunch = load_dsprites(data_home=data_home, download_if_missing=True, checksum=md5(source))
    assert bunch.images.shape == (15, 1, 64, 64)
    assert (data_home / "dsprites" / _dsprites.DSPRITES.filename).exists()


def test_load_dsprites_rejects_a_file_of_another_layout(data_home):
    path = data_home / "dsprites" / _dsprites.DSPRITES.filename
    path.parent.mkdir()
    np.savez(path, imgs=np.zeros((2, 32, 32), np.uint8), latents_classes=np.zeros((2, 6), int))
    with pytest.raises(ValueError, match="not the dSprites file"):
        load_dsprites(data_home=data_home, checksum=md5(path))


@pytest.mark.slow
def test_full_grid_in_the_official_order_with_every_step_visible(assert_full_grid):
    assert_full_grid(make_dsprites, SIZES, (1, 64, 64))
