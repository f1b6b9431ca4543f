"""Cutting objects into the local pieces of LDF and putting them back together.

Locally disentangled factors (LDF; "Learning generative models with locally disentangled
latent factors", papers/001) model an object through one lower-level model shared by all
of its local pieces: the patches of an image cut into a grid (32x32 into 2x2 patches of
16x16 in the paper's CIFAR experiment) or the frames of a video (the Pacman clips).
:class:`PieceGrid` says how one object is cut, and cuts and reassembles whole batches
with reshapes and permutes only (no Python loop over pieces).
"""

import math
from dataclasses import dataclass
from numbers import Integral

import torch

__all__ = ["PieceGrid", "make_piece_grid"]


@dataclass(frozen=True)
class PieceGrid:
    """How one object is cut into equal pieces.

    Attributes
    ----------
    kind : {"patches", "frames", "blocks"}
        Patches of an image ``(C, H, W)``, frames of a video ``(T, C, H, W)``, or
        contiguous blocks of a flat row ``(n_features,)`` (the last block zero-padded).
    object_shape : tuple of int
        Shape of one object as the network sees it.
    grid : tuple of int
        ``(rows, cols)`` of patches, ``(T,)`` frames or ``(n_blocks,)`` blocks.
    piece_shape : tuple of int
        Shape of one piece: ``(C, H // rows, W // cols)``, ``(C, H, W)`` or ``(length,)``.
    """

    kind: str
    object_shape: tuple
    grid: tuple
    piece_shape: tuple

    @property
    def n_pieces(self):
        """Number of pieces of one object."""
        return math.prod(self.grid)

    def piece_names(self):
        """Names of the pieces in the order :meth:`cut` gives them.

        Returns
        -------
        names : list of str
            ``"patch<r>_<c>"`` (row-major), ``"frame<t>"`` or ``"block<b>"``.
        """
        if self.kind == "patches":
            return [f"patch{r}_{c}" for r in range(self.grid[0]) for c in range(self.grid[1])]
        prefix = "frame" if self.kind == "frames" else "block"
        return [f"{prefix}{i}" for i in range(self.n_pieces)]

    def cut(self, x):
        """Cut a batch of objects into pieces.

        Parameters
        ----------
        x : torch.Tensor of shape (n, *object_shape)

        Returns
        -------
        pieces : torch.Tensor of shape (n * n_pieces, *piece_shape)
            Object-major: the pieces of object 0 first, in :meth:`piece_names` order.
        """
        n = x.shape[0]
        if self.kind == "patches":
            channels, height, width = self.object_shape
            rows, cols = self.grid
            x = x.reshape(n, channels, rows, height // rows, cols, width // cols)
            x = x.permute(0, 2, 4, 1, 3, 5)
        elif self.kind == "blocks":
            padding = self.n_pieces * self.piece_shape[0] - self.object_shape[0]
            x = torch.nn.functional.pad(x, (0, padding)) if padding else x
        return x.reshape(n * self.n_pieces, *self.piece_shape)

    def join(self, pieces):
        """Reassemble pieces cut by :meth:`cut` into whole objects.

        Parameters
        ----------
        pieces : torch.Tensor of shape (n * n_pieces, *piece_shape)

        Returns
        -------
        x : torch.Tensor of shape (n, *object_shape)
        """
        n = pieces.shape[0] // self.n_pieces
        if self.kind == "patches":
            channels, height, width = self.object_shape
            rows, cols = self.grid
            x = pieces.reshape(n, rows, cols, channels, height // rows, width // cols)
            return x.permute(0, 3, 1, 4, 2, 5).reshape(n, *self.object_shape)
        if self.kind == "blocks":
            return pieces.reshape(n, -1)[:, : self.object_shape[0]]
        return pieces.reshape(n, *self.object_shape)


def make_piece_grid(object_shape, patch_grid):
    """The :class:`PieceGrid` of an object, checking that the grid fits it.

    Parameters
    ----------
    object_shape : tuple of int
        ``(C, H, W)`` for an image, ``(T, C, H, W)`` for a video, ``(n_features,)`` for
        a flat row.
    patch_grid : tuple of (int, int)
        ``(rows, cols)``: an image is cut into ``rows x cols`` equal patches; a flat row
        into ``rows * cols`` contiguous blocks of ``ceil(n_features / (rows * cols))``
        features (fewer blocks when the row is short). Videos are cut into their frames
        and do not use it.

    Returns
    -------
    grid : PieceGrid

    Raises
    ------
    ValueError
        If ``patch_grid`` is not two positive integers, if it does not divide the
        image's height and width, or if a video has fewer than two frames.
    """
    object_shape = tuple(int(s) for s in object_shape)
    if len(object_shape) == 4:
        if object_shape[0] < 2:
            raise ValueError(
                f"A video needs at least 2 frames, got {object_shape[0]}, to be cut into pieces "
                f"(videos are (n_samples, T, C, H, W); one sample was {object_shape}). Pass "
                "single frames as images (n_samples, C, H, W) or as extra pieces to fit."
            )
        return PieceGrid("frames", object_shape, (object_shape[0],), object_shape[1:])
    rows, cols = _check_patch_grid(patch_grid)
    if len(object_shape) == 1:
        n_features = object_shape[0]
        length = -(-n_features // (rows * cols))
        return PieceGrid("blocks", object_shape, (-(-n_features // length),), (length,))
    channels, height, width = object_shape
    if height % rows or width % cols:
        raise ValueError(
            f"patch_grid={tuple(patch_grid)} does not cut images of {height}x{width} into "
            f"equal patches: the rows ({rows}) must divide the height and the columns "
            f"({cols}) the width. For {height}x{width}, use for instance "
            f"{_suggest_grid(height, width)}."
        )
    return PieceGrid("patches", object_shape, (rows, cols), (channels, height // rows, width // cols))


def _check_patch_grid(patch_grid):
    values = tuple(patch_grid) if isinstance(patch_grid, (tuple, list)) else ()
    if len(values) != 2 or not all(
        isinstance(v, Integral) and not isinstance(v, bool) and v >= 1 for v in values
    ):
        raise ValueError(f"patch_grid must be two positive integers (rows, cols), got {patch_grid!r}.")
    return tuple(int(v) for v in values)


def _suggest_grid(height, width):
    """The grid closest to 2x2 that divides ``height x width``."""
    def nearest(size):
        return min((d for d in range(1, size + 1) if size % d == 0), key=lambda d: (abs(d - 2), d))
    return (nearest(height), nearest(width))
