"""The estimators' channels-last ladder is the classic ladder with its dense weights permuted."""

import numpy as np
import pytest
import torch
from torch import nn

from skdisent import VLAE, load, save
from skdisent.nn import LadderNetwork

from .conftest import TINY


def _hwc_order(shape):
    """Row index in (C, H, W) order for each row index in (H, W, C) order."""
    channels, height, width = shape
    return torch.arange(channels * height * width).reshape(shape).permute(1, 2, 0).flatten()


def _reordered_twin(network, channels_last):
    """A ladder of the other layout that computes what ``network`` computes."""
    twin = LadderNetwork(**{**network.config, "channels_last": channels_last})
    state = {key: value.clone() for key, value in network.state_dict().items()}
    sizes, channels = network.sizes, network.conv_channels

    def to_new(order):
        return order if channels_last else torch.argsort(order)

    for level, head in enumerate(network.heads):
        if isinstance(head, nn.Identity):
            continue
        order = to_new(_hwc_order((channels, *sizes[level + 2])))
        key = f"heads.{level}.4.weight"  # the first dense layer after the flatten
        state[key] = state[key][:, order]
    maps = [("top", 3, sizes[network.depth + 1])]
    maps += [(f"laterals.{level}", 3, sizes[level + 2])
             for level, lateral in enumerate(network.laterals)
             if not isinstance(lateral, nn.Identity)]
    for prefix, linear, size in maps:  # dense layer + ELU + normalisation, then the unflatten
        order = to_new(_hwc_order((channels, *size)))
        for key in (f"{prefix}.{linear}.weight", f"{prefix}.{linear}.bias",
                    f"{prefix}.{linear + 2}.weight", f"{prefix}.{linear + 2}.bias",
                    f"{prefix}.{linear + 2}.running_mean", f"{prefix}.{linear + 2}.running_var"):
            if key in state:  # batch norm's statistics; an affine normalisation has none
                state[key] = state[key][order]
    twin.load_state_dict(state)
    return twin


@pytest.mark.parametrize("input_shape, latent_dims", [
    ((1, 16, 16), (2, 0, 3)), ((3, 28, 20), (2, 2)), ((1, 64, 64), (3, 3, 3)),
])
def test_channels_last_ladder_computes_the_same_function(input_shape, latent_dims):
    torch.manual_seed(0)
    classic = LadderNetwork(input_shape, latent_dims, conv_channels=8, dense_units=16)
    fast = _reordered_twin(classic, channels_last=True)
    assert fast.trunk[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.rand(5, *input_shape)
    gates = torch.ones(len(latent_dims))
    for network in (classic, fast):
        network.eval()
    with torch.no_grad():
        mus, logvars = classic.encode(x, gates)
        fast_mus, fast_logvars = fast.encode(x, gates)
        for expected, got in zip(mus + logvars, fast_mus + fast_logvars):
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
        zs = [torch.randn(5, dim) for dim in latent_dims]
        torch.testing.assert_close(fast.decode(zs, gates), classic.decode(zs, gates),
                                   rtol=1e-4, atol=1e-5)


def test_estimators_train_a_channels_last_ladder_and_return_plain_arrays(images):
    model = VLAE(levels=2, latent_dim=2, n_epochs=1, random_state=0, **TINY).fit(images)
    assert model.network_.config["channels_last"] is True
    reconstructed = model.inverse_transform(model.transform(images[:4]))
    assert reconstructed.shape == images[:4].shape
    assert reconstructed.flags["C_CONTIGUOUS"]
    assert model.sample(3).flags["C_CONTIGUOUS"]


def test_model_file_of_a_channels_first_ladder_still_loads(images, tmp_path):
    model = VLAE(levels=2, latent_dim=2, n_epochs=1, random_state=0, **TINY).fit(images)
    codes = model.transform(images)
    model.network_ = _reordered_twin(model.network_, channels_last=False)
    model._training.optimizers = model._build_optimizers(model.network_)
    np.testing.assert_allclose(model.transform(images), codes, rtol=1e-4, atol=1e-5)
    save(model, tmp_path / "old.skd")
    loaded = load(tmp_path / "old.skd")
    assert loaded.network_.config["channels_last"] is False
    np.testing.assert_allclose(loaded.transform(images), codes, rtol=1e-4, atol=1e-5)
