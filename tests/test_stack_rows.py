"""Batched results are written into arrays allocated once."""

import numpy as np
import pytest
import torch

from skdisent import VLAE
from skdisent.base import stack_rows


def test_blocks_are_stacked_in_order_as_float32():
    blocks = [torch.arange(6.0).reshape(3, 2), torch.arange(6.0, 10.0).reshape(2, 2)]
    stacked = stack_rows(iter(blocks), 5)
    assert stacked.dtype == np.float32 and stacked.flags.c_contiguous
    np.testing.assert_array_equal(stacked, np.arange(10.0).reshape(5, 2))


def test_tuples_fill_one_array_each_in_the_dtype_asked_for():
    blocks = [(torch.ones(2, 3, dtype=torch.bfloat16), torch.zeros(2, 1)),
              (torch.full((1, 3), 2.0, dtype=torch.bfloat16), torch.ones(1, 1))]
    first, second = stack_rows(blocks, 3, dtype=np.float64)
    assert first.dtype == second.dtype == np.float64
    np.testing.assert_array_equal(first, [[1, 1, 1], [1, 1, 1], [2, 2, 2]])
    np.testing.assert_array_equal(second, [[0], [0], [1]])


def test_channels_last_blocks_keep_their_logical_order():
    maps = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)
    blocks = [maps[:1].contiguous(memory_format=torch.channels_last),
              maps[1:].contiguous(memory_format=torch.channels_last)]
    np.testing.assert_array_equal(stack_rows(blocks, 2), maps.numpy())


@pytest.mark.parametrize("n_rows", [4, 6])
def test_a_row_count_that_does_not_add_up_is_an_error(n_rows):
    with pytest.raises(RuntimeError, match="Expected blocks of"):
        stack_rows([torch.zeros(5, 2)], n_rows)


def test_transform_over_several_batches_equals_the_codes_of_each_batch():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(1100, 16, 16), dtype=np.uint8)  # 3 inference batches
    model = VLAE(levels=2, latent_dim=2, n_epochs=1, batch_size=64, conv_channels=4,
                 dense_units=8, random_state=0).fit(X[:128])
    codes = model.transform(X)
    assert codes.shape == (1100, 4) and codes.dtype == np.float32
    np.testing.assert_allclose(codes[1000:], model.transform(X[1000:]), rtol=1e-5, atol=1e-6)
    decoded = model.inverse_transform(codes)
    assert decoded.shape == X.shape and decoded.flags.c_contiguous
    np.testing.assert_allclose(decoded[600:], model.inverse_transform(codes[600:]),
                               rtol=1e-5, atol=1e-6)


def test_no_block_at_all_is_an_error():
    with pytest.raises(RuntimeError, match="Expected blocks of 3 rows in all, got 0"):
        stack_rows([], 3)
