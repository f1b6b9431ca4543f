"""The networks and settings of the pro-VLAE reference: normalisation, widths, CelebA, presets."""

import numpy as np
import pytest
import torch
from torch import nn

from skdisent import VLAE, BetaVAE, ProVLAE
from skdisent.models import PAPER_SETTINGS, paper_model
from skdisent.nn import CelebALadderNetwork, LadderNetwork
from skdisent.nn.init import reset_parameters
from skdisent.nn.ladder_celeba import LOGVAR_RANGE, _ConvSame, _TransposedSame
from skdisent.nn.layers import ChannelAffine

from .conftest import TINY


def test_channel_affine_is_tf1_batch_norm_with_its_initial_statistics():
    torch.manual_seed(0)
    affine = ChannelAffine(5)
    with torch.no_grad():
        affine.weight.uniform_(0.5, 2.0)
        affine.bias.normal_()
    frozen = nn.BatchNorm2d(5, eps=1e-3).eval()  # running mean 0, variance 1
    frozen.load_state_dict({"weight": affine.weight, "bias": affine.bias,
                            "running_mean": torch.zeros(5), "running_var": torch.ones(5),
                            "num_batches_tracked": torch.tensor(0)})
    x = torch.randn(4, 5, 3, 3)
    torch.testing.assert_close(affine(x), frozen(x))
    torch.testing.assert_close(affine(x[:, :, 0, 0]), frozen(x)[:, :, 0, 0])


@pytest.mark.parametrize("shape", [(1, 16, 16), (10,)])
def test_an_affine_ladder_keeps_no_statistics_and_computes_alike_in_training_and_evaluation(shape):
    torch.manual_seed(0)
    network = LadderNetwork(shape, (2, 2), conv_channels=4, dense_units=8, normalization="affine")
    assert not list(network.buffers())
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in network.modules())
    x, gates = torch.rand(6, *shape), torch.ones(2)
    train = network.train().encode(x, gates)
    evaluation = network.eval().encode(x, gates)
    for a, b in zip(train, evaluation):
        for level_a, level_b in zip(a, b):
            torch.testing.assert_close(level_a, level_b)


def test_per_level_widths():
    network = LadderNetwork((1, 32, 32), (2, 2, 2), conv_channels=(4, 6, 8), dense_units=8)
    assert [g[0].out_channels for g in network.trunk] == [4, 6, 8]
    assert [h[0].out_channels for h in network.heads] == [4, 6, 8]
    assert network.top[-3].out_channels == 8  # d_3 at h_3's size has h_3's width
    assert [u[0].out_channels for u in network.ups] == [4, 6]
    g = torch.ones(3)
    log_likelihood, kl = network(torch.rand(3, 1, 32, 32), g, g)
    assert log_likelihood.shape == (3,) and kl.shape == (3, 3)
    with pytest.raises(ValueError, match="one per level"):
        LadderNetwork((1, 32, 32), (2, 2, 2), conv_channels=(4, 6))


def test_same_padding_convolutions_are_each_others_transpose():
    torch.manual_seed(0)
    conv, transposed = _ConvSame(3, 5), _TransposedSame(5, 3)
    with torch.no_grad():
        transposed.weight.copy_(conv.weight)
        conv.bias.zero_()
        transposed.bias.zero_()
    x, y = torch.randn(2, 3, 8, 8), torch.randn(2, 5, 8, 8)
    assert conv(x).shape == y.shape and transposed(y).shape == x.shape
    # <conv(x), y> == <x, conv^T(y)>: the transposed layer is the adjoint.
    torch.testing.assert_close((conv(x) * y).sum(), (x * transposed(y)).sum(), rtol=1e-5, atol=1e-4)
    # TF's 'same' for an even kernel pads one before and two after.
    padded = nn.functional.conv2d(nn.functional.pad(x, (1, 2, 1, 2)), conv.weight)
    torch.testing.assert_close(conv(x), padded)


def test_the_celeba_network_is_the_references():
    network = CelebALadderNetwork((3, 64, 64), (7, 7, 7, 7))
    assert network.widths == (64, 128, 256, 512)
    assert [g[0].out_channels for g in network.trunk] == [64, 128, 256, 512]
    convs = [[(m.out_channels, m.stride[0]) for m in head.modules() if isinstance(m, nn.Conv2d)]
             for head in network.heads]
    assert convs == [[(64, 2), (64, 1)], [(128, 2), (256, 2)], [(256, 2), (512, 2)], []]
    dense = [m.out_features for m in network.heads[3].modules() if isinstance(m, nn.Linear)]
    assert dense == [1024, 1024, 14]
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in network.top.modules())
    activations = [m for m in network.modules() if isinstance(m, (nn.LeakyReLU, nn.ELU))]
    assert activations and all(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.2
                               for m in activations)
    # The shallowest lateral path and transposed convolution are not normalised.
    assert not any(isinstance(m, ChannelAffine) for m in network.laterals[0].modules())
    assert not any(isinstance(m, ChannelAffine) for m in network.ups[0].modules())


def test_the_celeba_network_clips_log_variances_but_draws_with_the_unclipped_ones():
    torch.manual_seed(0)
    network = CelebALadderNetwork((1, 32, 32), (0, 0, 0, 1), conv_channels=2, dense_units=4)
    with torch.no_grad():
        network.heads[3][-1].bias[1] = 10.0  # a log-variance far above the clip
    x, gates = torch.rand(3, 1, 32, 32), torch.ones(4)
    _, logvars = network.encode(x, gates)
    assert torch.all(logvars[3] == LOGVAR_RANGE[1])
    noise = network.draw_noise(3, torch.Generator().manual_seed(0))
    mus, raw = network._posterior_parameters(x, gates)
    assert torch.all(raw[3] > LOGVAR_RANGE[1])
    log_likelihood, kl = network(x, gates, gates, noise=noise)
    clipped = 0.5 * (mus[3] ** 2 + torch.exp(logvars[3]) - 1 - logvars[3]).sum(dim=1)
    torch.testing.assert_close(kl[:, 3], clipped)

    def log_likelihood_with(logvar):
        zs = [m + torch.exp(0.5 * v) * eps for m, v, eps in zip(mus[:3], raw[:3], noise[:3])]
        zs.append(mus[3] + torch.exp(0.5 * logvar) * noise[3])
        return network.likelihood.log_prob(network.decode(zs, gates), x)

    torch.testing.assert_close(log_likelihood, log_likelihood_with(raw[3]))
    assert not torch.allclose(log_likelihood, log_likelihood_with(logvars[3]))


def test_the_celeba_network_refuses_what_it_cannot_model():
    with pytest.raises(ValueError, match="multiples of 32"):
        CelebALadderNetwork((3, 48, 48), (1, 1, 1, 1))
    with pytest.raises(ValueError, match="4 levels"):
        CelebALadderNetwork((3, 64, 64), (1, 1, 1))
    with pytest.raises(ValueError, match="flat rows"):
        CelebALadderNetwork((10,), (1, 1, 1, 1))


_SMALL = {"conv_channels": 4, "dense_units": 8, "batch_size": 16, "device": "cpu",
          "random_state": 0, "fade_in_steps": 2}


@pytest.mark.parametrize("dataset", sorted(PAPER_SETTINGS))
@pytest.mark.parametrize("model", ["provlae", "vlae", "betavae"])
def test_every_paper_setting_builds_and_fits_on_small_data(dataset, model):
    channels = 3 if dataset in ("3dshapes", "celeba") else 1
    X = np.random.default_rng(0).integers(0, 256, size=(32, channels, 32, 32), dtype=np.uint8)
    estimator = paper_model(dataset, model, epochs_per_step=1, **_SMALL)
    expected = {"provlae": ProVLAE, "vlae": VLAE, "betavae": BetaVAE}[model]
    assert type(estimator) is expected
    assert estimator.architecture == PAPER_SETTINGS[dataset]["architecture"]
    levels, dim = PAPER_SETTINGS[dataset]["levels"], PAPER_SETTINGS[dataset]["latent_dim"]
    estimator.fit(X)
    assert estimator.transform(X).shape == (32, levels * dim)
    assert estimator.n_iter_ == levels  # one epoch per step, or as many epochs


def test_paper_model_refuses_unknown_names():
    with pytest.raises(ValueError, match="dataset must be one of"):
        paper_model("cifar")
    with pytest.raises(ValueError, match="model must be"):
        paper_model("dsprites", "nvae")


def test_celeba_architecture_through_the_estimators():
    X = np.random.default_rng(0).integers(0, 256, size=(32, 3, 32, 32), dtype=np.uint8)
    model = BetaVAE(n_components=3, depth=4, n_epochs=1, architecture="celeba", **TINY).fit(X)
    assert isinstance(model.network_, CelebALadderNetwork)
    assert model.latent_dims_ == (0, 0, 0, 3)
    with pytest.raises(ValueError, match="4 levels"):
        ProVLAE(levels=3, architecture="celeba", **TINY).fit(X)


def test_glorot_initialisation_is_tf1s():
    network = LadderNetwork((1, 16, 16), (2, 2), conv_channels=4, dense_units=8)
    reset_parameters(network, torch.Generator().manual_seed(0), "glorot")
    layers = [m for m in network.modules() if isinstance(m, (nn.Linear, nn.Conv2d,
                                                              nn.ConvTranspose2d))]
    for layer in layers:
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(layer.weight)
        bound = (6 / (fan_in + fan_out)) ** 0.5
        assert layer.weight.abs().max() <= bound
        assert layer.weight.abs().max() > 0.8 * bound or layer.weight.numel() < 50
        assert torch.count_nonzero(layer.bias) == 0
    with pytest.raises(ValueError, match="scheme"):
        reset_parameters(network, torch.Generator(), "he")


def test_the_initialisation_parameter_reaches_the_network():
    X = np.random.default_rng(0).integers(0, 256, size=(32, 1, 16, 16), dtype=np.uint8)
    glorot = VLAE(2, 2, n_epochs=0, initialization="glorot", **TINY).fit(X)
    torch_init = VLAE(2, 2, n_epochs=0, **TINY).fit(X)
    assert torch.count_nonzero(glorot.network_.trunk[0][0].bias) == 0
    assert torch.count_nonzero(torch_init.network_.trunk[0][0].bias) > 0
