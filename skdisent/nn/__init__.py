"""Torch modules: the ladder networks, the other models' networks, likelihoods and Gaussian helpers."""

from .distributions import gaussian_entropy, kl_to_standard_normal, reparameterize
from .gan import GANNetwork
from .hierarchical import HierarchicalNetwork
from .ladder import LadderNetwork, ladder_sizes
from .ladder_celeba import CelebALadderNetwork
from .ldf_network import LDFNetwork
from .likelihoods import BernoulliLikelihood, GaussianLikelihood, make_likelihood
from .nvae import NVAENetwork
from .teacher_student import TeacherStudentNetwork

__all__ = [
    "LadderNetwork",
    "CelebALadderNetwork",
    "HierarchicalNetwork",
    "TeacherStudentNetwork",
    "GANNetwork",
    "LDFNetwork",
    "NVAENetwork",
    "ladder_sizes",
    "BernoulliLikelihood",
    "GaussianLikelihood",
    "make_likelihood",
    "reparameterize",
    "kl_to_standard_normal",
    "gaussian_entropy",
]
