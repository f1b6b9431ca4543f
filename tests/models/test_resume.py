"""Long fits that survive: warm starts, interrupts, checkpoints, kills, non-finite losses.

"Equal" means bit for bit on the CPU: weights, optimiser and generator states, and
``history_`` but for its timings.
"""

import itertools
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone

import skdisent._model_file
import skdisent.engine.callbacks
from skdisent import (
    VLAE,
    BetaVAE,
    NonFiniteLossError,
    ProVLAE,
    load,
    load_checkpoint,
    save,
)
from skdisent.engine import Callback, Trainer, extra_callbacks
from skdisent.engine.checkpoints import checkpoint_files

from .conftest import TINY

X = np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)
STEPS_PER_EPOCH = 64 // 16

# ProVLAE: 3 steps of 2 epochs; a new level fades in over 6 of a step's 8 iterations.
PROVLAE = dict(levels=3, latent_dim=2, epochs_per_step=2, fade_in_steps=6, random_state=0)
BASES = {
    "BetaVAE": BetaVAE(n_components=3, n_epochs=3, depth=2, random_state=0, **TINY),
    "VLAE": VLAE(levels=2, latent_dim=2, n_epochs=3, random_state=0, **TINY),
    "ProVLAE": ProVLAE(**PROVLAE, **TINY),
}
# The 14th iteration: epoch 4 of 6 for ProVLAE, the second of progressive step 1, while
# level 2 is fading in (its gate at 4/6 when the epoch starts); epoch 2 of 3 otherwise.
INTERRUPT_AT = {"BetaVAE": 6, "VLAE": 6, "ProVLAE": 14}

_REFERENCES = {}


def reference(name):
    """The uninterrupted fit of ``BASES[name]`` (shared; do not modify)."""
    if name not in _REFERENCES:
        _REFERENCES[name] = clone(BASES[name]).fit(X)
    return _REFERENCES[name]


def timeless(history, drop=()):
    return [{k: v for k, v in r.items() if k not in ("time", "images_per_s", *drop)}
            for r in history]


def assert_same_fit(model, expected):
    """Weights, optimiser and generator states, counters and history all equal."""
    assert (model.n_iter_, model.n_steps_) == (expected.n_iter_, expected.n_steps_)
    got, want = model.network_.state_dict(), expected.network_.state_dict()
    assert list(got) == list(want)
    for key in want:
        assert torch.equal(got[key], want[key]), key
    for name, optimizer in expected._training.optimizers.items():
        a, b = model._training.optimizers[name].state_dict(), optimizer.state_dict()
        assert a["param_groups"] == b["param_groups"]
        for index, moments in b["state"].items():
            for key, value in moments.items():
                assert torch.equal(a["state"][index][key], value), (index, key)
    state, expected_state = model._training, expected._training
    assert torch.equal(state.generator.get_state(), expected_state.generator.get_state())
    assert torch.equal(state.noise_generator.get_state(),
                       expected_state.noise_generator.get_state())
    assert timeless(model.history_) == timeless(expected.history_)
    np.testing.assert_array_equal(model.transform(X), expected.transform(X))


def interrupt_at(monkeypatch, model, n):
    """Make the ``n``-th training step (1-based) of ``model``'s next fit raise Ctrl-C.

    The class is patched, not the instance, so that the model can still be saved.
    """
    cls = type(model)
    original = cls._train_batch
    count = itertools.count(1)

    def step(self, batch, trainer):
        if self is model and next(count) == n:
            monkeypatch.setattr(cls, "_train_batch", original)
            raise KeyboardInterrupt
        return original(self, batch, trainer)

    monkeypatch.setattr(cls, "_train_batch", step)
    return model


def interrupted(monkeypatch, name, n=None, **params):
    """``BASES[name]`` fitted until Ctrl-C at step ``n``; returns the model."""
    n = INTERRUPT_AT[name] if n is None else n
    model = interrupt_at(monkeypatch, clone(BASES[name]).set_params(**params), n)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        model.fit(X)
    return model


# ---------------------------------------------------------- warm start, interrupt


@pytest.mark.parametrize("name", list(BASES))
def test_interrupt_then_warm_start_equals_an_uninterrupted_fit(name, monkeypatch):
    n = INTERRUPT_AT[name]
    model = interrupt_at(monkeypatch, clone(BASES[name]), n)
    completed = (n - 1) // STEPS_PER_EPOCH
    total = BASES[name]._n_epochs_total()
    with pytest.warns(RuntimeWarning, match=f"state after epoch {completed} of {total}") as caught:
        model.fit(X)
    assert caught[0].filename == __file__  # the warning points at the caller's fit
    assert model.n_iter_ == completed and len(model.history_) == completed
    assert model.n_steps_ == completed * STEPS_PER_EPOCH
    assert np.isfinite(model.transform(X)).all()  # usable as it stands
    model.set_params(warm_start=True).fit(X)
    assert_same_fit(model, reference(name))


@pytest.mark.parametrize("name", ["BetaVAE", "VLAE"])
def test_a_smaller_budget_then_warm_start_equals_the_full_budget(name):
    model = clone(BASES[name]).set_params(n_epochs=1).fit(X)
    model.set_params(n_epochs=3, warm_start=True).fit(X)
    assert_same_fit(model, reference(name))


def test_provlae_resumes_mid_step_and_mid_fade_in_through_pickle_and_model_files(
        tmp_path, monkeypatch):
    model = interrupted(monkeypatch, "ProVLAE")
    assert model.n_iter_ == 3 and model.history_[-1]["step"] == 1
    # The schedule picks up inside progressive step 1, with level 2 at 4/6 of its fade-in.
    assert model._position(training=True) == (1, pytest.approx(4 / 6))
    copies = [pickle.loads(pickle.dumps(model)), load(save(model, tmp_path / "m.safetensors"))]
    for copy in copies:
        assert copy._position(training=True) == (1, pytest.approx(4 / 6))
        copy.set_params(warm_start=True).fit(X)
        assert_same_fit(copy, reference("ProVLAE"))


def test_warm_start_with_no_budget_left_warns_and_changes_nothing():
    model = clone(BASES["VLAE"]).set_params(n_epochs=1).fit(X)
    before = {k: v.clone() for k, v in model.network_.state_dict().items()}
    with pytest.warns(UserWarning, match="nothing to do.*1 epochs, its whole budget of 1"):
        model.set_params(warm_start=True).fit(X)
    assert model.n_iter_ == 1
    assert all(torch.equal(v, before[k]) for k, v in model.network_.state_dict().items())


def test_without_warm_start_a_second_fit_starts_again():
    model = clone(BASES["VLAE"]).set_params(n_epochs=1).fit(X)
    model.set_params(n_epochs=3).fit(X)
    assert_same_fit(model, reference("VLAE"))


# ------------------------------------------------------------------ checkpoints


def test_checkpoints_every_n_epochs_at_step_ends_and_at_the_end(tmp_path, monkeypatch):
    written = []
    original = skdisent.engine.callbacks.write_checkpoint

    def spy(data, directory, epoch, keep):
        written.append(epoch)
        return original(data, directory, epoch, keep)

    monkeypatch.setattr(skdisent.engine.callbacks, "write_checkpoint", spy)
    model = ProVLAE(levels=2, latent_dim=2, epochs_per_step=3, fade_in_steps=4, random_state=0,
                    checkpoint_dir=str(tmp_path), checkpoint_every=2, **TINY).fit(X)
    assert written == [2, 3, 4, 6]  # every 2 epochs, and at the end of each 3-epoch step
    assert [p.name for p in checkpoint_files(tmp_path)] == [
        "epoch-000004.safetensors", "epoch-000006.safetensors"]
    assert not list(tmp_path.glob(".*"))  # no temporary file left
    assert_same_fit(load(tmp_path / "epoch-000006.safetensors"), model)


def test_a_new_estimator_resumes_from_the_newest_checkpoint(tmp_path, monkeypatch):
    model = interrupted(monkeypatch, "ProVLAE", checkpoint_dir=tmp_path, checkpoint_every=1)
    assert [p.name for p in checkpoint_files(tmp_path)] == [
        "epoch-000002.safetensors", "epoch-000003.safetensors"]
    del model  # the process is gone; the folder is what is left
    checkpoint = load_checkpoint(tmp_path)
    assert checkpoint.n_iter_ == 3 and checkpoint.warm_start
    # The same script run again, with warm_start=True, continues where it stopped.
    resumed = clone(BASES["ProVLAE"]).set_params(checkpoint_dir=tmp_path, warm_start=True)
    resumed.fit(X)
    assert_same_fit(resumed, reference("ProVLAE"))
    assert [p.name for p in checkpoint_files(tmp_path)] == [
        "epoch-000005.safetensors", "epoch-000006.safetensors"]


def test_load_checkpoint_then_fit_finishes_the_fit(tmp_path, monkeypatch):
    interrupted(monkeypatch, "ProVLAE", checkpoint_dir=tmp_path, checkpoint_every=2)
    model = load_checkpoint(tmp_path)
    assert model.n_iter_ == 3  # the interrupt checkpointed the epoch it kept
    assert_same_fit(model.fit(X), reference("ProVLAE"))


def test_interrupt_warning_names_the_checkpoint_it_wrote(tmp_path, monkeypatch):
    model = interrupt_at(monkeypatch, clone(BASES["VLAE"]).set_params(checkpoint_dir=tmp_path,
                                                         checkpoint_every=10), 6)
    with pytest.warns(RuntimeWarning, match=r"after epoch 1 of 3, saved in .*epoch-000001"):
        model.fit(X)
    assert [p.name for p in checkpoint_files(tmp_path)] == ["epoch-000001.safetensors"]


def test_a_crash_while_writing_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    calls = itertools.count(1)
    original = skdisent._model_file._write_all

    def crashing(file, data):
        if next(calls) == 3:
            file.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")
        original(file, data)

    monkeypatch.setattr(skdisent._model_file, "_write_all", crashing)
    model = clone(BASES["ProVLAE"]).set_params(checkpoint_dir=tmp_path)
    with pytest.raises(OSError, match="No space left"):
        model.fit(X)
    assert [p.name for p in checkpoint_files(tmp_path)] == ["epoch-000002.safetensors"]
    assert not list(tmp_path.glob(".*"))  # the half-written temporary file is gone
    monkeypatch.undo()
    resumed = clone(BASES["ProVLAE"]).set_params(checkpoint_dir=tmp_path, warm_start=True)
    assert_same_fit(resumed.fit(X), reference("ProVLAE"))


_CHILD = """
import json, os, signal, sys
import numpy as np, torch
torch.set_num_threads(int(sys.argv[2]))
import skdisent._model_file
from skdisent import ProVLAE

calls = {"n": 0}
write_all = skdisent._model_file._write_all

def dying(file, data):  # the third checkpoint: half written, then the process is killed
    calls["n"] += 1
    if calls["n"] == 3:
        file.write(data[: len(data) // 2])
        file.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    write_all(file, data)

if sys.argv[3] == "mid-write":
    skdisent._model_file._write_all = dying
X = np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)
ProVLAE(checkpoint_dir=sys.argv[1], **json.loads(sys.argv[4])).fit(X)
"""


def _child(directory, mode, **params):
    settings = {**PROVLAE, **TINY, **params}
    args = [sys.executable, "-c", _CHILD, str(directory), str(torch.get_num_threads()), mode,
            json.dumps(settings)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_process_killed_while_writing_a_checkpoint_resumes_from_the_one_before(tmp_path):
    child = _child(tmp_path, "mid-write")
    _, stderr = child.communicate(timeout=300)
    assert child.returncode == -signal.SIGKILL, stderr.decode()
    assert [p.name for p in checkpoint_files(tmp_path)] == ["epoch-000002.safetensors"]
    assert len(list(tmp_path.glob(".epoch-000003.safetensors.*.tmp"))) == 1  # the torn write
    resumed = clone(BASES["ProVLAE"]).set_params(checkpoint_dir=tmp_path, warm_start=True)
    assert_same_fit(resumed.fit(X), reference("ProVLAE"))
    assert not list(tmp_path.glob(".*"))  # cleaned up by the next checkpoint


@pytest.mark.slow
def test_a_process_killed_at_any_moment_resumes_to_the_same_fit(tmp_path):
    params = dict(epochs_per_step=3, fade_in_steps=8)
    child = _child(tmp_path, "plain", **params)
    deadline = time.monotonic() + 300
    while not (tmp_path / "epoch-000004.safetensors").exists():
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.communicate()
    resumed = clone(BASES["ProVLAE"]).set_params(checkpoint_dir=tmp_path, warm_start=True,
                                                  **params)
    resumed.fit(X)
    assert_same_fit(resumed, clone(BASES["ProVLAE"]).set_params(**params).fit(X))


def test_a_fresh_fit_replaces_the_checkpoints_of_an_earlier_one(tmp_path):
    clone(BASES["VLAE"]).set_params(checkpoint_dir=tmp_path).fit(X)
    model = clone(BASES["VLAE"]).set_params(checkpoint_dir=tmp_path, n_epochs=1)
    with pytest.warns(UserWarning, match="earlier fit.*epoch-000003.*starts afresh"):
        model.fit(X)
    assert [p.name for p in checkpoint_files(tmp_path)] == ["epoch-000001.safetensors"]


def test_an_unreadable_newest_checkpoint_is_skipped(tmp_path, monkeypatch):
    interrupted(monkeypatch, "VLAE", checkpoint_dir=tmp_path)  # a checkpoint after epoch 1
    clone(BASES["VLAE"]).set_params(checkpoint_dir=tmp_path, n_epochs=2, warm_start=True).fit(X)
    newest = tmp_path / "epoch-000002.safetensors"
    newest.write_bytes(newest.read_bytes()[:1000])
    with pytest.warns(UserWarning, match="Skipping a checkpoint.*truncated"):
        model = load_checkpoint(tmp_path)
    assert model.n_iter_ == 1


def test_resuming_needs_the_same_model(tmp_path, monkeypatch):
    interrupted(monkeypatch, "VLAE", checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="holds a checkpoint of a VLAE; this is a BetaVAE"):
        clone(BASES["BetaVAE"]).set_params(checkpoint_dir=tmp_path, warm_start=True).fit(X)
    other = clone(BASES["VLAE"]).set_params(checkpoint_dir=tmp_path, warm_start=True,
                                            conv_channels=8)
    with pytest.raises(ValueError, match="checkpoint of another fit .conv_channels=4 there, 8 "
                                         "here"):
        other.fit(X)
    # Another seed or beta is another fit too: it used to resume from this one's checkpoint.
    for params in (dict(random_state=1), dict(beta=4.0)):
        other = clone(BASES["VLAE"]).set_params(checkpoint_dir=tmp_path, warm_start=True, **params)
        with pytest.raises(ValueError, match=f"{list(params)[0]}=.* there, .* here"):
            other.fit(X)
        assert not hasattr(other, "network_")
    # A longer budget, another learning rate or device continue the same fit.
    clone(BASES["VLAE"]).set_params(checkpoint_dir=tmp_path, warm_start=True, n_epochs=4,
                                    learning_rate=1e-4).fit(X)
    with pytest.raises(FileNotFoundError, match="No readable checkpoint"):
        load_checkpoint(tmp_path / "nothing")


# ------------------------------------------------------------ non-finite losses


def poison(monkeypatch, model, calls, value=float("nan")):
    """Make the optimisation steps numbered in ``calls`` (1-based) see a non-finite loss."""
    count = itertools.count(1)
    original = Trainer.optimize

    def poisoned(trainer, loss, name):
        if trainer.model is model and next(count) in calls:
            loss = loss * value
        return original(trainer, loss, name)

    monkeypatch.setattr(Trainer, "optimize", poisoned)
    return model


def test_reduce_lr_restarts_the_epoch_from_the_last_good_weights(monkeypatch):
    model = VLAE(levels=2, latent_dim=2, n_epochs=4, random_state=0, on_nan="reduce_lr",
                 nan_lr_factor=0.25, **TINY)
    # The second step of the fourth epoch sees an infinite loss.
    poison(monkeypatch, model, {3 * STEPS_PER_EPOCH + 2}, float("inf"))
    with pytest.warns(RuntimeWarning, match=r"non-finite loss \(inf\).*epoch 4.*times 0.25 "
                                            r"\(retry 1 of max_nan_retries=3\)"):
        model.fit(X)
    assert model.n_iter_ == 4 and model._training.optimizers["adam"].param_groups[0]["lr"] == 1.25e-4
    assert [(r["lr_scale"], r["nan_retries"]) for r in model.history_] == [
        (1.0, 0), (1.0, 0), (1.0, 0), (0.25, 1)]
    # The same as three epochs, then the fourth at a quarter of the learning rate.
    expected = VLAE(levels=2, latent_dim=2, n_epochs=3, random_state=0, **TINY).fit(X)
    expected.set_params(n_epochs=4, learning_rate=1.25e-4, warm_start=True).fit(X)
    monkeypatch.undo()
    model.history_ = timeless(model.history_, drop=("lr_scale", "nan_retries"))
    assert_same_fit(model, expected)


def test_reduce_lr_gives_up_after_max_nan_retries(tmp_path, monkeypatch):
    model = VLAE(levels=2, latent_dim=2, n_epochs=3, random_state=0, on_nan="reduce_lr",
                 max_nan_retries=2, checkpoint_dir=tmp_path, checkpoint_every=5, **TINY)
    poison(monkeypatch, model, set(range(STEPS_PER_EPOCH + 1, 100)))  # from epoch 2 on
    with pytest.warns(RuntimeWarning, match="retry"):
        with pytest.raises(NonFiniteLossError, match="last completed epoch \\(1\\); 2 retries"):
            model.fit(X)
    assert model.n_iter_ == 1 and len(model.history_) == 1
    assert model._training.lr_scale == 0.25
    # The last good state is on disk too, ready for a gentler warm start.
    assert [p.name for p in checkpoint_files(tmp_path)] == ["epoch-000001.safetensors"]


def test_raise_is_the_default_and_history_keeps_its_keys(monkeypatch):
    model = poison(monkeypatch, clone(BASES["VLAE"]), {STEPS_PER_EPOCH + 1})
    with pytest.raises(NonFiniteLossError, match="set on_nan='reduce_lr'"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no retry warning
            model.fit(X)
    assert model.n_iter_ == 1 and "lr_scale" not in model.history_[0]


def test_new_parameters_are_validated():
    for bad in (dict(on_nan="skip"), dict(nan_lr_factor=1.0), dict(checkpoint_every=0),
                dict(max_nan_retries=-1), dict(checkpoint_dir=3)):
        with pytest.raises(ValueError, match=list(bad)[0]):
            clone(BASES["VLAE"]).set_params(**bad).fit(X)


def test_two_fits_cannot_checkpoint_into_one_folder_at_once(tmp_path):
    second = clone(BASES["VLAE"]).set_params(checkpoint_dir=tmp_path, random_state=1)
    refused = []

    class StartSecondFit(Callback):
        def on_epoch_end(self, trainer, record):
            if trainer.model is not second and record["epoch"] == 1:
                with pytest.raises(ValueError) as error:
                    second.fit(X)
                refused.append(str(error.value))

    first = clone(BASES["VLAE"]).set_params(checkpoint_dir=tmp_path)
    with extra_callbacks(StartSecondFit()):
        first.fit(X)
    assert len(refused) == 1
    assert f"is in use by another fit (process {os.getpid()} on" in refused[0]
    assert not hasattr(second, "network_")
    # The first fit's checkpoints are whole, and the folder is free again.
    assert [p.name for p in checkpoint_files(tmp_path)] == [
        "epoch-000002.safetensors", "epoch-000003.safetensors"]
    assert_same_fit(load(tmp_path / "epoch-000003.safetensors"), first)
    assert not (tmp_path / ".lock").exists()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    (tmp_path / ".lock").write_text(f"{socket.gethostname()} {finished.stdout.strip()}")
    clone(BASES["VLAE"]).set_params(checkpoint_dir=tmp_path).fit(X)
    assert not (tmp_path / ".lock").exists()


def test_a_fit_that_fails_frees_its_folder(tmp_path, monkeypatch):
    model = poison(monkeypatch, clone(BASES["VLAE"]).set_params(checkpoint_dir=tmp_path), {6})
    with pytest.raises(NonFiniteLossError):
        model.fit(X)
    assert not (tmp_path / ".lock").exists()


def test_checkpoint_files_ignore_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".epoch-000009.safetensors.abc.tmp").write_bytes(b"torn")
    os.mkdir(tmp_path / "epoch-000010.safetensors")
    assert checkpoint_files(tmp_path) == []
    assert checkpoint_files(tmp_path / "missing") == []
