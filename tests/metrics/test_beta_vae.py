import numpy as np
import pytest

from skdisent.metrics import beta_vae_score
from skdisent.metrics._beta_vae import _pair_features
from skdisent.metrics._groups import FactorGroups

from . import cases

SIZES = (4, 5, 3)
POINTS = {"n_train": 300, "n_eval": 300, "random_state": 0}


@pytest.fixture
def factors():
    return cases.factor_grid(SIZES, repeats=16)


@pytest.mark.parametrize("make", [cases.identity, cases.permuted_rescaled, cases.split])
def test_latents_each_tied_to_one_factor_score_one(factors, make):
    assert beta_vae_score(make(factors), factors, **POINTS) == 1.0


def test_pure_noise_scores_near_chance():
    factors = cases.factor_grid((2, 2, 2, 2, 2), repeats=40)
    assert beta_vae_score(cases.noise(factors), factors, **POINTS) < 0.35


def test_pairs_share_the_fixed_factor(factors):
    # with codes = factors, the feature of the fixed factor is exactly 0 and the others are not
    groups = FactorGroups(factors, 64, "test")
    features, labels = _pair_features(cases.identity(factors), groups, 64, 200,
                                      np.random.RandomState(0))
    assert np.all(features[np.arange(200), labels] == 0.0)
    others = np.ones_like(features, dtype=bool)
    others[np.arange(200), labels] = False
    assert np.all(features[others] > 0.0)


def test_hand_computed_feature():
    # two factors of 2 values, one sample each combination, batch of 2 pairs:
    # pairs sharing factor 0 differ only in factor 1 (|diff| = 1 or 0 when the same sample)
    factors = cases.factor_grid((2, 2), repeats=1)
    groups = FactorGroups(factors, 2, "test")
    rng = np.random.RandomState(0)
    features, labels = _pair_features(cases.identity(factors), groups, 2, 50, rng)
    for feature, label in zip(features, labels):
        assert feature[label] == 0.0
        assert feature[1 - label] in (0.0, 0.5, 1.0)


def test_deterministic_given_random_state(factors):
    codes = cases.identity(factors) + 3 * cases.noise(factors)
    first = beta_vae_score(codes, factors, **POINTS)
    assert beta_vae_score(codes, factors, **POINTS) == first


def test_pool_too_small_for_a_factor_value(factors):
    with pytest.raises(ValueError, match="too small for factor 0 = 0: 240 samples"):
        beta_vae_score(cases.identity(factors), factors, batch_size=241, **POINTS)
