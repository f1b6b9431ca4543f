import numpy as np
import pytest

from skdisent.metrics import active_units, mig, mig_sup

from . import cases

SIZES = (4, 5, 3)


@pytest.fixture
def factors():
    return cases.factor_grid(SIZES)


@pytest.mark.parametrize("make", [cases.identity, cases.permuted_rescaled])
def test_axis_aligned_codes_score_one(factors, make):
    codes = make(factors)
    assert mig(codes, factors) == pytest.approx(1.0, abs=1e-12)
    assert mig_sup(codes, factors) == pytest.approx(1.0, abs=1e-12)


def test_rotation_by_45_degrees_mixes_two_factors():
    factors = cases.factor_grid((4, 4, 3))
    codes = cases.rotated45(factors)
    # factors 0 and 1 have a gap of 0, factor 2 a gap of 1; same per latent
    assert mig(codes, factors) == pytest.approx(1 / 3, abs=1e-12)
    assert mig_sup(codes, factors) == pytest.approx(1 / 3, abs=1e-12)


def test_random_rotations_score_low():
    factors = cases.factor_grid(SIZES, repeats=20)
    for seed in range(3):
        codes = cases.random_rotation(factors, seed)
        assert mig(codes, factors) < 0.5
        assert mig_sup(codes, factors) < 0.5


def test_pure_noise_scores_near_zero():
    factors = cases.factor_grid(SIZES, repeats=100)
    codes = cases.noise(factors)
    assert mig(codes, factors) < 0.02
    assert mig_sup(codes, factors) < 0.02


def test_one_latent_holding_two_factors_is_penalised_by_mig_sup_only(factors):
    codes = cases.packed(factors, SIZES)
    assert mig(codes, factors) == pytest.approx(1.0, abs=1e-12)
    # latent 0 knows factors 0 and 1 fully (gap 0), latent 1 knows factor 2 (gap 1)
    assert mig_sup(codes, factors) == pytest.approx(0.5, abs=1e-12)


def test_one_factor_split_over_two_latents_is_penalised_by_mig_only(factors):
    codes = cases.split(factors)
    assert mig(codes, factors) == pytest.approx(2 / 3, abs=1e-12)
    assert mig_sup(codes, factors) == pytest.approx(1.0, abs=1e-12)


def test_hand_computed_case():
    # with 2 bins, both latents are binned to [0, 0, 1, 1, 0, 0, 1, 1] and [0, 0, 1, 1, 1, 1, 0, 0]
    codes = np.array([[0, 0], [1, 0], [2, 1], [3, 1], [0, 1], [1, 1], [2, 0], [3, 0]], float)
    factors = np.array([[0, 0], [0, 0], [1, 1], [1, 1], [0, 0], [0, 1], [1, 1], [1, 0]])
    # factor a: I(c0; a) = log 2 = H(a), I(c1; a) = 0                 -> gap 1
    # factor b: both latents agree with b on 6 of 8 samples, so
    #   I(c0; b) = I(c1; b) = (3/4) log(3/2) - (1/4) log 2 = r log 2 -> gap 0
    r = (0.75 * np.log(1.5) - 0.25 * np.log(2)) / np.log(2)
    assert mig(codes, factors, n_bins=2) == pytest.approx((1 + 0) / 2, abs=1e-12)
    # latent 0: (1, r) -> gap 1 - r; latent 1: (0, r) -> gap r
    assert mig_sup(codes, factors, n_bins=2) == pytest.approx(((1 - r) + r) / 2, abs=1e-12)
    assert r == pytest.approx(0.188722, abs=1e-6)


def test_constant_factor_is_left_out_with_a_warning(factors):
    with_constant = np.c_[factors, np.zeros(len(factors), dtype=int)]
    codes = cases.identity(factors)
    with pytest.warns(UserWarning, match=r"factor column\(s\) \[3\]"):
        assert mig(codes, with_constant) == pytest.approx(mig(codes, factors), abs=1e-15)
    with pytest.warns(UserWarning, match="single value"):
        assert mig_sup(codes, with_constant) == pytest.approx(1.0, abs=1e-12)


def test_every_factor_constant_raises():
    codes = np.random.default_rng(0).normal(size=(30, 3))
    with pytest.raises(ValueError, match="every factor is constant"):
        mig(codes, np.zeros((30, 2), dtype=int))


def test_constant_latent_is_inactive_for_mig_sup(factors):
    codes = np.c_[cases.identity(factors), np.full(len(factors), 5.0)]
    assert mig_sup(codes, factors) == pytest.approx(1.0, abs=1e-12)
    assert mig(codes, factors) == pytest.approx(1.0, abs=1e-12)


def test_no_active_latent_gives_zero_with_a_warning(factors):
    codes = 1e-3 * cases.identity(factors)  # variance far below 0.01
    with pytest.warns(UserWarning, match="no latent is active"):
        assert mig_sup(codes, factors) == 0.0
    assert mig_sup(codes, factors, active_threshold=0.0) == pytest.approx(1.0, abs=1e-12)


def test_a_gap_needs_two_values(factors):
    with pytest.raises(ValueError, match="mig needs at least 2 latents; got 1"):
        mig(cases.identity(factors)[:, :1], factors)
    with pytest.raises(ValueError, match="mig_sup needs at least 2 varying factors; got 1"):
        mig_sup(cases.identity(factors), factors[:, :1])


def test_active_units_hand_computed():
    rng = np.random.default_rng(0)
    codes = np.c_[rng.normal(size=1000), np.zeros(1000), 0.07 * rng.normal(size=1000),
                  0.2 * rng.normal(size=1000)]  # variances ~1, 0, ~0.005, ~0.04
    np.testing.assert_array_equal(active_units(codes), [0, 3])
    np.testing.assert_array_equal(active_units(codes, threshold=0.001), [0, 2, 3])
    # the unbiased variance, as torch.std: [0, 0.2] has variance 0.02 (0.01 with ddof=0)
    np.testing.assert_array_equal(active_units(np.array([[0.0], [0.2]]), threshold=0.015), [0])
