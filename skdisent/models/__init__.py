"""The estimators: three regimes of one ladder network, the teacher-student baseline, the
stacked hierarchical VAE, and LDF; the pro-VLAE paper's settings as ready-made estimators."""

from .beta_vae import BetaVAE
from .hierarchical_vae import HierarchicalVAE
from .ldf import LDFModel
from .presets import PAPER_SETTINGS, paper_model
from .provlae import ProVLAE
from .teacher_student import TeacherStudentVAE
from .vlae import VLAE

__all__ = ["BetaVAE", "VLAE", "ProVLAE", "LDFModel", "HierarchicalVAE", "TeacherStudentVAE",
           "PAPER_SETTINGS", "paper_model"]
