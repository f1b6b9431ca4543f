"""The base classes of the skdisent models.

:class:`BaseGenerativeModel` holds what every model shares (``fit`` and the training
engine, warm starts and checkpoints, ``sample``, the state document that pickles and
model files store); :class:`BaseDisentangler` adds what models with an encoder have
(``transform``, ``inverse_transform``, ``score``, ``get_feature_names_out``).
"""

# InputLayout and stack_rows are named here too: pickles written before the training engine
# refer to skdisent.base.InputLayout, and skdisent.base was where stack_rows lived.
from .._data import InputLayout, stack_rows
from .disentangler import BaseDisentangler
from .generative import BaseGenerativeModel

__all__ = ["BaseDisentangler", "BaseGenerativeModel", "InputLayout", "stack_rows"]
