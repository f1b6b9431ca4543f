"""KL and information per latent group over a fit, from ``history_`` (NVAE and the ladders)."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._figures import _finish, _new_figure

__all__ = ["plot_group_training"]


def _per_group(history, key, n_groups):
    """``(epochs, values (n_epochs, n_groups))`` of the records holding ``<key>_1``."""
    rows = [r for r in history if f"{key}_1" in r]
    values = np.array([[r.get(f"{key}_{g + 1}", np.nan) for g in range(n_groups)] for r in rows],
                      dtype=float).reshape(-1, n_groups)
    return np.array([r["epoch"] for r in rows]), values


def plot_group_training(model, *, path=None):
    """KL and ``I(x; z_g)`` of every latent group over the epochs of a fit.

    Two panels from ``model.history_``: the KL term of each group (``kl_<g>``, nats
    per sample, the mean over the epoch's steps) and, where the fit estimated it, the
    information each group holds at the end of the epoch (``information_<g>``: the
    :class:`~skdisent.NVAE` records it every ``information_every`` epochs). A group
    whose lines stay at 0 is collapsed; the order in which groups take up
    information shows which carry what, as the information flow of the ladder
    models does.

    Parameters
    ----------
    model : fitted NVAE, or any model whose ``history_`` has ``kl_<g>`` per group
    path : str or path-like, default=None
        Where to save the figure as a PNG.

    Returns
    -------
    figure : matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``history_`` records no KL per group.

    Examples
    --------
    >>> from skdisent.plotting import plot_group_training
    >>> figure = plot_group_training(model)  # doctest: +SKIP
    """
    check_is_fitted(model, "network_")
    n_groups = len(getattr(model, "latent_dims_", ()))
    epochs, kl = _per_group(model.history_, "kl", n_groups)
    if not n_groups or not len(epochs):
        raise ValueError(f"{type(model).__name__}'s history_ records no KL per group "
                         "(kl_<g>); fit it first.")
    info_epochs, information = _per_group(model.history_, "information", n_groups)
    panels = 2 if len(info_epochs) else 1
    figure = _new_figure(4.5 * panels, 3.2)
    axes = figure.subplots(1, panels, squeeze=False)[0]
    colours = [f"C{g % 10}" for g in range(n_groups)]
    for g in range(n_groups):
        label = f"group {g + 1}" + (" (top)" if g == n_groups - 1 and n_groups > 1 else "")
        axes[0].plot(epochs, kl[:, g], color=colours[g], label=label, marker=".")
        if panels == 2:
            axes[1].plot(info_epochs, information[:, g], color=colours[g], marker=".")
    axes[0].set(xlabel="epoch", ylabel="KL (nats)", title="KL per group")
    if panels == 2:
        axes[1].set(xlabel="epoch", ylabel="I(x; z_g) (nats)", title="information per group")
    axes[0].legend(fontsize=7, ncol=max(1, n_groups // 8))
    return _finish(figure, path)
