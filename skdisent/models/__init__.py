"""The estimators: three regimes of one ladder network, and LDF."""

from .beta_vae import BetaVAE
from .ldf import LDFModel
from .presets import PAPER_SETTINGS, paper_model
from .provlae import ProVLAE
from .vlae import VLAE

__all__ = ["BetaVAE", "VLAE", "ProVLAE", "LDFModel", "PAPER_SETTINGS", "paper_model"]
