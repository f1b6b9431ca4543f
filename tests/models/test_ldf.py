"""The estimator contract of LDFModel: layouts, both representations, extra pieces, errors."""

import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdisent import LDFModel, load, save
from skdisent.datasets import make_moving_sprites

@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Train on one thread: on a shared machine two OpenMP threads mostly wait for each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY_LDF = {"local_dim": 2, "global_dim": 3, "n_epochs": 2, "batch_size": 8,
            "conv_channels": 2, "dense_units": 8, "device": "cpu", "random_state": 0}


@pytest.fixture(scope="module")
def videos():
    """12 moving-sprite videos of 5 frames, 3x16x16, uint8."""
    return make_moving_sprites(n_samples=12, size=16, random_state=0).videos


# scikit-learn's sample-order check compares float32 codes at rtol=1e-7, that is bit for bit.
# Float32 BLAS does not promise that: on an AMD EPYC (Zen 5) the upper level's first layer
# (20 rows, 6 inputs, 8 outputs) gives a row a result 1 ulp apart depending on its position
# in the batch, for torch's own matrix product too. Order invariance up to float32 rounding
# is checked below instead (test_transform_does_not_depend_on_sample_order).
SAMPLE_ORDER_ROUNDING = {
    "check_methods_sample_order_invariance":
        "float32 BLAS may round a row differently at another position in the batch",
}


# The check suite feeds real-valued flat rows: LDF models them with a Gaussian likelihood
# (the default "auto" chooses it) and cuts them into contiguous blocks of features (see
# patch_grid), so every check applies.
CHECKED = {**TINY_LDF, "n_epochs": 1}


@parametrize_with_checks([LDFModel(**CHECKED)],
                         expected_failed_checks=lambda estimator: SAMPLE_ORDER_ROUNDING)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("representation", ["global", "local"])
def test_transform_does_not_depend_on_sample_order(representation):
    # The check's own data: 20 rows of 3 real features, cut into 3 pieces.
    X = 3 * np.random.default_rng(0).uniform(size=(20, 3))
    model = LDFModel(**CHECKED, representation=representation).fit(X)
    order = np.random.default_rng(1).permutation(len(X))
    codes = model.transform(X)
    np.testing.assert_allclose(model.transform(X[order]), codes[order], rtol=1e-5, atol=1e-6)
    assert not np.allclose(codes[order], codes, rtol=1e-3)  # the order does matter


def _fitted(X, pieces=None, **params):
    return LDFModel(**{**TINY_LDF, **params}).fit(X, pieces=pieces)


def test_both_representations_of_videos(videos):
    model = _fitted(videos)
    assert model.n_pieces_ == 5 and model.piece_shape_ == (3, 16, 16)
    Z = model.transform(videos)
    assert Z.shape == (12, 3) and Z.dtype == np.float32 and model.n_components_ == 3
    assert list(model.get_feature_names_out()) == [f"ldfmodel_global_z{j}" for j in range(3)]
    back = model.inverse_transform(Z)
    assert back.shape == videos.shape and back.dtype == np.float32
    assert 0.0 <= back.min() and back.max() <= 1.0
    model.set_params(representation="local")
    local = model.transform(videos)
    assert local.shape == (12, 10) and model.n_components_ == 10
    assert model.get_feature_names_out()[:3].tolist() == [
        "ldfmodel_frame0_z0", "ldfmodel_frame0_z1", "ldfmodel_frame1_z0"]
    assert model.inverse_transform(local).shape == videos.shape
    # the global code decodes through the local codes the upper generator gives it
    with torch.no_grad():
        through = model.network_.global_to_local(torch.from_numpy(Z)).numpy()
    np.testing.assert_allclose(model.inverse_transform(through),
                               model.set_params(representation="global").inverse_transform(Z),
                               atol=1e-6)


@pytest.mark.parametrize("shape, image_shape, n_pieces", [
    ((10, 3, 16, 16), None, 4), ((10, 16, 16), None, 4), ((10, 256), (16, 16), 4),
    ((10, 3, 12, 8), None, 4), ((10, 10), None, 4), ((10, 4, 2, 8, 8), None, 4),
], ids=["CHW", "HW", "rows-HW", "rectangular", "rows", "video"])
def test_layouts_come_back_as_given(shape, image_shape, n_pieces):
    X = np.random.default_rng(0).random(shape, dtype=np.float32)
    model = _fitted(X, image_shape=image_shape)
    assert model.n_pieces_ == n_pieces
    assert model.inverse_transform(model.transform(X)).shape == shape
    samples = model.sample(3, random_state=0)
    assert samples.shape == (3, *shape[1:])
    np.testing.assert_array_equal(samples, model.sample(3, random_state=0))
    # sampling always starts from the global code, whatever transform gives
    local = clone(model).set_params(representation="local").fit(X)
    np.testing.assert_array_equal(local.sample(3, random_state=0), samples)


def test_score_is_minus_the_reconstruction_error_through_the_representation(videos):
    model = _fitted(videos)
    score = model.score(videos)
    assert np.isfinite(score) and score < 0 and score == model.score(videos)
    x = videos.reshape(12, -1) / 255.0
    p = np.clip(model.inverse_transform(model.transform(videos)).reshape(12, -1), 1e-7, 1 - 1e-7)
    cross_entropy = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=1).mean()
    assert score == pytest.approx(-cross_entropy, rel=1e-3)


def test_extra_pieces_train_the_lower_level_only(videos):
    frames = make_moving_sprites(n_samples=20, size=16, random_state=1).videos.reshape(
        -1, 3, 16, 16)
    plain, extra = _fitted(videos), _fitted(videos, pieces=frames)
    assert not hasattr(extra, "_fit_pieces") and not hasattr(extra, "_piece_source")
    lower_changed = any(not torch.equal(a, b) for a, b in zip(
        plain.network_.lower.parameters(), extra.network_.lower.parameters()))
    assert lower_changed
    assert len(pickle.dumps(extra)) < len(pickle.dumps(plain)) + 10_000  # no pieces kept
    with pytest.raises(ValueError, match=r"single frames of shape \(3, 16, 16\).*\(3, 8, 8\)"):
        _fitted(videos, pieces=frames[:, :, :8, :8])
    bad = frames[:4].astype(np.float32)
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="pieces contains NaN"):
        _fitted(videos, pieces=bad)


def test_extra_patches_of_grey_images_may_drop_the_channel_axis():
    X = np.random.default_rng(0).random((10, 16, 16), dtype=np.float32)
    model = _fitted(X, pieces=X[:, :8, 8:])
    assert model.piece_shape_ == (1, 8, 8)


def test_pretraining_the_lower_level_first(videos):
    with pytest.warns(UserWarning, match="the upper level never trains"):
        _fitted(videos, pretrain_lower=2)
    model = _fitted(videos, n_epochs=3, pretrain_lower=1)
    assert [r["trains_upper"] for r in model.history_] == [False, True, True]
    assert "upper_adversarial" not in model.history_[0]
    assert {"lower_reconstruction", "lower_shortcut", "upper_penalty"} <= set(model.history_[1])


def test_pickle_and_clone_refit_give_identical_results(videos, tmp_path):
    fitted = _fitted(videos)
    Z = fitted.transform(videos)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).transform(videos), Z)
    joblib.dump(fitted, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.sample(4, random_state=0), fitted.sample(4, random_state=0))
    np.testing.assert_array_equal(clone(fitted).fit(videos).transform(videos), Z)
    assert loaded.history_ == fitted.history_


def test_save_and_checkpoints_with_extra_pieces(videos, tmp_path):
    folder = tmp_path / "checkpoints"
    model = _fitted(videos, pieces=videos[:, 0], checkpoint_dir=str(folder))
    assert sorted(p.name for p in folder.iterdir()) == [
        "epoch-000001.safetensors", "epoch-000002.safetensors"]
    loaded = load(save(model, tmp_path / "model.safetensors"))
    np.testing.assert_array_equal(loaded.transform(videos), model.transform(videos))
    assert loaded.piece_shape_ == (3, 16, 16)


def test_warm_start_continues_and_a_fit_leaves_the_global_random_state_alone(videos):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    model = _fitted(videos, n_epochs=1, warm_start=True)
    assert torch.equal(torch.rand(3), expected)
    model.set_params(n_epochs=2).fit(videos)
    assert model.n_iter_ == 2 and len(model.history_) == 2


BAD_INPUTS = [
    (np.full((6, 5, 3, 16, 16), np.nan, dtype=np.float32), "NaN"),
    (np.zeros((6, 1, 3, 16, 16), dtype=np.uint8), "at least 2 frames, got 1"),
    (np.zeros((6, 3, 17, 16), dtype=np.uint8), r"patch_grid=\(2, 2\) does not cut images of 17x16"),
    (np.zeros((6, 2, 5, 3, 8, 8), dtype=np.uint8), "videos .* got 6 dimensions"),
    (np.zeros((1, 5, 3, 16, 16), dtype=np.uint8), "1 sample"),
    (np.full((6, 3, 16, 16), 2.0, dtype=np.float32), r"floats in \[0, 1\]"),
]


@pytest.mark.parametrize("X, match", BAD_INPUTS,
                         ids=["nan", "one-frame", "grid", "ndim", "one", "range"])
def test_bad_input_is_refused_with_a_clear_message(X, match):
    with pytest.raises(ValueError, match=match):  # floats outside [0, 1]: for a Bernoulli
        LDFModel(**TINY_LDF, likelihood="bernoulli").fit(X)


def test_bad_parameters_are_named():
    X = np.zeros((6, 3, 16, 16), dtype=np.uint8)
    with pytest.raises(ValueError, match="patch_grid must be two positive integers"):
        LDFModel(**TINY_LDF, patch_grid=(2, 0)).fit(X)
    with pytest.raises(ValueError, match="'representation' parameter"):
        LDFModel(**TINY_LDF, representation="both").fit(X)
    with pytest.raises(ValueError, match="'lower_batch_size' parameter"):
        LDFModel(**TINY_LDF, lower_batch_size="every").fit(X)
    with pytest.raises(ValueError, match="image_shape is for flat rows only"):
        LDFModel(**TINY_LDF, image_shape=(16, 16)).fit(np.zeros((6, 5, 1, 16, 16)))


def test_use_before_fit_and_wrong_shape_after(videos):
    model = LDFModel(**TINY_LDF)
    for method in (model.transform, model.inverse_transform, model.score):
        with pytest.raises(NotFittedError):
            method(videos)
    with pytest.raises(NotFittedError):
        model.sample(2)
    with pytest.raises(NotFittedError):
        model.get_feature_names_out()
    model.fit(videos)
    with pytest.raises(ValueError, match=r"samples of shape \(5, 3, 8, 16\).*\(5, 3, 16, 16\)"):
        model.transform(videos[:, :, :, :8])
    with pytest.raises(ValueError, match="expects codes with 3 columns"):
        model.inverse_transform(np.zeros((2, 10)))
