import pytest
from sklearn.tree import DecisionTreeClassifier

from skdisent import metrics

from . import cases

FACTORS = cases.factor_grid((4, 5, 3), repeats=16)
FAST = {"dci": {"estimator": DecisionTreeClassifier()},
        "factor_vae": {"n_train": 300, "n_eval": 300},
        "beta_vae": {"n_train": 300, "n_eval": 300}}


def test_every_metric_in_one_dict():
    codes = cases.identity(FACTORS)
    scores = metrics.disentanglement_scores(codes, FACTORS, random_state=0, metric_params=FAST)
    assert sorted(scores) == sorted([
        "mig", "mig_sup", "sap", "dci_disentanglement", "dci_completeness",
        "dci_informativeness", "dci_informativeness_train", "factor_vae", "beta_vae",
        "modularity", "n_active_units"])
    assert all(isinstance(value, float) for value in scores.values())
    assert scores["n_active_units"] == 3.0
    for name in ("mig", "mig_sup", "modularity", "dci_disentanglement", "factor_vae", "beta_vae"):
        assert scores[name] == pytest.approx(1.0, abs=1e-8), name


def test_each_entry_is_the_metric_itself():
    codes = cases.identity(FACTORS) + cases.noise(FACTORS)
    scores = metrics.disentanglement_scores(
        codes, FACTORS, metrics=["mig_sup", "sap", "factor_vae"], random_state=5,
        metric_params={"factor_vae": FAST["factor_vae"]})
    assert scores == {
        "mig_sup": metrics.mig_sup(codes, FACTORS),
        "sap": metrics.sap(codes, FACTORS, random_state=5),
        "factor_vae": metrics.factor_vae_score(codes, FACTORS, random_state=5,
                                               **FAST["factor_vae"]),
    }


def test_unknown_parameters_name_the_metric():
    with pytest.raises(ValueError, match=r"Unknown metric name\(s\) \['dcii'\]"):
        metrics.disentanglement_scores(cases.identity(FACTORS), FACTORS, metric_params={"dcii": {}})
