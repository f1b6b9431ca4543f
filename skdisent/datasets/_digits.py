"""scikit-learn's bundled 8x8 handwritten digits as uint8 images: real images with no network at all."""

import numpy as np
from sklearn.datasets import load_digits

from ._base import make_bunch


def load_digits_images(*, size=8, return_X_y=False):
    """Load scikit-learn's bundled handwritten digits as uint8 images.

    The 1,797 images of :func:`sklearn.datasets.load_digits` (values 0..16) scaled to 0..255, and
    optionally enlarged: each pixel becomes a ``size / 8`` square block (nearest neighbour), so that
    models whose networks need at least 16x16 inputs (the ladder family) can use them.

    Parameters
    ----------
    size : int, default=8
        Height and width of the images: 8 or a multiple of 8 (16, 32, 64).
    return_X_y : bool, default=False
        Return ``(images, factors)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` uint8 ``(1797, 1, size, size)``, 0 (background) .. 255 (ink); ``factors`` int
        ``(1797, 1)``, the digit; ``factor_values``, ``factor_names`` ``["digit"]``,
        ``factor_sizes`` ``(10,)``, ``DESCR``.
    (images, factors) : tuple
        If ``return_X_y`` is True.

    Examples
    --------
    >>> from skdisent.datasets import load_digits_images
    >>> X, y = load_digits_images(size=16, return_X_y=True)
    >>> X.shape, X.dtype, int(X.max())
    ((1797, 1, 16, 16), dtype('uint8'), 255)
    """
    if not isinstance(size, (int, np.integer)) or size < 8 or size % 8:
        raise ValueError(f"size must be 8 or a multiple of 8 (16, 32, 64), got {size!r}.")
    digits = load_digits()
    images = np.rint(digits.images * (255 / 16)).astype(np.uint8)
    block = int(size) // 8
    images = images.repeat(block, axis=1).repeat(block, axis=2)
    return make_bunch(
        images[:, None],
        digits.target.astype(np.intp)[:, None],
        [np.arange(10)],
        ["digit"],
        _DESCR,
        return_X_y=return_X_y,
    )


_DESCR = """Handwritten digits bundled with scikit-learn (UCI optical recognition of handwritten digits):
1,797 images of 8x8 pixels, values scaled from 0..16 to 0..255, optionally enlarged by pixel blocks.
Images uint8 (n, 1, size, size); one factor, the digit (10 classes). Needs no network.
"""
