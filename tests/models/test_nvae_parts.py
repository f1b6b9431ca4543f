"""NVAE's parts against the reference code's formulas (NVlabs/NVAE) on cases known by construction."""

import math

import numpy as np
import pytest
import torch

from skdisent.models._nvae_regime import (
    balanced_kl,
    kl_balance_weights,
    kl_coefficient,
    learning_rate,
)
from skdisent.nn.nvae import NVAENetwork, groups_per_scale
from skdisent.nn.nvae_cells import (
    Cell,
    WeightNormConv2d,
    batchnorm_regularization,
    spectral_regularization,
)
from skdisent.nn.nvae_distributions import (
    DiscretizedLogisticMixture,
    NVAENormal,
    soft_clamp,
)

# ------------------------------------------------- the code's formulas, restated


def reference_kl_balancer(kl_all, kl_coeff, alpha_i):
    """``utils.kl_balancer(kl_all, kl_coeff, kl_balance=True, alpha_i)`` of the reference."""
    if kl_coeff < 1.0:
        alpha_i = alpha_i.unsqueeze(0)
        kl_all = torch.stack(kl_all, dim=1)
        kl_coeff_i = torch.mean(torch.abs(kl_all), dim=0, keepdim=True) + 0.01
        total_kl = torch.sum(kl_coeff_i)
        kl_coeff_i = kl_coeff_i / alpha_i * total_kl
        kl_coeff_i = kl_coeff_i / torch.mean(kl_coeff_i, dim=1, keepdim=True)
        kl = torch.sum(kl_all * kl_coeff_i.detach(), dim=1)
        return kl_coeff * kl
    return kl_coeff * torch.sum(torch.stack(kl_all, dim=1), dim=1)


def test_groups_per_scale_halve_with_ada_groups():
    assert groups_per_scale(3, 20, True) == [20, 10, 5]  # the CelebA 64 run
    assert groups_per_scale(3, 2, True, minimum=1) == [2, 1, 1]
    assert groups_per_scale(2, 3, False) == [3, 3]


def test_kl_balance_weights_are_the_codes_square_alpha():
    # generation order: the coarse scale (1 group) first, 4 ** 1 / 2 for the fine groups
    torch.testing.assert_close(kl_balance_weights([2, 1]), torch.tensor([1.0, 2.0, 2.0]))
    alpha = kl_balance_weights([20, 10, 5])
    assert alpha.shape == (35,)
    torch.testing.assert_close(alpha[[0, 5, 15]], torch.tensor([1.0, 2.0, 4.0]))


def test_balanced_kl_equals_the_code_during_and_after_warm_up():
    generator = torch.Generator().manual_seed(0)
    kl = torch.rand(6, 3, generator=generator) * torch.tensor([1.0, 5.0, 20.0])
    alpha = kl_balance_weights([2, 1])
    for coefficient in (1e-4, 0.3, 1.0):
        total, weights = balanced_kl(kl, coefficient, alpha)
        expected = reference_kl_balancer(list(kl.unbind(1)), coefficient, alpha)
        torch.testing.assert_close(total, expected)
        assert weights.mean().item() == pytest.approx(1.0)
    # without balancing: the plain sum, weights 1
    total, weights = balanced_kl(kl, 0.5, alpha, balance=False)
    torch.testing.assert_close(total, 0.5 * kl.sum(1))
    torch.testing.assert_close(weights, torch.ones(3))


def test_balancing_weights_follow_each_groups_kl_over_alpha():
    kl = torch.tensor([[1.99, 0.99, 0.49]])  # |KL| + 0.01 = 2, 1, 0.5
    _, weights = balanced_kl(kl, 0.5, torch.tensor([1.0, 1.0, 1.0]))
    torch.testing.assert_close(weights, torch.tensor([2.0, 1.0, 0.5]) / (3.5 / 3))


def test_kl_coefficient_is_the_codes_warm_up():
    total = 1000  # anneal over 300 steps after 0.1, from 1e-4
    args = (total, 0.3, 1e-4, 1e-4)
    assert kl_coefficient(0, *args) == 1e-4
    assert kl_coefficient(150.1, *args) == pytest.approx(0.5)
    assert kl_coefficient(300.1, *args) == 1.0 and kl_coefficient(999, *args) == 1.0
    assert kl_coefficient(0, total, 0.0, 0.0, 0.0) == 1.0  # no warm-up


def test_learning_rate_warms_up_then_follows_the_cosine():
    args = {"base": 1e-2, "minimum": 1e-4, "warmup_steps": 10, "warmup_epochs": 1,
            "n_epochs": 6}
    assert learning_rate(0, 0, **args) == 0.0
    assert learning_rate(5, 0, **args) == pytest.approx(5e-3)
    assert learning_rate(10, 1, **args) == pytest.approx(1e-2)  # no cosine step yet
    # epochs 2..5 step the cosine with T = 6 - 1 - 1 = 4
    assert learning_rate(30, 3, **args) == pytest.approx(1e-4 + (1e-2 - 1e-4) * 0.5)
    assert learning_rate(50, 5, **args) == pytest.approx(1e-4)


# ------------------------------------------------------------------ the cells


def test_normal_clamps_and_kl_matches_torch():
    mu, log_sigma = torch.tensor([0.3, 40.0]), torch.tensor([-0.5, 9.0])
    q = NVAENormal(mu, log_sigma)
    torch.testing.assert_close(q.mu, soft_clamp(mu))
    assert q.mu[1] < 5 and q.sigma[1] < math.exp(5) + 0.011
    torch.testing.assert_close(NVAENormal(torch.zeros(1), torch.zeros(1)).sigma,
                               torch.tensor([1.01]))
    p = NVAENormal(torch.tensor([1.0, -1.0]), torch.tensor([0.2, 0.1]))
    expected = torch.distributions.kl_divergence(torch.distributions.Normal(q.mu, q.sigma),
                                                 torch.distributions.Normal(p.mu, p.sigma))
    torch.testing.assert_close(q.kl(p), expected)
    log_p = torch.distributions.Normal(q.mu, q.sigma).log_prob(torch.tensor([0.1, 2.0]))
    torch.testing.assert_close(q.log_p(torch.tensor([0.1, 2.0])), log_p)
    assert NVAENormal(mu, log_sigma, temperature=0.5).sigma[0] == pytest.approx(
        0.5 * q.sigma[0].item())


def test_weight_norm_sets_each_output_channels_norm():
    conv = WeightNormConv2d(3, 4, 3, padding=1)
    conv.initialize_from_weight(torch.Generator().manual_seed(0))
    norms = conv.normalized_weight().flatten(1).norm(dim=1)
    torch.testing.assert_close(norms, conv.weight.flatten(1).norm(dim=1) + 1e-2,
                               rtol=1e-4, atol=1e-4)
    with torch.no_grad():
        conv.log_weight_norm.fill_(math.log(2.0))
    torch.testing.assert_close(conv.normalized_weight().flatten(1).norm(dim=1),
                               torch.full((4,), 2.0), rtol=1e-4, atol=1e-4)


def test_spectral_regularization_converges_to_the_largest_singular_values():
    generator = torch.Generator().manual_seed(0)
    convs = [WeightNormConv2d(4, 6, 3), WeightNormConv2d(4, 6, 3), WeightNormConv2d(6, 2, 1)]
    for conv in convs:
        conv.initialize_from_weight(generator)
    total = spectral_regularization(convs, 200)
    expected = sum(torch.linalg.matrix_norm(c.normalized_weight().flatten(1), ord=2)
                   for c in convs)
    torch.testing.assert_close(total, expected.detach(), rtol=1e-4, atol=1e-5)
    assert total.requires_grad  # it trains the weights
    before = convs[0].spectral_u.clone()
    spectral_regularization(convs, 1)  # the vectors are kept and moved on in place
    assert before.shape == convs[0].spectral_u.shape


def test_batchnorm_regularization_sums_the_largest_gammas():
    norms = [torch.nn.BatchNorm2d(3), torch.nn.BatchNorm2d(2)]
    with torch.no_grad():
        norms[0].weight.copy_(torch.tensor([0.5, -3.0, 1.0]))
        norms[1].weight.copy_(torch.tensor([2.0, 1.5]))
    assert batchnorm_regularization(norms).item() == pytest.approx(5.0)


@pytest.mark.parametrize("kind,block,shape", [("normal", "residual", (2, 8, 8, 8)),
                                              ("down", "residual", (2, 16, 4, 4)),
                                              ("up", "separable", (2, 4, 16, 16)),
                                              ("normal", "separable_post", (2, 8, 8, 8))])
def test_cells_change_scale_and_channels_as_their_kind_says(kind, block, shape):
    cell = Cell(8, kind, block).eval()
    assert cell(torch.randn(2, 8, 8, 8)).shape == shape


# ------------------------------------------------------------- the likelihood


def test_logistic_mixture_bins_sum_to_one_as_the_code_bins_them():
    mixture = DiscretizedLogisticMixture(n_mixtures=3)
    output = torch.randn(1, 9, 1, 1, generator=torch.Generator().manual_seed(0))
    values = torch.arange(256.0).reshape(256, 1, 1, 1) / 255.0
    log_probs = mixture.log_prob(output.expand(256, -1, -1, -1), values)
    # the code reads the upper tail from > 0.99, which 254 (0.992 on [-1, 1]) passes too
    assert torch.logsumexp(log_probs, 0).item() > 0.01
    mixture.upper_tail_from = 0.999  # PixelCNN++'s: the 256 bins partition the line
    log_probs = mixture.log_prob(output.expand(256, -1, -1, -1), values)
    assert torch.logsumexp(log_probs, 0).item() == pytest.approx(0.0, abs=1e-4)


def test_rgb_mixture_without_coefficients_is_three_grey_mixtures():
    generator = torch.Generator().manual_seed(1)
    grey = DiscretizedLogisticMixture(n_mixtures=1)
    rgb = DiscretizedLogisticMixture(n_mixtures=1)
    logit = torch.zeros(2, 1, 4, 4)
    means = torch.rand(2, 3, 4, 4, generator=generator) - 0.5
    scales = torch.rand(2, 3, 4, 4, generator=generator) - 3.0
    # the code's layout: logits, then per channel (means, log-scales, coefficients)
    per_channel = torch.stack([means, scales, torch.zeros_like(means)], dim=2)
    output = torch.cat([logit, per_channel.reshape(2, 9, 4, 4)], dim=1)
    x = torch.randint(0, 256, (2, 3, 4, 4), generator=generator) / 255.0
    expected = sum(grey.log_prob(torch.cat([logit, means[:, c:c + 1], scales[:, c:c + 1]], 1),
                                 x[:, c:c + 1]) for c in range(3))
    torch.testing.assert_close(rgb.log_prob(output, x), expected)
    torch.testing.assert_close(rgb.mean(output), (torch.clamp(means, -1, 1) + 1) / 2)


# ------------------------------------------------------------------ the network


def _network(**params):
    network = NVAENetwork((1, 8, 8), latent_per_group=2, n_scales=2, groups=2, channels=4,
                          process_blocks=1, **params)
    network.initialize_(torch.Generator().manual_seed(0))
    return network.eval()


def test_groups_of_the_network_and_padding():
    network = _network()
    assert network.group_shapes == ((2, 2, 2), (2, 4, 4), (2, 4, 4))  # generation order
    odd = NVAENetwork((1, 7, 6), latent_per_group=2, channels=4, process_blocks=1)
    assert odd.padding == (1, 1, 0, 1)  # left, right, top, bottom up to 8x8
    x = torch.rand(3, 1, 7, 6)
    assert odd.decode([torch.zeros(3, *s) for s in odd.group_shapes]).shape == (3, 1, 7, 6)
    assert odd(x, [torch.zeros(3, *s) for s in odd.group_shapes])[1].shape == (3, 3)


def test_a_residual_posterior_with_zero_offsets_is_the_prior():
    network = _network()
    with torch.no_grad():
        for head in network.posterior_heads[1:]:
            head.weight.zero_()
            head.bias.zero_()
    x = torch.rand(4, 1, 8, 8)
    noise = [torch.randn(4, *s) for s in network.group_shapes]
    with torch.no_grad():
        _, kl = network(x, noise)
    assert torch.all(kl[:, 0] > 0)
    torch.testing.assert_close(kl[:, 1:], torch.zeros(4, 2))
    plain = _network(residual_posterior=False)
    plain.load_state_dict(network.state_dict())
    with torch.no_grad():
        assert torch.all(plain(x, noise)[1][:, 1:] > 0)


def test_posterior_means_prior_codes_and_decoding_agree():
    network = _network()
    x = torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        means, logvars = network.posterior_parameters(x)
        zero = [torch.zeros(3, *s) for s in network.group_shapes]
        noise = [torch.randn(3, *s) for s in network.group_shapes]
        # the KL with zero noise: draws at the posterior means, the pass transform runs
        _, kl = network(x, zero)
        prior = network.prior_codes(noise)
        colder = network.prior_codes(noise, temperature=0.5)
        at_zero = network.prior_codes(zero)
    assert [m.shape[1:] for m in means] == list(network.group_shapes)
    assert all(torch.isfinite(v).all() for v in logvars)
    torch.testing.assert_close(prior[0], 1.01 * noise[0])  # the top prior N(0, 1.01^2)
    torch.testing.assert_close(colder[0], 0.505 * noise[0])
    # at zero noise every group is its prior mean, whatever the temperature
    torch.testing.assert_close(network.prior_codes(zero, temperature=0.3)[2], at_zero[2])
    assert np.isfinite(kl.numpy()).all()
