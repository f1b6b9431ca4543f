"""The ladder's transposed convolution, bias added apart, is torch's ConvTranspose2d."""

import pytest
import torch
from torch import nn

from skdisent.nn.layers import up as _up


def _pair(in_channels, out_channels, size_in, size_out, memory_format):
    torch.manual_seed(0)
    ours = _up(in_channels, out_channels, size_in, size_out)
    reference = nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1,
                                   output_padding=ours.output_padding)
    reference.load_state_dict(ours.state_dict())
    return ours.to(memory_format=memory_format), reference.to(memory_format=memory_format)


def _output_and_gradients(layer, x, autocast):
    x = x.detach().clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        y = layer(x)
    (y.float() * torch.linspace(-1, 1, y.numel()).reshape(y.shape)).sum().backward()
    gradients = [x.grad, layer.weight.grad, layer.bias.grad]
    layer.zero_grad(set_to_none=True)
    return y, gradients


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("in_channels, out_channels, size_in, size_out", [
    (6, 4, (4, 4), (8, 8)), (4, 1, (3, 5), (7, 10)),
])
def test_same_output_and_gradients_as_conv_transpose_in_fp32(
        in_channels, out_channels, size_in, size_out, memory_format):
    ours, reference = _pair(in_channels, out_channels, size_in, size_out, memory_format)
    x = torch.randn(3, in_channels, *size_in).contiguous(memory_format=memory_format)
    y, gradients = _output_and_gradients(ours, x, autocast=False)
    y_ref, gradients_ref = _output_and_gradients(reference, x, autocast=False)
    assert y.shape == (3, out_channels, *size_out)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    for gradient, expected in zip(gradients, gradients_ref):
        torch.testing.assert_close(gradient, expected, rtol=1e-4, atol=1e-4)


def test_under_bf16_autocast_the_output_stays_bf16_and_close_to_the_reference():
    ours, reference = _pair(8, 4, (4, 4), (8, 8), torch.channels_last)
    x = torch.randn(5, 8, 4, 4).contiguous(memory_format=torch.channels_last)
    y, gradients = _output_and_gradients(ours, x, autocast=True)
    y_ref, gradients_ref = _output_and_gradients(reference, x, autocast=True)
    assert y.dtype == y_ref.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), y_ref.float(), rtol=2e-2, atol=2e-2)
    for gradient, expected in zip(gradients, gradients_ref):
        assert gradient.dtype == expected.dtype
        torch.testing.assert_close(gradient.float(), expected.float(), rtol=3e-2, atol=3e-2)
