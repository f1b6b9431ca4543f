import numpy as np
import pytest

from skdisent.metrics import sap
from skdisent.metrics._sap import _classification_accuracy

from . import cases

SIZES = (4, 5, 3)


@pytest.fixture
def factors():
    return cases.factor_grid(SIZES)


@pytest.mark.parametrize("make", [cases.identity, cases.permuted_rescaled])
def test_continuous_axis_aligned_codes_score_one(factors, make):
    assert sap(make(factors), factors, continuous_factors=True) == pytest.approx(1.0, abs=1e-12)


def test_continuous_known_cases():
    factors = cases.factor_grid((4, 4, 3))
    # each rotated latent has squared correlation 1/2 with factors 0 and 1: gaps 0, 0, 1
    assert sap(cases.rotated45(factors), factors, continuous_factors=True) == pytest.approx(1 / 3)
    # factor 0 split over two latents: gaps 0, 1, 1
    assert sap(cases.split(factors), factors, continuous_factors=True) == pytest.approx(2 / 3)
    noisy = cases.factor_grid(SIZES, repeats=50)
    assert sap(cases.noise(noisy), noisy, continuous_factors=True) < 0.01


def test_continuous_hand_computed_case():
    # factor [0, 0, 1, 1]: latent 0 = [0, 1, 2, 3] has cov^2/(var var) = 2^2 / (5 * 1) = 0.8,
    # latent 1 = [1, 0, 0, 1] is uncorrelated with it
    codes = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 0.0], [3.0, 1.0]])
    assert sap(codes, [0, 0, 1, 1], continuous_factors=True) == pytest.approx(0.8, abs=1e-12)


def test_continuous_constant_latent_scores_zero(factors):
    codes = np.c_[cases.identity(factors), np.full(len(factors), 2.0)]
    assert sap(codes, factors, continuous_factors=True) == pytest.approx(1.0, abs=1e-12)


def test_discrete_uses_held_out_linear_svm_accuracy():
    factors = cases.factor_grid((2, 2, 2), repeats=30)
    rng = np.random.RandomState(0)
    scores = _classification_accuracy(cases.identity(factors), factors, 1 / 3, rng)
    np.testing.assert_array_equal(np.diag(scores), 1.0)  # each latent predicts its factor
    off = scores[~np.eye(3, dtype=bool)]
    assert np.all((off > 0.3) & (off < 0.7))  # and guesses the others
    ranked = [sap(make(factors), factors, random_state=0)
              for make in (cases.identity, cases.split, cases.noise)]
    assert ranked[0] > ranked[1] > ranked[2]
    assert ranked[2] < 0.1


def test_discrete_is_deterministic_given_random_state(factors):
    codes = cases.noise(factors)
    assert sap(codes, factors, random_state=3) == sap(codes, factors, random_state=3)


def test_needs_two_latents(factors):
    with pytest.raises(ValueError, match="sap needs at least 2 latents; got 1"):
        sap(cases.identity(factors)[:, :1], factors)
