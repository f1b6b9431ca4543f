"""Moving sprites: short videos of a sprite moving a little over a fixed textured background."""

import numpy as np

from ._base import make_bunch
from ._sampling import grid_or_sample

FACTOR_NAMES = ("shape", "start_x", "start_y", "direction", "background")
SHAPE_NAMES = ("square", "disc", "triangle", "pacman")
DIRECTION_NAMES = ("right", "down", "left", "up")
BACKGROUND_NAMES = ("maze", "stripes", "checker", "waves")
_N_POSITIONS = 8
FACTOR_SIZES = (len(SHAPE_NAMES), _N_POSITIONS, _N_POSITIONS, len(DIRECTION_NAMES), len(BACKGROUND_NAMES))

# In units of the frame size: sprite radius, distance moved per frame, margin to the border.
_RADIUS, _SPEED, _MARGIN = 0.11, 0.04, 0.5 / 32
_STEPS = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])  # (dx, dy) per direction, y down
_SPRITE_RGB = np.array([1.0, 0.85, 0.1])
_SUPERSAMPLING = 4


def _start_positions(size, n_frames):
    """Pixel coordinates of the 8 start positions (one axis); the whole path stays inside the frame."""
    reach = (_RADIUS + _MARGIN + _SPEED * (n_frames - 1)) * size
    if size - 2 * reach <= 0:
        raise ValueError(
            f"n_frames={n_frames} is too many for size={size}: the sprite would leave the frame; "
            f"use at most {int((0.5 - _RADIUS - _MARGIN) / _SPEED)} frames or a larger size."
        )
    return np.linspace(reach, size - reach, _N_POSITIONS)


def _inside(shape, u, v, radius):
    """Whether points ``(u, v)`` (pixels from the sprite centre, v down) lie inside the sprite."""
    if shape == 0:
        return np.maximum(np.abs(u), np.abs(v)) <= 0.8 * radius
    disc = u * u + v * v <= radius * radius
    if shape == 1:
        return disc
    if shape == 2:  # apex up, base 0.75 radius below the centre
        return (v >= -radius) & (v <= 0.75 * radius) & (np.abs(u) <= (v + radius) / 1.75)
    return disc & ~((u > 0) & (np.abs(v) < 0.6 * u))  # a disc with a mouth facing right


def _backgrounds(size):
    """The four textures, uint8 ``(4, 3, size, size)``, drawn from formulas (no randomness)."""
    y, x = (np.mgrid[0:size, 0:size] + 0.5) * (32.0 / size)  # texture scale fixed to a 32-pixel frame

    def rgb(red, green, blue):
        return np.array([red, green, blue])[:, None, None]

    def mix(weight, dark, light):
        weight = np.asarray(weight, dtype=float)
        return (1 - weight) * dark + weight * light

    walls = ((x % 8) < 1.5) | ((y % 8) < 1.5)
    pellets = (np.abs(x % 8 - 4.75) < 0.6) & (np.abs(y % 8 - 4.75) < 0.6)
    maze = mix(pellets, mix(walls, rgb(0.04, 0.04, 0.2), rgb(0.15, 0.2, 0.75)), rgb(0.85, 0.55, 0.6))
    stripes = mix(0.5 + 0.5 * np.sin(2 * np.pi * (x + y) / 6), rgb(0.22, 0.04, 0.28), rgb(0.5, 0.15, 0.55))
    checker = mix((x // 4 + y // 4) % 2, rgb(0.04, 0.22, 0.08), rgb(0.1, 0.42, 0.16))
    waves = mix(0.5 + 0.5 * np.sin(2 * np.pi * x / 9) * np.sin(2 * np.pi * y / 7), rgb(0, 0.2, 0.25), rgb(0.25, 0.5, 0.5))
    return np.rint(np.stack([maze, stripes, checker, waves]) * 255).astype(np.uint8)


def _masks(shapes, centres, size):
    """Anti-aliased coverage ``(m, size, size)`` of sprites ``shapes`` ``(m,)`` at ``centres`` ``(m, 2)``."""
    k = _SUPERSAMPLING
    sub = (np.arange(size * k) + 0.5) / k  # sub-pixel sample coordinates
    radius = _RADIUS * size
    out = np.empty((len(shapes), size, size), dtype=np.float32)
    for shape in np.unique(shapes):
        rows = np.flatnonzero(shapes == shape)
        for start in range(0, rows.size, 256):
            part = rows[start : start + 256]
            u = sub[None, None, :] - centres[part, 0, None, None]
            v = sub[None, :, None] - centres[part, 1, None, None]
            hits = _inside(shape, u, v, radius).reshape(len(part), size, k, size, k).sum(axis=(2, 4), dtype=np.uint8)
            out[part] = hits * np.float32(1 / k**2)
    return out


def _render(factors, n_frames, size):
    """Videos ``(n, n_frames, 3, size, size)`` for an ``(n, 5)`` array of factor classes."""
    positions = _start_positions(size, n_frames)
    start = positions[factors[:, 1:3]]  # (n, 2): x, y
    moves = _STEPS[factors[:, 3]] * (_SPEED * size)
    centres = start[:, None, :] + np.arange(n_frames)[None, :, None] * moves[:, None, :]  # (n, T, 2)
    shapes = np.repeat(factors[:, 0], n_frames)
    # many frames share a sprite position: draw each distinct (shape, x, y) once
    keys = np.column_stack([shapes, np.round(centres.reshape(-1, 2) * 1024)])
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    masks = _masks(unique[:, 0].astype(int), unique[:, 1:] / 1024, size)
    inverse = inverse.reshape(len(factors), n_frames)
    backgrounds = _backgrounds(size).astype(np.float32)
    sprite = (_SPRITE_RGB * 255).astype(np.float32)[:, None, None]
    videos = np.empty((len(factors), n_frames, 3, size, size), dtype=np.uint8)
    for start in range(0, len(factors), 512):
        part = slice(start, start + 512)
        frames = np.repeat(backgrounds[factors[part, 4]][:, None], n_frames, axis=1)  # (m, T, 3, H, W)
        frames += masks[inverse[part]][:, :, None] * (sprite - frames)  # alpha blending
        videos[part] = np.rint(frames, out=frames)
    return videos


def make_moving_sprites(n_samples=None, *, factors=None, n_frames=5, size=32, random_state=None, return_X_y=False):
    """Generate short videos of a sprite moving a little over a fixed, textured background.

    The test data of locally disentangled factors (LDF): each frame is one piece of the video, the
    sprite's shape and motion are the dependencies between frames, and the background, textured so
    that a model cannot get it right by painting a flat colour, must stay fixed across the frames.

    Layout: ``videos[i, t]`` is frame ``t`` of video ``i``, an RGB image ``(3, size, size)``; the
    array is uint8 ``(n, n_frames, 3, size, size)``. A yellow sprite of radius ``0.11 * size``
    starts at ``(start_x, start_y)`` and moves ``0.04 * size`` pixels per frame (1.28 pixels at
    32x32) in its direction; start positions keep the whole path inside the frame. Sprites are
    anti-aliased (4x4 samples per pixel). The background is one of four textures (maze, stripes,
    checker, waves), the same in every frame of a video.

    Factors, in grid order: shape (square, disc, triangle, pacman facing right), start_x (8),
    start_y (8), direction (right, down, left, up), background (4): 4,096 videos in the full grid.

    Parameters
    ----------
    n_samples : int, default=None
        Draw this many factor combinations uniformly at random (with replacement). ``None`` gives
        the full grid.
    factors : array-like of int, shape (n, 5), default=None
        Render exactly these factor classes instead.
    n_frames : int, default=5
        Frames per video, at least 2.
    size : int, default=32
        Height and width of the frames, at least 16.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for ``n_samples``.
    return_X_y : bool, default=False
        Return ``(videos, factors)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``videos`` uint8 ``(n, n_frames, 3, size, size)``; ``factors`` int ``(n, 5)`` classes;
        ``factor_values`` (shape 0..3, start positions in pixels, direction in degrees clockwise
        from right, background 0..3), ``factor_names``, ``factor_sizes`` ``(4, 8, 8, 4, 4)``,
        ``shape_names``, ``direction_names``, ``background_names``, ``backgrounds`` (the four
        textures, uint8 ``(4, 3, size, size)``), ``DESCR``.
    (videos, factors) : tuple
        If ``return_X_y`` is True.

    Examples
    --------
    >>> from skdisent.datasets import make_moving_sprites
    >>> X, y = make_moving_sprites(n_samples=16, random_state=0, return_X_y=True)
    >>> X.shape, y.shape
    ((16, 5, 3, 32, 32), (16, 5))
    """
    if not isinstance(size, (int, np.integer)) or size < 16:
        raise ValueError(f"size must be an int >= 16, got {size!r}.")
    if not isinstance(n_frames, (int, np.integer)) or n_frames < 2:
        raise ValueError(f"n_frames must be an int >= 2, got {n_frames!r}.")
    positions = _start_positions(int(size), int(n_frames))
    factors = grid_or_sample(n_samples, factors, FACTOR_SIZES, random_state)
    values = [
        np.arange(4.0),
        positions,
        positions,
        np.array([0.0, 90.0, 180.0, 270.0]),
        np.arange(4.0),
    ]
    return make_bunch(
        _render(factors, int(n_frames), int(size)),
        factors,
        values,
        FACTOR_NAMES,
        _DESCR,
        return_X_y=return_X_y,
        key="videos",
        shape_names=list(SHAPE_NAMES),
        direction_names=list(DIRECTION_NAMES),
        background_names=list(BACKGROUND_NAMES),
        backgrounds=_backgrounds(int(size)),
    )


_DESCR = """Moving sprites, generated by skdisent (make_moving_sprites).

Short videos uint8 (n, n_frames, 3, H, W) of a yellow sprite moving a little in a straight line over a
textured background that stays fixed across the frames: a stand-in for the Pacman clips of the LDF paper
(Cooper, 2017), where keeping the background fixed tests whether a model learnt the relation between frames.
Factors: shape 4 (square, disc, triangle, pacman), start_x 8, start_y 8 (pixels), direction 4 (right,
down, left, up), background 4 (maze, stripes, checker, waves). Full grid: 4,096 videos in C order.
"""
