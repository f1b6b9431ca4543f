"""Data sets with ground-truth factors, generated offline or loaded and verified."""

from ._base import get_data_home
from ._celeba import load_celeba
from ._cifar10 import load_cifar10
from ._digits import load_digits_images
from ._dsprites import load_dsprites, make_dsprites
from ._mnist import load_mnist
from ._moving_sprites import make_moving_sprites
from ._sampling import (
    factors_to_indices,
    indices_to_factors,
    sample_factors,
    sample_groups_sharing_factor,
    sample_shared_factor,
)
from ._shapes3d import load_shapes3d, make_shapes3d

__all__ = [
    "factors_to_indices",
    "get_data_home",
    "indices_to_factors",
    "load_celeba",
    "load_cifar10",
    "load_digits_images",
    "load_dsprites",
    "load_mnist",
    "load_shapes3d",
    "make_dsprites",
    "make_moving_sprites",
    "make_shapes3d",
    "sample_factors",
    "sample_groups_sharing_factor",
    "sample_shared_factor",
]
