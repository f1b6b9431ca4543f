"""The speed settings of the ladder models: bf16, torch.compile, memory, speed records.

Fast checks on tiny models; the compiled ones are marked slow (compilation takes
tens of seconds). No timing is asserted: speed is measured in ``benchmarks/``.
"""

import pickle
import tracemalloc

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skdisent import VLAE, NonFiniteLossError, ProVLAE
from skdisent._data import INFERENCE_BATCH, BatchSource
from skdisent.engine import Trainer
from skdisent.engine.finite import FiniteCheck
from skdisent.nn import LadderNetwork

from .models.conftest import TINY, tiny_models

MODELS = tiny_models()
IDS = [type(m).__name__ for m in MODELS]


@pytest.fixture
def images():
    """64 random uint8 images of 1x16x16."""
    return np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)


# ------------------------------------------------------------------- bf16


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_bf16_fits_encodes_decodes_and_pickles(model, images):
    model = clone(model).set_params(precision="bf16").fit(images)
    Z = model.transform(images)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
    X_hat = model.inverse_transform(Z)
    assert X_hat.dtype == np.float32 and X_hat.shape == images.shape
    assert np.isfinite(model.score(images))
    assert all(np.isfinite(r["loss"]) for r in model.history_)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).transform(images), Z)


def test_bf16_fit_is_repeatable_bit_for_bit(images):
    first = clone(MODELS[2]).set_params(precision="bf16").fit(images)
    second = clone(MODELS[2]).set_params(precision="bf16").fit(images)
    np.testing.assert_array_equal(first.transform(images), second.transform(images))
    assert [r["loss"] for r in first.history_] == [r["loss"] for r in second.history_]


def test_bf16_training_stays_close_to_fp32(images):
    fp32 = clone(MODELS[1]).fit(images)
    bf16 = clone(MODELS[1]).set_params(precision="bf16").fit(images)
    for a, b in zip(fp32.history_, bf16.history_):
        assert abs(a["reconstruction"] - b["reconstruction"]) < 0.02 * abs(a["reconstruction"])


# ------------------------------------------------------- noise and the network


def test_noise_drawn_outside_the_network_gives_the_same_pass():
    network = LadderNetwork((1, 16, 16), (2, 0, 3), conv_channels=4, dense_units=8)
    x = torch.rand(5, 1, 16, 16)
    gates = torch.ones(3)
    inside = network(x, gates, gates, torch.Generator().manual_seed(3))
    noise = network.draw_noise(5, torch.Generator().manual_seed(3))
    outside = network(x, gates, gates, noise=noise)
    for a, b in zip(inside, outside):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


# ------------------------------------------------------- memory: one batch at a time


class _Spy:
    """Records every batch ``BatchSource`` makes, and the arrays it reads from."""

    def __init__(self, monkeypatch):
        self.sizes, self.sources = [], []
        batch = BatchSource.batch

        def spying_batch(source, indices, device):
            self.sizes.append(len(indices))
            self.sources.append(source.X)
            return batch(source, indices, device)

        monkeypatch.setattr(BatchSource, "batch", spying_batch)


def test_fit_and_transform_read_the_data_one_batch_at_a_time(monkeypatch):
    X = np.random.default_rng(0).integers(0, 256, size=(600, 1, 16, 16), dtype=np.uint8)
    spy = _Spy(monkeypatch)
    model = VLAE(levels=2, latent_dim=2, n_epochs=2, random_state=0, **TINY).fit(X)
    assert max(spy.sizes) == TINY["batch_size"] and sum(spy.sizes) == 2 * len(X)
    # The training loop reads the caller's uint8 array itself, not a copy of it.
    assert all(source is X or np.shares_memory(source, X) for source in spy.sources)
    assert all(source.dtype == np.uint8 for source in spy.sources)
    spy.sizes.clear()
    spy.sources.clear()
    model.transform(X)
    model.score(X)
    assert max(spy.sizes) <= INFERENCE_BATCH and sum(spy.sizes) == 2 * len(X)
    assert all(np.shares_memory(source, X) for source in spy.sources)


def test_fit_and_transform_make_no_float_copy_of_the_data():
    # numpy's allocations are traced by tracemalloc: a float32 copy of X would be 4x its size.
    X = np.random.default_rng(0).integers(0, 256, size=(4096, 1, 16, 16), dtype=np.uint8)
    model = VLAE(levels=2, latent_dim=2, n_epochs=1, random_state=0,
                 **{**TINY, "batch_size": 512})
    tracemalloc.start()
    try:
        model.fit(X)
        _, fit_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        model.transform(X)
        _, transform_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fit_peak < X.nbytes / 2, fit_peak
    assert transform_peak < X.nbytes / 2, transform_peak


# ------------------------------------------------------------- speed records


def test_history_records_time_and_images_per_second(images):
    model = clone(MODELS[2]).fit(images)
    for record in model.history_:
        assert record["time"] > 0
        n_seen = len(images)  # every batch is full: 64 = 4 x 16
        assert record["images_per_s"] == pytest.approx(n_seen / record["time"])


def test_history_records_the_thread_count_results_depend_on(images, monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)  # what the record reads
    model = clone(MODELS[1]).fit(images)
    assert [record["threads"] for record in model.history_] == [3, 3]


# ------------------------------------------------- the training step's overheads


def test_adam_is_fused(images):
    model = clone(MODELS[1]).fit(images)
    assert model._training.optimizers["adam"].defaults["fused"]
    # A pickled model trains on with the same optimiser.
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded._training.optimizers["adam"].defaults["fused"]


def test_grouped_finiteness_checks_still_stop_at_a_non_finite_loss(images, monkeypatch):
    # On a GPU the losses are checked every CHECK_EVERY steps (no sync per step); the
    # same path is run here on the CPU. Epochs have 4 steps; step 6 is poisoned.
    monkeypatch.setattr(FiniteCheck, "defers", staticmethod(lambda device: True))
    monkeypatch.setattr("skdisent.engine.finite.CHECK_EVERY", 3)
    step, calls = Trainer.optimize, []

    def poisoned(trainer, loss, name):
        calls.append(loss)
        return step(trainer, loss * float("nan") if len(calls) == 6 else loss, name)

    monkeypatch.setattr(Trainer, "optimize", poisoned)
    model = clone(MODELS[1]).set_params(n_epochs=3)
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, between steps 5 and 7"):
        model.fit(images)
    monkeypatch.undo()
    # The model is back at its first epoch, bit for bit, and pickles without GPU state.
    one_epoch = clone(MODELS[1]).set_params(n_epochs=1).fit(images)
    assert model.n_iter_ == 1 and len(model.history_) == 1
    expected = one_epoch.network_.state_dict()
    for key, value in model.network_.state_dict().items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=0)
    assert set(model.__getstate__()) == {"params", "fitted", "history", "network", "training"}


# ---------------------------------------------------------------- compile


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_compiled_model_fits_transforms_and_pickles(precision, images):
    model = ProVLAE(levels=2, latent_dim=2, epochs_per_step=1, fade_in_steps=1, random_state=0,
                    compile=True, precision=precision, **TINY)
    pickle.loads(pickle.dumps(model))  # before fit
    model.fit(images)
    Z = model.transform(images)
    # The compiled encoder computes what the eager one computes from the same weights.
    same_weights = pickle.loads(pickle.dumps(model)).set_params(compile=False)
    bf16 = precision == "bf16"
    np.testing.assert_allclose(Z, same_weights.transform(images), atol=0.05 if bf16 else 1e-5)
    # A compiled fit follows the eager one. Not to the last bit: the kernels sum in another
    # order, and Adam turns rounding-level gradients (the shallow level, faded in from a
    # gate near 0) into steps of the learning rate, so codes drift by about 1e-3.
    eager = clone(model).set_params(compile=False).fit(images)
    np.testing.assert_allclose([r["loss"] for r in model.history_],
                               [r["loss"] for r in eager.history_], rtol=0.02 if bf16 else 1e-4)
    np.testing.assert_allclose(Z, eager.transform(images), atol=0.05 if bf16 else 0.01)
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded.compile and getattr(loaded, "_compiled", None) is None
    np.testing.assert_array_equal(loaded.transform(images), Z)
    # A loaded compiled model trains on (it compiles again).
    loaded.set_params(warm_start=True, epochs_per_step=2).fit(images)
    assert loaded.n_iter_ == 4 and np.isfinite(loaded.history_[-1]["loss"])


def test_cpu_training_pass_is_compiled_with_inductors_layout_optimisation(images, monkeypatch):
    # Without it inductor copies the one-channel layers' feature maps into another layout
    # in the backward graph (benchmarks/README.md); torch.compile is replaced by a recorder.
    compiled = []

    def record(function, dynamic=None, options=None):
        compiled.append((function, dynamic, options))
        return function

    monkeypatch.setattr(torch, "compile", record)
    model = VLAE(levels=2, latent_dim=2, n_epochs=1, compile=True, random_state=0,
                 **TINY).fit(images)
    training = [(dynamic, options) for function, dynamic, options in compiled
                if function is model.network_]
    assert training == [(True, {"force_layout_optimization": True})]


@pytest.mark.slow
def test_compiled_bf16_training_has_finite_gradients_on_the_cpu():
    # torch 2.13's inductor gave NaN gradients for the bf16 backward pass of a conv, ELU
    # and batch norm when it had to transpose the gradient from (C, H, W) to channels-last
    # order (AVX-512 code); the channels-last ladder needs no such transpose.
    X = np.random.default_rng(0).integers(0, 256, size=(96, 1, 64, 64), dtype=np.uint8)
    params = dict(levels=3, latent_dim=2, n_epochs=2, batch_size=32, conv_channels=32,
                  dense_units=32, device="cpu", precision="bf16", random_state=0)
    compiled = VLAE(compile=True, **params).fit(X)
    eager = VLAE(**params).fit(X)
    assert "forward-cpu" in compiled._compiled
    assert all(torch.isfinite(p).all() for p in compiled.network_.parameters())
    np.testing.assert_allclose([r["loss"] for r in compiled.history_],
                               [r["loss"] for r in eager.history_], rtol=0.05)


class _ClassicLayoutVLAE(VLAE):
    """A VLAE whose ladder has the classic layout, as in model files written before."""

    def _build_network(self, layout):
        network = super()._build_network(layout)
        return type(network)(**{**network.config, "channels_last": False})


@pytest.mark.slow
def test_compiled_bf16_training_of_a_classic_layout_ladder_stays_finite_on_the_cpu():
    X = np.random.default_rng(0).integers(0, 256, size=(96, 1, 64, 64), dtype=np.uint8)
    model = _ClassicLayoutVLAE(levels=3, latent_dim=2, n_epochs=2, batch_size=32,
                               conv_channels=32, dense_units=32, device="cpu",
                               precision="bf16", compile=True, random_state=0).fit(X)
    assert model.network_.channels_last is False
    assert "forward-classic-bf16-cpu" in model._compiled
    assert all(torch.isfinite(p).all() for p in model.network_.parameters())
