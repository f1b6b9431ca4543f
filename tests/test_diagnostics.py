"""The diagnostics of skdisent.hierarchy and the MMD behind them, on cases known by construction."""

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, clone

from skdisent import VLAE, BetaVAE, HierarchicalVAE
from skdisent.evaluation import information_per_level
from skdisent.hierarchy import bottom_layer_gibbs, layer_variation
from skdisent.metrics import mmd

TINY = {"conv_channels": 4, "dense_units": 8, "batch_size": 16, "device": "cpu",
        "random_state": 0}
X = np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)


@pytest.fixture(scope="module")
def hierarchy():
    return HierarchicalVAE(levels=2, latent_dim=2, n_epochs=1, **TINY).fit(X)


# ------------------------------------------------------------------ MMD


def test_mmd_is_near_zero_for_one_distribution_and_large_for_disjoint_ones():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    assert abs(mmd(a, b)) < 0.01
    far = mmd(a, b + 20.0)
    assert 0.5 < far <= 2.0 + 1e-9
    assert mmd(a, b + 20.0) == pytest.approx(mmd(b + 20.0, a))
    assert mmd(a.reshape(400, 2, 2, 2), b.reshape(400, 1, 8)) == mmd(a, b)  # rows flattened


def test_mmd_bandwidth_and_errors():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(50, 3)), rng.normal(size=(60, 3)) + 1.0
    assert mmd(a, b, bandwidth=1e-3) == pytest.approx(0.0, abs=1e-12)  # no pair is near
    assert mmd(a, b, bandwidth=1.0) != mmd(a, b, bandwidth=3.0)
    with pytest.raises(ValueError, match="same size"):
        mmd(a, rng.normal(size=(5, 4)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        mmd(a[:1], b)
    with pytest.raises(ValueError, match="positive"):
        mmd(a, b, bandwidth=0.0)


# ------------------------------------------------------ Gibbs chain, known cases


class _FakeLadder(BaseEstimator):
    """A two-level 'model' over 4-pixel rows whose methods are known in closed form.

    Level 1 (2 latents) is the image's first two pixels, exactly; level 2 (1 latent)
    sets the last two. ``carries_all=False`` makes the decoder ignore level 1.
    """

    likelihood_ = "bernoulli"
    n_components_ = 3

    def __init__(self, rng, carries_all=True):
        self.network_ = object()
        self.rng, self.carries_all = rng, carries_all

    def fit(self, X=None):
        return self

    def level_slices(self):
        return [slice(0, 2), slice(2, 3)]

    def data(self, n):
        return self.rng.random((n, 4)).astype(np.float32)

    def posterior(self, x):
        means = np.c_[x[:, :2], x[:, 2:].mean(1)]
        return means, np.full_like(means, -40.0)  # posteriors of no width: z = mean

    def inverse_transform(self, codes):
        first = codes[:, :2] if self.carries_all else np.full((len(codes), 2), 0.5)
        return np.c_[first, codes[:, 2:], codes[:, 2:]].astype(np.float32)

    def sample(self, n, random_state=None):
        return self.data(n)


def test_a_bottom_layer_that_holds_the_data_gives_a_chain_as_good_as_ancestral_sampling():
    model = _FakeLadder(np.random.default_rng(0))
    data = model.data(400)
    data[:, 2:] = 0.0  # the chain holds level 2 at 0; so does this data
    result = bottom_layer_gibbs(model, data, n_steps=3, x_step="mean")
    np.testing.assert_allclose(result.gibbs, data, atol=1e-6)  # the chain stays on the data
    assert result.level == 1 and abs(result.mmd_gibbs_data) < 0.01


def test_a_bottom_layer_that_holds_nothing_gives_a_chain_far_from_ancestral_sampling():
    model = _FakeLadder(np.random.default_rng(0), carries_all=False)
    result = bottom_layer_gibbs(model, model.data(400), n_steps=3)
    np.testing.assert_array_equal(result.gibbs[:, :2], 0.5)
    assert result.mmd > 0.1 and result.mmd > 20 * abs(result.mmd_ancestral_data)


def test_the_chain_runs_on_fitted_models_at_their_bottom_layer(hierarchy):
    models = {
        "hierarchy": hierarchy,
        "vlae": VLAE(levels=2, latent_dim=2, n_epochs=1, **TINY).fit(X),
        "betavae": BetaVAE(n_components=2, depth=2, n_epochs=1, **TINY).fit(X),
    }
    for name, model in models.items():
        result = bottom_layer_gibbs(model, X[:20], n_steps=2, n_ancestral=30)
        assert result.gibbs.shape == (20, 1, 16, 16) and result.ancestral.shape == (30, 1, 16, 16)
        assert np.isfinite([result.mmd, result.mmd_gibbs_data, result.mmd_ancestral_data]).all()
        assert result.level == (2 if name == "betavae" else 1)  # BetaVAE: its one level
        again = bottom_layer_gibbs(model, X[:20], n_steps=2, n_ancestral=30)
        np.testing.assert_array_equal(again.gibbs, result.gibbs)
    mean_step = bottom_layer_gibbs(hierarchy, X[:20], n_steps=2, x_step="mean")
    assert mean_step.x_step == "mean"


def test_the_diagnostics_refuse_what_they_cannot_run(hierarchy):
    class Flat(BaseEstimator):
        network_ = object()

        def fit(self, X=None):
            return self

    with pytest.raises(TypeError, match="no layers of Gaussian latents"):
        bottom_layer_gibbs(Flat(), X)
    with pytest.raises(TypeError, match="no layers of Gaussian latents"):
        layer_variation(Flat())
    with pytest.raises(ValueError, match="x_step"):
        bottom_layer_gibbs(hierarchy, X, x_step="mode")
    with pytest.raises(ValueError, match="n_steps"):
        bottom_layer_gibbs(hierarchy, X, n_steps=0)
    with pytest.raises(ValueError, match="n_samples"):
        layer_variation(hierarchy, n_samples=1)


# ------------------------------------------------- variation per layer, known cases


def test_a_layer_the_decoder_ignores_carries_no_variation():
    result = layer_variation(_FakeLadder(np.random.default_rng(0), carries_all=False),
                             n_samples=5, n_references=3)
    assert result.images.shape == (2, 3, 5, 4) and result.levels == [1, 2]
    assert result.variance[0] == 0.0 and result.variance[1] > 0.1


def test_a_conditional_of_no_width_leaves_the_bottom_layer_nothing_to_vary(hierarchy):
    """p(z_1 | z_2) with a variance near 0: z_1 is a function of z_2 (the paper's Fig. 3)."""
    model = clone(hierarchy)
    model.__setstate__(hierarchy.__getstate__())
    last = model.network_.generative[0][-1]
    with torch.no_grad():
        last.weight[2:].zero_()
        last.bias[2:] = -60.0  # log-variances of p(z_1 | z_2)
    result = layer_variation(model, n_samples=6, n_references=2)
    assert result.variance[0] < 1e-6 * result.variance[1]
    assert layer_variation(hierarchy, n_samples=6, n_references=2).variance[0] > 1e-3 * (
        result.variance[1])  # the model as fitted: z_1 has noise of its own


def test_information_per_layer_is_zero_for_an_upper_layer_that_ignores_the_one_below(hierarchy):
    model = clone(hierarchy)
    model.__setstate__(hierarchy.__getstate__())
    last = model.network_.inference[0][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()  # q(z_2 | z_1) = N(0, I) whatever z_1
    images = np.random.default_rng(1).integers(0, 256, size=(512, 1, 16, 16), dtype=np.uint8)
    information = information_per_level(model, images)  # the estimate's noise: ~0.03 nats
    assert len(information) == 2 and abs(information[1]) < 0.1
    assert information_per_level(hierarchy, images)[0] == pytest.approx(information[0])


# ------------------------------------------------------------------ pictures


def test_the_pictures_are_drawn(hierarchy, tmp_path):
    pytest.importorskip("matplotlib")
    from skdisent.plotting import plot_bottom_layer_gibbs, plot_layer_variation

    figure = plot_layer_variation(hierarchy, n_samples=3, path=tmp_path / "layers.png")
    assert len(figure.axes) == 2 and (tmp_path / "layers.png").stat().st_size > 0
    assert "layer 2 (top)" in figure.axes[0].get_title(loc="left")
    figure = plot_bottom_layer_gibbs(hierarchy, X[:12], n_images=4, n_steps=2,
                                     path=tmp_path / "gibbs.png")
    assert "MMD" in figure._suptitle.get_text() and (tmp_path / "gibbs.png").exists()
