"""The user's data as the networks see it: layouts, float batches, stacked outputs.

Images stay in their own dtype (``uint8`` included) and become float one batch at a
time (DESIGN.md, data conventions); what batched inference returns is written into
arrays allocated once.
"""

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.utils.validation import validate_data

__all__ = ["InputLayout", "BatchSource", "stack_rows", "validate_input", "input_layout",
           "check_probabilities", "likelihood_for", "evenly_spaced_rows", "INFERENCE_BATCH",
           "MIN_INFERENCE_ROWS"]

#: The dtypes ``X`` may have; others are converted to the first.
INPUT_DTYPES = (np.float32, np.float64, np.uint8)

#: Rows per batch of ``transform``, ``score`` and the other inference methods.
INFERENCE_BATCH = 512

#: Rows an encoding batch is padded to. CPU matrix products of one to three rows take
#: another code path than larger ones and round differently, so without the padding a
#: row encoded alone would not equal the same row encoded with others.
MIN_INFERENCE_ROWS = 8


@dataclass(frozen=True)
class InputLayout:
    """How a user's ``X`` maps onto the network's input.

    Attributes
    ----------
    sample_shape : tuple of int
        Shape of one sample as the user gave it (``X.shape[1:]``).
    network_shape : tuple of int
        Shape of one sample as the network sees it: ``(C, H, W)`` or ``(n_features,)``.
    """

    sample_shape: tuple
    network_shape: tuple

    @property
    def is_image(self):
        """Whether the network is convolutional."""
        return len(self.network_shape) >= 3

    def to_dict(self):
        """The layout as plain values, for model files."""
        return {"sample_shape": tuple(self.sample_shape),
                "network_shape": tuple(self.network_shape)}

    @classmethod
    def from_dict(cls, fields):
        """The inverse of :meth:`to_dict`."""
        return cls(tuple(int(s) for s in fields["sample_shape"]),
                   tuple(int(s) for s in fields["network_shape"]))


class BatchSource:
    """Float batches cut from an array that keeps its own dtype.

    ``uint8`` data are read as 0..255 and scaled to [0, 1]; other dtypes are used as
    they are. Only the rows of one batch are ever copied or converted.

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)
        The data, in the user's layout.
    layout : InputLayout
        How one sample maps onto the network's input.
    """

    def __init__(self, X, layout):
        self.X = X
        self.layout = layout
        self.scale = 1.0 / 255.0 if X.dtype == np.uint8 else None

    def __len__(self):
        return self.X.shape[0]

    def batch(self, indices, device):
        """Rows ``indices`` as a float32 tensor of shape ``(len(indices), *network_shape)``."""
        rows = torch.from_numpy(np.take(self.X, np.asarray(indices), axis=0))
        if device.type == "cuda":
            # From page-locked memory the copy runs asynchronously, in the data's own dtype
            # (a quarter of float32's bytes for uint8); the conversion happens on the GPU.
            rows = rows.pin_memory()
        tensor = rows.to(device, non_blocking=True)
        tensor = tensor.reshape(len(rows), *self.layout.network_shape).float()
        return tensor.mul_(self.scale) if self.scale is not None else tensor

    def batches(self, device, batch_size=INFERENCE_BATCH, min_rows=1):
        """Every row in order, ``batch_size`` rows at a time.

        A batch of fewer than ``min_rows`` rows is padded to ``min_rows`` by repeating
        its rows; :func:`stack_rows` with ``padded=True`` drops what they give.
        """
        for start in range(0, len(self), batch_size):
            rows = np.arange(start, min(start + batch_size, len(self)))
            yield self.batch(np.resize(rows, max(len(rows), min_rows)), device)


def stack_rows(blocks, n_rows, dtype=np.float32, padded=False):
    """Stack consecutive blocks of rows into arrays allocated once, written in place.

    What ``transform`` and the other batched inference methods return is built this
    way rather than by concatenating a list of per-batch results at the end: that
    list holds one small allocation per batch for the whole pass while the large
    batches come and go, which fragments the C heap so that each batch leaves its
    buffer behind (``benchmarks/README.md`` measures it on the full dSprites grid).
    It also saves the final copy.

    Parameters
    ----------
    blocks : iterable of torch.Tensor or of tuples of torch.Tensor
        Consecutive blocks of rows (one per batch, on any device, of any float
        type); a tuple per block fills as many arrays.
    n_rows : int
        Rows of all blocks together.
    dtype : numpy dtype, default=np.float32
        Type of the arrays.
    padded : bool, default=False
        The last block may hold rows beyond ``n_rows`` (padding): they are dropped.

    Returns
    -------
    arrays : ndarray or tuple of ndarray
        One array of shape ``(n_rows, *block.shape[1:])`` per tensor of a block; a
        single array when the blocks are tensors.
    """
    arrays, start = None, 0
    for block in blocks:
        parts = block if isinstance(block, tuple) else (block,)
        if arrays is None:
            arrays = tuple(np.empty((n_rows, *part.shape[1:]), dtype=dtype) for part in parts)
        stop = start + len(parts[0])
        if padded and start < n_rows < stop:
            parts, stop = tuple(part[: n_rows - start] for part in parts), n_rows
        if stop > n_rows:
            raise RuntimeError(f"Expected blocks of {n_rows} rows in all, got more.")
        for array, part in zip(arrays, parts):
            array[start:stop] = part.float().cpu().numpy()
        start = stop
    if arrays is None or start != n_rows:
        raise RuntimeError(f"Expected blocks of {n_rows} rows in all, got {start}.")
    return arrays if isinstance(block, tuple) else arrays[0]


def validate_input(estimator, X, *, reset, min_samples=1):
    """Validate ``X`` as scikit-learn does, then against what ``estimator`` was fitted on.

    Parameters
    ----------
    estimator : skdisent estimator
    X : array-like
    reset : bool
        True in a fresh ``fit`` (``n_features_in_`` is set), False after it (``X`` must
        have the samples' shape, and the scale, of the data ``fit`` saw).
    min_samples : int, default=1

    Returns
    -------
    X : ndarray
    """
    try:
        X = validate_data(estimator, X, reset=reset, allow_nd=True, dtype=list(INPUT_DTYPES),
                          ensure_min_samples=min_samples, ensure_min_features=1)
    except ValueError as error:
        # scikit-learn counts an image's channels as its "features": name the shapes instead
        if reset or "features, but" not in str(error) or np.ndim(X) < 3:
            raise
        raise ValueError(_shape_mismatch(np.shape(X)[1:], estimator)) from None
    if X.ndim > 2 and 0 in X.shape[1:]:
        raise ValueError(f"X has an empty dimension: shape {X.shape}.")
    if not reset:
        if X.shape[1:] != tuple(estimator.input_shape_):
            raise ValueError(_shape_mismatch(X.shape[1:], estimator))
        if getattr(estimator, "input_dtype_", None) == "uint8" and X.dtype != np.uint8 and X.size:
            high = float(X.max())
            if high > 1.0:
                raise ValueError(
                    f"{type(estimator).__name__} was fitted on uint8 images, read as 0..255 "
                    f"scaled to [0, 1]; X holds floats up to {high:.4g}. Pass X as uint8, or "
                    "divided by 255."
                )
    return X


def _shape_mismatch(shape, estimator):
    shape, fitted = tuple(shape), tuple(estimator.input_shape_)
    text = (f"X has samples of shape {shape}, but {type(estimator).__name__} was fitted on "
            f"samples of shape {fitted}")
    if len(shape) == len(fitted) == 3 and shape[0] != fitted[0] and shape[1:] == fitted[1:]:
        text += f": images of {shape[0]} channels, not {fitted[0]}"
    return text + "."


def input_layout(X, image_shape):
    """Map a validated ``X``'s layout to the network input: images or flat rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, C, H, W), (n_samples, H, W) or (n_samples, n_features)
    image_shape : tuple of int or None
        ``(H, W)`` or ``(C, H, W)`` to read flat rows as images.

    Returns
    -------
    layout : InputLayout
    """
    sample_shape = tuple(X.shape[1:])
    if X.ndim == 4:
        network_shape = sample_shape
    elif X.ndim == 3:
        network_shape = (1, *sample_shape)
    elif X.ndim == 2 and image_shape is None:
        network_shape = sample_shape
    elif X.ndim == 2:
        network_shape = tuple(int(s) for s in image_shape)
        if len(network_shape) == 2:
            network_shape = (1, *network_shape)
        if len(network_shape) != 3 or min(network_shape) < 1:
            raise ValueError(
                f"image_shape must be (H, W) or (C, H, W) of positive sizes, got {image_shape}."
            )
        if int(np.prod(network_shape)) != sample_shape[0]:
            raise ValueError(
                f"image_shape {tuple(image_shape)} holds {int(np.prod(network_shape))} values, "
                f"but the rows of X have {sample_shape[0]} features."
            )
    else:
        raise ValueError(
            f"X must be flat rows (n_samples, n_features), images (n_samples, H, W) or "
            f"(n_samples, C, H, W); got an array with {X.ndim} dimensions, shape {X.shape}."
        )
    if X.ndim > 2 and image_shape is not None:
        raise ValueError(
            "image_shape is for flat rows only; X already has the image shape "
            f"{sample_shape}. Leave image_shape=None."
        )
    return InputLayout(sample_shape=sample_shape, network_shape=tuple(network_shape))


def _refuse_range(low, high):
    raise ValueError(
        f"X holds values in [{low:.4g}, {high:.4g}], but a Bernoulli likelihood needs "
        "floats in [0, 1] (or uint8 images in 0..255). Rescale X, pass it as uint8, "
        "or use likelihood='gaussian'."
    )


def check_probabilities(X, likelihood):
    """Refuse floats outside [0, 1] when ``likelihood`` is Bernoulli.

    Parameters
    ----------
    X : ndarray
    likelihood : str or None
        None checks nothing.
    """
    if X.dtype == np.uint8 or likelihood != "bernoulli":
        return
    low, high = float(X.min()), float(X.max())
    if low < 0.0 or high > 1.0:
        _refuse_range(low, high)


def likelihood_for(estimator, X, reset):
    """The likelihood ``estimator`` models ``X`` with, once ``X``'s values are checked.

    ``likelihood="auto"`` is Bernoulli for ``uint8`` data or floats within [0, 1] (pixel
    intensities, as every data set of the papers), Gaussian for any other values. The
    range of ``X`` is read once, for the choice and the check together.

    Parameters
    ----------
    estimator : skdisent estimator
    X : ndarray
    reset : bool
        True in a fresh ``fit``: the ``likelihood`` parameter, ``"auto"`` chosen from
        ``X``; otherwise the fitted ``likelihood_``.

    Returns
    -------
    likelihood : {"bernoulli", "gaussian"} or None
        None for a model without a likelihood (nothing is checked).

    Raises
    ------
    ValueError
        If the likelihood is Bernoulli and ``X`` holds floats outside [0, 1].
    """
    likelihood = getattr(estimator, "likelihood", None)
    if likelihood is None:
        return None
    if not reset:
        likelihood = getattr(estimator, "likelihood_", likelihood)
    if X.dtype == np.uint8 or likelihood == "gaussian":
        return "bernoulli" if likelihood == "auto" else likelihood
    low, high = float(X.min()), float(X.max())
    within = low >= 0.0 and high <= 1.0
    if likelihood == "auto":
        return "bernoulli" if within else "gaussian"
    if not within:
        _refuse_range(low, high)
    return likelihood


def evenly_spaced_rows(n_rows, n_taken):
    """At most ``n_taken`` row indices spread evenly over ``n_rows`` rows, sorted.

    A fixed subsample (no random draw), for estimates that must be repeatable.

    Parameters
    ----------
    n_rows : int
    n_taken : int

    Returns
    -------
    rows : ndarray of int64
    """
    return np.unique(np.linspace(0, n_rows - 1, n_taken).astype(np.int64))
