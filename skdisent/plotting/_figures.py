"""Figures and image grids shared by the pictures: no pyplot state, matplotlib optional."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

_DPI = 100
_CELL_INCHES = 0.75  # size of one image cell in a grid
_SCORE_LABELS = {
    "mig": "MIG",
    "mig_sup": "MIG-sup",
    "factor_vae_score": "FactorVAE score",
    "beta_vae_score": "BetaVAE score",
    "reconstruction_error": "reconstruction error (nats per image)",
}


def _new_figure(width, height):
    """A figure that belongs to no pyplot state; ImportError naming the extra without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            'skdisent.plotting needs matplotlib; install it with: pip install "skdisent[plot]"'
        ) from None
    return Figure(figsize=(width, height), dpi=_DPI, layout="constrained")


def _finish(figure, path):
    if path is not None:
        figure.savefig(path, dpi=_DPI, format="png")
    return figure


# ----------------------------------------------------------------- images


def _check_image_model(model):
    check_is_fitted(model, "network_")
    if not hasattr(model, "level_slices"):
        raise TypeError(
            f"{type(model).__name__} is not a ladder model (BetaVAE, VLAE or ProVLAE): it has no "
            "levels to picture."
        )
    if not model.layout_.is_image:
        raise ValueError(
            f"{type(model).__name__} was fitted on flat rows without image_shape, so its outputs "
            "are not images; fit it with images or with image_shape=(H, W) to picture it."
        )


def _display(model, batch):
    """Images ``(n, H, W)`` or ``(n, H, W, 3)`` in [0, 1] from data in the model's input layout."""
    batch = np.asarray(batch)
    scale = 1.0 / 255.0 if batch.dtype == np.uint8 else 1.0
    images = batch.reshape(len(batch), *model.layout_.network_shape).astype(np.float32) * scale
    images = np.clip(images, 0.0, 1.0)
    channels = images.shape[1]
    if channels == 1:
        return images[:, 0]
    if channels in (3, 4):
        return np.moveaxis(images[:, :3], 1, -1)
    return images.mean(axis=1)


def _mosaic(images, n_cols, pad=1):
    """Tile images ``(n, H, W[, 3])`` into one array, ``n_cols`` per row, white gaps of ``pad``."""
    n, height, width = images.shape[:3]
    n_rows = -(-n // n_cols)
    shape = (n_rows * (height + pad) - pad, n_cols * (width + pad) - pad, *images.shape[3:])
    canvas = np.ones(shape, dtype=np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, n_cols)
        canvas[r * (height + pad): r * (height + pad) + height,
               c * (width + pad): c * (width + pad) + width] = image
    return canvas


def _show_grid(ax, images, n_cols, row_labels=None, col_labels=None, title=None):
    """Draw a grid of images on ``ax`` with optional row and column labels."""
    height, width = images.shape[1:3]
    ax.imshow(_mosaic(images, n_cols), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([] if col_labels is None else
                  [c * (width + 1) + width / 2 - 0.5 for c in range(len(col_labels))])
    if col_labels is not None:
        ax.set_xticklabels(col_labels, fontsize=7)
        ax.xaxis.set_ticks_position("top")
    ax.set_yticks([] if row_labels is None else
                  [r * (height + 1) + height / 2 - 0.5 for r in range(len(row_labels))])
    if row_labels is not None:
        ax.set_yticklabels(row_labels, fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title is not None:
        ax.set_title(title, fontsize=9, loc="left")


def _levels_deep_first(model):
    """``(level number, column slice)`` of every level with latents, deepest first."""
    levels = [(i + 1, s) for i, s in enumerate(model.level_slices()) if s.stop > s.start]
    return levels[::-1]


def _level_title(model, level):
    n_levels = len(model.latent_dims_)
    if n_levels == 1:
        return "latents"
    where = " (deepest)" if level == n_levels else " (shallowest)" if level == 1 else ""
    return f"level {level}{where}"


def _reference_code(model, X, index):
    """The posterior mean of ``X[index]``, or the prior mean when ``X`` is None."""
    if X is None:
        return np.zeros(model.n_components_, dtype=np.float32)
    X = np.asarray(X)
    if not 0 <= index < len(X):
        raise ValueError(f"index={index} is out of range for X with {len(X)} samples.")
    return model.transform(X[index: index + 1])[0]


def _decode(model, codes):
    return _display(model, model.inverse_transform(np.asarray(codes, dtype=np.float32)))
