"""Warnings that point at the user's line, not at skdisent's or scikit-learn's.

A warning raised deep inside ``fit`` with a fixed ``stacklevel`` points at whichever
frame happens to sit that many levels up: scikit-learn's ``_fit_context`` wrapper, a
joblib worker, or a line of skdisent itself. :func:`warn` counts the frames instead,
up to the first one outside these packages.
"""

import os
import sys
import warnings

import joblib
import sklearn

__all__ = ["warn"]

_INTERNAL = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep
    for path in (__file__, sklearn.__file__, joblib.__file__)
)


def warn(message, category=UserWarning):
    """Issue a warning attributed to the first caller outside skdisent, scikit-learn and joblib.

    Parameters
    ----------
    message : str
    category : type of Warning, default=UserWarning
    """
    frame = sys._getframe(1)
    level = 2
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
