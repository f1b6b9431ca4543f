"""The estimators: three regimes of one ladder network, the teacher-student baseline, the
stacked hierarchical VAE, LDF and its joint GAN baseline; the pro-VLAE paper's settings as
ready-made estimators."""

from .beta_vae import BetaVAE
from .hierarchical_vae import HierarchicalVAE
from .joint_gan import JointGAN
from .ldf import LDFModel
from .nvae import NVAE
from .presets import NVAE_SETTINGS, PAPER_SETTINGS, nvae_preset, paper_model
from .provlae import ProVLAE
from .teacher_student import TeacherStudentVAE
from .vlae import VLAE

__all__ = ["BetaVAE", "VLAE", "ProVLAE", "LDFModel", "HierarchicalVAE", "NVAE", "TeacherStudentVAE",
           "JointGAN", "PAPER_SETTINGS", "paper_model",
           "NVAE_SETTINGS", "nvae_preset"]
