"""The two-level network of LDF: one ALI shared by every piece, one ALI over their codes.

Written after "Learning generative models with locally disentangled latent factors"
(LDF, papers/001, restated in METHOD.md section 4); the ALI triple itself and where it
differs from the paper are in :mod:`skdisent.nn.ali`.
"""

from torch import nn

from .ali import ALI
from .pieces import make_piece_grid

__all__ = ["LDFNetwork"]


class LDFNetwork(nn.Module):
    """The two levels of locally disentangled factors (LDF).

    The lower level is one :class:`ALI` shared by every piece of an object; the upper
    level is a dense :class:`ALI` whose observations are the concatenated local codes
    ``(z_1, ..., z_P)`` of one object and whose code is the global ``z_0``. The levels
    share no parameter and no module: each is trained on its own objective.

    Parameters
    ----------
    object_shape : tuple of int
        One object as the network sees it: ``(C, H, W)``, ``(T, C, H, W)`` or
        ``(n_features,)``.
    patch_grid : tuple of (int, int)
        How images (and flat rows) are cut; see :func:`~.pieces.make_piece_grid`.
    local_dim : int
        Dimension of each piece's code.
    global_dim : int
        Dimension of the global code.
    conv_channels, dense_units : int
        Widths, as in :class:`ALI`; the upper level uses ``dense_units`` too.
    likelihood : {"bernoulli", "gaussian"}
        The lower level's observation model; the upper level's codes are real-valued
        and always use ``"gaussian"``.
    """

    def __init__(self, object_shape, patch_grid, local_dim, global_dim, conv_channels=32,
                 dense_units=256, likelihood="bernoulli"):
        super().__init__()
        self.object_shape = tuple(int(s) for s in object_shape)
        self.patch_grid = tuple(int(s) for s in patch_grid)
        self.local_dim = int(local_dim)
        self.global_dim = int(global_dim)
        self.pieces = make_piece_grid(self.object_shape, self.patch_grid)
        self.lower = ALI(self.pieces.piece_shape, local_dim, conv_channels, dense_units, likelihood)
        self.upper = ALI((self.pieces.n_pieces * self.local_dim,), global_dim, conv_channels,
                         dense_units, "gaussian")

    @property
    def config(self):
        """Constructor arguments as a JSON-compatible dict."""
        return {
            "object_shape": list(self.object_shape),
            "patch_grid": list(self.patch_grid),
            "local_dim": self.local_dim,
            "global_dim": self.global_dim,
            "conv_channels": self.lower.conv_channels,
            "dense_units": self.lower.dense_units,
            "likelihood": self.lower.likelihood,
        }

    def local_codes(self, x):
        """Local codes of whole objects.

        Parameters
        ----------
        x : torch.Tensor of shape (n, *object_shape)

        Returns
        -------
        codes : torch.Tensor of shape (n, n_pieces * local_dim)
            The lower encoder's code of every piece, in the grid's order.
        """
        return self.lower.encode(self.pieces.cut(x)).reshape(x.shape[0], -1)

    def global_to_local(self, z):
        """Local codes generated from global codes by the upper level.

        Parameters
        ----------
        z : torch.Tensor of shape (n, global_dim)

        Returns
        -------
        codes : torch.Tensor of shape (n, n_pieces * local_dim)
        """
        return self.upper.mean(self.upper.generate(z))

    def decode_local(self, codes):
        """Whole objects generated piece by piece from local codes.

        Parameters
        ----------
        codes : torch.Tensor of shape (n, n_pieces * local_dim)

        Returns
        -------
        x : torch.Tensor of shape (n, *object_shape)
            Probabilities (Bernoulli) or values (Gaussian), pieces reassembled.
        """
        return self.lower.mean(self.reconstruction_logits(codes))

    def reconstruction_logits(self, codes):
        """Raw outputs of the lower generator from local codes, reassembled.

        Parameters
        ----------
        codes : torch.Tensor of shape (n, n_pieces * local_dim)

        Returns
        -------
        output : torch.Tensor of shape (n, *object_shape)
            Logits or values, to compare with objects by
            ``lower.reconstruction_error``.
        """
        return self.pieces.join(self.lower.generate(codes.reshape(-1, self.local_dim)))
