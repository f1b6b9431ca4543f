"""The ladder models learn for real on images whose factors are known."""

import numpy as np
import pytest

from skdisent import ProVLAE


def _squares(size=32):
    """White squares on black: 3 scales x 12 x 12 positions, each image twice."""
    positions = np.arange(4, 28, 2)
    scales = np.array([3, 5, 7])
    factors = np.stack(np.meshgrid(scales, positions, positions, indexing="ij"), -1).reshape(-1, 3)
    yy, xx = np.mgrid[:size, :size]
    half = factors[:, 0, None, None] / 2
    inside = (np.abs(xx - factors[:, 1, None, None]) <= half) & (
        np.abs(yy - factors[:, 2, None, None]) <= half)
    images = (inside * 255).astype(np.uint8)[:, None]
    return np.concatenate([images, images]), np.concatenate([factors, factors])


@pytest.fixture(scope="module")
def fitted():
    X, _ = _squares()
    # A short schedule needs a brisk learning rate for the deepest level to learn the main
    # factors in step 0, before the shallower levels join (seeds 0-2: KL_3 - KL_2 >= 0.26 nats).
    # These settings were found with batch norm. With the affine normalisation the deepest
    # level of this 12-epoch toy learns little in step 0 on seeds 0 and 2 (KL 0.6 and 0.2
    # nats against 2.7-2.9 with batch norm) and level 2 ends with more; on the demo's
    # settings it orders the information deepest first on seeds 0-2 (benchmarks/README.md).
    model = ProVLAE(levels=3, latent_dim=2, beta=2.0, epochs_per_step=4, learning_rate=2e-3,
                    fade_in_steps=20, batch_size=16, conv_channels=16, dense_units=64,
                    normalization="batch", device="cpu", random_state=0).fit(X)
    return model, X


def test_reconstructs_far_better_than_the_mean_image(fitted):
    model, X = fitted
    x = X / 255.0
    error = np.mean((model.inverse_transform(model.transform(X)) - x) ** 2)
    baseline = np.mean((x - x.mean(axis=0)) ** 2)
    assert error < 0.5 * baseline, (error, baseline)
    losses = [record["reconstruction"] for record in model.history_]
    assert losses[-1] < 0.5 * losses[0]


def test_kl_per_level_is_ordered_deepest_first(fitted):
    model, _ = fitted
    last = model.history_[-1]
    assert last["kl_3"] > last["kl_2"] > last["kl_1"], last
