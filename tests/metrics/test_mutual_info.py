import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from skdisent.metrics import mutual_info_matrix
from skdisent.metrics._mutual_info import histogram_bins

from .cases import dl_histogram_discretize, factor_grid, identity, sklearn_mutual_info_loop


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bins_are_disentanglement_lib_bins(dtype):
    rng = np.random.default_rng(0)
    codes = (rng.normal(size=(3000, 6)) * [1e-3, 1, 50, 1, 1, 1]).astype(dtype)
    codes[:, 3] = np.round(codes[:, 3] * 4) / 4  # values on bin edges
    codes[:, 4] = 2.5  # a constant latent
    codes[::7, 5] = codes[:, 5].max()  # many samples at the top edge
    assert np.array_equal(histogram_bins(codes, 20), dl_histogram_discretize(codes, 20) - 1)


def test_matches_one_mutual_info_score_per_pair():
    rng = np.random.default_rng(1)
    factors = rng.integers(0, [3, 6, 40, 32, 32], size=(2000, 5))
    codes = np.c_[factors[:, 2] + rng.normal(size=2000), rng.normal(size=(2000, 4))]
    expected = sklearn_mutual_info_loop(codes, factors)
    np.testing.assert_allclose(mutual_info_matrix(codes, factors), expected, rtol=0, atol=1e-10)


def test_sparse_labels_are_renumbered():
    rng = np.random.default_rng(2)
    factors = rng.integers(0, 3, size=(500, 1)) * 10**9  # labels far beyond n_samples
    codes = rng.normal(size=(500, 2)) + factors / 10**9
    expected = sklearn_mutual_info_loop(codes, factors)
    np.testing.assert_allclose(mutual_info_matrix(codes, factors), expected, atol=1e-10)


def test_hand_computed_case():
    # 2 bins: codes 0, 1 | 2, 3; factor a follows the bins, factor b is independent of them
    codes = np.array([[0.0], [1.0], [2.0], [3.0]])
    factors = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    mi = mutual_info_matrix(codes, factors, n_bins=2)
    np.testing.assert_allclose(mi, [[np.log(2), 0.0]], atol=1e-15)
    np.testing.assert_allclose(mutual_info_matrix(codes, factors, n_bins=2, normalize=True),
                               [[1.0, 0.0]], atol=1e-15)


def test_normalised_identity_on_a_grid_is_the_identity():
    factors = factor_grid((4, 5, 3))
    mi = mutual_info_matrix(identity(factors), factors, normalize=True)
    np.testing.assert_allclose(mi, np.eye(3), atol=1e-12)


def test_constant_latent_and_constant_factor_have_zero_information():
    factors = np.c_[factor_grid((4, 5)), np.zeros(20, dtype=int)]
    codes = np.c_[identity(factors[:, :2]), np.full(20, 7.0)]
    mi = mutual_info_matrix(codes, factors, normalize=True)
    assert np.all(mi[2] == 0.0) and np.all(mi[:, 2] == 0.0)
    assert mutual_info_score(factors[:, 0], factors[:, 0]) == pytest.approx(
        mutual_info_matrix(codes, factors)[0, 0])


def test_float_factors_with_whole_values_are_accepted():
    factors = factor_grid((4, 5))
    codes = identity(factors)
    np.testing.assert_array_equal(mutual_info_matrix(codes, factors.astype(float)),
                                  mutual_info_matrix(codes, factors))
