"""Training that goes wrong without a NaN loss: the model never ends a fit unusable.

Every completed epoch is checked (weights, optimiser state, and the epoch's last batch
scored in evaluation mode), so a fit that returns, a checkpoint, and the "last completed
epoch" a NonFiniteLossError keeps are all usable.
"""

import itertools
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skdisent import VLAE, BetaVAE, LDFModel, NonFiniteLossError, ProVLAE
from skdisent.engine import Trainer

from .conftest import TINY

X = np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)
STEPS_PER_EPOCH = 64 // 16
MODELS = {
    "BetaVAE": BetaVAE(n_components=3, n_epochs=3, depth=2, random_state=0, **TINY),
    "VLAE": VLAE(levels=2, latent_dim=2, n_epochs=3, random_state=0, **TINY),
    "ProVLAE": ProVLAE(levels=3, latent_dim=2, epochs_per_step=1, fade_in_steps=2,
                       random_state=0, **TINY),
    "LDFModel": LDFModel(local_dim=2, global_dim=3, n_epochs=3, batch_size=16, conv_channels=2,
                         dense_units=8, device="cpu", random_state=0),
}


def usable(model):
    """Finite weights and optimiser state, finite codes and score."""
    tensors = [*model.network_.state_dict().values(),
               *(v for o in model._training.optimizers.values()
                 for moments in o.state.values() for v in moments.values())]
    return (all(torch.isfinite(t).all() for t in tensors if t.is_floating_point())
            and np.isfinite(model.transform(X)).all() and np.isfinite(model.score(X)))


def nan_gradient_at(monkeypatch, model, step):
    """Give every parameter a NaN gradient at optimisation update ``step`` (1-based); the
    loss stays finite, so only the state after the update is wrong."""
    count, original = itertools.count(1), Trainer.optimize

    def poisoned(trainer, loss, name):
        if trainer.model is model and next(count) == step:
            optimizer = trainer.state.optimizers[name]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for group in optimizer.param_groups:
                for parameter in group["params"]:
                    if parameter.grad is not None:
                        parameter.grad.fill_(float("nan"))
            optimizer.step()
            return
        original(trainer, loss, name)

    monkeypatch.setattr(Trainer, "optimize", poisoned)
    return model


def updates_per_epoch(name, monkeypatch):
    """Optimiser updates in the first epoch (LDF makes several per batch: both levels, and
    each level's discriminator and generator)."""
    epochs, original = [], Trainer.optimize

    def counting(trainer, loss, optimizer):
        epochs.append(trainer.model.n_iter_)
        original(trainer, loss, optimizer)

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "optimize", counting)
        clone(MODELS[name]).fit(X)
    return epochs.count(0)


def test_weights_too_large_for_inference_stop_the_fit():
    # One step at lr=1e6: the loss, normalised by batch statistics, is finite, but
    # evaluation mode overflows; such a model used to be returned as fitted.
    model = BetaVAE(n_epochs=1, learning_rate=1e6, device="cpu", random_state=0)
    with pytest.raises(NonFiniteLossError, match="non-finite results in evaluation mode"):
        model.fit(X[:16])
    assert model.n_iter_ == 0 and usable(model)


def test_reduce_lr_recovers_from_weights_too_large_for_inference():
    model = BetaVAE(n_epochs=2, learning_rate=1e6, device="cpu", random_state=0,
                    on_nan="reduce_lr", nan_lr_factor=0.01, max_nan_retries=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(X[:16])
    assert model.n_iter_ == 2 and usable(model)
    assert model.history_[0]["nan_retries"] > 0


@pytest.mark.parametrize("name", list(MODELS))
def test_a_nan_gradient_at_the_last_update_of_an_epoch_is_caught(name, monkeypatch):
    model = nan_gradient_at(monkeypatch, clone(MODELS[name]),
                            2 * updates_per_epoch(name, monkeypatch))
    with pytest.raises(NonFiniteLossError, match="non-finite in epoch 2.*last completed epoch "
                                                 r"\(1\)"):
        model.fit(X)
    assert model.n_iter_ == 1 and len(model.history_) == 1 and usable(model)


@pytest.mark.parametrize("name", list(MODELS))
def test_reduce_lr_runs_the_epoch_again_after_a_nan_gradient(name, monkeypatch):
    model = clone(MODELS[name]).set_params(on_nan="reduce_lr")
    nan_gradient_at(monkeypatch, model, 2 * updates_per_epoch(name, monkeypatch))
    with pytest.warns(RuntimeWarning, match="starts again"):
        model.fit(X)
    assert model.n_iter_ == 3 and usable(model)
    assert [r["nan_retries"] for r in model.history_] == [0, 1, 0]


@pytest.mark.parametrize("device", ["mps", "meta", "xla", "cuda:x", "tpu"])
def test_unsupported_devices_are_named(device):
    model = VLAE(levels=2, latent_dim=2, n_epochs=1, device=device)
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; "
                                         f"got '{device}'. skdisent trains and runs on CPUs"):
        model.fit(X)
