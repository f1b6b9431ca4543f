"""ProVLAE's copies of itself at each step end (``snapshot_steps``) and its step-end information."""

import copy
import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

import skdisent.models._step_information
from skdisent import ProVLAE, load, save
from skdisent.engine.checkpoints import checkpoint_name
from skdisent.metrics import information_per_level

from .conftest import TINY

X = np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)
# 3 progressive steps of one epoch (4 iterations each); levels fade in over 2 iterations.
PARAMS = dict(levels=3, latent_dim=2, epochs_per_step=1, fade_in_steps=2, random_state=0,
              snapshot_steps=True, **TINY)


@pytest.fixture(scope="module")
def fitted():
    """A ProVLAE fitted with snapshots (shared: copy it before training it on)."""
    return ProVLAE(**PARAMS).fit(X)


def _tensors(model):
    network = model.network_.state_dict().values()
    moments = [value for optimizer in model._training.optimizers.values()
               for state in optimizer.state.values() for value in state.values()]
    return [*network, *moments]


def test_one_snapshot_per_step_with_its_levels(fitted):
    snapshots = fitted.step_snapshots_
    assert len(snapshots) == 3 and all(type(s) is ProVLAE for s in snapshots)
    assert [s.n_iter_ for s in snapshots] == [1, 2, 3]
    assert [s.history_[-1]["active_levels"] for s in snapshots] == [1, 2, 3]
    assert [len(s.history_) for s in snapshots] == [1, 2, 3]
    for step, snapshot in enumerate(snapshots):
        assert snapshot._position(training=False)[0] == step
        np.testing.assert_array_equal(snapshot.information_per_step_,
                                      fitted.information_per_step_[: step + 1])
        # snapshots do not nest, write no checkpoints, keep the model's other parameters
        assert not snapshot.snapshot_steps and snapshot.checkpoint_dir is None
        assert not hasattr(snapshot, "step_snapshots_")
        params = {**fitted.get_params(), "snapshot_steps": False, "checkpoint_dir": None}
        assert snapshot.get_params() == params
        assert snapshot.transform(X).shape == (len(X), 6)
        assert snapshot.inverse_transform(snapshot.transform(X[:3])).shape == (3, 1, 16, 16)
        assert snapshot.sample(2, random_state=0).shape == (2, 1, 16, 16)
        # an inference copy: the weights, no optimiser moments
        assert all(not optimizer.state for optimizer in snapshot._training.optimizers.values())


def test_the_last_snapshot_is_the_fitted_model(fitted):
    last = fitted.step_snapshots_[-1]
    np.testing.assert_array_equal(last.transform(X), fitted.transform(X))
    codes = fitted.transform(X[:5])
    np.testing.assert_array_equal(last.inverse_transform(codes), fitted.inverse_transform(codes))
    np.testing.assert_array_equal(last.sample(4, random_state=1), fitted.sample(4, random_state=1))
    assert last.score(X) == fitted.score(X)


def test_a_snapshot_is_the_model_as_its_step_ended(tmp_path):
    # Checkpoints are written at every step end: the snapshot equals that file's model.
    model = ProVLAE(**{**PARAMS, "levels": 2}, checkpoint_dir=tmp_path).fit(X)
    first = load(tmp_path / checkpoint_name(1))
    np.testing.assert_array_equal(model.step_snapshots_[0].transform(X), first.transform(X))
    np.testing.assert_array_equal(model.step_snapshots_[0].sample(3, random_state=0),
                                  first.sample(3, random_state=0))


def test_snapshots_are_independent_of_the_live_model(fitted):
    model = copy.deepcopy(fitted)
    snapshots = list(model.step_snapshots_)
    before = [(s.transform(X), {k: v.clone() for k, v in s.network_.state_dict().items()},
               len(s.history_)) for s in snapshots]
    live = {t.untyped_storage().data_ptr() for t in _tensors(model)}
    for snapshot in snapshots:
        assert not live & {t.untyped_storage().data_ptr() for t in _tensors(snapshot)}
        assert snapshot.history_ is not model.history_
    # training on (two more epochs, the last ending a step) changes none of them
    model.set_params(warm_start=True, epochs_per_step=2).fit(X)
    assert model.n_iter_ == 6 and not np.array_equal(model.transform(X), before[-1][0])
    assert model.step_snapshots_[:3] == snapshots  # warm_start keeps the earlier ones
    assert len(model.step_snapshots_) == 5 and model.step_snapshots_[-1].n_iter_ == 6
    for snapshot, (codes, weights, n_records) in zip(snapshots, before):
        np.testing.assert_array_equal(snapshot.transform(X), codes)
        for key, value in snapshot.network_.state_dict().items():
            assert torch.equal(value, weights[key])
        assert len(snapshot.history_) == n_records


def test_a_fresh_fit_starts_the_snapshots_again(fitted):
    model = copy.deepcopy(fitted)
    old = list(model.step_snapshots_)
    model.set_params(levels=2).fit(X)
    assert len(model.step_snapshots_) == 2 and not set(map(id, old)) & set(map(id, model.step_snapshots_))
    model.set_params(snapshot_steps=False).fit(X)
    assert not hasattr(model, "step_snapshots_")


def test_without_snapshot_steps_there_is_no_attribute():
    model = ProVLAE(**{**PARAMS, "snapshot_steps": False, "levels": 2}).fit(X)
    assert not hasattr(model, "step_snapshots_")
    assert set(model.__getstate__()) == {"params", "fitted", "history", "network", "training"}
    # turned on for a warm start, it snapshots the steps completed from then on
    model.set_params(snapshot_steps=True, warm_start=True, epochs_per_step=2).fit(X)
    assert [s.n_iter_ for s in model.step_snapshots_] == [4]


def test_snapshots_pickle_with_the_model_but_not_into_model_files(fitted, tmp_path):
    for copied in (pickle.loads(pickle.dumps(fitted)), copy.deepcopy(fitted)):
        assert len(copied.step_snapshots_) == 3
        for mine, theirs in zip(copied.step_snapshots_, fitted.step_snapshots_):
            assert mine is not theirs and mine.n_iter_ == theirs.n_iter_
            np.testing.assert_array_equal(mine.transform(X), theirs.transform(X))
    loaded = load(save(fitted, tmp_path / "m.safetensors"))
    assert not hasattr(loaded, "step_snapshots_")
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    assert clone(fitted).get_params()["snapshot_steps"] is True


def test_a_resume_from_a_checkpoint_may_change_what_is_measured_and_kept(tmp_path):
    params = {**PARAMS, "levels": 2, "snapshot_steps": False, "checkpoint_dir": tmp_path}
    ProVLAE(**params).fit(X)
    resumed = ProVLAE(**{**params, "epochs_per_step": 2, "snapshot_steps": True},
                      information_rows=16, warm_start=True).fit(X)
    assert [s.n_iter_ for s in resumed.step_snapshots_] == [4]  # the steps completed since
    assert [r["information_rows"] for r in resumed.history_ if "information_rows" in r] == [
        64, 64, 16]


# ------------------------------------------------------------- information_rows


@pytest.mark.parametrize(("rows", "used"), [(16, 16), (None, 64), (2048, 64)])
def test_information_rows_sets_the_rows_estimated_on(rows, used, monkeypatch):
    calls = []

    def spy(means, logvars, levels, **kwargs):
        calls.append((len(means), kwargs["n_samples"]))
        return information_per_level(means, logvars, levels, **kwargs)

    monkeypatch.setattr(skdisent.models._step_information, "information_per_level", spy)
    model = ProVLAE(**{**PARAMS, "levels": 2, "snapshot_steps": False},
                    information_rows=rows).fit(X)
    assert calls == [(used, used)] * 2
    assert [r["information_rows"] for r in model.history_] == [used] * 2


def test_information_samples_are_capped(monkeypatch):
    monkeypatch.setattr(skdisent.models._step_information, "INFORMATION_SAMPLES", 10)
    calls = []
    monkeypatch.setattr(skdisent.models._step_information, "information_per_level",
                        lambda means, logvars, levels, **kw: calls.append(kw["n_samples"])
                        or information_per_level(means, logvars, levels, **kw))
    ProVLAE(**{**PARAMS, "levels": 1, "snapshot_steps": False}, information_rows=None).fit(X)
    assert calls == [10]


@pytest.mark.parametrize("rows", [1, 0, 2.5, "all"])
def test_information_rows_is_validated(rows):
    with pytest.raises(InvalidParameterError, match="information_rows"):
        ProVLAE(**PARAMS, information_rows=rows).fit(X)


@pytest.mark.parametrize("rows", [8, None])
def test_information_is_bounded_by_the_log_of_the_rows(rows):
    model = ProVLAE(**{**PARAMS, "snapshot_steps": False}, information_rows=rows).fit(X)
    ends = [r for r in model.history_ if "information_total" in r]
    bound = math.log(rows or len(X))
    values = [r[key] for r in ends for key in r if key.startswith("information_") and
              key != "information_rows"]
    assert len(values) == 3 * 4 and max(values) <= bound + 0.05


def test_the_estimator_reaches_the_bound_and_no_further():
    # Posteriors far apart and narrow: each row is told apart, I = log N up to Monte Carlo
    # noise (standard deviation sqrt(d / 2N) for d latents: 0.06 at N = 400, d = 3).
    rng = np.random.default_rng(0)
    for n in (400, 2000):
        means, logvars = rng.normal(size=(n, 3)) * 1e3, np.full((n, 3), -10.0)
        information = information_per_level(means, logvars, [1, 2, slice(0, 3)], random_state=0)
        np.testing.assert_allclose(information, math.log(n), atol=0.2)
