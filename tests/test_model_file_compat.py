"""Model files written by earlier skdisent versions still load and train on.

The files in ``tests/fixtures/`` were written by the last main of format 1 (see
``make_model_files_v1.py`` there). Codes are compared within float32 rounding, not bit
for bit: the files were written on one CPU and are read on whichever runs the tests.
"""

import pathlib
import warnings

import numpy as np
import pytest
import torch

from skdisent import load

from .fixtures.make_model_files_v1 import images, videos

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
NAMES = ["betavae", "vlae", "provlae", "ldf"]


@pytest.fixture(scope="module")
def expected():
    with np.load(FIXTURES / "expected_v1.npz") as arrays:
        return dict(arrays)


def _data(name):
    return videos() if name == "ldf" else images()


@pytest.mark.parametrize("name", NAMES)
def test_a_format_1_file_loads_and_encodes_as_it_did(name, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = load(FIXTURES / f"{name}_v1.safetensors")
    if name != "ldf":  # parameters added since: as the file was trained
        assert model.get_params()["normalization"] == "batch"
        assert model.get_params()["initialization"] == "torch"
        assert model.get_params()["architecture"] == "vlae"
    columns = slice(None)
    if name == "provlae":  # since the reference's gating, inactive levels encode their input
        columns = slice(sum(model.latent_dims_[:model.levels - 1 - model.history_[-1]["step"]]),
                        None)
    np.testing.assert_allclose(model.transform(_data(name))[:, columns],
                               expected[f"{name}_codes"][:, columns], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.sample(3, random_state=0), expected[f"{name}_samples"],
                               rtol=1e-5, atol=1e-6)


@pytest.fixture
def one_thread():
    """The files were written with one torch thread; training results depend on the count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_format_1_provlae_resumes_inside_its_fade_in(expected, one_thread):
    # The codes after resuming are not compared with the old ones: an inactive level's head
    # now sees its input (the reference's gating), so the training goes another way.
    model = load(FIXTURES / "provlae_v1.safetensors")
    assert model.n_iter_ == 3 and model.n_steps_ == 12 and len(model.history_) == 3
    assert model.history_[-1]["step"] == 1
    fade_in = model.history_[-1]["fade_in"]
    model.set_params(warm_start=True).fit(images())
    assert model.n_iter_ == 6
    assert model.history_[3]["step"] == 1 and model.history_[3]["fade_in"] > fade_in
    assert np.isfinite(model.transform(images())).all()
