"""A model file changed in any way is refused with a ModelFileError, or loads as a valid model.

Random bit flips (the checksum left as it was), and header values replaced by arbitrary
JSON with the checksum recomputed, as anyone can: nothing may crash, hang, allocate what
the file does not hold, or give any other exception. Bounded in time (a few seconds).
"""

import json

import numpy as np
import pytest
import safetensors.torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import skdisent._model_file
from skdisent import ModelFileError, ProVLAE, load, save

from .models.conftest import TINY

X = np.random.default_rng(0).integers(0, 256, size=(32, 1, 16, 16), dtype=np.uint8)


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    model = ProVLAE(levels=2, latent_dim=2, epochs_per_step=1, fade_in_steps=1, random_state=0,
                    **TINY).fit(X)
    path = save(model, tmp_path_factory.mktemp("fuzz") / "model.safetensors")
    return path.read_bytes(), model.transform(X)


def outcome(path, codes):
    """``"refused"`` or ``"same"``; anything else fails the test."""
    try:
        model = load(path)
    except ModelFileError:
        return "refused"
    np.testing.assert_array_equal(model.transform(X), codes)
    return "same"


def test_bit_flips_are_refused(original, tmp_path):
    data, codes = original
    header = 8 + int.from_bytes(data[:8], "little")
    rng = np.random.default_rng(0)
    # 400 in the length and the JSON header, 100 in the tensors
    places = np.concatenate([rng.integers(0, header, 400), rng.integers(header, len(data), 100)])
    outcomes = []
    for place in places:
        spoiled = bytearray(data)
        spoiled[place] ^= 1 << int(rng.integers(8))
        path = tmp_path / "flipped.safetensors"
        path.write_bytes(bytes(spoiled))
        outcomes.append(outcome(path, codes))
    assert outcomes.count("refused") == len(outcomes)


def _nodes(value, path=()):
    """Every place in a JSON value, as a path of keys and indices."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _nodes(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nodes(item, (*path, index))


def _replace(value, path, new):
    if not path:
        return new
    value[path[0]] = _replace(value[path[0]], path[1:], new)
    return value


_SCALARS = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
_TAGS = st.sampled_from(["__tuple__", "__items__", "__float__", "__scalar__", "__tensor__",
                         "__ndarray__", "__path__", "__random_state__", "__dataclass__",
                         "__pickle__"])
_DTYPES = st.sampled_from(["<f4", "<f8", "<i8", "|O", "<U200000000", "|V8", "<M8", "|b1", "x"])
_JSON = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
        | st.fixed_dictionaries({"__ndarray__": _DTYPES,
                                 "shape": st.lists(st.integers(-1, 10**12), max_size=3),
                                 "data": st.lists(children, max_size=4)})
        | st.builds(lambda tag, body: {tag: body}, _TAGS, children)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(choice=st.integers(0, 10**9), new=_JSON)
def test_any_header_value_is_refused_or_gives_a_valid_model(original, tmp_path, choice, new):
    data, codes = original
    tensors = safetensors.torch.load(data)
    size = int.from_bytes(data[:8], "little")
    header = json.loads(json.loads(data[8:8 + size])["__metadata__"]["skdisent"])
    header.pop("sha256")
    places = list(_nodes(header))[1:]
    header = _replace(header, places[choice % len(places)], new)
    header["sha256"] = skdisent._model_file._digest(header, tensors)
    path = tmp_path / "edited.safetensors"
    path.write_bytes(safetensors.torch.save(tensors, metadata={"skdisent": json.dumps(header)}))
    try:
        model = load(path)
    except ModelFileError:
        return
    # What loads is a working model (an edit of, say, a history value changes nothing else).
    assert np.isfinite(model.transform(X)).all()


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,                                 # nested too deep
    '{"__ndarray__": "<U200000000", "shape": [1], "data": ["a"]}',   # a string array's size
    '{"__ndarray__": "<f8", "shape": [1000000000000], "data": []}',  # an array's size
])
def test_sizes_and_depths_a_header_declares_are_bounded(original, tmp_path, text):
    data, _ = original
    tensors = safetensors.torch.load(data)
    size = int.from_bytes(data[:8], "little")
    header = json.loads(json.loads(data[8:8 + size])["__metadata__"]["skdisent"])
    header.pop("sha256")
    header["history"][0]["loss"] = "PLACEHOLDER"
    digestless = json.dumps(header).replace('"PLACEHOLDER"', text)
    header = json.loads(digestless) if len(text) < 1000 else None
    sha = skdisent._model_file._digest(header, tensors) if header is not None else "0" * 64
    metadata = digestless[:-1] + f', "sha256": "{sha}"}}'
    path = tmp_path / "bounded.safetensors"
    path.write_bytes(safetensors.torch.save(tensors, metadata={"skdisent": metadata}))
    with pytest.raises(ModelFileError):
        load(path)
