"""Bad input gets the same clear error from every metric."""

import numpy as np
import pytest

from skdisent import metrics

from . import cases

FACTORS = cases.factor_grid((4, 5, 3), repeats=22)  # 1320 samples, 66 per value at least
CODES = cases.identity(FACTORS)

FAST = {
    "mutual_info_matrix": metrics.mutual_info_matrix,
    "mig": metrics.mig,
    "mig_sup": metrics.mig_sup,
    "sap": lambda c, f: metrics.sap(c, f, continuous_factors=True),
    "dci": lambda c, f: metrics.dci(c, f, estimator=_tree()),
    "factor_vae_score": lambda c, f: metrics.factor_vae_score(c, f, n_train=10, n_eval=10),
    "beta_vae_score": lambda c, f: metrics.beta_vae_score(c, f, n_train=10, n_eval=10),
    "modularity": metrics.modularity,
    "disentanglement_scores": lambda c, f: metrics.disentanglement_scores(
        c, f, metrics=["mig", "modularity"]),
    "mig_sampling": lambda c, f: metrics.mig_sampling(c, np.zeros_like(c), f, n_samples=10),
    "mutual_info_matrix_sampling": lambda c, f: metrics.mutual_info_matrix_sampling(
        c, np.zeros_like(c), f, n_samples=10),
}
HISTOGRAM = ["mutual_info_matrix", "mig", "mig_sup", "modularity", "disentanglement_scores"]


def _tree():
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(max_depth=2)


@pytest.fixture(params=sorted(FAST))
def metric(request):
    return FAST[request.param]


def test_mismatched_lengths(metric):
    with pytest.raises(ValueError, match="(codes|means) has 1320 samples but factors has 1319"):
        metric(CODES, FACTORS[:-1])


@pytest.mark.parametrize("bad, kind",
                         [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")])
def test_nan_or_inf_in_codes(metric, bad, kind):
    codes = CODES.copy()
    codes[5, 1] = bad
    with pytest.raises(ValueError, match=f"contains NaN or infinity .*a {kind} at row 5, column 1"):
        metric(codes, FACTORS)


def test_non_integer_factors(metric):
    factors = FACTORS.astype(float)
    factors[3, 2] = 0.5
    with pytest.raises(ValueError, match="integer class labels; got the non-integer value 0.5 "
                                         "at row 3, column 2"):
        metric(CODES, factors)


def test_negative_factors(metric):
    factors = FACTORS.copy()
    factors[7, 0] = -1
    with pytest.raises(ValueError, match="non-negative integer classes; got -1 at row 7, column 0"):
        metric(CODES, factors)


def test_factors_that_are_not_numbers(metric):
    with pytest.raises(TypeError, match="factors must be an integer array"):
        metric(CODES, FACTORS.astype(str))


def test_codes_that_are_not_numbers(metric):
    with pytest.raises(TypeError, match="must be a real numeric array"):
        metric(CODES.astype(str), FACTORS)


def test_single_sample(metric):
    with pytest.raises(ValueError, match="has 1 sample; at least 2 are needed"):
        metric(CODES[:1], FACTORS[:1])


def test_one_dimensional_codes(metric):
    with pytest.raises(ValueError, match=r"must be 2-D .*reshape\(-1, 1\)"):
        metric(CODES[:, 0], FACTORS)


@pytest.mark.parametrize("name", HISTOGRAM)
def test_fewer_samples_than_bins(name):
    with pytest.raises(ValueError, match=r"needs at least 20 samples \(one per histogram bin"):
        FAST[name](CODES[:19], FACTORS[:19])


def test_bad_n_bins():
    with pytest.raises(ValueError, match="n_bins must be an integer >= 2"):
        metrics.mig(CODES, FACTORS, n_bins=1)


def test_one_dimensional_factors_are_one_factor():
    np.testing.assert_array_equal(metrics.mutual_info_matrix(CODES, FACTORS[:, 0]),
                                  metrics.mutual_info_matrix(CODES, FACTORS[:, :1]))


def test_boolean_factors_are_classes():
    factors = FACTORS[:, :2] % 2 == 0
    assert metrics.mig(CODES[:, :2] % 2, factors) == pytest.approx(1.0)


def test_bad_test_size():
    with pytest.raises(ValueError, match="test_size must be a fraction in"):
        metrics.sap(CODES, FACTORS, test_size=1.5)
    with pytest.raises(ValueError, match="leaves an empty training or test set"):
        metrics.dci(CODES, FACTORS, test_size=1e-4)


def test_unknown_metric_names():
    with pytest.raises(ValueError, match=r"Unknown metric name\(s\) \['migg'\]"):
        metrics.disentanglement_scores(CODES, FACTORS, metrics=["migg"])
