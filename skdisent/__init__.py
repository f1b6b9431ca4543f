"""Disentangled and hierarchical representation learning as scikit-learn estimators."""

from .base import NonFiniteLossError
from .models import VLAE, BetaVAE, ProVLAE

__version__ = "0.1.0.dev0"

__all__ = ["BetaVAE", "VLAE", "ProVLAE", "NonFiniteLossError", "__version__"]
