"""Model files that load without running code, and pickles that load without a GPU."""

import json
import pickle
import sys
import warnings

import joblib
import numpy as np
import pytest
import safetensors.torch
import torch
from sklearn.base import clone

import skdisent._model_file
from skdisent import VLAE, ModelFileError, load, save

from .models.conftest import TINY, tiny_models

X = np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)
MODELS = tiny_models()
IDS = [type(m).__name__ for m in MODELS]


@pytest.fixture(scope="module")
def fitted():
    return {type(m).__name__: clone(m).fit(X) for m in MODELS}


@pytest.fixture
def saved(fitted, tmp_path):
    return save(fitted["VLAE"], tmp_path / "vlae.safetensors")


def read_header(path):
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    return json.loads(json.loads(data[8:8 + size])["__metadata__"]["skdisent"])


def rewrite(path, header=None, tensors=None):
    """Rewrite a model file with its header or tensors changed, its checksum recomputed
    (as anyone can)."""
    content = safetensors.torch.load(path.read_bytes())
    meta = read_header(path)
    meta.pop("sha256")
    if header is not None:
        header(meta)
    if tensors is not None:
        tensors(content)
    meta["sha256"] = skdisent._model_file._digest(meta, content)
    path.write_bytes(safetensors.torch.save(content, metadata={"skdisent": json.dumps(meta)}))


def assert_same_model(model, expected):
    assert type(model) is type(expected)
    assert model.get_params() == expected.get_params()
    assert model.history_ == expected.history_
    for name in ("n_iter_", "n_steps_", "n_features_in_", "layout_", "input_shape_",
                 "latent_dims_", "n_components_"):
        assert getattr(model, name) == getattr(expected, name), name
    got, want = model.network_.state_dict(), expected.network_.state_dict()
    assert all(torch.equal(got[k], want[k]) for k in want) and list(got) == list(want)
    np.testing.assert_array_equal(model.transform(X), expected.transform(X))
    np.testing.assert_array_equal(model.sample(3, random_state=0),
                                  expected.sample(3, random_state=0))
    assert model.score(X) == expected.score(X)


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", IDS)
def test_save_load_round_trip(fitted, name, tmp_path):
    path = save(fitted[name], tmp_path / "model.safetensors")
    assert path == tmp_path / "model.safetensors"
    model = load(str(path))
    assert_same_model(model, fitted[name])
    assert next(model.network_.parameters()).device.type == "cpu"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_loading_runs_no_pickle(saved, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load must not unpickle")

    for module, name in [(pickle, "load"), (pickle, "loads"), (torch, "load")]:
        monkeypatch.setattr(module, name, refuse)
    assert load(saved).n_iter_ == 2


def test_the_file_is_plain_safetensors_with_a_json_header(saved, fitted):
    header = read_header(saved)
    assert header["format"] == "skdisent-model" and header["format_version"] == 2
    assert header["class"] == "VLAE"
    assert header["params"]["latent_dim"] == 2 and header["fitted"]["n_iter_"] == 2
    assert [r["epoch"] for r in header["history"]] == [1, 2]
    weights = {k[len("network/weights/"):]: v for k, v in
               safetensors.torch.load(saved.read_bytes()).items()
               if k.startswith("network/weights/")}
    expected = fitted["VLAE"].network_.state_dict()
    assert set(weights) == set(expected)  # readable by any safetensors reader
    assert all(torch.equal(weights[k], expected[k]) for k in expected)


def test_unfitted_models_and_unusual_parameters_round_trip(tmp_path):
    model = VLAE(image_shape=(16, 16), checkpoint_dir=tmp_path / "ckpt",
                 random_state=np.random.RandomState(3))
    copy = load(save(model, tmp_path / "m.safetensors"))
    params = copy.get_params()
    assert params.pop("image_shape") == (16, 16)
    assert params.pop("checkpoint_dir") == tmp_path / "ckpt"
    state = params.pop("random_state").get_state()
    expected = model.get_params()
    expected.pop("image_shape"), expected.pop("checkpoint_dir")
    assert np.array_equal(state[1], expected.pop("random_state").get_state()[1])
    assert params == expected and not hasattr(copy, "network_")


def test_fitted_attributes_from_a_dataframe_round_trip(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(np.random.default_rng(0).random((32, 6)),
                         columns=[f"f{i}" for i in range(6)])
    model = VLAE(levels=2, latent_dim=1, n_epochs=1, likelihood="gaussian", random_state=0,
                 **TINY).fit(frame)
    copy = load(save(model, tmp_path / "m.safetensors"))
    assert copy.feature_names_in_.dtype == object
    assert list(copy.feature_names_in_) == list(model.feature_names_in_)
    np.testing.assert_array_equal(copy.transform(frame), model.transform(frame))


def test_save_refuses_what_it_cannot_store(fitted, tmp_path):
    with pytest.raises(TypeError, match="skdisent estimators; got list"):
        save([], tmp_path / "x")
    model = clone(MODELS[1])
    model.n_iter_ = object()
    with pytest.raises(TypeError, match="fitted.n_iter_ of type object"):
        save(model, tmp_path / "x")
    assert not list(tmp_path.iterdir())


def test_save_is_atomic(fitted, tmp_path, monkeypatch):
    path = save(fitted["VLAE"], tmp_path / "m.safetensors")
    before = path.read_bytes()

    def crash(file, data):
        file.write(data[: len(data) // 3])
        raise KeyboardInterrupt

    monkeypatch.setattr(skdisent._model_file, "_write_all", crash)
    with pytest.raises(KeyboardInterrupt):
        save(fitted["ProVLAE"], path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [path.name]


# ------------------------------------------------------------------ bad files


@pytest.mark.parametrize("keep", [0, 5, 100, -1], ids=["empty", "in-length", "in-header",
                                                        "in-weights"])
def test_a_truncated_file_is_refused(saved, keep):
    data = saved.read_bytes()
    saved.write_bytes(data[:keep] if keep >= 0 else data[:-7])
    with pytest.raises(ModelFileError, match="truncated"):
        load(saved)


def test_corrupt_bytes_are_caught_by_the_checksum(saved):
    data = bytearray(saved.read_bytes())
    data[-100] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="does not match its checksum: the file is corrupt"):
        load(saved)


def test_a_corrupt_header_is_refused(saved):
    data = bytearray(saved.read_bytes())
    data[20] = ord("}")
    saved.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="corrupt"):
        load(saved)


@pytest.mark.parametrize("version, match", [
    (3, "uses model file format 3, written by skdisent .*reads formats 1 to 2. Upgrade skdisent"),
    (0, "uses model file format 0.*reads formats 1 to 2 only"),
    ("2", "format_version is '2'"),
])
def test_other_format_versions_are_refused(saved, version, match):
    rewrite(saved, header=lambda h: h.update(format_version=version))
    with pytest.raises(ModelFileError, match=match):
        load(saved)


def test_weights_that_do_not_match_the_parameters_are_refused(saved):
    rewrite(saved, header=lambda h: h["params"].update(conv_channels=8))
    with pytest.raises(ModelFileError, match="do not match the parameters of the VLAE: "
                                             "conv_channels=8 from the parameters but 4"):
        load(saved)


def test_weights_of_the_wrong_shape_are_refused(saved):
    def shrink(tensors):
        name = next(k for k, v in tensors.items()
                    if k.startswith("network/") and v.ndim == 4 and v.shape[1] > 1)
        tensors[name] = tensors[name][:, :1].contiguous()

    rewrite(saved, tensors=shrink)
    with pytest.raises(ModelFileError, match="do not match the parameters.*has shape"):
        load(saved)


def test_missing_tensors_are_refused(saved):
    def drop(tensors):
        del tensors[next(k for k in tensors if k.startswith("network/"))]

    rewrite(saved, tensors=drop)
    with pytest.raises(ModelFileError, match="tensor .* its header names is missing"):
        load(saved)


def test_files_not_written_by_save_are_refused(tmp_path, fitted):
    path = tmp_path / "x"
    joblib.dump(fitted["VLAE"], path)
    with pytest.raises(ModelFileError, match="looks like a pickle"):
        load(path)
    torch.save({"a": torch.zeros(2)}, path)
    with pytest.raises(ModelFileError, match="looks like a pickle or torch.save"):
        load(path)
    safetensors.torch.save_file({"a": torch.zeros(2)}, path)
    with pytest.raises(ModelFileError, match="without skdisent's metadata"):
        load(path)
    path.write_bytes(b"\x10" + bytes(100))
    with pytest.raises(ModelFileError, match="corrupt"):
        load(path)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing")


@pytest.mark.parametrize("name", ["evil_module_xyz.Boom", "skdisent.io.save", "save",
                                  "torch._guards.CompileId", "Nope"])
def test_only_skdisents_estimators_are_built(saved, name):
    rewrite(saved, header=lambda h: h.update(**{"class": name}))
    with pytest.raises(ModelFileError, match="not one of this skdisent's estimators"):
        load(saved)
    assert "evil_module_xyz" not in sys.modules


def test_an_edited_header_is_caught_by_the_checksum(saved):
    content = safetensors.torch.load(saved.read_bytes())
    meta = read_header(saved)
    meta["params"]["beta"] = 8.0  # the checksum left as it was
    saved.write_bytes(safetensors.torch.save(content, metadata={"skdisent": json.dumps(meta)}))
    with pytest.raises(ModelFileError, match="does not match its checksum"):
        load(saved)


def test_a_training_state_that_does_not_fit_the_network_is_refused(saved):
    # An empty optimiser moment would make the fused Adam of a warm start read out of bounds.
    def empty(tensors):
        tensors[next(k for k in sorted(tensors) if k.endswith("/exp_avg"))] = torch.zeros(0)

    rewrite(saved, tensors=empty)
    with pytest.raises(ModelFileError, match=r"corrupt: adam: exp_avg of parameter \d+ has shape "
                                             r"\(0,\), the parameter implies"):
        load(saved)


@pytest.mark.parametrize("spoil, match", [
    (lambda t: t.fill_(float("nan")), "holds NaN or infinite values"),
    (lambda t: t.to(torch.int64), "is torch.int64, not torch.float32"),
])
def test_weights_with_nan_or_of_another_type_are_refused(saved, spoil, match):
    def spoiled(tensors):
        name = next(k for k in sorted(tensors) if k.startswith("network/") and "weight" in k)
        tensors[name] = spoil(tensors[name].clone())

    rewrite(saved, tensors=spoiled)
    with pytest.raises(ModelFileError, match=match):
        load(saved)


def test_a_schedule_without_the_models_counters_is_refused(fitted, tmp_path):
    path = save(fitted["ProVLAE"], tmp_path / "provlae.safetensors")
    rewrite(path, header=lambda h: h["training"].update(schedule={}))
    with pytest.raises(ModelFileError, match=r"schedule has the counters \[\], a ProVLAE "
                                             r"\['fade_in_start'\]"):
        load(path)


def test_fitted_entries_the_class_does_not_have_are_refused(saved):
    rewrite(saved, header=lambda h: h["fitted"].update(transform=1))
    with pytest.raises(ModelFileError, match=r"a VLAE has no fitted attributes \['transform'\]"):
        load(saved)


def test_unknown_tags_are_refused(saved):
    rewrite(saved, header=lambda h: h["fitted"].update(x_={"__pickle__": "gASV"}))
    with pytest.raises(ModelFileError, match="unknown tag '__pickle__'"):
        load(saved)


# ------------------------------------------------------- pickles without a GPU


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)


@pytest.mark.parametrize("name", IDS)
def test_pickled_state_holds_only_cpu_tensors(fitted, name, tmp_path):
    state = fitted[name].__getstate__()
    tensors = list(_tensors(state))
    assert len(tensors) > 10 and all(t.device.type == "cpu" for t in tensors)
    assert state["training"]["noise_device"] == "cpu"
    joblib.dump(fitted[name], tmp_path / "m.joblib")
    copy = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(copy.transform(X), fitted[name].transform(X))


def _as_if_fitted_on_cuda(model, monkeypatch):
    """Pickle bytes of ``model`` as a CUDA machine writes them: a CUDA noise generator."""
    state = model.__getstate__()
    state["params"]["device"] = "cuda"
    # A CUDA (Philox) generator's state: 8 bytes of seed and 8 of offset.
    state["training"]["noise_generator"] = torch.tensor([7, 0, 0, 0, 0, 0, 0, 0] + [16] + [0] * 7,
                                                        dtype=torch.uint8)
    state["training"]["noise_device"] = "cuda:0"
    with monkeypatch.context() as patch:
        patch.setattr(type(model), "__getstate__", lambda self: state)
        return pickle.dumps(model)


def test_a_model_fitted_on_cuda_loads_and_runs_without_a_gpu(fitted, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    expected = fitted["ProVLAE"]
    model = pickle.loads(_as_if_fitted_on_cuda(expected, monkeypatch))
    assert model._training.noise_generator.device.type == "cpu"
    with pytest.warns(UserWarning, match="device='cuda', but no CUDA GPU is available here: "
                                         "the model runs on the CPU"):
        Z = model.transform(X)
    np.testing.assert_array_equal(Z, expected.transform(X))
    # Training goes on only where the user says so: fit refuses a missing GPU.
    model.set_params(warm_start=True, epochs_per_step=2)
    with pytest.raises(ValueError, match="no CUDA GPU is available. Set device='cpu'"):
        model.fit(X)
    model.set_params(device="cpu").fit(X)
    assert model.n_iter_ == 4 and np.isfinite(model.transform(X)).all()
    # ...and is repeatable: the CPU noise generator is seeded from the CUDA one's state.
    again = pickle.loads(_as_if_fitted_on_cuda(expected, monkeypatch))
    again.set_params(warm_start=True, epochs_per_step=2, device="cpu").fit(X)
    np.testing.assert_array_equal(again.transform(X), model.transform(X))


def test_device_auto_needs_no_warning_without_a_gpu(fitted, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model = pickle.loads(pickle.dumps(fitted["VLAE"])).set_params(device="auto")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(model.transform(X), fitted["VLAE"].transform(X))


def test_a_model_fitted_on_cuda_saves_and_loads_as_a_model_file(fitted, monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model = pickle.loads(_as_if_fitted_on_cuda(fitted["BetaVAE"], monkeypatch))
    copy = load(save(model.set_params(device="cpu"), tmp_path / "m.safetensors"))
    np.testing.assert_array_equal(copy.transform(X), fitted["BetaVAE"].transform(X))
