"""The ladder's ELU, whose gradient reads its output, is torch's ELU."""

import pytest
import torch
from torch import nn

from skdisent.nn import LadderNetwork
from skdisent.nn.layers import OutputSavingELU as _ELU


def _output_and_gradient(layer, x, autocast=False):
    x = x.detach().clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        y = layer(x)
    (y.float() * torch.linspace(-1, 1, y.numel()).reshape(y.shape)).sum().backward()
    return y, x.grad


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_same_output_and_gradient_as_torch_elu_in_fp32(alpha):
    # Zero, both signs, and inputs deep in the saturated part (gradient ~exp(-20)).
    x = torch.cat([torch.tensor([0.0, -20.0, -5.0, 3.0]), torch.randn(60)]).reshape(4, 4, 4)
    y, gradient = _output_and_gradient(_ELU(alpha=alpha), x)
    y_ref, gradient_ref = _output_and_gradient(nn.ELU(alpha=alpha), x)
    torch.testing.assert_close(y, y_ref, rtol=0, atol=0)
    torch.testing.assert_close(gradient, gradient_ref, rtol=1e-6, atol=1e-7)


def test_under_bf16_autocast_it_keeps_the_input_type_and_the_reference_gradient():
    x = torch.randn(4, 8, 5, 5).contiguous(memory_format=torch.channels_last).bfloat16()
    y, gradient = _output_and_gradient(_ELU(), x, autocast=True)
    y_ref, gradient_ref = _output_and_gradient(nn.ELU(), x, autocast=True)
    assert y.dtype == gradient.dtype == torch.bfloat16
    assert y.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(y, y_ref, rtol=0, atol=0)
    # exp(x) against bf16(elu(x)) + 1: the latter rounds to bf16's step near -1.
    torch.testing.assert_close(gradient.float(), gradient_ref.float(), rtol=1e-2, atol=4e-3)


def test_the_ladders_gradients_equal_those_with_torch_elu():
    torch.manual_seed(0)
    ours = LadderNetwork((1, 16, 16), (2, 2), conv_channels=4, dense_units=8)
    reference = LadderNetwork((1, 16, 16), (2, 2), conv_channels=4, dense_units=8)
    reference.load_state_dict(ours.state_dict())
    for name, module in list(reference.named_modules()):
        for child_name, child in module.named_children():
            if isinstance(child, _ELU):
                setattr(module, child_name, nn.ELU())
    assert not any(isinstance(m, _ELU) for m in reference.modules())
    assert sum(isinstance(m, _ELU) for m in ours.modules()) > 5

    x = torch.rand(6, 1, 16, 16)
    noise = ours.draw_noise(len(x), torch.Generator().manual_seed(1), torch.device("cpu"))
    gradients = []
    for network in (ours, reference):
        log_likelihood, kl = network(x, torch.ones(2), torch.ones(2), noise=noise)
        (kl.sum() - log_likelihood.sum()).backward()
        gradients.append([p.grad for p in network.parameters()])
    for gradient, expected in zip(*gradients):
        torch.testing.assert_close(gradient, expected, rtol=1e-4, atol=1e-5)
