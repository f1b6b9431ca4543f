import numpy as np
import pytest

from skdisent.metrics import modularity
from skdisent.metrics._modularity import modularity_from_mutual_info

from . import cases

SIZES = (4, 5, 3)


@pytest.fixture
def factors():
    return cases.factor_grid(SIZES)


@pytest.mark.parametrize("make", [cases.identity, cases.permuted_rescaled, cases.split])
def test_latents_each_tied_to_one_factor_score_one(factors, make):
    assert modularity(make(factors), factors) == pytest.approx(1.0, abs=1e-12)


def test_one_latent_holding_two_factors(factors):
    # latent 0: squared MI (log 4^2, log 5^2, 0): 1 - log(4)^2 / (log(5)^2 (3 - 1)); latent 1: 1
    latent0 = 1 - np.log(4) ** 2 / (2 * np.log(5) ** 2)
    assert modularity(cases.packed(factors, SIZES), factors) == pytest.approx(
        (latent0 + 1) / 2, abs=1e-12)


def test_hand_computed_mutual_information():
    mi = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [2.0, 1.0]])
    # latents: 1, 1 - 1/1 = 0, dead = 0, 1 - 1/4 = 0.75
    assert modularity_from_mutual_info(mi) == pytest.approx((1 + 0 + 0 + 0.75) / 4)


def test_constant_latent_scores_zero_and_counts(factors):
    codes = np.c_[cases.identity(factors), np.zeros(len(factors))]
    assert modularity(codes, factors) == pytest.approx(3 / 4, abs=1e-12)


def test_rotations_score_below_axis_aligned():
    factors = cases.factor_grid(SIZES, repeats=20)
    assert modularity(cases.random_rotation(factors, 0), factors) < 0.9


def test_needs_two_varying_factors(factors):
    with pytest.raises(ValueError, match="modularity needs at least 2 varying factors; got 1"):
        modularity(cases.identity(factors), factors[:, :1])
