"""Torch modules: the ladder networks, the other models' networks, likelihoods and Gaussian helpers."""

from .distributions import gaussian_entropy, kl_to_standard_normal, reparameterize
from .hierarchical import HierarchicalNetwork
from .ladder import LadderNetwork, ladder_sizes
from .ladder_celeba import CelebALadderNetwork
from .likelihoods import BernoulliLikelihood, GaussianLikelihood, make_likelihood
from .teacher_student import TeacherStudentNetwork

__all__ = [
    "LadderNetwork",
    "CelebALadderNetwork",
    "HierarchicalNetwork",
    "TeacherStudentNetwork",
    "ladder_sizes",
    "BernoulliLikelihood",
    "GaussianLikelihood",
    "make_likelihood",
    "reparameterize",
    "kl_to_standard_normal",
    "gaussian_entropy",
]
