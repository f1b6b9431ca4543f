"""``likelihood="auto"``, and encodings that do not depend on the rows encoded with them."""

import pickle

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skdisent
from skdisent import VLAE, LDFModel, ProVLAE

from .conftest import TINY, tiny_models

_RNG = np.random.default_rng(0)
_CASES = {
    "uint8": (_RNG.integers(0, 256, size=(48, 12), dtype=np.uint8), "bernoulli"),
    "floats in [0, 1]": (_RNG.random((48, 12)), "bernoulli"),
    "real values": (_RNG.normal(size=(48, 12)), "gaussian"),
}


@pytest.mark.parametrize("case", sorted(_CASES))
def test_auto_chooses_from_the_training_data(case):
    X, expected = _CASES[case]
    for model in [*tiny_models(), LDFModel(patch_grid=(1, 2), n_epochs=1,
                                           local_dim=2, global_dim=2, **TINY)]:
        assert model.likelihood == "auto"
        model.fit(X)
        assert model.likelihood_ == expected, type(model).__name__
        assert np.isfinite(model.transform(X)).all()


def test_the_choice_is_kept_and_checked_after_fit(tmp_path):
    X = _RNG.random((48, 12)).astype(np.float32)
    model = VLAE(2, 2, n_epochs=1, random_state=0, **TINY).fit(X)
    with pytest.raises(ValueError, match="Bernoulli likelihood needs"):
        model.transform(X * 3)
    path = tmp_path / "model.safetensors"
    skdisent.save(model, path)
    assert skdisent.load(path).likelihood_ == "bernoulli"
    assert pickle.loads(pickle.dumps(model)).likelihood_ == "bernoulli"
    # A refit on other data chooses again.
    assert model.fit(X * 3).likelihood_ == "gaussian"


def test_an_explicit_bernoulli_likelihood_still_refuses_real_values():
    with pytest.raises(ValueError, match="Bernoulli likelihood needs"):
        VLAE(2, 2, n_epochs=1, likelihood="bernoulli", **TINY).fit(_CASES["real values"][0])


def test_a_model_behind_a_standard_scaler_fits_with_its_defaults():
    X = _CASES["real values"][0] * 10 + 5
    pipeline = make_pipeline(StandardScaler(), ProVLAE(levels=2, latent_dim=2, epochs_per_step=1,
                                                       fade_in_steps=1, random_state=0, **TINY))
    codes = pipeline.fit(X).transform(X)
    assert codes.shape == (48, 4) and pipeline[-1].likelihood_ == "gaussian"


@pytest.mark.parametrize("layout", ["rows", "images"])
def test_a_row_encoded_alone_equals_the_same_row_encoded_with_others(layout):
    shape = (40, 12) if layout == "rows" else (40, 1, 16, 16)
    X = _RNG.random(shape).astype(np.float32)
    for model in tiny_models():
        model.fit(X)
        together = model.transform(X)
        alone = np.concatenate([model.transform(X[i:i + 1]) for i in range(len(X))])
        np.testing.assert_array_equal(alone, together)
        means, logvars = model.posterior(X[3:4])
        np.testing.assert_array_equal(means, together[3:4])
        np.testing.assert_array_equal(logvars, model.posterior(X)[1][3:4])
