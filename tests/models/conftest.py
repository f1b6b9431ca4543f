"""Tiny configurations of the ladder models, shared by the model tests."""

import numpy as np
import pytest

from skdisent import VLAE, BetaVAE, ProVLAE

TINY = {"conv_channels": 4, "dense_units": 8, "batch_size": 16, "device": "cpu"}


def tiny_models(**extra):
    """One small instance of each ladder model, fitted in well under a second."""
    return [
        BetaVAE(n_components=3, n_epochs=2, depth=2, random_state=0, **TINY, **extra),
        VLAE(levels=2, latent_dim=2, n_epochs=2, random_state=0, **TINY, **extra),
        ProVLAE(levels=2, latent_dim=2, epochs_per_step=1, fade_in_steps=1, random_state=0,
                **TINY, **extra),
    ]


@pytest.fixture
def images():
    """64 random uint8 images of 1x16x16."""
    return np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)
