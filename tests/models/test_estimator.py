"""The estimator contract of the ladder models: layouts, composition, pickling, errors."""

import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skdisent import VLAE, BetaVAE, NonFiniteLossError, ProVLAE
from skdisent.engine import Trainer

from .conftest import TINY, tiny_models

MODELS = tiny_models()
IDS = [type(m).__name__ for m in MODELS]


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_transform_inverse_transform_sample_score(model, images):
    model = clone(model).fit(images)
    Z = model.transform(images)
    assert Z.shape == (64, model.n_components_) and Z.dtype == np.float32
    assert model.get_feature_names_out().shape == (model.n_components_,)
    X_hat = model.inverse_transform(Z)
    assert X_hat.shape == images.shape and X_hat.dtype == np.float32
    assert 0.0 <= X_hat.min() and X_hat.max() <= 1.0
    samples = model.sample(5, random_state=0)
    assert samples.shape == (5, *images.shape[1:])
    np.testing.assert_array_equal(samples, model.sample(5, random_state=0))
    score = model.score(images)
    assert np.isfinite(score) and score < 0
    assert score == model.score(images)


@pytest.mark.parametrize(
    "shape, image_shape",
    [((40, 16, 16), None), ((40, 256), (16, 16)), ((40, 768), (3, 16, 16)),
     ((40, 3, 20, 20), None), ((40, 1, 28, 28), None), ((40, 30), None)],
    ids=["HW", "rows-HW", "rows-CHW", "RGB-20", "MNIST-28", "dense"],
)
def test_layouts_come_back_as_given(shape, image_shape):
    X = np.random.default_rng(0).random(shape, dtype=np.float32)
    model = VLAE(levels=2, latent_dim=2, n_epochs=1, image_shape=image_shape, random_state=0,
                 **TINY).fit(X)
    assert model.inverse_transform(model.transform(X)).shape == shape
    assert model.sample(3).shape == (3, *shape[1:])
    assert model.layout_.is_image == (len(shape) > 2 or image_shape is not None)


def test_names_and_layout_of_codes():
    X = np.random.default_rng(0).integers(0, 256, size=(32, 1, 16, 16), dtype=np.uint8)
    model = ProVLAE(levels=3, latent_dim=2, epochs_per_step=0, random_state=0, **TINY).fit(X)
    assert list(model.get_feature_names_out()) == [
        f"provlae_level{level}_z{j}" for level in (1, 2, 3) for j in (0, 1)]
    assert model.level_slices() == [slice(0, 2), slice(2, 4), slice(4, 6)]
    beta = BetaVAE(n_components=3, depth=3, n_epochs=0, **TINY).fit(X)
    assert beta.latent_dims_ == (0, 0, 3)
    assert list(beta.get_feature_names_out()) == [f"betavae_level3_z{j}" for j in range(3)]


def test_pipeline_with_a_downstream_classifier(images):
    y = (images.reshape(64, -1).mean(axis=1) > np.median(images)).astype(int)
    pipe = make_pipeline(clone(MODELS[2]), LogisticRegression()).fit(images, y)
    assert pipe.predict(images).shape == (64,)
    assert 0.0 <= pipe.score(images, y) <= 1.0


def test_grid_search_over_beta_in_parallel(images):
    search = GridSearchCV(clone(MODELS[1]), {"beta": [0.5, 1.0, 4.0]}, cv=2, n_jobs=2)
    search.fit(images)
    assert search.best_params_["beta"] in (0.5, 1.0, 4.0)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.transform(images).shape == (64, 4)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_pickle_and_clone_refit_give_identical_transforms(model, images, tmp_path):
    fitted = clone(model).fit(images)
    Z = fitted.transform(images)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).transform(images), Z)
    joblib.dump(fitted, tmp_path / "model.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "model.joblib").transform(images), Z)
    np.testing.assert_array_equal(clone(fitted).fit(images).transform(images), Z)
    assert fitted.history_ == pickle.loads(pickle.dumps(fitted)).history_


def test_a_fit_leaves_the_global_random_state_alone(images):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    np.random.seed(5)
    clone(MODELS[2]).fit(images)
    assert torch.equal(torch.rand(3), expected)


def test_transform_does_not_depend_on_the_rest_of_the_batch(images):
    model = clone(MODELS[2]).fit(images)
    full = model.transform(images)
    np.testing.assert_allclose(model.transform(images[5:6]), full[5:6], atol=1e-6)


# ----------------------------------------------------------------- bad input

BAD_INPUTS = [
    (np.full((10, 1, 16, 16), np.nan, dtype=np.float32), ValueError, "NaN"),
    (np.full((10, 1, 16, 16), np.inf, dtype=np.float32), ValueError, "infinity"),
    (np.zeros((10, 1, 1, 16, 16), dtype=np.float32), ValueError, "5 dimensions"),
    (np.zeros(10, dtype=np.float32), ValueError, "2D array"),
    (np.zeros((0, 1, 16, 16), dtype=np.float32), ValueError, "0 sample"),
    (np.zeros((1, 1, 16, 16), dtype=np.float32), ValueError, "1 sample"),
    (np.array([["a", "b"], ["c", "d"]], dtype=object), ValueError, "could not convert"),
    (np.full((10, 1, 16, 16), 2.0, dtype=np.float32), ValueError, r"floats in \[0, 1\]"),
]


@pytest.mark.parametrize("X, error, match", BAD_INPUTS,
                         ids=["nan", "inf", "ndim", "1d", "empty", "one", "strings", "range"])
def test_bad_input_is_refused_with_a_clear_message(X, error, match):
    with pytest.raises(error, match=match):  # floats outside [0, 1]: for a Bernoulli likelihood
        clone(MODELS[1]).set_params(likelihood="bernoulli").fit(X)


def test_image_shape_must_match_the_rows():
    X = np.random.default_rng(0).random((10, 250), dtype=np.float32)
    with pytest.raises(ValueError, match=r"image_shape \(16, 16\) holds 256 values.*250"):
        VLAE(image_shape=(16, 16), **TINY).fit(X)


def test_images_too_small_for_the_ladder():
    X = np.random.default_rng(0).random((10, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="too small for a ladder of 3 levels.*16x16"):
        VLAE(levels=3, **TINY).fit(X)


def test_gaussian_likelihood_accepts_any_real_values():
    X = np.random.default_rng(0).normal(size=(32, 1, 16, 16)).astype(np.float32) * 5
    model = VLAE(levels=2, latent_dim=2, n_epochs=1, likelihood="gaussian", **TINY).fit(X)
    assert np.isfinite(model.score(X))


def test_use_before_fit_and_wrong_shape_after(images):
    model = clone(MODELS[0])
    for method in (model.transform, model.inverse_transform, model.score):
        with pytest.raises(NotFittedError):
            method(images)
    with pytest.raises(NotFittedError):
        model.sample(2)
    model.fit(images)
    with pytest.raises(ValueError, match=r"samples of shape \(1, 20, 20\).*\(1, 16, 16\)"):
        model.transform(np.zeros((3, 1, 20, 20), dtype=np.uint8))
    with pytest.raises(ValueError, match="expects codes with 3 columns"):
        model.inverse_transform(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        model.sample(0)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="'beta' parameter"):
        VLAE(beta=-1.0).fit(np.zeros((4, 1, 16, 16), dtype=np.uint8))
    with pytest.raises(ValueError, match="device must be"):
        VLAE(device="tpu-9", **{k: v for k, v in TINY.items() if k != "device"}).fit(
            np.zeros((4, 1, 16, 16), dtype=np.uint8))


# ------------------------------------------------------------ non-finite loss

def test_non_finite_loss_stops_and_keeps_the_last_good_weights(images, monkeypatch):
    model = VLAE(levels=2, latent_dim=2, n_epochs=4, random_state=0, **TINY)
    snapshots = []
    record = type(model)._epoch_record

    def capture(self, data, device):
        snapshots.append({k: v.clone() for k, v in self.network_.state_dict().items()})
        return record(self, data, device)

    model._epoch_record = capture.__get__(model)
    calls = {"n": 0}
    original_step = Trainer.optimize

    def poisoned(trainer, loss, name):
        calls["n"] += 1
        if calls["n"] == 3 * 4 + 2:  # second step of the fourth epoch
            loss = loss * float("nan")
        return original_step(trainer, loss, name)

    monkeypatch.setattr(Trainer, "optimize", poisoned)
    with pytest.raises(NonFiniteLossError, match="non-finite loss.*epoch 4.*last completed epoch"):
        model.fit(images)
    assert model.n_iter_ == 3 and len(model.history_) == 3
    for key, value in model.network_.state_dict().items():
        torch.testing.assert_close(value, snapshots[2][key], rtol=0, atol=0)
    assert np.isfinite(model.transform(images)).all()
