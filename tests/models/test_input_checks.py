"""Data that does not fit what a model was fitted on is refused, saying what is expected."""

import numpy as np
import pytest

from skdisent import VLAE, LDFModel, load, save

from .conftest import TINY

X = np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)


@pytest.fixture(scope="module")
def gaussian():
    """A Gaussian-likelihood model fitted on uint8 images (which accepts any floats)."""
    return VLAE(levels=2, latent_dim=2, n_epochs=1, likelihood="gaussian", random_state=0,
                **TINY).fit(X)


def test_floats_on_another_scale_than_the_uint8_fit_are_refused(gaussian):
    with pytest.raises(ValueError, match="fitted on uint8 images, read as 0..255 scaled to "
                                         r"\[0, 1\]; X holds floats up to 255. Pass X as uint8, "
                                         "or divided by 255"):
        gaussian.transform(X.astype(np.float32))
    np.testing.assert_allclose(gaussian.transform(X.astype(np.float32) / 255),
                               gaussian.transform(X), atol=1e-6)


def test_the_scale_check_survives_a_model_file(gaussian, tmp_path):
    loaded = load(save(gaussian, tmp_path / "m.safetensors"))
    assert loaded.input_dtype_ == "uint8"
    with pytest.raises(ValueError, match="fitted on uint8 images"):
        loaded.score(X.astype(np.float64))


def test_images_with_other_channels_name_the_shapes(gaussian):
    with pytest.raises(ValueError, match=r"X has samples of shape \(3, 16, 16\), but VLAE was "
                                         r"fitted on samples of shape \(1, 16, 16\): images of "
                                         "3 channels, not 1"):
        gaussian.transform(np.repeat(X, 3, axis=1))


@pytest.mark.parametrize("value, match", [
    (1e39, "codes within float32's range"),
    (1e30, "Decoding gave NaN or infinite values: codes as large as 1e\\+30 overflow"),
])
def test_codes_that_overflow_are_refused(value, match):
    videos = np.random.default_rng(0).integers(0, 256, (16, 5, 3, 16, 16), dtype=np.uint8)
    model = LDFModel(local_dim=2, global_dim=3, n_epochs=1, batch_size=8, conv_channels=2,
                     dense_units=8, device="cpu", random_state=0).fit(videos)
    with pytest.raises(ValueError, match=match):
        model.inverse_transform(np.full((2, 3), value))
