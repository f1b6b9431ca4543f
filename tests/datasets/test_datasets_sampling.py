import numpy as np
import pytest

from skdisent.datasets import (
    factors_to_indices,
    indices_to_factors,
    sample_factors,
    sample_groups_sharing_factor,
    sample_shared_factor,
)
from skdisent.datasets._sampling import grid_or_sample

SIZES = (3, 6, 40, 32, 32)


def test_indices_and_factors_round_trip_in_c_order():
    indices = np.arange(np.prod(SIZES))
    factors = indices_to_factors(indices, SIZES)
    assert factors.shape == (737_280, 5)
    # the last factor varies fastest, the first slowest (the official dSprites order)
    np.testing.assert_array_equal(factors[:33, 4], np.r_[np.arange(32), 0])
    np.testing.assert_array_equal(factors[32], [0, 0, 0, 1, 0])
    np.testing.assert_array_equal(factors[-1], np.asarray(SIZES) - 1)
    np.testing.assert_array_equal(factors_to_indices(factors, SIZES), indices)


def test_factors_to_indices_rejects_bad_factors():
    with pytest.raises(ValueError, match="outside 0..2"):
        factors_to_indices([[3, 0, 0, 0, 0]], SIZES)
    with pytest.raises(ValueError, match="shape"):
        factors_to_indices([[0, 0]], SIZES)
    with pytest.raises(TypeError, match="integer"):
        factors_to_indices([[0.5, 0, 0, 0, 0]], SIZES)


def test_sample_factors_is_deterministic_and_covers_every_class():
    a = sample_factors(SIZES, 5000, random_state=0)
    np.testing.assert_array_equal(a, sample_factors(SIZES, 5000, random_state=0))
    assert not np.array_equal(a, sample_factors(SIZES, 5000, random_state=1))
    for k, size in enumerate(SIZES):
        assert set(np.unique(a[:, k])) == set(range(size))


def test_sample_shared_factor_fixes_one_factor_per_group():
    groups = sample_shared_factor(SIZES, factor=2, n_groups=50, group_size=8, random_state=0)
    assert groups.shape == (50, 8, 5)
    assert (groups[:, :, 2] == groups[:, :1, 2]).all()
    assert len(np.unique(groups[:, 0, 2])) > 1  # the shared value varies across groups
    assert (groups[:, :, 4] != groups[:, :1, 4]).any()  # the others vary within groups


def test_sample_groups_sharing_factor_from_a_pool():
    pool = sample_factors(SIZES, 2000, random_state=0)
    indices, values = sample_groups_sharing_factor(pool, factor=1, n_groups=30, group_size=64, random_state=0)
    assert indices.shape == (30, 64) and values.shape == (30,)
    assert (pool[indices, 1] == values[:, None]).all()
    assert all(len(set(row)) == 64 for row in indices)  # distinct rows within a group
    again = sample_groups_sharing_factor(pool, factor=1, n_groups=30, group_size=64, random_state=0)
    np.testing.assert_array_equal(indices, again[0])


def test_sample_groups_sharing_factor_skips_small_classes_and_explains_failure():
    pool = np.array([[0, 0], [0, 1], [0, 2], [1, 0]])
    indices, values = sample_groups_sharing_factor(pool, factor=0, n_groups=5, group_size=2, random_state=0)
    assert (values == 0).all()
    with pytest.raises(ValueError, match="No class of factor 0 has 4 rows"):
        sample_groups_sharing_factor(pool, factor=0, n_groups=1, group_size=4)


def test_grid_or_sample():
    np.testing.assert_array_equal(grid_or_sample(None, None, (2, 3), None), indices_to_factors(np.arange(6), (2, 3)))
    assert grid_or_sample(7, None, (2, 3), 0).shape == (7, 2)
    with pytest.raises(ValueError, match="not both"):
        grid_or_sample(3, [[0, 0]], (2, 3), None)
    with pytest.raises(ValueError, match="n_samples"):
        grid_or_sample(-1, None, (2, 3), None)
