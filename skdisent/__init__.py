"""Disentangled and hierarchical representation learning as scikit-learn estimators.

The names below are loaded when first used, so that ``import skdisent`` (and the
``skdisent`` command's ``--help``) does not wait for torch.
"""

import importlib

from ._version import __version__

# Each public name and the module that defines it.
_PUBLIC = {
    "BetaVAE": ".models",
    "VLAE": ".models",
    "ProVLAE": ".models",
    "LDFModel": ".models",
    "HierarchicalVAE": ".models",
    "NVAE": ".models",
    "TeacherStudentVAE": ".models",
    "JointGAN": ".models",
    "NonFiniteLossError": ".engine.finite",
    "ModelFileError": "._model_file",
    "save": ".io",
    "load": ".io",
    "load_checkpoint": ".io",
}

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_PUBLIC})
