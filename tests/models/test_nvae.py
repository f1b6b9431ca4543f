"""NVAE: the estimator contract, its groups, that it resumes, saves and learns."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

import skdisent
from skdisent import NVAE, load, load_checkpoint, save
from skdisent.cli._common import MODEL_NAMES
from skdisent.datasets import make_dsprites
from skdisent.hierarchy import layer_variation
from skdisent.io import MODEL_CLASSES
from skdisent.models import NVAE_SETTINGS, nvae_preset

from .test_resume import STEPS_PER_EPOCH, X, assert_same_fit, interrupt_at

TINY_NVAE = {"channels": 4, "latent_per_group": 1, "process_blocks": 1, "batch_size": 16,
             "information_rows": 32, "device": "cpu"}
BASE = NVAE(n_epochs=3, random_state=0, **TINY_NVAE)


@pytest.fixture(scope="module")
def reference():
    """An uninterrupted fit of ``BASE`` on the resume tests' images (do not modify)."""
    return clone(BASE).fit(X)


@parametrize_with_checks([NVAE(n_epochs=1, random_state=0, **TINY_NVAE)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_registered_as_the_other_models():
    assert skdisent.NVAE is NVAE
    assert MODEL_CLASSES["NVAE"] is NVAE
    assert MODEL_NAMES["nvae"] == "NVAE"


# ------------------------------------------------------------ public methods


def test_groups_columns_and_names(reference):
    model = reference
    # 16x16 images, one down-sampling block, two scales: 8x8 groups, then a 4x4 top
    assert model.group_shapes_ == ((1, 8, 8), (1, 8, 8), (1, 4, 4))
    assert model.latent_dims_ == (64, 64, 16) and model.n_components_ == 144
    assert model.levels_ == 3
    assert model.level_slices() == [slice(0, 64), slice(64, 128), slice(128, 144)]
    names = model.get_feature_names_out()
    assert list(names[[0, 64, 143]]) == ["nvae_scale1_group1_z0", "nvae_scale1_group2_z0",
                                         "nvae_scale2_group1_z15"]


def test_transform_posterior_inverse_transform_and_score(reference):
    model = reference
    codes = model.transform(X)
    assert codes.shape == (64, 144) and codes.dtype == np.float32
    means, logvars = model.posterior(X)
    np.testing.assert_array_equal(means, codes)
    assert np.isfinite(logvars).all()
    np.testing.assert_array_equal(model.transform(X[5:6]), codes[5:6])  # alone as in a batch
    np.testing.assert_array_equal(model.transform(X[::-1]), codes[::-1])
    decoded = model.inverse_transform(codes)
    assert decoded.shape == X.shape and 0 <= decoded.min() and decoded.max() <= 1
    # the decoder reads every group
    other = codes.copy()
    other[:, 128:] += 3.0
    assert not np.allclose(model.inverse_transform(other), decoded)
    assert np.isfinite(model.score(X)) and model.score(X) == model.score(X)


def test_sample_with_a_temperature_and_codes_from_noise(reference):
    model = reference
    samples = model.sample(4, random_state=1)
    assert samples.shape == (4, 1, 16, 16)
    np.testing.assert_array_equal(samples, model.sample(4, random_state=1))
    noise = np.random.default_rng(0).standard_normal((6, 144)).astype(np.float32)
    codes = model.codes_from_noise(noise)
    np.testing.assert_allclose(codes[:, 128:], 1.01 * noise[:, 128:], rtol=1e-6)  # the top
    cold = model.codes_from_noise(noise, temperature=0.1)
    zero = model.codes_from_noise(np.zeros_like(noise))
    # a low temperature keeps the codes near the prior means down the chain
    assert np.abs(cold - zero).mean() < 0.2 * np.abs(codes - zero).mean()
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, temperature=0)
    with pytest.raises(ValueError, match="temperature"):
        model.codes_from_noise(noise, temperature=-1.0)
    with pytest.raises(ValueError, match="144 columns"):
        model.codes_from_noise(noise[:, :3])


def test_one_group_drawn_again_changes_the_images(reference):
    result = layer_variation(reference, n_samples=3, n_references=2, random_state=0)
    assert result.images.shape == (3, 2, 3, 1, 16, 16)
    assert result.levels == [1, 2, 3]
    assert np.all(result.variance > 0)


def test_history_records_kl_and_information_per_group(reference):
    record = reference.history_[-1]
    for g in (1, 2, 3):
        assert {f"kl_{g}", f"kl_weight_{g}", f"information_{g}"} <= set(record)
    assert record["information_rows"] == 32
    assert record["nelbo"] == pytest.approx(
        record["reconstruction"] + sum(record[f"kl_{g}"] for g in (1, 2, 3)), rel=1e-5)
    coefficients = [r["kl_coefficient"] for r in reference.history_]
    assert coefficients[0] < 1.0 and coefficients == sorted(coefficients)  # the warm-up
    assert reference.history_[0]["learning_rate"] < reference.learning_rate  # warming up
    sparse = clone(BASE).set_params(n_epochs=2, information_every=2).fit(X)
    assert "information_1" not in sparse.history_[0] and "information_1" in sparse.history_[1]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="1 or 3 channels"):
        NVAE(likelihood="logistic_mixture", **TINY_NVAE).fit(
            np.zeros((4, 2, 8, 8), dtype=np.uint8))


def test_logistic_mixture_fits_rgb_images_and_flat_rows_fit_too():
    rgb = np.random.default_rng(0).integers(0, 256, size=(32, 3, 8, 8), dtype=np.uint8)
    model = NVAE(likelihood="logistic_mixture", n_mixtures=2, n_epochs=1, **TINY_NVAE).fit(rgb)
    assert model.likelihood_ == "logistic_mixture"
    assert model.sample(2, random_state=0).shape == (2, 3, 8, 8)
    assert np.isfinite(model.score(rgb))
    rows = np.random.default_rng(0).standard_normal((32, 10)).astype(np.float32)
    flat = NVAE(n_epochs=1, **TINY_NVAE).fit(rows)
    assert flat.likelihood_ == "gaussian" and flat.inverse_transform(flat.transform(rows)).shape \
        == (32, 10)


def test_bf16_fits_and_encodes():
    model = clone(BASE).set_params(n_epochs=1, precision="bf16").fit(X)
    codes = model.transform(X)
    assert np.isfinite(codes).all() and np.isfinite(model.score(X))
    assert all(np.isfinite(r["loss"]) for r in model.history_)


@pytest.mark.slow
def test_compiled_fit_matches_the_eager_one_closely():
    eager = clone(BASE).set_params(n_epochs=1).fit(X)
    compiled = clone(BASE).set_params(n_epochs=1, compile=True).fit(X)
    np.testing.assert_allclose(compiled.transform(X), eager.transform(X), atol=1e-3)


# ------------------------------------------------------------ resume and files


def test_a_fixed_random_state_repeats_the_fit_bit_for_bit(reference):
    assert_same_fit(clone(BASE).fit(X), reference)


def test_interrupt_then_warm_start_equals_an_uninterrupted_fit(reference, monkeypatch):
    model = interrupt_at(monkeypatch, clone(BASE), 6)
    with pytest.warns(RuntimeWarning, match="state after epoch 1 of 3"):
        model.fit(X)
    assert model.n_iter_ == 1 and model.n_steps_ == STEPS_PER_EPOCH
    model.set_params(warm_start=True).fit(X)
    assert_same_fit(model, reference)


def test_a_checkpoint_resumes_to_the_same_fit(reference, tmp_path, monkeypatch):
    model = interrupt_at(monkeypatch, clone(BASE).set_params(checkpoint_dir=tmp_path), 10)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        model.fit(X)
    assert load_checkpoint(tmp_path).n_iter_ == 2
    resumed = clone(BASE).set_params(checkpoint_dir=tmp_path, warm_start=True).fit(X)
    assert_same_fit(resumed, reference)


def test_save_load_and_pickle_round_trip(reference, tmp_path):
    for copy in (load(save(reference, tmp_path / "n.safetensors")),
                 pickle.loads(pickle.dumps(reference))):
        assert isinstance(copy, NVAE)
        np.testing.assert_array_equal(copy.transform(X), reference.transform(X))
        np.testing.assert_array_equal(copy.sample(3, random_state=0, temperature=0.7),
                                      reference.sample(3, random_state=0, temperature=0.7))
        assert copy.score(X) == reference.score(X)
        assert copy.history_ == reference.history_
        assert copy.group_shapes_ == reference.group_shapes_


def test_the_celeba_preset_is_the_papers_run():
    model = nvae_preset("celeba64", random_state=0)
    assert isinstance(model, NVAE)
    params = model.get_params()
    assert (params["channels"], params["n_scales"], params["groups_per_scale"],
            params["latent_per_group"], params["cells_per_group"]) == (64, 3, 20, 20, 2)
    assert params["spectral_regularization"] == 0.1 and params["n_epochs"] == 90
    assert set(NVAE_SETTINGS) == {"celeba64"}
    with pytest.raises(ValueError, match="preset must be one of"):
        nvae_preset("cifar")


# ------------------------------------------------------------------ learning


def test_it_reconstructs_better_than_the_mean_image():
    X_sprites = make_dsprites(n_samples=512, size=16, random_state=0, return_X_y=True)[0]
    model = NVAE(channels=4, latent_per_group=2, process_blocks=1, n_epochs=6, batch_size=16,
                 information_every=0, device="cpu", random_state=0).fit(X_sprites)
    x = X_sprites / 255.0
    error = np.mean((model.inverse_transform(model.transform(X_sprites)) - x) ** 2)
    baseline = np.mean((x - x.mean(axis=0)) ** 2)
    assert error < 0.5 * baseline, (error, baseline)
    losses = [record["nelbo"] for record in model.history_]
    assert losses[-1] < 0.5 * losses[0]


def test_pictures_of_the_groups(reference, tmp_path):
    pytest.importorskip("matplotlib")
    from skdisent.plotting import plot_group_training, plot_layer_variation

    figure = plot_group_training(reference, path=tmp_path / "groups.png")
    assert len(figure.axes) == 2 and (tmp_path / "groups.png").stat().st_size > 0
    assert len(figure.axes[0].lines) == 3  # one KL line per group
    figure = plot_layer_variation(reference, n_samples=3, n_references=1)
    assert len(figure.axes) >= 3  # one block per group
    without = clone(BASE).set_params(n_epochs=1, information_every=0).fit(X)
    assert len(plot_group_training(without).axes) == 1
