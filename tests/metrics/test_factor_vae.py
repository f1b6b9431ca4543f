import numpy as np
import pytest

from skdisent.metrics import factor_vae_score
from skdisent.metrics._factor_vae import majority_vote_accuracy

from . import cases

SIZES = (4, 5, 3)
VOTES = {"n_train": 600, "n_eval": 600, "random_state": 0}


@pytest.fixture
def factors():
    return cases.factor_grid(SIZES, repeats=16)  # 320 to 640 samples per factor value


@pytest.mark.parametrize("make", [cases.identity, cases.permuted_rescaled, cases.split])
def test_latents_each_tied_to_one_factor_score_one(factors, make):
    assert factor_vae_score(make(factors), factors, **VOTES) == 1.0


def test_pure_noise_scores_near_chance():
    factors = cases.factor_grid((2, 2, 2, 2, 2), repeats=40)
    assert factor_vae_score(cases.noise(factors), factors, **VOTES) < 0.35


def test_one_latent_holding_two_factors(factors):
    # fixing factor 0 or factor 1 both point at latent 0; the classifier can name only one
    # of them: factors 0 and 2 are classified right, factor 1 (1/3 of the votes) wrong
    score = factor_vae_score(cases.packed(factors, SIZES), factors, **VOTES)
    assert score == pytest.approx(2 / 3, abs=0.05)


def test_hand_computed_majority_vote():
    train = np.array([[3, 1, 0], [1, 5, 2]])  # latent -> factor: 0 -> 0, 1 -> 1, 2 -> 1
    evaluation = np.array([[4, 0, 1], [2, 3, 0]])
    assert majority_vote_accuracy(train, evaluation) == pytest.approx((4 + 3 + 0) / 10)


def test_collapsed_latents_are_pruned(factors):
    codes = np.c_[cases.identity(factors), np.zeros(len(factors)), 0.01 * cases.noise(factors)]
    assert factor_vae_score(codes, factors, **VOTES) == 1.0
    with pytest.warns(UserWarning, match="no latent has a standard deviation"):
        assert factor_vae_score(1e-3 * cases.identity(factors), factors, **VOTES) == 0.0


def test_deterministic_given_random_state(factors):
    codes = cases.identity(factors) + cases.noise(factors)
    first = factor_vae_score(codes, factors, **VOTES)
    assert factor_vae_score(codes, factors, **VOTES) == first
    assert factor_vae_score(codes, factors, n_train=600, n_eval=600, random_state=1) != first


def test_pool_too_small_for_a_factor_value_names_it():
    factors = cases.factor_grid(SIZES, repeats=16)
    factors = factors[~((factors[:, 1] == 3) & (np.arange(len(factors)) % 16 > 0))]
    with pytest.raises(ValueError, match=r"too small for factor 1 = 3: 12 samples .* at least 64"):
        factor_vae_score(cases.identity(factors), factors, **VOTES)
    assert factor_vae_score(cases.identity(factors), factors, batch_size=12, **VOTES) == 1.0


def test_constant_factor_is_left_out(factors):
    with_constant = np.c_[factors, np.full(len(factors), 4)]
    with pytest.warns(UserWarning, match=r"factor column\(s\) \[3\]"):
        assert factor_vae_score(cases.identity(factors), with_constant, **VOTES) == 1.0
    # errors name the user's column, constant ones counted
    first_constant = np.c_[np.zeros(len(factors), dtype=int), factors]
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="for factor 1 = 0: 240"):
        factor_vae_score(cases.identity(factors), first_constant, batch_size=400, **VOTES)


@pytest.mark.parametrize("name, value", [("batch_size", 1), ("n_train", 0), ("n_eval", 2.5)])
def test_bad_counts(factors, name, value):
    kwargs = {**VOTES, name: value}
    with pytest.raises(ValueError, match=f"{name} must be an integer"):
        factor_vae_score(cases.identity(factors), factors, **kwargs)
