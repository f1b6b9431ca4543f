"""The progressive schedule's mechanics, checked on the network itself."""

import numpy as np
import pytest
import torch

from skdisent import VLAE, ProVLAE
from skdisent.nn import LadderNetwork

from .conftest import TINY


def _network(levels=3):
    torch.manual_seed(0)
    network = LadderNetwork((1, 16, 16), (2,) * levels, conv_channels=4, dense_units=8)
    return network.eval()


def test_inactive_levels_do_not_reach_the_decoder_at_step_zero():
    network = _network()
    gates = torch.tensor([0.0, 0.0, 1.0])
    zs = [torch.randn(5, 2) for _ in range(3)]
    changed = [torch.randn(5, 2) * 3, torch.randn(5, 2) * 3, zs[2]]
    with torch.no_grad():
        assert torch.equal(network.decode(zs, gates), network.decode(changed, gates))
        # ...while the deepest level does reach it.
        moved = network.decode([zs[0], zs[1], zs[2] + 1.0], gates)
        assert not torch.allclose(moved, network.decode(zs, gates))


def test_every_level_feeds_the_decoder_when_all_are_on():
    network = _network()
    gates = torch.ones(3)
    zs = [torch.randn(5, 2) for _ in range(3)]
    with torch.no_grad():
        base = network.decode(zs, gates)
        for level in range(3):
            moved = [z + 1.0 if i == level else z for i, z in enumerate(zs)]
            assert not torch.allclose(network.decode(moved, gates), base), level


def test_a_closed_encoder_gate_blocks_the_ladder_head_input():
    network = _network()
    x = torch.rand(5, 1, 16, 16)
    gates = torch.tensor([0.0, 0.0, 1.0])
    with torch.no_grad():
        mus_a, _ = network.encode(x, gates)
        mus_b, _ = network.encode(torch.rand(5, 1, 16, 16), gates)
    assert torch.allclose(mus_a[0], mus_b[0]) and torch.allclose(mus_a[1], mus_b[1])
    assert not torch.allclose(mus_a[2], mus_b[2])


def _step_zero_gates(model):
    """ProVLAE's gates at the first training step: only the deepest level active."""
    model.n_iter_, model.n_steps_ = 0, 0
    return model._gates(training=True)


@pytest.mark.parametrize("normalization", ["batch", "affine"])
def test_an_inactive_level_is_encoded_but_never_decoded(normalization):
    model = ProVLAE(levels=3, latent_dim=2, normalization=normalization)
    encoder_gates, decoder_gates = _step_zero_gates(model)
    assert encoder_gates.tolist() == [1.0, 1.0, 1.0]
    assert decoder_gates.tolist() == [0.0, 0.0, 1.0]
    torch.manual_seed(0)
    network = LadderNetwork((1, 16, 16), (2, 2, 2), conv_channels=4, dense_units=8,
                            normalization=normalization).eval()
    x, other = torch.rand(5, 1, 16, 16), torch.rand(5, 1, 16, 16)
    zs = [torch.randn(5, 2) for _ in range(3)]
    changed = [torch.randn(5, 2) * 3, torch.randn(5, 2) * 3, zs[2]]
    with torch.no_grad():
        mus_a, _ = network.encode(x, encoder_gates)
        mus_b, _ = network.encode(other, encoder_gates)
        # As in the reference, an inactive level's posterior depends on the input...
        assert not torch.allclose(mus_a[0], mus_b[0]) and not torch.allclose(mus_a[1], mus_b[1])
        # ...and its decoder path contributes nothing.
        assert torch.equal(network.decode(zs, decoder_gates), network.decode(changed, decoder_gates))


@pytest.mark.parametrize("normalization", ["batch", "affine"])
def test_the_pre_kl_penalty_has_a_gradient_into_the_head_and_the_trunk(normalization):
    model = ProVLAE(levels=3, latent_dim=2, normalization=normalization)
    encoder_gates, decoder_gates = _step_zero_gates(model)
    torch.manual_seed(0)
    network = LadderNetwork((1, 16, 16), (2, 2, 2), conv_channels=4, dense_units=8,
                            normalization=normalization)
    _, kl = network(torch.rand(8, 1, 16, 16), encoder_gates, decoder_gates,
                    generator=torch.Generator().manual_seed(0))
    kl[:, 0].mean().backward()  # the pre-KL term of the shallowest, inactive level
    head = network.heads[0][0].weight.grad
    trunk = network.trunk[0][0].weight.grad
    assert head is not None and head.abs().sum() > 0
    assert trunk is not None and trunk.abs().sum() > 0


def _fitted_provlae(**params):
    X = np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)
    settings = dict(levels=3, latent_dim=2, epochs_per_step=2, fade_in_steps=6, random_state=0)
    settings.update(params)
    return ProVLAE(**settings, **TINY), X


def _trace_schedule(model, X):
    """Record gates and KL weights at every optimisation step of a fit."""
    trace = []
    original = type(model)._train_batch

    def traced(self, x, trainer):
        encoder_gates, decoder_gates = self._gates(True)
        trace.append((self.n_iter_, self.n_steps_, decoder_gates.tolist(),
                      self._kl_weights().tolist(), encoder_gates.tolist()))
        return original(self, x, trainer)

    model._train_batch = traced.__get__(model)
    model.fit(X)
    return trace


def test_fade_in_rises_linearly_over_fade_in_steps_after_a_level_is_added():
    model, X = _fitted_provlae()
    trace = _trace_schedule(model, X)
    per_epoch = 64 // 16
    # Step 1 starts at epoch 2; level 2 (index 1) fades in over 6 iterations.
    step1 = [gates[1] for epoch, _, gates, _, _ in trace if epoch in (2, 3)]
    assert step1 == pytest.approx([min(1.0, t / 6) for t in range(2 * per_epoch)])
    step2 = [gates[0] for epoch, _, gates, _, _ in trace if epoch in (4, 5)]
    assert step2 == pytest.approx([min(1.0, t / 6) for t in range(2 * per_epoch)])
    # Already-active levels stay fully on while the next one fades in.
    assert all(gates[1:] == [1.0, 1.0] for epoch, _, gates, _, _ in trace if epoch >= 4)
    # The head of the level being added sees its input scaled by the same coefficient;
    # every other head sees its input unscaled.
    for epoch, _, decoder, _, encoder in trace:
        newest = 2 - epoch // 2
        assert encoder[newest] == decoder[newest]
        assert [g for i, g in enumerate(encoder) if i != newest] == [1.0, 1.0]
    assert [r["fade_in"] for r in model.history_] == pytest.approx(
        [1.0, 1.0, 4 / 6, 1.0, 4 / 6, 1.0])


def test_pre_kl_covers_exactly_the_inactive_levels():
    model, X = _fitted_provlae(beta=2.0, pre_kl_coef=0.25)
    trace = _trace_schedule(model, X)
    expected = {0: [0.25, 0.25, 2.0], 1: [0.25, 2.0, 2.0], 2: [2.0, 2.0, 2.0]}
    for epoch, _, gates, weights, _ in trace:
        step = epoch // 2
        assert weights == expected[step]
        inactive = [i for i, g in enumerate(gates) if g == 0.0 and not (step and i == 2 - step)]
        assert [i for i, w in enumerate(weights) if w == 0.25] == inactive
    assert [r["step"] for r in model.history_] == [0, 0, 1, 1, 2, 2]
    assert [r["active_levels"] for r in model.history_] == [1, 1, 2, 2, 3, 3]


def test_ablation_switches():
    model, X = _fitted_provlae(fade_in=False, pre_kl_coef=0.0)
    trace = _trace_schedule(model, X)
    first_of_step1 = next(gates for epoch, _, gates, _, _ in trace if epoch == 2)
    assert first_of_step1 == [0.0, 1.0, 1.0]
    assert all(w[0] == 0.0 for epoch, _, _, w, _ in trace if epoch < 4)


def test_after_the_last_step_every_level_feeds_the_decoder():
    model, X = _fitted_provlae()
    model.fit(X)
    assert [g.tolist() for g in model._gates(training=False)] == [[1.0, 1.0, 1.0]] * 2
    Z = model.transform(X[:8])
    base = model.inverse_transform(Z)
    for level in model.level_slices():
        moved = Z.copy()
        moved[:, level] += 2.0
        assert np.abs(model.inverse_transform(moved) - base).max() > 1e-4


def test_fade_in_longer_than_a_step_warns():
    model, X = _fitted_provlae(fade_in_steps=10_000)
    with pytest.warns(UserWarning, match="fade_in_steps=10000"):
        model.fit(X)


def test_vlae_trains_every_level_from_the_start():
    X = np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)
    model = VLAE(levels=3, latent_dim=2, n_epochs=1, random_state=0, **TINY).fit(X)
    assert [g.tolist() for g in model._gates(training=True)] == [[1.0, 1.0, 1.0]] * 2
    assert all(model.history_[0][f"kl_{level}"] > 0 for level in (1, 2, 3))


def test_a_fade_in_longer_than_a_step_is_warned_about_at_the_callers_line_first(monkeypatch):
    import warnings

    from skdisent.engine import Trainer

    model, X = _fitted_provlae(fade_in_steps=100)  # a step has 8 iterations
    updates, seen, optimize = [], [], Trainer.optimize

    def counting(trainer, loss, name):
        updates.append(name)
        optimize(trainer, loss, name)

    def show(message, category, filename, lineno, *rest):
        seen.append((str(message), filename, len(updates)))

    monkeypatch.setattr(Trainer, "optimize", counting)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        monkeypatch.setattr(warnings, "showwarning", show)
        model.fit(X)
    [(message, filename, after)] = [w for w in seen if "fade_in_steps" in w[0]]
    assert "fade_in_steps=100 is more than the 8 iterations" in message
    assert filename == __file__  # the caller's line, not scikit-learn's base.py
    assert after == 0 and len(updates) == 24  # before any training
