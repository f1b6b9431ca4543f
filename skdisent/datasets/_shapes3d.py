"""3DShapes: a procedural ray-cast renderer with the official factors, and the official file loaded."""

import numpy as np

from ._base import (
    RemoteFile,
    check_memory,
    fetch_file,
    import_optional,
    make_bunch,
    reading,
)
from ._sampling import factors_to_indices, grid_or_sample, indices_to_factors

FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)
SHAPE_NAMES = ("cube", "cylinder", "sphere", "capsule")
_GEOMETRY_SIZES = FACTOR_SIZES[3:]  # scale, shape, orientation: what the ray caster sees

SHAPES3D = RemoteFile(
    folder="shapes3d",
    filename="3dshapes.h5",
    url="https://storage.googleapis.com/3d-shapes/3dshapes.h5",
    checksum="md5:099a2078d58cec4daad0702c55d06868",
    size="268 MB",
)

# The scene, in world units, y up. The object stands on the floor y = 0 at the origin; two walls meet
# in a vertical corner behind it (the surface z = CORNER - |x|). The camera orbits the origin by the
# orientation angle, so the object turns and the corner slides across the image; the light stays put.
_CAMERA_DISTANCE, _CAMERA_HEIGHT, _LOOK_AT_HEIGHT = 4.5, 3.0, 0.6
_TAN_HALF_FOV = 0.42
_CORNER = 3.5
_LIGHT = np.array([-0.45, 1.0, -0.6]) / np.linalg.norm([-0.45, 1.0, -0.6])
_AMBIENT = {"background": 0.45, "object": 0.3}
_SATURATION = 0.8
_SUPERSAMPLING = 3  # rays per pixel along each axis (anti-aliasing)
_EPS = 1e-6
# unit-scale object sizes: cube half-edge, cylinder radius and height, sphere radius,
# capsule radius and half-length of its axis (it lies along the world x axis)
_CUBE, _CYLINDER, _SPHERE, _CAPSULE = 0.5, (0.5, 1.0), 0.6, (0.38, 0.45)
_BOUND = (0.5, 0.9)  # every unit object lies within 0.9 of the point (0, 0.5, 0)


def _factor_values():
    return [
        np.linspace(0.0, 0.9, 10),
        np.linspace(0.0, 0.9, 10),
        np.linspace(0.0, 0.9, 10),
        np.linspace(0.75, 1.25, 8),
        np.arange(4.0),
        np.linspace(-30.0, 30.0, 15),
    ]


def _hue_rgb(hue):
    """RGB in [0, 1] of the hues ``(n,)`` at the scene's saturation and full value: ``(n, 3)``."""
    k = (np.array([5.0, 3.0, 1.0]) + 6.0 * np.asarray(hue, dtype=float)[:, None]) % 6.0
    return 1.0 - _SATURATION * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def _dot(a, b):
    return np.einsum("...i,...i->...", a, b)


def _first(*hits):
    """The nearest of several ``(t, normal)`` hits (``t = inf`` for a miss)."""
    t = np.stack([h[0] for h in hits])
    which = t.argmin(axis=0)
    normals = np.stack([np.broadcast_to(h[1], t.shape[1:] + (3,)) for h in hits])
    return np.take_along_axis(t, which[None], 0)[0], np.take_along_axis(normals, which[None, ..., None], 0)[0]


def _valid(t, ok):
    return np.where(ok & (t > _EPS), t, np.inf)


def _sphere(o, d, centre, radius):
    oc = o - centre
    b = _dot(oc, d)
    disc = b * b - (_dot(oc, oc) - radius * radius)
    with np.errstate(invalid="ignore"):
        t = _valid(-b - np.sqrt(disc), disc >= 0)
    return t, (o + np.where(np.isfinite(t), t, 0)[..., None] * d - centre) / radius


def _tube(o, d, axis, radius, centre, half_length):
    """A cylinder's side: ``axis`` 0 (along x) or 1 (along y), through ``centre``, ``|along| <= half_length``."""
    across = [a for a in range(3) if a != axis]
    p = o - centre
    a = d[..., across[0]] ** 2 + d[..., across[1]] ** 2
    b = p[..., across[0]] * d[..., across[0]] + p[..., across[1]] * d[..., across[1]]
    c = p[..., across[0]] ** 2 + p[..., across[1]] ** 2 - radius * radius
    disc = b * b - a * c
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (-b - np.sqrt(disc)) / a
    hit = p + np.where(np.isfinite(t), t, 0)[..., None] * d
    t = _valid(t, (disc >= 0) & (np.abs(hit[..., axis]) <= half_length))
    normal = hit.copy()
    normal[..., axis] = 0
    return t, normal / radius


def _box(o, d, half):
    lo, hi = np.array([-half, 0.0, -half]), np.array([half, 2 * half, half])
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo - o) / d, (hi - o) / d
    near, far = np.fmin(t1, t2), np.fmax(t1, t2)
    t_near, t_far = near.max(axis=-1), far.min(axis=-1)
    axis = near.argmax(axis=-1)
    d_axis = np.take_along_axis(np.broadcast_to(d, near.shape), axis[..., None], -1)
    normal = -np.sign(d_axis) * (axis[..., None] == np.arange(3))
    return _valid(t_near, t_near <= t_far), normal


def _object(shape, o, d):
    """Hit ``(t, normal)`` of the unit-scale object ``shape`` by rays ``o + t d`` (arrays ``(..., 3)``)."""
    if shape == 0:
        return _box(o, d, _CUBE)
    if shape == 1:
        radius, height = _CYLINDER
        side = _tube(o, d, 1, radius, np.array([0.0, height / 2, 0.0]), height / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (height - o[..., 1]) / d[..., 1]
        top = o + np.where(np.isfinite(t), t, 0)[..., None] * d
        cap = _valid(t, top[..., 0] ** 2 + top[..., 2] ** 2 <= radius * radius), np.array([0.0, 1.0, 0.0])
        return _first(side, cap)
    if shape == 2:
        return _sphere(o, d, np.array([0.0, _SPHERE, 0.0]), _SPHERE)
    radius, half = _CAPSULE
    centre = np.array([0.0, radius, 0.0])
    ends = [_sphere(o, d, centre + [x, 0.0, 0.0], radius) for x in (-half, half)]
    return _first(_tube(o, d, 0, radius, centre, half), *ends)


def _background(o, d):
    """Hit ``(t, normal)`` of the floor and the two walls."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = _valid(-o[..., 1] / d[..., 1], np.ones(d.shape[:-1], bool))
        hits = [(t_floor, np.array([0.0, 1.0, 0.0]))]
        for side in (-1.0, 1.0):  # the wall x - side * z = -side * CORNER, kept where side * x <= 0
            normal = np.array([1.0, 0.0, -side]) / np.sqrt(2.0) * side  # into the room
            t = (-side * _CORNER - o[..., 0] + side * o[..., 2]) / (d[..., 0] - side * d[..., 2])
            x = o[..., 0] + t * d[..., 0]
            hits.append((_valid(t, side * x <= 0), normal))
    return hits


def _camera_rays(orientation, size):
    """Camera position ``(3,)`` and unit ray directions ``(size * size * k * k, 3)``, pixel-major."""
    angle = np.deg2rad(orientation)
    eye = np.array([-_CAMERA_DISTANCE * np.sin(angle), _CAMERA_HEIGHT, -_CAMERA_DISTANCE * np.cos(angle)])
    forward = np.array([0.0, _LOOK_AT_HEIGHT, 0.0]) - eye
    forward /= np.linalg.norm(forward)
    right = np.cross([0.0, 1.0, 0.0], forward)
    right /= np.linalg.norm(right)
    up = np.cross(forward, right)
    k = _SUPERSAMPLING
    sub = (np.arange(size * k) + 0.5) / (size * k) * 2 - 1  # sub-pixel centres in [-1, 1]
    rows = sub.reshape(size, 1, k, 1)
    cols = sub.reshape(1, size, 1, k)
    d = forward + _TAN_HALF_FOV * (cols[..., None] * right - rows[..., None] * up)
    d = d.reshape(-1, 3)
    return eye, d / np.linalg.norm(d, axis=-1, keepdims=True)


def _object_hits(shape, origins, directions, scales):
    """``_object`` for objects at several scales, cast only for rays that pass its bounding sphere.

    ``origins`` and ``directions`` are ``(n, 3)`` or ``(3,)``; returns ``t`` (world units, ``inf``
    for a miss) and normals, both with a leading axis of ``len(scales)``.
    """
    n = max(len(np.atleast_2d(origins)), len(np.atleast_2d(directions)))
    o, d = np.broadcast_to(origins, (n, 3)), np.broadcast_to(directions, (n, 3))
    centre = np.array([0.0, _BOUND[0] * scales.max(), 0.0])  # bounds every scale at once
    oc = o - centre
    b = _dot(oc, d)
    near = np.flatnonzero((_dot(oc, oc) - b * b <= (_BOUND[1] * scales.max()) ** 2) & (b < 0))
    t = np.full((len(scales), n), np.inf)
    normal = np.zeros((len(scales), n, 3))
    # the object at scale s is the unit object seen by rays o / s; t scales back by s
    t_near, normal[:, near] = _object(shape, o[near] / scales[:, None, None], d[near])
    t[:, near] = t_near * scales[:, None]
    return t, normal


def _weights(geometries, size):
    """Shaded coverage of floor, wall and object: ``(m, 3, size * size)`` for ``(m, 3)`` geometry classes.

    A pixel's colour is the sum over the three surfaces of weight times the surface's RGB, so the
    hues can be applied afterwards to any combination, without casting a ray again.
    """
    values = _factor_values()
    scales, orientations = values[3], values[5]
    out = np.empty((len(geometries), 3, size * size), dtype=np.float32)
    for orient in np.unique(geometries[:, 2]):
        eye, d = _camera_rays(orientations[orient], size)
        (t_floor, n_floor), *walls = _background(eye, d)
        t_wall, n_wall = _first(*walls)
        is_floor = t_floor < t_wall
        t_back = np.where(is_floor, t_floor, t_wall)
        normal = np.where(is_floor[:, None], n_floor, n_wall)
        point = eye + t_back[:, None] * d + 1e-4 * normal
        lit = np.maximum(_dot(normal, _LIGHT), 0.0)
        for shape in np.unique(geometries[geometries[:, 2] == orient, 1]):
            rows = np.flatnonzero((geometries[:, 2] == orient) & (geometries[:, 1] == shape))
            scale = scales[geometries[rows, 0]]
            t_obj, n_obj = _object_hits(shape, eye, d, scale)
            hit = t_obj < t_back
            shadowed = np.isfinite(_object_hits(shape, point, _LIGHT, scale)[0])
            back_shade = _AMBIENT["background"] + (1 - _AMBIENT["background"]) * lit * ~shadowed
            obj_shade = _AMBIENT["object"] + (1 - _AMBIENT["object"]) * np.maximum(_dot(n_obj, _LIGHT), 0.0)
            layers = np.stack(
                [
                    np.where(~hit & is_floor, back_shade, 0.0),
                    np.where(~hit & ~is_floor, back_shade, 0.0),
                    np.where(hit, obj_shade, 0.0),
                ],
                axis=1,
            )  # (scales, 3 surfaces, rays)
            out[rows] = layers.reshape(len(rows), 3, size * size, -1).mean(axis=-1)
    return out


def _tables(weights, hues):
    """uint8 colour terms ``(3 surfaces, n_hues, m, 3, size * size)``: floor(weight * RGB * 255).

    Rounding each term down keeps the sum of the three terms within 0..255.
    """
    rgb = _hue_rgb(hues) * 255.0  # (h, 3)
    return np.stack(
        [
            np.floor(weights[None, :, s, None, :] * rgb[:, None, :, None].astype(np.float32)).astype(np.uint8)
            for s in range(3)
        ]
    )


def _render(factors, size):
    """Images ``(n, 3, size, size)`` for an ``(n, 6)`` array of 3DShapes factor classes."""
    n_hues, n_geometries = FACTOR_SIZES[0], int(np.prod(_GEOMETRY_SIZES))
    indices = factors_to_indices(factors, FACTOR_SIZES)
    used, local = np.unique(indices % n_geometries, return_inverse=True)  # geometry: the last 3 factors
    weights = _weights(indices_to_factors(used, _GEOMETRY_SIZES), size)
    floor, wall, obj = _tables(weights, _factor_values()[0]).reshape(3, n_hues, len(used), 3 * size * size)
    images = np.empty((len(factors), 3, size, size), dtype=np.uint8)
    flat = images.reshape(len(factors), 3 * size * size)
    if np.array_equal(indices, np.arange(np.prod(FACTOR_SIZES))):  # the full grid: broadcast whole blocks
        blocks = flat.reshape(n_hues, n_hues, n_hues, n_geometries, -1)
        for f in range(n_hues):
            for w in range(n_hues):
                np.add(obj, floor[f] + wall[w], out=blocks[f, w])
        return images
    for start in range(0, len(factors), 4096):
        part = slice(start, start + 4096)
        g = local[part]
        flat[part] = floor[factors[part, 0], g] + wall[factors[part, 1], g] + obj[factors[part, 2], g]
    return images


def make_shapes3d(n_samples=None, *, factors=None, size=64, random_state=None, return_X_y=False):
    """Generate 3DShapes-like images: an object on a floor before two walls, from six factors.

    A small ray caster renders a floor, two walls meeting in a vertical corner behind the object,
    and the object, under a directional light with ambient term and cast shadows, 3x3 rays per pixel.
    The factors, their sizes and their order follow the official 3DShapes data set: floor hue (10),
    wall hue (10), object hue (10) (hues 0, 0.1, ..., 0.9 at fixed saturation), scale (8 values in
    [0.75, 1.25]), shape (cube, cylinder, sphere, capsule lying on its side), orientation (15 values
    in [-30, 30] degrees: the camera orbits the object, so the object turns and the wall corner
    slides across the image). Colour, shape, size and viewpoint are thus visibly separate, and every
    step of every factor changes the image.

    With neither ``n_samples`` nor ``factors`` the result is the full grid of 480,000 images in the
    official order (orientation fastest, then shape, scale, object hue, wall hue, floor hue), 5.9 GB
    as uint8. The geometry (scale, shape, orientation: 480 combinations) is ray-cast once; the hues
    are applied as per-surface colour tables, so the full grid costs little more than writing it.

    Parameters
    ----------
    n_samples : int, default=None
        Draw this many factor combinations uniformly at random (with replacement). ``None`` gives
        the full grid.
    factors : array-like of int, shape (n, 6), default=None
        Render exactly these factor classes instead.
    size : int, default=64
        Height and width of the images, at least 8.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for ``n_samples``.
    return_X_y : bool, default=False
        Return ``(images, factors)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` uint8 ``(n, 3, size, size)`` RGB; ``factors`` int ``(n, 6)`` classes;
        ``factor_values`` (the official label values: hues, scale, shape 0..3, orientation in
        degrees), ``factor_names``, ``factor_sizes`` ``(10, 10, 10, 8, 4, 15)``, ``shape_names``,
        ``DESCR``.
    (images, factors) : tuple
        If ``return_X_y`` is True.

    See Also
    --------
    load_shapes3d : The official file.

    Examples
    --------
    >>> from skdisent.datasets import make_shapes3d
    >>> X, y = make_shapes3d(n_samples=10, random_state=0, return_X_y=True)
    >>> X.shape, y.shape
    ((10, 3, 64, 64), (10, 6))
    """
    if not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size must be an int >= 8, got {size!r}.")
    n = np.prod(FACTOR_SIZES) if factors is None and n_samples is None else None
    n = len(factors) if factors is not None else (n_samples if n is None else n)
    if isinstance(n, (int, np.integer)):  # other values get check_count's message below
        pixels = int(size) ** 2
        geometries = min(int(n), int(np.prod(_GEOMETRY_SIZES)))
        # the images and factors, each geometry's shading and colour tables, and the
        # rays of one orientation with their hits at every scale
        check_memory(int(n) * (3 * pixels + 8 * len(FACTOR_SIZES)) + geometries * 250 * pixels
                     + _SUPERSAMPLING**2 * pixels * 400,
                     f"make_shapes3d(n_samples={n}, size={size})")
    factors = grid_or_sample(n_samples, factors, FACTOR_SIZES, random_state)
    return make_bunch(
        _render(factors, int(size)),
        factors,
        _factor_values(),
        FACTOR_NAMES,
        _DESCR_MAKE,
        return_X_y=return_X_y,
        shape_names=list(SHAPE_NAMES),
    )


def load_shapes3d(*, data_home=None, download_if_missing=False, checksum=None, return_X_y=False):
    """Load the official 3DShapes file, as the same Bunch as :func:`make_shapes3d`.

    The file ``3dshapes.h5`` (268 MB, 5.9 GB once loaded) is looked for in
    ``<data_home>/shapes3d/``. It is downloaded only when ``download_if_missing=True``, to a
    temporary file that replaces the final name only after its checksum matched. Reading it needs
    h5py (``pip install "skdisent[h5]"``). Images are read in chunks into one ``(n, 3, 64, 64)``
    array, so the peak memory is that array plus a chunk.

    Parameters
    ----------
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    download_if_missing : bool, default=False
        Download the file when it is missing. By default a missing file raises
        ``FileNotFoundError`` saying where to put it.
    checksum : str, default=None
        ``"algorithm:hexdigest"`` the file must match. By default the md5 of the official file,
        ``099a2078d58cec4daad0702c55d06868``.
    return_X_y : bool, default=False
        Return ``(images, factors)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As :func:`make_shapes3d`; ``factors`` are the classes of the file's ``labels``.
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
        The file does not hold the arrays of the 3DShapes file.
    """
    h5py = import_optional("h5py", "h5")
    path = fetch_file(SHAPES3D, data_home, download_if_missing=download_if_missing, checksum=checksum)
    with reading(path, "Delete it and call load_shapes3d(download_if_missing=True), or put a good "
                       f"copy of {SHAPES3D.filename} there."), h5py.File(path, "r") as file:
        complete = {"images", "labels"} <= set(file)
        if complete:
            source, labels = file["images"], file["labels"][()]
            n, layout = len(source), (source.dtype, source.shape, labels.shape)
            if layout == (np.uint8, (n, 64, 64, 3), (n, 6)):
                images = np.empty((n, 3, 64, 64), dtype=np.uint8)
                for start in range(0, n, 10_000):
                    images[start : start + 10_000] = source[start : start + 10_000].transpose(0, 3, 1, 2)
    if not complete:
        raise ValueError(f"{path} is not the 3DShapes file: it lacks 'images' or 'labels'.")
    if layout != (np.uint8, (n, 64, 64, 3), (n, 6)):
        raise ValueError(
            f"{path} is not the 3DShapes file: images {layout[0]} {layout[1]}, labels {layout[2]} "
            "(expected uint8 (n, 64, 64, 3) and (n, 6))."
        )
    factors = np.empty(labels.shape, dtype=np.intp)
    for k, values in enumerate(_factor_values()):
        distance = np.abs(labels[:, k, None] - values)
        factors[:, k] = distance.argmin(axis=1)
        if n and distance.min(axis=1).max() > 1e-3:
            raise ValueError(f"{path} is not the 3DShapes file: labels[:, {k}] holds values other than {values}.")
    return make_bunch(
        images,
        factors,
        _factor_values(),
        FACTOR_NAMES,
        _DESCR_LOAD,
        return_X_y=return_X_y,
        shape_names=list(SHAPE_NAMES),
    )


_DESCR_COMMON = """
Factors (classes -> values): floor_hue 10, wall_hue 10, object_hue 10 (0, 0.1, ..., 0.9), scale 8
(0.75 .. 1.25), shape 4 (cube, cylinder, sphere, capsule -> 0 .. 3), orientation 15 (-30 .. 30 degrees).
Full grid: 480,000 images in C order, orientation fastest. Images uint8 (n, 3, H, W) RGB."""

_DESCR_MAKE = (
    "3DShapes, rendered procedurally by skdisent (make_shapes3d): an offline re-creation with the\n"
    "official factors, not the official pixels.\n" + _DESCR_COMMON + "\n"
    "Burgess and Kim (2018), 3D Shapes Dataset, https://github.com/deepmind/3dshapes-dataset/\n"
)
_DESCR_LOAD = (
    "3DShapes, the official file 3dshapes.h5 (load_shapes3d).\n" + _DESCR_COMMON + "\n"
    "Burgess and Kim (2018), https://github.com/deepmind/3dshapes-dataset/ (Apache 2.0).\n"
)
