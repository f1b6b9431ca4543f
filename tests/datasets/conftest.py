"""Shared helpers for the tests of skdisent.datasets."""

import numpy as np
import pytest

from skdisent.datasets import indices_to_factors, sample_factors


@pytest.fixture
def data_home(tmp_path):
    """An empty data home for one test."""
    home = tmp_path / "data_home"
    home.mkdir()
    return home


def _neighbour_pairs(factor_sizes, n_points, seed):
    """Factor rows ``(a, b)`` that differ by one step of one factor, at random points of the grid."""
    points = sample_factors(factor_sizes, n_points, random_state=seed)
    a, b = [], []
    for k, size in enumerate(factor_sizes):
        for point in points:
            for value in range(size - 1):
                lo, hi = point.copy(), point.copy()
                lo[k], hi[k] = value, value + 1
                a.append(lo)
                b.append(hi)
    return np.array(a), np.array(b)


@pytest.fixture
def assert_every_step_changes():
    """Check that every step ``k -> k + 1`` of every factor changes the image, at random grid points."""

    def check(make, factor_sizes, n_points=4, seed=0):
        a, b = _neighbour_pairs(factor_sizes, n_points, seed)
        images_a = make(factors=a, return_X_y=True)[0]
        images_b = make(factors=b, return_X_y=True)[0]
        same = (images_a == images_b).reshape(len(a), -1).all(axis=1)
        assert not same.any(), f"unchanged steps: {a[same][:5].tolist()} -> {b[same][:5].tolist()}"

    return check


@pytest.fixture
def assert_deterministic():
    """Check that a generator repeats itself for a seed and changes with it."""

    def check(make, n_samples=8):
        a = make(n_samples=n_samples, random_state=3, return_X_y=True)
        b = make(n_samples=n_samples, random_state=3, return_X_y=True)
        c = make(n_samples=n_samples, random_state=4, return_X_y=True)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        assert not np.array_equal(a[1], c[1]) and not np.array_equal(a[0], c[0])

    return check


@pytest.fixture
def check_bunch():
    """Check the data conventions: uint8 data, int factors, consistent factor metadata."""

    def check(bunch, n, factor_sizes, key="images"):
        data = bunch[key]
        assert data.dtype == np.uint8 and len(data) == n
        assert np.issubdtype(bunch.factors.dtype, np.integer) and bunch.factors.shape == (n, len(factor_sizes))
        assert bunch.factor_sizes == tuple(factor_sizes)
        assert [len(v) for v in bunch.factor_values] == list(factor_sizes)
        assert len(bunch.factor_names) == len(factor_sizes)
        assert isinstance(bunch.DESCR, str) and bunch.DESCR
        if n:
            assert (bunch.factors >= 0).all() and (bunch.factors < np.asarray(factor_sizes)).all()

    return check


@pytest.fixture
def assert_full_grid():
    """Check a full grid: its order, agreement with rendering rows one by one, and every step visible."""

    def check(make, factor_sizes, image_shape):
        images, factors = make(return_X_y=True)
        n = int(np.prod(factor_sizes))
        assert images.shape == (n, *image_shape) and images.dtype == np.uint8
        np.testing.assert_array_equal(factors, indices_to_factors(np.arange(n), factor_sizes))
        rows = np.random.RandomState(0).randint(n, size=500)
        np.testing.assert_array_equal(make(factors=factors[rows], return_X_y=True)[0], images[rows])
        grid = images.reshape(*factor_sizes, -1)
        for value in range(factor_sizes[0] - 1):
            assert not (grid[value] == grid[value + 1]).all(axis=-1).any(), (0, value)
        for first in range(factor_sizes[0]):  # one slice of the first factor at a time bounds the memory
            for k, size in enumerate(factor_sizes[1:], start=1):
                for value in range(size - 1):
                    a, b = np.take(grid[first], value, axis=k - 1), np.take(grid[first], value + 1, axis=k - 1)
                    assert not (a == b).all(axis=-1).any(), (k, value)

    return check
