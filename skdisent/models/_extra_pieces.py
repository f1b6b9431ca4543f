"""LDF's extra single pieces: taken in turn, alongside each batch of full objects."""

import numpy as np
import torch
from sklearn.utils.validation import check_array

from .._data import BatchSource, InputLayout, check_probabilities

__all__ = ["piece_source", "ObjectsWithPieces"]


def piece_source(pieces, grid, likelihood):
    """The extra pieces given to ``LDFModel.fit``, checked against the grid objects are cut by.

    Parameters
    ----------
    pieces : array-like of shape (n_pieces, *piece_shape)
        Single pieces; grey patches may leave out their channel axis.
    grid : PieceGrid
        How an object of ``X`` is cut.
    likelihood : {"bernoulli", "gaussian"}
        The likelihood of the fit (a Bernoulli likelihood needs [0, 1]).

    Returns
    -------
    source : BatchSource
    """
    pieces = check_array(pieces, allow_nd=True, dtype=[np.float32, np.float64, np.uint8],
                         input_name="pieces")
    shape = grid.piece_shape
    grey = len(shape) == 3 and shape[0] == 1
    if pieces.shape[1:] != shape and not (grey and pieces.shape[1:] == shape[1:]):
        raise ValueError(
            f"pieces must be single {grid.kind} of shape {shape} (n_pieces, *piece_shape), "
            f"the pieces X is cut into; got pieces of shape {pieces.shape[1:]}."
        )
    check_probabilities(pieces, likelihood)
    return BatchSource(pieces, InputLayout(tuple(pieces.shape[1:]), shape))


class ObjectsWithPieces:
    """Batches of full objects, each with as many extra pieces as its objects have.

    The extra pieces are taken in turn from a permutation drawn with the fit's
    generator, and drawn afresh after each pass over them. Their position rolls back
    with an epoch (:meth:`state_dict`); it is not saved: the next fit draws anew.

    Parameters
    ----------
    objects : BatchSource
        The rows of ``X``.
    pieces : BatchSource
        The extra pieces.
    pieces_per_object : int
        Pieces an object is cut into.
    generator : torch.Generator
        The fit's CPU generator.
    """

    def __init__(self, objects, pieces, pieces_per_object, generator):
        self.objects = objects
        self.pieces = pieces
        self.pieces_per_object = pieces_per_object
        self.generator = generator
        self._order, self._cursor = None, 0

    def __len__(self):
        return len(self.objects)

    def batch(self, indices, device):
        """The objects ``indices`` and the next extra pieces, as a pair of tensors."""
        objects = self.objects.batch(indices, device)
        return objects, self._next(len(indices) * self.pieces_per_object, device)

    def _next(self, count, device):
        taken = []
        while count > 0:
            if self._order is None or self._cursor >= len(self._order):
                self._order = torch.randperm(len(self.pieces), generator=self.generator)
                self._cursor = 0
            part = self._order[self._cursor: self._cursor + count]
            self._cursor += len(part)
            count -= len(part)
            taken.append(part)
        return self.pieces.batch(torch.cat(taken).numpy(), device)

    def state_dict(self):
        """The position in the extra pieces."""
        return {"order": self._order, "cursor": self._cursor}

    def load_state_dict(self, state):
        """Go back to a position :meth:`state_dict` gave."""
        self._order, self._cursor = state["order"], state["cursor"]
