import logging
import pickle

import joblib
import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.preprocessing import FunctionTransformer

from skdisent.metrics import (
    dci,
    dci_scorer,
    factor_vae_score,
    factor_vae_scorer,
    make_disentanglement_scorer,
    mig,
    mig_sampling,
    mig_sampling_scorer,
    mig_scorer,
    mig_sup,
    mig_sup_sampling_scorer,
    mig_sup_scorer,
    sap,
)
from skdisent.models import BetaVAE, ProVLAE

from . import cases

SIZES = (4, 5, 3)
FACTORS = cases.factor_grid(SIZES, repeats=10)  # tiled: KFold(5) folds are 2 whole grids
MIXING = np.array([[1.0, 0.2, 0.0, 0.5], [0.0, 1.0, 0.3, 0.0], [0.4, 0.0, 1.0, 0.2]])
TINY = {"n_components": 2, "n_epochs": 1, "batch_size": 16, "conv_channels": 4,
        "dense_units": 8, "depth": 2, "device": "cpu", "random_state": 0}
PRO_TINY = {"levels": 2, "latent_dim": 2, "epochs_per_step": 1, "fade_in_steps": 1,
            "batch_size": 16, "conv_channels": 4, "dense_units": 8, "device": "cpu",
            "random_state": 0}


# one epoch on 64 images leaves some fits with every latent still at the prior
QUICK_FIT = pytest.mark.filterwarnings("ignore:.*no latent is active:UserWarning")


class FixedPosterior:
    """A fitted "model" whose posterior is given: X holds row indices into it."""

    def __init__(self, means, logvars):
        self.means = np.asarray(means, dtype=np.float32)
        self.logvars = np.asarray(logvars, dtype=np.float32)

    def posterior(self, X):
        rows = np.asarray(X, dtype=int).ravel()
        return self.means[rows], self.logvars[rows]


def rows_of(factors):
    """The X of a FixedPosterior: one row index per sample."""
    return np.arange(len(factors))[:, None]


def pack(X):
    """A transformer function that packs factors 0 and 1 into one latent."""
    return cases.packed(X.astype(int), SIZES)


def square_images():
    """64 images of 16x16 with a 3x3 square at one of 4 x 4 positions; the positions."""
    factors = cases.factor_grid((4, 4), repeats=4)
    images = np.zeros((len(factors), 16, 16), dtype=np.uint8)
    for image, (row, col) in zip(images, factors):
        image[2 + 3 * row:5 + 3 * row, 2 + 3 * col:5 + 3 * col] = 255
    return images, factors


def test_cross_validate_multi_metric_on_known_codes():
    results = cross_validate(FunctionTransformer(), cases.identity(FACTORS), FACTORS, cv=KFold(5),
                             scoring={"mig": mig_scorer, "mig_sup": mig_sup_scorer})
    np.testing.assert_allclose(results["test_mig"], 1.0, atol=1e-12)
    np.testing.assert_allclose(results["test_mig_sup"], 1.0, atol=1e-12)


def test_grid_search_scores_each_fold_with_the_metric():
    X = FACTORS @ MIXING
    cv = KFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(PCA(), {"n_components": [2, 3]}, scoring=mig_sup_scorer, cv=cv,
                          n_jobs=2).fit(X, FACTORS)
    for i, n in enumerate([2, 3]):
        expected = np.mean([
            mig_sup(PCA(n_components=n).fit(X[train]).transform(X[test]), FACTORS[test])
            for train, test in cv.split(X)
        ])
        assert search.cv_results_["mean_test_score"][i] == pytest.approx(expected, abs=1e-12)
    serial = GridSearchCV(PCA(), {"n_components": [2, 3]}, scoring=mig_sup_scorer, cv=cv,
                          n_jobs=1).fit(X, FACTORS)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"],
                                  serial.cv_results_["mean_test_score"])


def test_multi_metric_refit_picks_by_the_named_metric():
    # packing factors 0 and 1 into one latent keeps MIG at 1 but halves MIG-sup
    search = GridSearchCV(
        FunctionTransformer(), {"func": [pack, None]}, cv=KFold(5), n_jobs=2,
        scoring={"mig": mig_scorer, "mig_sup": mig_sup_scorer}, refit="mig_sup",
    ).fit(cases.identity(FACTORS), FACTORS)
    np.testing.assert_allclose(search.cv_results_["mean_test_mig"], [1.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(search.cv_results_["mean_test_mig_sup"], [0.5, 1.0], atol=1e-12)
    assert search.best_params_ == {"func": None}
    assert search.best_score_ == pytest.approx(1.0, abs=1e-12)


def test_fit_and_score_on_the_same_data():
    X = FACTORS @ MIXING
    everything = np.arange(len(X))
    results = cross_validate(PCA(n_components=3), X, FACTORS, cv=[(everything, everything)],
                             scoring=mig_scorer, return_estimator=True)
    codes = results["estimator"][0].transform(X)
    assert results["test_score"][0] == mig(codes, FACTORS)


def test_random_scorers_are_deterministic_and_match_their_metric():
    pool = cases.factor_grid((2, 3), repeats=64)
    codes = cases.identity(pool) + cases.noise(pool)
    identity = FunctionTransformer().fit(codes)
    score = factor_vae_scorer(identity, codes, pool)
    assert score == factor_vae_scorer(identity, codes, pool)
    assert score == factor_vae_score(codes, pool, random_state=0)
    small = cases.factor_grid((2, 3), repeats=5)
    small_codes = cases.identity(small) + 0.1 * cases.noise(small)
    assert dci_scorer(identity, small_codes, small) == dci(
        small_codes, small, random_state=0)["disentanglement"]


def test_make_scorer_from_a_name_or_a_callable_with_arguments():
    codes = cases.identity(FACTORS) + cases.noise(FACTORS)
    identity = FunctionTransformer().fit(codes)
    by_name = make_disentanglement_scorer("sap", continuous_factors=True)
    assert by_name(identity, codes, FACTORS) == sap(codes, FACTORS, continuous_factors=True)
    seeded = make_disentanglement_scorer(sap, random_state=3)
    assert seeded(identity, codes, FACTORS) == sap(codes, FACTORS, random_state=3)
    binned = make_disentanglement_scorer(mig, n_bins=10)  # takes no random_state
    assert binned(identity, codes, FACTORS) == mig(codes, FACTORS, n_bins=10)
    assert repr(binned) == "make_disentanglement_scorer(mig, n_bins=10)"
    completeness = make_disentanglement_scorer("dci", key="completeness")
    assert "key='completeness'" in repr(completeness)


@pytest.mark.parametrize("scorer", [mig_scorer, mig_sup_scorer, factor_vae_scorer, dci_scorer,
                                    mig_sampling_scorer, mig_sup_sampling_scorer])
def test_scorers_pickle(scorer):
    restored = pickle.loads(pickle.dumps(scorer))
    assert repr(restored) == repr(scorer)
    identity = FunctionTransformer().fit(cases.identity(FACTORS))
    if scorer in (mig_scorer, mig_sup_scorer):
        assert restored(identity, cases.identity(FACTORS), FACTORS) == pytest.approx(1.0)
    if scorer in (mig_sampling_scorer, mig_sup_sampling_scorer):
        sharp = FixedPosterior(3.0 * FACTORS, np.full(FACTORS.shape, -8.0))
        assert restored(sharp, rows_of(FACTORS), FACTORS) == pytest.approx(1.0, abs=1e-6)


def test_sampling_scorers_on_posteriors_known_by_construction():
    factors = cases.factor_grid((4, 5), repeats=5)
    # each latent copies one factor, with a posterior far narrower than the spacing
    sharp = FixedPosterior(3.0 * factors, np.full(factors.shape, -8.0))
    assert mig_sampling_scorer(sharp, rows_of(factors), factors) == pytest.approx(1.0, abs=1e-6)
    assert mig_sup_sampling_scorer(sharp, rows_of(factors), factors) == pytest.approx(
        1.0, abs=1e-6)
    # wide posteriors around noise independent of the factors
    noise = FixedPosterior(cases.noise(factors), np.zeros(factors.shape))
    assert 0.0 <= mig_sampling_scorer(noise, rows_of(factors), factors) < 0.05
    assert 0.0 <= mig_sup_sampling_scorer(noise, rows_of(factors), factors) < 0.05


def test_sampling_scorer_arguments_reach_the_metric():
    factors = cases.factor_grid((4, 5), repeats=5)
    means, logvars = cases.noise(factors), np.full(factors.shape, -1.0)
    model = FixedPosterior(means, logvars)
    scorer = make_disentanglement_scorer("mig_sampling", key="mig_sup", n_samples=30,
                                         active_threshold=0.5, chunk_size=1000, random_state=3)
    expected = mig_sampling(model.means, model.logvars, factors, n_samples=30,
                            active_threshold=0.5, chunk_size=1000, random_state=3)["mig_sup"]
    assert scorer(model, rows_of(factors), factors) == expected
    assert scorer(model, rows_of(factors), factors) == expected  # deterministic
    assert mig_sampling_scorer(model, rows_of(factors), factors) != make_disentanglement_scorer(
        mig_sampling, key="mig", random_state=1)(model, rows_of(factors), factors)
    assert repr(scorer) == (
        "make_disentanglement_scorer(mig_sampling, key='mig_sup', n_samples=30, "
        "active_threshold=0.5, chunk_size=1000, random_state=3)")

    def spread(means, logvars, factors):
        return float(np.exp(logvars).mean())

    by_posterior = make_disentanglement_scorer(spread, response_method="posterior")
    assert by_posterior(model, rows_of(factors), factors) == pytest.approx(np.exp(-1.0))
    assert "response_method='posterior'" in repr(by_posterior)


@QUICK_FIT
def test_sampling_scorers_score_the_posterior_of_a_fitted_model():
    X, factors = square_images()
    model = BetaVAE(**TINY).fit(X)
    expected = mig_sampling(*model.posterior(X), factors, random_state=0)
    assert mig_sampling_scorer(model, X, factors) == expected["mig"]
    assert mig_sup_sampling_scorer(model, X, factors) == expected["mig_sup"]


@QUICK_FIT
def test_sampling_scorers_score_the_last_step_of_a_pipeline():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer as Identity

    X, factors = square_images()
    pipeline = make_pipeline(Identity(), BetaVAE(**TINY)).fit(X)
    expected = mig_sampling(*pipeline[-1].posterior(X), factors, random_state=0)
    assert mig_sampling_scorer(pipeline, X, factors) == expected["mig"]


@QUICK_FIT
def test_grid_search_of_provlae_fit_and_scored_on_the_same_data():
    X, factors = square_images()
    everything = np.arange(len(X))
    search = GridSearchCV(
        ProVLAE(**PRO_TINY), {"beta": [1.0, 4.0]}, cv=[(everything, everything)], n_jobs=2,
        scoring={"mig": mig_sampling_scorer, "mig_sup": mig_sup_sampling_scorer}, refit="mig",
    ).fit(X, factors)
    for i, beta in enumerate([1.0, 4.0]):
        posterior = ProVLAE(**PRO_TINY, beta=beta).fit(X).posterior(X)
        expected = mig_sampling(*posterior, factors, random_state=0)
        for key in ("mig", "mig_sup"):
            assert search.cv_results_[f"mean_test_{key}"][i] == pytest.approx(
                expected[key], abs=1e-6)
    best = np.argmax(search.cv_results_["mean_test_mig"])
    assert search.best_params_ == {"beta": [1.0, 4.0][best]}
    assert search.best_estimator_.posterior(X)[0].shape == (64, 4)


def test_scorer_errors():
    identity = FunctionTransformer().fit(cases.identity(FACTORS))
    with pytest.raises(ValueError, match="pass the factor matrix as y"):
        mig_scorer(identity, cases.identity(FACTORS))
    def several(codes, factors):
        return {"a": 1.0, "b": 0.0}

    with pytest.raises(ValueError, match=r"returns several scores \['a', 'b'\]; build the"):
        make_disentanglement_scorer(several)(identity, cases.identity(FACTORS), FACTORS)
    with pytest.raises(ValueError, match="Unknown metric 'mi'"):
        make_disentanglement_scorer("mi")
    with pytest.raises(TypeError, match="metric must be a callable or a metric name"):
        make_disentanglement_scorer(3)
    with pytest.raises(TypeError, match="mig does not take these arguments: .*'bins'"):
        make_disentanglement_scorer(mig, bins=10)
    with pytest.raises(ValueError, match=r"dci returns several scores; build the scorer with "
                                         r"key= one of \['disentanglement'"):
        make_disentanglement_scorer("dci")


def test_sampling_scorer_errors():
    sharp = FixedPosterior(3.0 * FACTORS, np.full(FACTORS.shape, -8.0))
    with pytest.raises(ValueError, match="pass the factor matrix as y"):
        mig_sampling_scorer(sharp, rows_of(FACTORS))
    identity = FunctionTransformer().fit(cases.identity(FACTORS))
    with pytest.raises(TypeError, match=r"estimator.posterior\(X\); FunctionTransformer has no "
                                        r"posterior method \(BetaVAE, VLAE, ProVLAE, "
                                        r"HierarchicalVAE, TeacherStudentVAE and NVAE have "
                                        r"one\)"):
        mig_sup_sampling_scorer(identity, cases.identity(FACTORS), FACTORS)
    for key in (None, "mutual_info"):
        with pytest.raises(ValueError, match=r"mig_sampling returns several scores; build the "
                                             r"scorer with key= one of \['mig', 'mig_sup'\]"):
            make_disentanglement_scorer("mig_sampling", key=key)
    with pytest.raises(TypeError, match="mig_sampling does not take these arguments"):
        make_disentanglement_scorer("mig_sampling", key="mig", n_sample=100)
    with pytest.raises(ValueError, match=r"response_method must be one of \['transform', "
                                         r"'posterior'\] or None; got 'predict'"):
        make_disentanglement_scorer(mig, response_method="predict")


@QUICK_FIT
def test_grid_search_over_beta_of_a_model_scored_by_mig_sup():
    X, factors = square_images()
    search = GridSearchCV(BetaVAE(**TINY), {"beta": [1.0, 4.0]}, scoring=mig_sup_scorer,
                          cv=KFold(2), n_jobs=2).fit(X, factors)
    scores = search.cv_results_["mean_test_score"]
    assert np.all((scores >= 0.0) & (scores <= 1.0))
    assert search.best_params_["beta"] in (1.0, 4.0)
    assert search.best_estimator_.transform(X).shape == (64, 2)


@QUICK_FIT
def test_grid_search_under_a_dask_cluster_of_worker_processes():
    distributed = pytest.importorskip("distributed")
    X, factors = square_images()
    search = GridSearchCV(BetaVAE(**TINY), {"beta": [1.0, 4.0]}, scoring=mig_sup_scorer,
                          cv=KFold(2), n_jobs=2)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                 host="127.0.0.1", dashboard_address=None,
                                 silence_logs=logging.ERROR) as cluster,
        distributed.Client(cluster) as client,
    ):
        with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
            search.fit(X, factors)
    assert len(tasks.data) >= 4  # 2 values of beta x 2 folds ran on the workers
    scores = search.cv_results_["mean_test_score"]
    assert np.all((scores >= 0.0) & (scores <= 1.0))
    assert search.best_estimator_.transform(X).shape == (64, 2)
