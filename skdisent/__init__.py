"""Disentangled and hierarchical representation learning as scikit-learn estimators."""

from ._version import __version__
from .engine.finite import NonFiniteLossError
from .io import ModelFileError, load, load_checkpoint, save
from .models import VLAE, BetaVAE, LDFModel, ProVLAE

__all__ = [
    "BetaVAE",
    "VLAE",
    "ProVLAE",
    "LDFModel",
    "NonFiniteLossError",
    "ModelFileError",
    "save",
    "load",
    "load_checkpoint",
    "__version__",
]
