import numpy as np
import pytest
from scipy.stats import entropy
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

from skdisent.metrics import dci
from skdisent.metrics._dci import disentanglement_completeness

from . import cases

SIZES = (4, 5, 3)


def dl_disentanglement_completeness(importance):
    """disentanglement_lib's ``disentanglement`` and ``completeness``, verbatim in numpy."""
    per_code = 1.0 - entropy(importance.T + 1e-11, base=importance.shape[1])
    per_factor = 1.0 - entropy(importance + 1e-11, base=importance.shape[0])
    weights = importance if importance.sum() else np.ones_like(importance)
    return (np.sum(per_code * weights.sum(1) / weights.sum()),
            np.sum(per_factor * weights.sum(0) / weights.sum()))


@pytest.fixture
def factors():
    return cases.factor_grid(SIZES, repeats=4)


def test_hand_computed_importance():
    # latent 0 serves factor 0 only (D=1), latent 1 serves both equally (D=0), weights 1/2 each;
    # factor 0 is served 2:1 by latents 0 and 1 (weight 3/4), factor 1 by latent 1 only (C=1)
    d, c = disentanglement_completeness(np.array([[1.0, 0.0], [0.5, 0.5]]))
    h = -(2 / 3 * np.log2(2 / 3) + 1 / 3 * np.log2(1 / 3))
    assert d == pytest.approx(0.5, abs=1e-9)
    assert c == pytest.approx(0.75 * (1 - h) + 0.25, abs=1e-9)


def test_matches_disentanglement_lib_formulas():
    rng = np.random.default_rng(0)
    for shape in [(10, 5), (3, 7), (4, 4)]:
        importance = rng.random(shape) * (rng.random(shape) > 0.3)
        np.testing.assert_allclose(disentanglement_completeness(importance),
                                   dl_disentanglement_completeness(importance), atol=1e-12)
    zero = np.zeros((3, 2))
    np.testing.assert_allclose(disentanglement_completeness(zero),
                               dl_disentanglement_completeness(zero), atol=1e-12)


def test_single_factor_or_latent_is_fully_disentangled_or_complete():
    d, c = disentanglement_completeness(np.array([[0.3], [0.7]]))
    assert d == 1.0 and c < 1.0
    d, c = disentanglement_completeness(np.array([[0.3, 0.7]]))
    assert c == 1.0 and d < 1.0


@pytest.mark.parametrize("make", [cases.identity, cases.permuted_rescaled])
def test_axis_aligned_codes_score_one(factors, make):
    scores = dci(make(factors), factors, estimator=DecisionTreeClassifier(), random_state=0)
    for name in ("disentanglement", "completeness"):
        assert scores[name] == pytest.approx(1.0, abs=1e-8)
    assert scores["informativeness"] == 1.0 and scores["informativeness_train"] == 1.0


def test_one_latent_holding_two_factors(factors):
    # importance (rows latents): [[1, 1, 0], [0, 0, 1]] -> D = 2/3 (1 - log 2 / log 3) + 1/3
    scores = dci(cases.packed(factors, SIZES), factors, estimator=DecisionTreeClassifier(),
                 random_state=0)
    expected = 2 / 3 * (1 - np.log(2) / np.log(3)) + 1 / 3
    assert scores["disentanglement"] == pytest.approx(expected, abs=1e-8)
    assert scores["completeness"] == pytest.approx(1.0, abs=1e-8)
    assert scores["informativeness"] == 1.0


def test_pure_noise_scores_low(factors):
    scores = dci(cases.noise(factors), factors, estimator=DecisionTreeClassifier(max_depth=3),
                 random_state=0)
    # chance accuracy is 1/4, 1/5, 1/3; a tree still finds importances in noise
    assert scores["informativeness"] < 0.4 and scores["informativeness_train"] > 0.4
    assert scores["disentanglement"] < 0.5


def test_default_is_gradient_boosting_and_deterministic():
    factors = cases.factor_grid((2, 3), repeats=10)
    codes = cases.identity(factors) + 0.1 * cases.noise(factors)
    first = dci(codes, factors, random_state=0)
    assert first == dci(codes, factors, estimator=GradientBoostingClassifier(), random_state=0)
    assert first["disentanglement"] > 0.9 and first["informativeness"] == 1.0


def test_linear_models_use_coefficients(factors):
    scores = dci(cases.identity(factors), factors, estimator=LogisticRegression(),
                 random_state=0)
    assert scores["disentanglement"] > 0.5


def test_estimator_without_importances_is_a_type_error(factors):
    with pytest.raises(TypeError, match="neither feature_importances_ nor coef_"):
        dci(cases.identity(factors), factors, estimator=KNeighborsClassifier())
