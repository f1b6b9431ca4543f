"""Pictures of fitted ladder models: the figures of the pro-VLAE paper.

Every function takes a fitted :class:`~skdisent.BetaVAE`, :class:`~skdisent.VLAE` or
:class:`~skdisent.ProVLAE` (or the results of several fits), returns a
:class:`matplotlib.figure.Figure`, and saves it as a PNG when given ``path``:

- :func:`plot_traversals`: each latent dimension varied over a range while the others
  stay fixed, one row per dimension, one block per level (the paper's Figs. 4 and 7);
- :func:`plot_samples_per_level`: one level drawn from its prior while the others keep
  an image's code (the paper's Figs. 5 and 6);
- :func:`plot_information_flow`: ``I(x; z_l)`` per level at the end of every
  progressive step of a :class:`~skdisent.ProVLAE` fit (the bars of Fig. 5);
- :func:`plot_information_flow_steps`: Fig. 5 whole, samples per level beside those bars
  at each progressive step, from a ``ProVLAE(snapshot_steps=True)`` fit;
- :func:`plot_reconstructions`: images and their reconstructions, for one or more models;
- :func:`plot_score_vs_reconstruction`: disentanglement scores against reconstruction
  error across models and settings (Fig. 2);
- :func:`plot_layer_variation` and :func:`plot_bottom_layer_gibbs`: the diagnostics of
  :mod:`skdisent.hierarchy` (Zhao et al.'s Figs. 3 and 2), also for a
  :class:`~skdisent.HierarchicalVAE` and, for the first, an :class:`~skdisent.NVAE`
  (one group drawn again, the others held);
- :func:`plot_group_training`: KL and information per latent group over a fit's epochs
  (an :class:`~skdisent.NVAE`'s groups);
- :func:`plot_mig_vs_mig_sup`, :func:`plot_information_per_level` and
  :func:`plot_success_rates`: a study's Fig. 3, information per level and Table 2, and
  :func:`write_study_report`, which draws them all with their tables from the results
  folder of a :class:`skdisent.study.Study`.

Matplotlib is an optional dependency (``pip install "skdisent[plot]"``), imported when a
function is first called. Figures are made with :class:`matplotlib.figure.Figure`
directly, not through ``pyplot``: no window opens, no global figure list grows, and any
backend (or none) works. In a notebook the returned figure displays itself.
"""

from ._curves import plot_information_flow, plot_score_vs_reconstruction
from ._groups import plot_group_training
from ._hierarchy import plot_bottom_layer_gibbs, plot_layer_variation
from ._ladder import plot_reconstructions, plot_samples_per_level, plot_traversals
from ._steps import plot_information_flow_steps
from ._study import (
    plot_information_per_level,
    plot_mig_vs_mig_sup,
    plot_success_rates,
    write_study_report,
)

__all__ = [
    "plot_traversals",
    "plot_samples_per_level",
    "plot_information_flow",
    "plot_information_flow_steps",
    "plot_reconstructions",
    "plot_score_vs_reconstruction",
    "plot_layer_variation",
    "plot_bottom_layer_gibbs",
    "plot_group_training",
    "plot_mig_vs_mig_sup",
    "plot_information_per_level",
    "plot_success_rates",
    "write_study_report",
]
