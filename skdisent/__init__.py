"""Disentangled and hierarchical representation learning as scikit-learn estimators."""

from ._checkpoint import load_checkpoint
from .base import NonFiniteLossError
from .io import ModelFileError, load, save
from .models import VLAE, BetaVAE, LDFModel, ProVLAE

__version__ = "0.1.0.dev0"

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
