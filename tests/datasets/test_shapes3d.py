import hashlib

import numpy as np
import pytest

from skdisent.datasets import indices_to_factors, load_shapes3d, make_shapes3d
from skdisent.datasets import _shapes3d

SIZES = (10, 10, 10, 8, 4, 15)


def changed(a, b):
    """Pixels (H, W) where two RGB images differ."""
    return (a != b).any(axis=0)


def test_random_draw_follows_the_data_conventions(check_bunch):
    bunch = make_shapes3d(n_samples=12, random_state=0)
    check_bunch(bunch, 12, SIZES)
    assert bunch.images.shape == (12, 3, 64, 64)
    assert bunch.factor_names == ["floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"]
    assert bunch.shape_names == ["cube", "cylinder", "sphere", "capsule"]
    np.testing.assert_allclose(bunch.factor_values[3][[0, -1]], [0.75, 1.25])
    np.testing.assert_allclose(bunch.factor_values[5][[0, -1]], [-30, 30])
    X, y = make_shapes3d(n_samples=12, random_state=0, return_X_y=True)
    np.testing.assert_array_equal(X, bunch.images)
    np.testing.assert_array_equal(y, bunch.factors)


def test_deterministic(assert_deterministic):
    assert_deterministic(make_shapes3d)


def test_every_step_of_every_factor_changes_the_image(assert_every_step_changes):
    assert_every_step_changes(make_shapes3d, SIZES, n_points=2)


def test_colour_shape_size_and_viewpoint_are_visibly_separate():
    base = np.array([0, 3, 6, 4, 0, 7])

    def render(**change):
        row = base.copy()
        for name, value in change.items():
            row[_shapes3d.FACTOR_NAMES.index(name)] = value
        return make_shapes3d(factors=[row], return_X_y=True)[0][0]

    image = render()
    floor = changed(image, render(floor_hue=5))
    wall = changed(image, render(wall_hue=8))
    obj = changed(image, render(object_hue=1))
    # each hue repaints its own surface: the floor below, the wall above, a small object in between
    assert floor[-1].all() and not floor[0].any()
    assert wall[0].all() and not wall[-1].any()
    assert 0.02 < obj.mean() < 0.2
    assert (floor & wall).mean() < 0.02 and (obj & floor & wall).mean() < 0.002  # anti-aliased edges only
    # shape and scale change only the object and its shadow; orientation also moves the wall corner
    for other in (render(shape=2), render(scale=7)):
        assert 0.01 < changed(image, other).mean() < 0.25
        assert not changed(image, other)[:8].any()
    turn = changed(image, render(orientation=8))
    assert turn[:8].any() and (turn & obj).any()
    # a larger object covers more pixels
    areas = [changed(render(object_hue=1, scale=s), render(scale=s)).sum() for s in (0, 7)]
    assert areas[1] > 1.5 * areas[0]


def test_other_sizes():
    images = make_shapes3d(n_samples=3, size=32, random_state=0, return_X_y=True)[0]
    assert images.shape == (3, 3, 32, 32)


def write_fake_file(path, factors):
    """A small file with the official layout: images (n, 64, 64, 3) and float labels."""
    h5py = pytest.importorskip("h5py")
    images = make_shapes3d(factors=factors, return_X_y=True)[0].transpose(0, 2, 3, 1)
    labels = np.column_stack([v[f] for v, f in zip(_shapes3d._factor_values(), factors.T)])
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as file:
        file.create_dataset("images", data=images)
        file.create_dataset("labels", data=labels.astype(np.float64))
    return "md5:" + hashlib.md5(path.read_bytes()).hexdigest()


def test_load_shapes3d_reads_the_official_layout(data_home, check_bunch):
    factors = indices_to_factors(np.arange(0, 480_000, 37_001), SIZES)
    checksum = write_fake_file(data_home / "shapes3d" / "3dshapes.h5", factors)
    bunch = load_shapes3d(data_home=data_home, checksum=checksum)
    check_bunch(bunch, len(factors), SIZES)
    np.testing.assert_array_equal(bunch.factors, factors)
    np.testing.assert_array_equal(bunch.images, make_shapes3d(factors=factors, return_X_y=True)[0])


def test_load_shapes3d_downloads_only_when_asked(data_home, tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="download_if_missing=True"):
        load_shapes3d(data_home=data_home)
    source = tmp_path / "server" / "3dshapes.h5"
    checksum = write_fake_file(source, indices_to_factors(np.arange(3), SIZES))
    monkeypatch.setattr(_shapes3d, "SHAPES3D", _shapes3d.SHAPES3D._replace(url=source.as_uri()))
    bunch = load_shapes3d(data_home=data_home, download_if_missing=True, checksum=checksum)
    assert bunch.images.shape == (3, 3, 64, 64)


def test_load_shapes3d_rejects_labels_of_another_data_set(data_home):
    h5py = pytest.importorskip("h5py")
    path = data_home / "shapes3d" / "3dshapes.h5"
    path.parent.mkdir()
    with h5py.File(path, "w") as file:
        file.create_dataset("images", data=np.zeros((2, 64, 64, 3), np.uint8))
        file.create_dataset("labels", data=np.full((2, 6), 0.05))
    with pytest.raises(ValueError, match="not the 3DShapes file"):
        load_shapes3d(data_home=data_home, checksum="md5:" + hashlib.md5(path.read_bytes()).hexdigest())


@pytest.mark.slow
def test_full_grid_in_the_official_order_with_every_step_visible(assert_full_grid):
    assert_full_grid(make_shapes3d, SIZES, (3, 64, 64))
