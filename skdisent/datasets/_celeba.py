"""CelebA from a local folder of the aligned images, with the reference crop, cached after the first read."""

from pathlib import Path

import numpy as np

from ._base import atomic_write, dataset_folder, import_optional, make_bunch, reading

CELEBA_CROP = (15, 45, 163, 193)  # left, upper, right, lower: a 148x148 square of the 178x218 aligned faces
_SUFFIXES = (".jpg", ".jpeg", ".png")
_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"


def _read_attributes(path, names):
    """The 40 binary attributes of ``names`` from ``list_attr_celeba.txt``: ``(n, 40)`` 0/1, and their names."""
    lines = Path(path).read_text().splitlines()
    attribute_names = lines[1].split()
    table = {}
    for line in lines[2:]:
        fields = line.split()
        if fields:
            table[fields[0]] = fields[1:]
    missing = [name for name in names if name not in table]
    if missing:
        raise ValueError(f"{path} has no attributes for {len(missing)} images, e.g. {missing[0]}.")
    values = np.array([table[name] for name in names], dtype=int).reshape(len(names), len(attribute_names))
    return (values > 0).astype(np.intp), attribute_names


def _decode(paths, crop, size):
    """Crop, resize and stack images: uint8 ``(n, 3, size, size)``."""
    image_module = import_optional("PIL.Image", "images")
    images = np.empty((len(paths), 3, size, size), dtype=np.uint8)
    for i, path in enumerate(paths):
        with image_module.open(path) as image:
            if crop is not None and (image.width < crop[2] or image.height < crop[3]):
                raise ValueError(
                    f"{path} is {image.width}x{image.height}, smaller than the crop box {crop}: the aligned "
                    "CelebA images are 178x218 (img_align_celeba); pass crop=None for other images."
                )
            image = image.convert("RGB")
            if crop is not None:
                image = image.crop(crop)
            image = image.resize((size, size), image_module.Resampling.BILINEAR)
            images[i] = np.asarray(image).transpose(2, 0, 1)
    return images


def load_celeba(*, data_home=None, folder=None, n_images=None, size=64, crop=CELEBA_CROP, cache=True, return_X_y=False):
    """Load CelebA faces from a local folder of the aligned images, cropped and resized.

    CelebA cannot be downloaded automatically (it is distributed through Google Drive under a
    licence agreement): download ``img_align_celeba.zip`` from the CelebA site and unzip it into
    ``<data_home>/celeba/`` (or anywhere, and pass ``folder``). Each image is cropped to the box
    ``(15, 45, 163, 193)`` of the pro-VLAE reference (a 148x148 square around the face) and resized
    to ``size`` x ``size`` (bilinear). Reading needs Pillow (``pip install "skdisent[images]"``).

    Decoding 202,599 JPEGs takes minutes, so the result is cached in
    ``<data_home>/celeba/celeba_<size>_<crop>.npz`` and later calls read the cache when it holds the
    requested files. If ``list_attr_celeba.txt`` lies beside the image folder, its 40 binary
    attributes become the factors.

    Parameters
    ----------
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    folder : str or path-like, default=None
        The folder of images (``.jpg``, ``.jpeg``, ``.png``, read in sorted name order). By
        default ``<data_home>/celeba/img_align_celeba``.
    n_images : int, default=None
        Read only the first ``n_images`` files.
    size : int, default=64
        Height and width of the returned images.
    crop : tuple of 4 ints or None, default=(15, 45, 163, 193)
        Box ``(left, upper, right, lower)`` cut out before resizing; None keeps the whole image.
    cache : bool, default=True
        Read and write the cache file.
    return_X_y : bool, default=False
        Return ``(images, factors)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` uint8 ``(n, 3, size, size)``; ``factors`` int ``(n, 40)`` attributes as 0/1
        (``(n, 0)`` without an attribute file); ``factor_values``, ``factor_names`` (the attribute
        names), ``factor_sizes``, ``filenames``, ``DESCR``.
    (images, factors) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        The folder is missing or holds no images (the message says where to get them).
    """
    celeba_home = dataset_folder(data_home, "celeba")
    folder = Path(folder) if folder is not None else celeba_home / "img_align_celeba"
    paths = sorted(p for p in folder.glob("*") if p.suffix.lower() in _SUFFIXES) if folder.is_dir() else []
    if not paths:
        raise FileNotFoundError(
            f"No CelebA images in {folder}. CelebA cannot be downloaded automatically: download "
            f"img_align_celeba.zip (and list_attr_celeba.txt for the attributes) from {_URL}, unzip it so that "
            f"{folder / '000001.jpg'} exists, and put list_attr_celeba.txt in {folder.parent}; or pass folder=."
        )
    if n_images is not None:
        paths = paths[: int(n_images)]
    names = [p.name for p in paths]
    tag = "full" if crop is None else "_".join(str(int(c)) for c in crop)
    cache_path = celeba_home / f"celeba_{int(size)}_{tag}.npz"
    images = None
    if cache and cache_path.exists():
        with reading(cache_path, "Delete it (a cache of the decoded images) and call again."), \
                np.load(cache_path) as cached:
            cached_names = list(cached["filenames"])
            if cached_names[: len(names)] == names:
                images = cached["images"][: len(names)]
    if images is None:
        images = _decode(paths, crop, int(size))
        if cache:
            with atomic_write(cache_path) as file:
                np.savez(file, images=images, filenames=np.array(names))
    attributes = folder.parent / "list_attr_celeba.txt"
    if attributes.exists():
        factors, factor_names = _read_attributes(attributes, names)
    else:
        factors, factor_names = np.zeros((len(names), 0), dtype=np.intp), []
    return make_bunch(
        images,
        factors,
        [np.array([0, 1])] * len(factor_names),
        factor_names,
        _DESCR,
        return_X_y=return_X_y,
        filenames=names,
    )


_DESCR = """CelebA (Liu et al., 2015), aligned and cropped faces, read from a local folder (load_celeba).
Cropped to the box (15, 45, 163, 193) of the pro-VLAE reference and resized. Images uint8 (n, 3, H, W);
factors: the 40 binary attributes of list_attr_celeba.txt (1 = present) when the file is there.
https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (non-commercial research use only).
"""
