"""Data sets with ground-truth factors, generated offline or loaded and verified."""

from ._base import get_data_home
from ._dsprites import load_dsprites, make_dsprites
from ._shapes3d import load_shapes3d, make_shapes3d
from ._sampling import (
    factors_to_indices,
    indices_to_factors,
    sample_factors,
    sample_groups_sharing_factor,
    sample_shared_factor,
)

__all__ = [
    "factors_to_indices",
    "get_data_home",
    "indices_to_factors",
    "load_dsprites",
    "load_shapes3d",
    "make_dsprites",
    "make_shapes3d",
    "sample_factors",
    "sample_groups_sharing_factor",
    "sample_shared_factor",
]
