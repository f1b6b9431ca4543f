"""inception_score and frechet_inception_distance: never a download unasked, the code path on random weights.

With random weights the values mean nothing about images; what is checked is the machinery:
the weights' loading and its errors, the formula on the network's outputs, a set against itself.
The network itself was checked against torch-fidelity 0.4.0's FeatureExtractorInceptionV3 on the
same random weights (pooled features and logits equal within 3e-8, the 299x299 resize bit-exact),
outside the suite because torch-fidelity needs a torchvision built for this torch.
"""

import numpy as np
import pytest
import torch

from skdisent.metrics import frechet_inception_distance, inception_score
from skdisent.metrics._inception import (
    WEIGHTS_URL,
    FIDInception,
    _resize_like_tensorflow1,
)


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """A state dict of the network with random values (batch norm statistics too), and its file."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = FIDInception()
        for module in network.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_var.uniform_(0.5, 2.0)
                module.running_mean.uniform_(-0.1, 0.1)
        network.fc.weight.data.mul_(200.0)  # logits large enough for the softmax to vary
    state = network.state_dict()
    path = tmp_path_factory.mktemp("inception") / "random_inception.pth"
    torch.save(state, path)
    return state, path


@pytest.fixture
def no_download(monkeypatch):
    def refuse(*args, **kwargs):
        pytest.fail("something tried to download")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


def images(n, seed=0, size=32):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 3, size, size), dtype=np.uint8)


def test_without_weights_a_clear_error_and_no_download(no_download):
    for call in (lambda: inception_score(images(4)), lambda: frechet_inception_distance(images(4), images(4))):
        with pytest.raises(ValueError, match="needs the weights") as info:
            call()
        assert "weights='download'" in str(info.value) and "Nothing was downloaded" in str(info.value)
    with pytest.raises(FileNotFoundError, match="Nothing was downloaded"):
        inception_score(images(4), weights="no/such/file.pth")


def test_weights_of_another_network_are_refused(random_weights, no_download):
    state = dict(random_weights[0])
    del state["fc.bias"]
    with pytest.raises(ValueError, match="not those of the FID Inception"):
        inception_score(images(4), weights=state)
    with pytest.raises(ValueError, match="not those of the FID Inception"):
        inception_score(images(4), weights={**random_weights[0], "fc.weight": torch.zeros(10, 2048)})


def test_download_only_when_asked_with_the_hash_checked(random_weights, monkeypatch):
    calls = []

    def fake_hub(url, **kwargs):
        calls.append((url, kwargs))
        return random_weights[0]

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake_hub)
    inception_score(images(2), weights="download", n_splits=1)
    assert calls == [(WEIGHTS_URL, {"map_location": "cpu", "check_hash": True, "weights_only": True})]


def test_inception_score_is_the_formula_on_the_networks_logits(random_weights, no_download):
    state, path = random_weights
    x = images(6)
    score, std = inception_score(x, weights=path, n_splits=2, batch_size=4, return_std=True)
    network = FIDInception()
    network.load_state_dict(state)
    with torch.no_grad():
        p = torch.softmax(network.eval()(torch.from_numpy(x).float())[1].double(), dim=1).numpy()
    splits = [np.exp(np.mean(np.sum(q * (np.log(q) - np.log(q.mean(axis=0))), axis=1))) for q in (p[:3], p[3:])]
    assert 1.0 < score <= 1008
    assert score == pytest.approx(np.mean(splits), rel=1e-6) and std == pytest.approx(np.std(splits), rel=1e-5)
    assert inception_score(x / 255.0, weights=state, n_splits=2) == pytest.approx(score, rel=1e-5)
    with pytest.raises(ValueError, match=r"RGB images \(n, 3, H, W\)"):
        inception_score(x[:, :1], weights=state)


def test_resize_keeps_a_constant_image_and_samples_from_the_top_left():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    out = _resize_like_tensorflow1(x, 8)
    assert out.shape == (1, 1, 8, 8)
    assert out[0, 0, 0, 0] == 0 and out[0, 0, 2, 2] == x[0, 0, 1, 1]  # TF1: source = target * in / out
    assert out[0, 0, -1, -1] == 15  # clamped at the border
    torch.testing.assert_close(_resize_like_tensorflow1(torch.full((2, 3, 5, 7), 9.0), 299),
                               torch.full((2, 3, 299, 299), 9.0))


@pytest.mark.slow
def test_fid_of_a_set_against_its_own_statistics_is_zero(random_weights, no_download):
    state, path = random_weights
    x = images(12)
    network = FIDInception()
    network.load_state_dict(state)
    with torch.no_grad():
        features = network.eval()(torch.from_numpy(x).float())[0].double().numpy()
    statistics = (features.mean(axis=0), np.cov(features, rowvar=False))
    assert frechet_inception_distance(x, statistics, weights=path) == pytest.approx(0.0, abs=1e-6)
