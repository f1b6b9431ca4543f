"""JointGAN, the LDF paper's joint baseline: whole objects in, whole objects out, a real GAN."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import TransformerMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdisent import JointGAN, LDFModel, load, load_checkpoint, save
from skdisent.base import BaseGenerativeModel

from .test_resume import STEPS_PER_EPOCH, X, interrupt_at, timeless


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Train on one thread: on a shared machine two OpenMP threads mostly wait for each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY = {"latent_dim": 3, "n_epochs": 2, "batch_size": 8, "conv_channels": 2, "dense_units": 8,
        "device": "cpu", "random_state": 0}

# Fitted on the resume tests' 64 images of 1x16x16 (uint8), 16 at a time: 4 steps per epoch.
BASE = JointGAN(latent_dim=3, n_epochs=3, batch_size=16, conv_channels=4, dense_units=8,
                device="cpu", random_state=0)


@pytest.fixture(scope="module")
def reference():
    """An uninterrupted fit of ``BASE`` (do not modify)."""
    return clone(BASE).fit(X)


def assert_same_fit(model, expected):
    """Weights, optimiser and generator states, counters, history and samples all equal."""
    assert (model.n_iter_, model.n_steps_) == (expected.n_iter_, expected.n_steps_)
    got, want = model.network_.state_dict(), expected.network_.state_dict()
    assert list(got) == list(want)
    for key in want:
        assert torch.equal(got[key], want[key]), key
    for name, optimizer in expected._training.optimizers.items():
        a, b = model._training.optimizers[name].state_dict(), optimizer.state_dict()
        for index, moments in b["state"].items():
            for key, value in moments.items():
                assert torch.equal(a["state"][index][key], value), (name, index, key)
    for name in ("generator", "noise_generator"):
        assert torch.equal(getattr(model._training, name).get_state(),
                           getattr(expected._training, name).get_state())
    assert timeless(model.history_) == timeless(expected.history_)
    np.testing.assert_array_equal(model.sample(5, random_state=0),
                                  expected.sample(5, random_state=0))


# ---------------------------------------------------------------- the contract


@parametrize_with_checks([JointGAN(**{**TINY, "n_epochs": 1})])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_it_is_a_generative_model_and_not_a_transformer():
    model = JointGAN()
    assert isinstance(model, BaseGenerativeModel) and not isinstance(model, TransformerMixin)
    for method in ("transform", "inverse_transform", "score", "get_feature_names_out"):
        assert not hasattr(model, method), method
    # The parameters it shares with LDF have LDF's defaults: a comparison changes one thing.
    ldf, own = LDFModel().get_params(), model.get_params()
    shared = set(ldf) & set(own)
    assert {"batch_size", "learning_rate", "conv_channels", "dense_units",
            "gradient_penalty", "likelihood"} <= shared
    assert {key: own[key] for key in shared} == {key: ldf[key] for key in shared}


def test_the_split_base_keeps_the_names_old_pickles_and_models_use():
    from skdisent._data import InputLayout
    from skdisent.base import BaseDisentangler

    # pickles written before the training engine name the layout's class there
    assert pickle.loads(b"cskdisent.base\nInputLayout\n.") is InputLayout
    assert issubclass(BaseDisentangler, BaseGenerativeModel)
    assert issubclass(BaseDisentangler, TransformerMixin) and issubclass(LDFModel, BaseDisentangler)


def test_the_discriminator_sees_every_frame_and_the_generator_makes_them_all():
    videos = np.random.default_rng(0).integers(0, 256, (16, 2, 3, 8, 8), dtype=np.uint8)
    model = JointGAN(**TINY).fit(videos)
    network = model.network_
    assert network.observation_shape == (6, 8, 8)  # 2 frames of 3 colours on the channels
    x = torch.from_numpy(videos[:4]).float().div(255).reshape(4, 6, 8, 8)
    changed = x.clone()
    changed[:, 3:] = 1.0 - changed[:, 3:]  # the second frame only
    with torch.no_grad():
        logits, logits_changed = network.discriminate(x), network.discriminate(changed)
        output = network.generate(torch.randn(4, 3, generator=torch.Generator().manual_seed(0)))
    assert not torch.allclose(logits, logits_changed)
    assert output.shape == (4, 6, 8, 8)
    # sample lays the generator's 6 channels out as the 2 frames of 3 colours, in order
    seed = int(check_random_state(0).randint(np.iinfo(np.int32).max))
    codes = torch.randn(5, 3, generator=torch.Generator().manual_seed(seed))
    samples = model.sample(5, random_state=0)
    with torch.no_grad():
        expected = network.mean(network.generate(codes)).reshape(5, 2, 3, 8, 8).numpy()
    np.testing.assert_array_equal(samples, expected)
    np.testing.assert_array_equal(model.generate(codes.numpy()), samples)


@pytest.mark.parametrize("shape, image_shape, network_shape", [
    ((3, 8, 8), None, (3, 8, 8)),
    ((8, 8), None, (1, 8, 8)),
    ((64,), (8, 8), (1, 8, 8)),
    ((12,), None, (12,)),
    ((3, 2, 8, 8), None, (6, 8, 8)),
])
def test_samples_come_back_in_the_layout_and_range_of_the_data(shape, image_shape, network_shape):
    X_ = np.random.default_rng(0).integers(0, 256, (16, *shape), dtype=np.uint8)
    model = JointGAN(**TINY, image_shape=image_shape).fit(X_)
    assert model.network_.observation_shape == network_shape
    assert model.likelihood_ == "bernoulli"
    samples = model.sample(7, random_state=0)
    assert samples.shape == (7, *shape) and samples.dtype == np.float32
    assert samples.min() >= 0.0 and samples.max() <= 1.0
    np.testing.assert_array_equal(samples, model.sample(7, random_state=0))
    assert not np.array_equal(samples, model.sample(7, random_state=1))


def test_real_values_get_a_gaussian_generator():
    X_ = np.random.default_rng(0).normal(size=(16, 5)).astype(np.float32) * 3
    model = JointGAN(**TINY).fit(X_)
    assert model.likelihood_ == "gaussian"
    assert model.sample(200, random_state=0).min() < 0.0  # values, not probabilities


def test_history_records_both_players_per_epoch(reference):
    assert len(reference.history_) == 3 and reference.n_steps_ == 3 * STEPS_PER_EPOCH
    record = reference.history_[-1]
    assert {"epoch", "n_steps", "discriminator", "penalty", "adversarial", "time",
            "images_per_s", "threads"} <= set(record)
    assert record["penalty"] > 0.0
    unpenalized = clone(BASE).set_params(gradient_penalty=0.0, n_epochs=1).fit(X)
    assert unpenalized.history_[0]["penalty"] == 0.0


# ------------------------------------------------------------- resume and files


def test_a_fixed_random_state_repeats_the_fit_bit_for_bit(reference):
    assert_same_fit(clone(BASE).fit(X), reference)


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
    for copy in (load(save(reference, tmp_path / "gan.safetensors")),
                 pickle.loads(pickle.dumps(reference))):
        assert isinstance(copy, JointGAN)
        assert_same_fit(copy, reference)
        assert copy.likelihood_ == reference.likelihood_ and copy.input_shape_ == (1, 16, 16)
    unfitted = load(save(JointGAN(latent_dim=5), tmp_path / "unfitted.safetensors"))
    assert unfitted.get_params() == JointGAN(latent_dim=5).get_params()


# ------------------------------------------------------------------- errors


BAD_INPUTS = [
    (np.full((6, 3, 8, 8), np.nan, dtype=np.float32), "NaN"),
    (np.zeros((1, 3, 8, 8), dtype=np.uint8), "1 sample"),
    (np.zeros((6, 2, 5, 3, 8, 8), dtype=np.uint8), "videos .* got 6 dimensions"),
    (np.full((6, 3, 8, 8), 2.0, dtype=np.float32), r"floats in \[0, 1\]"),
]


@pytest.mark.parametrize("X_, match", BAD_INPUTS, ids=["nan", "one", "ndim", "range"])
def test_bad_input_is_refused_with_a_clear_message(X_, match):
    with pytest.raises(ValueError, match=match):
        JointGAN(**TINY, likelihood="bernoulli").fit(X_)


def test_bad_parameters_and_use_before_fit():
    with pytest.raises(ValueError, match="image_shape is for flat rows only"):
        JointGAN(**TINY, image_shape=(8, 8)).fit(np.zeros((6, 2, 1, 8, 8)))
    with pytest.raises(ValueError, match="'latent_dim' parameter"):
        JointGAN(**{**TINY, "latent_dim": 0}).fit(X)
    model = JointGAN(**TINY)
    with pytest.raises(NotFittedError):
        model.sample(2)
    with pytest.raises(NotFittedError):
        model.generate(np.zeros((2, 3)))
    model.set_params(warm_start=True).fit(X)
    with pytest.raises(ValueError, match="generate expects codes with 3 columns"):
        model.generate(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="positive integer"):
        model.sample(0)
    with pytest.raises(ValueError, match=r"samples of shape \(1, 8, 8\).*\(1, 16, 16\)"):
        model.fit(X[:, :, :8, :8])


# ------------------------------------------------------------------ learning


def test_it_learns_to_generate_the_data():
    """Images of four fixed patterns (one lit quadrant): samples end up near one of them."""
    patterns = np.zeros((4, 1, 8, 8), dtype=np.float32)
    for k, (rows, cols) in enumerate([(0, 0), (0, 4), (4, 0), (4, 4)]):
        patterns[k, :, rows:rows + 4, cols:cols + 4] = 1.0
    data = np.repeat(patterns, 32, axis=0)

    def distance_to_the_nearest_pattern(samples):
        return np.abs(samples[:, None] - patterns[None]).mean(axis=(2, 3, 4)).min(axis=1)

    settings = {"latent_dim": 4, "batch_size": 32, "conv_channels": 8, "dense_units": 32,
                "learning_rate": 2e-3, "device": "cpu", "random_state": 0}
    untrained = JointGAN(n_epochs=0, **settings).fit(data).sample(200, random_state=1)
    model = JointGAN(n_epochs=60, **settings).fit(data)
    samples = model.sample(200, random_state=1)
    # A grey image is 0.375 from every pattern; the untrained generator about 0.45.
    assert distance_to_the_nearest_pattern(untrained).mean() > 0.35
    assert distance_to_the_nearest_pattern(samples).mean() < 0.15
    nearest = np.abs(samples[:, None] - patterns[None]).mean(axis=(2, 3, 4)).argmin(axis=1)
    assert len(np.unique(nearest)) >= 2  # more than one pattern
