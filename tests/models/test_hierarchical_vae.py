"""HierarchicalVAE: the estimator contract, its chains, that it learns, resumes and saves."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

import skdisent
from skdisent import HierarchicalVAE, load, load_checkpoint, save
from skdisent.cli._common import MODEL_NAMES
from skdisent.datasets import make_dsprites
from skdisent.io import MODEL_CLASSES
from skdisent.nn import HierarchicalNetwork

from .conftest import TINY
from .test_resume import STEPS_PER_EPOCH, X, assert_same_fit, interrupt_at

BASE = HierarchicalVAE(levels=3, latent_dim=2, n_epochs=3, random_state=0, **TINY)


@pytest.fixture(scope="module")
def reference():
    """An uninterrupted fit of ``BASE`` on the resume tests' images (do not modify)."""
    return clone(BASE).fit(X)


@parametrize_with_checks([HierarchicalVAE(levels=2, latent_dim=2, n_epochs=2, random_state=0,
                                          **TINY)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_registered_as_the_other_models():
    assert skdisent.HierarchicalVAE is HierarchicalVAE
    assert MODEL_CLASSES["HierarchicalVAE"] is HierarchicalVAE
    assert MODEL_NAMES["hierarchicalvae"] == "HierarchicalVAE"


# ------------------------------------------------------------------ the network


def test_the_network_terms_sum_to_the_elbo_of_a_one_layer_vae():
    torch.manual_seed(0)
    network = HierarchicalNetwork((10,), (3,), dense_units=8, likelihood="gaussian").eval()
    x = torch.rand(5, 10)
    noise = network.draw_noise(5, torch.Generator().manual_seed(1))
    log_likelihood, kl = network(x, noise)
    assert log_likelihood.shape == (5,) and kl.shape == (5, 1)
    mu, logvar = network.encode_bottom(x)
    expected = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum(1)
    torch.testing.assert_close(kl[:, 0], expected)


def test_the_kl_estimate_of_a_two_layer_chain_is_log_q_minus_log_p():
    torch.manual_seed(0)
    network = HierarchicalNetwork((6,), (2, 3), dense_units=8).eval()
    x = torch.rand(4, 6).round()
    noise = network.draw_noise(4, torch.Generator().manual_seed(2))
    _, kl = network(x, noise)
    normal = torch.distributions.Normal
    mu1, logvar1 = network.encode_bottom(x)
    z1 = mu1 + (0.5 * logvar1).exp() * noise[0]
    mu2, logvar2 = network.infer_up(1, z1)
    z2 = mu2 + (0.5 * logvar2).exp() * noise[1]
    prior_mu, prior_logvar = network.prior_down(1, z2)
    log_q1 = normal(mu1, (0.5 * logvar1).exp()).log_prob(z1).sum(1)
    entropy = normal(mu1, (0.5 * logvar1).exp()).entropy().sum(1)
    log_p1 = normal(prior_mu, (0.5 * prior_logvar).exp()).log_prob(z1).sum(1)
    torch.testing.assert_close(kl[:, 0], -entropy - log_p1)
    assert torch.isfinite(log_q1).all()
    top = 0.5 * (mu2.square() + logvar2.exp() - 1 - logvar2).sum(1)
    torch.testing.assert_close(kl[:, 1], top)


def test_posterior_moments_match_many_draws_and_ancestral_codes_follow_the_chain():
    torch.manual_seed(0)
    network = HierarchicalNetwork((6,), (2, 2, 2), dense_units=8).eval()
    x = torch.rand(3, 6)
    generator = torch.Generator().manual_seed(0)
    noise = [torch.randn(20_000, 2, generator=generator) for _ in range(2)]
    with torch.no_grad():
        means, logvars = network.posterior_moments(x, noise)
        mu1, logvar1 = network.encode_bottom(x)
        torch.testing.assert_close(means[0], mu1)
        torch.testing.assert_close(logvars[0], logvar1)
        # brute force: one chain per draw, for row 0
        z1 = mu1[:1] + (0.5 * logvar1[:1]).exp() * noise[0]
        mu2, logvar2 = network.infer_up(1, z1)
        z2 = mu2 + (0.5 * logvar2).exp() * noise[1]
        torch.testing.assert_close(means[1][0], z2.mean(0), atol=0.02, rtol=0)
        torch.testing.assert_close(logvars[1][0].exp(), z2.var(0), atol=0.03, rtol=0.05)
        eps = [torch.randn(4, 2, generator=generator) for _ in range(3)]
        zs = network.codes_from_noise(eps)
        torch.testing.assert_close(zs[2], eps[2])
        mu, logvar = network.prior_down(1, zs[1])
        torch.testing.assert_close(zs[0], mu + (0.5 * logvar).exp() * eps[0])


def test_every_layer_needs_a_latent():
    with pytest.raises(ValueError, match="at least one latent"):
        HierarchicalNetwork((6,), (2, 0))


# ------------------------------------------------------------ public methods


def test_transform_posterior_sample_and_names(reference):
    model = reference
    codes = model.transform(X)
    assert codes.shape == (64, 6) and codes.dtype == np.float32
    means, logvars = model.posterior(X)
    np.testing.assert_array_equal(means, codes)
    assert np.isfinite(logvars).all()
    np.testing.assert_array_equal(model.transform(X[5:6]), codes[5:6])  # alone as in a batch
    assert model.level_slices() == [slice(0, 2), slice(2, 4), slice(4, 6)]
    assert model.levels_ == 3 and model.latent_dims_ == (2, 2, 2)
    assert list(model.get_feature_names_out()[[0, 5]]) == [
        "hierarchicalvae_level1_z0", "hierarchicalvae_level3_z1"]
    # x depends on z_1 alone: the other columns are not read
    other = codes.copy()
    other[:, 2:] = 5.0
    np.testing.assert_array_equal(model.inverse_transform(other), model.inverse_transform(codes))
    samples = model.sample(4, random_state=1)
    assert samples.shape == (4, 1, 16, 16)
    np.testing.assert_array_equal(samples, model.sample(4, random_state=1))
    noise = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    chained = model.codes_from_noise(noise)
    np.testing.assert_array_equal(chained[:, 4:], noise[:, 4:])  # the top layer is its noise
    assert not np.allclose(chained[:, :4], noise[:, :4])
    with pytest.raises(ValueError, match="6 columns"):
        model.codes_from_noise(noise[:, :3])
    assert np.isfinite(model.score(X))


def test_history_records_kl_per_layer(reference):
    record = reference.history_[-1]
    assert {"loss", "reconstruction", "kl_1", "kl_2", "kl_3"} <= set(record)
    assert record["loss"] == pytest.approx(
        record["reconstruction"] + record["kl_1"] + record["kl_2"] + record["kl_3"], rel=1e-5)


def test_a_fixed_random_state_repeats_the_fit_bit_for_bit(reference):
    assert_same_fit(clone(BASE).fit(X), reference)


# ------------------------------------------------------------ resume and files


def test_interrupt_then_warm_start_equals_an_uninterrupted_fit(reference, monkeypatch):
    model = interrupt_at(monkeypatch, clone(BASE), 6)
    with pytest.warns(RuntimeWarning, match="state after epoch 1 of 3"):
        model.fit(X)
    assert model.n_iter_ == 1 and model.n_steps_ == STEPS_PER_EPOCH
    model.set_params(warm_start=True).fit(X)
    assert_same_fit(model, reference)


def test_a_smaller_budget_then_warm_start_equals_the_full_budget(reference):
    model = clone(BASE).set_params(n_epochs=1).fit(X)
    model.set_params(n_epochs=3, warm_start=True).fit(X)
    assert_same_fit(model, reference)


def test_a_checkpoint_resumes_to_the_same_fit(reference, tmp_path, monkeypatch):
    model = interrupt_at(monkeypatch, clone(BASE).set_params(checkpoint_dir=tmp_path), 10)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        model.fit(X)
    assert load_checkpoint(tmp_path).n_iter_ == 2
    resumed = clone(BASE).set_params(checkpoint_dir=tmp_path, warm_start=True).fit(X)
    assert_same_fit(resumed, reference)


def test_save_load_and_pickle_round_trip(reference, tmp_path):
    for copy in (load(save(reference, tmp_path / "h.safetensors")),
                 pickle.loads(pickle.dumps(reference))):
        assert isinstance(copy, HierarchicalVAE)
        np.testing.assert_array_equal(copy.transform(X), reference.transform(X))
        np.testing.assert_array_equal(copy.sample(3, random_state=0),
                                      reference.sample(3, random_state=0))
        assert copy.score(X) == reference.score(X)
        assert copy.history_ == reference.history_


# ------------------------------------------------------------------ learning


@pytest.fixture(scope="module")
def dsprites_fit():
    X_sprites = make_dsprites(n_samples=1024, size=16, random_state=0, return_X_y=True)[0]
    model = HierarchicalVAE(levels=2, latent_dim=3, n_epochs=10, batch_size=32,
                            conv_channels=16, dense_units=64, learning_rate=2e-3,
                            normalization="batch", device="cpu", random_state=0).fit(X_sprites)
    return model, X_sprites


def test_it_reconstructs_far_better_than_the_mean_image(dsprites_fit):
    model, X_sprites = dsprites_fit
    x = X_sprites / 255.0
    error = np.mean((model.inverse_transform(model.transform(X_sprites)) - x) ** 2)
    baseline = np.mean((x - x.mean(axis=0)) ** 2)
    assert error < 0.5 * baseline, (error, baseline)
    losses = [record["reconstruction"] for record in model.history_]
    assert losses[-1] < 0.5 * losses[0]
    assert model.history_[-1]["kl_1"] > 1.0  # the bottom layer is in use
    assert model.score(X_sprites) > -losses[0]
