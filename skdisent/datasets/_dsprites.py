"""dSprites: the factor grid generated procedurally, and the official file loaded and verified."""

from fractions import Fraction

import numpy as np

from ._base import RemoteFile, check_memory, fetch_file, make_bunch, reading
from ._sampling import grid_or_sample

FACTOR_NAMES = ("shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES = (3, 6, 40, 32, 32)
SHAPE_NAMES = ("square", "ellipse", "heart")

DSPRITES = RemoteFile(
    folder="dsprites",
    filename="dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz",
    url=(
        "https://github.com/google-deepmind/dsprites-dataset/raw/master/"
        "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
    ),
    checksum="md5:7da33b31b13a06f4b04a70402ce90c2e",
    size="26 MB",
)

# Geometry, in pixels of a 64x64 image (other sizes scale it): sprite centres step by 5/4 pixel, so the
# 32 positions span 38.75 pixels in the middle of the image; the sprites' half-extents at scale 1 (about
# 12 pixels, rotated) keep every sprite inside the image at every position and orientation.
_STEP = Fraction(5, 256)  # position step as a fraction of the image size
_MAX_OVERSAMPLING = 16
_SQUARE_HALF_SIDE = 8.5 / 64
_ELLIPSE_AXES = (12.0 / 64, 6.0 / 64)
# The heart: a square standing on a corner (half-diagonal d) with two discs of radius d / sqrt(2) on its
# upper sides. Its square's centre lies 0.2612 d below the sprite centre, which makes the sprite centre the
# centre of the heart's smallest enclosing circle (radius 1.2612 d): the heart turns about that point.
_HEART_DIAGONAL = 9.2 / 64
_HEART_DROP = 0.2612


def _factor_values():
    return [
        np.array([1.0, 2.0, 3.0]),
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    ]


def _inside(shape, u, v, size):
    """Whether the points ``(u, v)`` (sprite frame, pixels, v up) lie inside the sprite at scale 1."""
    if shape == 0:
        return np.maximum(np.abs(u), np.abs(v)) <= _SQUARE_HALF_SIDE * size
    if shape == 1:
        a, b = _ELLIPSE_AXES
        return (u / (a * size)) ** 2 + (v / (b * size)) ** 2 <= 1.0
    d = _HEART_DIAGONAL * size
    v = v + _HEART_DROP * d  # v relative to the centre of the heart's square
    diamond = np.abs(u) + np.abs(v) <= d
    lobes = (np.abs(u) - d / 2) ** 2 + (v - d / 2) ** 2 <= d * d / 2
    return diamond | lobes


def _extent(size):
    """Largest distance from the centre of any sprite at scale 1, in pixels."""
    return size * max(_SQUARE_HALF_SIDE * 2**0.5, _ELLIPSE_AXES[0], (1 + _HEART_DROP) * _HEART_DIAGONAL)


class _Canvas:
    """Every position of one (shape, scale) pair, for all orientations, as a strided view of one bitmap.

    Sprite centres lie on a lattice of ``1 / q`` pixel, so the image of the sprite at position
    ``(i, j)`` samples a bitmap of ``q`` times the resolution at every ``q``-th point, shifted by
    ``i * s`` and ``j * s`` fine pixels. One fine bitmap per orientation therefore holds all 1,024
    positions, and an array view with the right strides reads them as images without copying.
    """

    def __init__(self, size):
        step = (_STEP * size).limit_denominator(_MAX_OVERSAMPLING)
        self.size, self.q, self.s = size, step.denominator, step.numerator
        n_pos = FACTOR_SIZES[3]
        self.offset = (n_pos - 1) * self.s  # fine index of pixel 0 for the last position
        self.width = self.width_of(size)
        first_centre = (size - (n_pos - 1) * float(step)) / 2
        # sprite-frame coordinate (pixels) of every fine sample point
        self.coords = (np.arange(self.width) - self.offset) / self.q + 0.5 - first_centre

    @staticmethod
    def width_of(size):
        """Side of the fine bitmap for images of ``size`` pixels."""
        step = (_STEP * size).limit_denominator(_MAX_OVERSAMPLING)
        return (size - 1) * step.denominator + (FACTOR_SIZES[3] - 1) * step.numerator + 1

    def render(self, shape, scale, orientations):
        """Return a view ``(n_orientations, n_posX, n_posY, size, size)`` of the rendered sprites."""
        near = np.flatnonzero(np.abs(self.coords) <= _extent(self.size) * scale + 1)
        x = self.coords[near] / scale
        y = x[:, None]  # image rows: y grows downwards
        cos, sin = np.cos(orientations)[:, None, None], np.sin(orientations)[:, None, None]
        u = cos * x - sin * y  # rotate counter-clockwise on screen
        v = -sin * x - cos * y
        bitmap = np.zeros((len(orientations), self.width, self.width), dtype=np.uint8)
        bitmap[:, near[0] : near[-1] + 1, near[0] : near[-1] + 1] = _inside(shape, u, v, self.size) * np.uint8(255)
        o, r, c = bitmap.strides
        n_pos = FACTOR_SIZES[3]
        return np.lib.stride_tricks.as_strided(
            bitmap[:, self.offset :, self.offset :],
            shape=(len(orientations), n_pos, n_pos, self.size, self.size),
            strides=(o, -self.s * c, -self.s * r, self.q * r, self.q * c),
            writeable=False,
        )


def _render(factors, size):
    """Images ``(n, 1, size, size)`` for an ``(n, 5)`` array of dSprites factor classes."""
    images = np.empty((len(factors), 1, size, size), dtype=np.uint8)
    canvas = _Canvas(size)
    values = _factor_values()
    group = factors[:, 0] * FACTOR_SIZES[1] + factors[:, 1]
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(FACTOR_SIZES[0] * FACTOR_SIZES[1] + 1))
    chunk = 8192  # bounds the temporary copy of the gathered images (32 MB at 64x64)
    for g in range(len(bounds) - 1):
        rows = order[bounds[g] : bounds[g + 1]]
        if rows.size == 0:
            continue
        shape, scale = divmod(g, FACTOR_SIZES[1])
        view = canvas.render(shape, values[1][scale], values[2])
        for start in range(0, rows.size, chunk):
            part = rows[start : start + chunk]
            images[part, 0] = view[factors[part, 2], factors[part, 3], factors[part, 4]]
    return images


def make_dsprites(n_samples=None, *, factors=None, size=64, random_state=None, return_X_y=False):
    """Generate dSprites: a white sprite on black, from five ground-truth factors.

    The factors and their classes follow the official data set: shape (square, ellipse, heart),
    scale (6 values linearly spaced in [0.5, 1]), orientation (40 values linearly spaced in
    [0, 2 pi]), posX and posY (32 values each in [0, 1]). The colour factor of the official file,
    which has one value, is left out. Images are binary (0 or 255), drawn by sampling the exact
    shape at the pixel centres.

    With neither ``n_samples`` nor ``factors`` the result is the full grid of 737,280 images in the
    official order (posY varies fastest, then posX, orientation, scale, shape): row ``i`` has the
    factors ``indices_to_factors(i, factor_sizes)``. The full grid at 64x64 takes 3 GB as uint8, the
    only large allocation made.

    Geometry (at 64x64; other sizes scale it): sprite centres step by 1.25 pixel, so positions span
    the middle 38.75 pixels; at scale 1 the square has side 17 pixels, the ellipse axes 24 x 12, the
    heart a height of about 20 pixels.

    Every step of every factor changes the image: classes ``k`` and ``k + 1`` of any factor, the
    others fixed, never give the same pixels (checked on the whole grid). Orientation does not wrap:
    its first and last classes (0 and 2 pi) give the same image, as in the official file. Symmetry
    makes other orientations look alike without being steps: the square repeats every pi / 2 and
    the ellipse every pi, and 40 values over [0, 2 pi] fall a few degrees off those periods, so
    e.g. the square at classes 0 and 10 (0 and 92.3 degrees) differs by a 2.3 degree turn, which
    leaves the pixels unchanged for some small sprites.

    Parameters
    ----------
    n_samples : int, default=None
        Draw this many factor combinations uniformly at random (with replacement). ``None`` gives
        the full grid.
    factors : array-like of int, shape (n, 5), default=None
        Render exactly these factor classes instead (e.g. from :func:`sample_shared_factor`).
    size : int, default=64
        Height and width of the images, at least 16.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for ``n_samples``.
    return_X_y : bool, default=False
        Return ``(images, factors)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` uint8 ``(n, 1, size, size)``; ``factors`` int ``(n, 5)`` classes;
        ``factor_values`` (the official latent values: shape 1..3, scale, orientation in radians,
        posX, posY), ``factor_names``, ``factor_sizes`` ``(3, 6, 40, 32, 32)``, ``shape_names``,
        ``DESCR``.
    (images, factors) : tuple
        If ``return_X_y`` is True.

    See Also
    --------
    load_dsprites : The official file.
    indices_to_factors, sample_shared_factor

    Examples
    --------
    >>> from skdisent.datasets import make_dsprites
    >>> X, y = make_dsprites(n_samples=100, random_state=0, return_X_y=True)
    >>> X.shape, X.dtype, y.shape
    ((100, 1, 64, 64), dtype('uint8'), (100, 5))
    """
    if not isinstance(size, (int, np.integer)) or size < 16:
        raise ValueError(f"size must be an int >= 16, got {size!r}.")
    n = np.prod(FACTOR_SIZES) if factors is None and n_samples is None else None
    n = len(factors) if factors is not None else (n_samples if n is None else n)
    if isinstance(n, (int, np.integer)):  # other values get check_count's message below
        width = _Canvas.width_of(int(size))
        # the images, the factors, and one shape's bitmap of every orientation with the
        # float coordinates it is drawn from
        check_memory(int(n) * (size * size + 8 * len(FACTOR_SIZES))
                     + FACTOR_SIZES[2] * width * width * 25,
                     f"make_dsprites(n_samples={n}, size={size})")
    factors = grid_or_sample(n_samples, factors, FACTOR_SIZES, random_state)
    images = _render(factors, int(size))
    return make_bunch(
        images,
        factors,
        _factor_values(),
        FACTOR_NAMES,
        _DESCR_MAKE,
        return_X_y=return_X_y,
        shape_names=list(SHAPE_NAMES),
    )


def load_dsprites(*, data_home=None, download_if_missing=False, checksum=None, return_X_y=False):
    """Load the official dSprites file, as the same Bunch as :func:`make_dsprites`.

    The file ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` (26 MB, 3 GB once loaded) is looked
    for in ``<data_home>/dsprites/``. It is downloaded only when ``download_if_missing=True``, to a
    temporary file that replaces the final name only after its checksum matched.

    Parameters
    ----------
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    download_if_missing : bool, default=False
        Download the file when it is missing. By default a missing file raises
        ``FileNotFoundError`` saying where to put it.
    checksum : str, default=None
        ``"algorithm:hexdigest"`` the file must match. By default the md5 of the official file,
        ``7da33b31b13a06f4b04a70402ce90c2e``.
    return_X_y : bool, default=False
        Return ``(images, factors)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As :func:`make_dsprites`: ``images`` uint8 ``(737280, 1, 64, 64)`` with values 0 and 255
        (the file stores 0 and 1), ``factors`` the file's ``latents_classes`` without the colour
        column, ``factor_values``, ``factor_names``, ``factor_sizes``, ``shape_names``, ``DESCR``.
    (images, factors) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        The file is missing and ``download_if_missing`` is False.
    ConnectionError
        The download failed (the message names the file and where to put it by hand).
    OSError
        The file's checksum does not match.
    ValueError
        The file does not hold the arrays of the dSprites file.
    """
    path = fetch_file(DSPRITES, data_home, download_if_missing=download_if_missing, checksum=checksum)
    with reading(path, "Delete it and call load_dsprites(download_if_missing=True), or put a good "
                       f"copy of {DSPRITES.filename} there."):
        with np.load(path) as archive:
            files = set(archive.files)
            if {"imgs", "latents_classes"} <= files:
                images, classes = archive["imgs"], archive["latents_classes"]
    missing = {"imgs", "latents_classes"} - files
    if missing:
        raise ValueError(f"{path} is not the dSprites file: it lacks the arrays {sorted(missing)}.")
    n = len(images)
    if images.dtype != np.uint8 or images.shape[1:] != (64, 64) or classes.shape != (n, 6):
        raise ValueError(
            f"{path} is not the dSprites file: imgs {images.dtype} {images.shape}, latents_classes "
            f"{classes.shape} (expected uint8 (n, 64, 64) and (n, 6))."
        )
    factors = classes[:, 1:].astype(np.intp)
    if n and ((factors < 0) | (factors >= np.asarray(FACTOR_SIZES))).any():
        raise ValueError(f"{path} is not the dSprites file: latents_classes exceed {FACTOR_SIZES}.")
    if n and images.max() <= 1:  # the file stores 0/1; our images are 0..255
        np.multiply(images, np.uint8(255), out=images)
    return make_bunch(
        images.reshape(n, 1, 64, 64),
        factors,
        _factor_values(),
        FACTOR_NAMES,
        _DESCR_LOAD,
        return_X_y=return_X_y,
        shape_names=list(SHAPE_NAMES),
    )


_DESCR_COMMON = """
Factors (classes -> values): shape 3 (square, ellipse, heart -> 1, 2, 3), scale 6 (0.5 .. 1),
orientation 40 (0 .. 2 pi, both ends included, so the first and last give the same image), posX 32
(0 .. 1), posY 32 (0 .. 1). Full grid: 737,280 images in C order, posY fastest. Images uint8
(n, 1, H, W), 0 (black) or 255 (white sprite)."""

_DESCR_MAKE = (
    "dSprites, generated procedurally by skdisent (make_dsprites).\n" + _DESCR_COMMON + "\n"
    "Matthey et al. (2017), dSprites: disentanglement testing sprites dataset, "
    "https://github.com/deepmind/dsprites-dataset/ (this is an offline re-creation, not the official pixels).\n"
)
_DESCR_LOAD = (
    "dSprites, the official file dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz (load_dsprites).\n"
    + _DESCR_COMMON
    + "\nMatthey et al. (2017), https://github.com/deepmind/dsprites-dataset/ (Apache 2.0).\n"
)
