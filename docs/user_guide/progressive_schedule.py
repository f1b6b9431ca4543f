"""The progressive schedule of ProVLAE, drawn for the user guide (progressive.rst).

Run by the ``.. plot::`` directive of the docs build (and by tests/test_docs.py). The
step of every epoch comes from :meth:`skdisent.ProVLAE.progressive_step`; the decoder gates
and KL weights follow the rules of its docstring: a level's decoder gate is 0 before its step,
rises linearly from 0 to 1 over ``fade_in_steps`` iterations once its step starts, and
stays at 1; its KL weight is ``pre_kl_coef`` while it is inactive and ``beta`` after.
"""

import matplotlib.pyplot as plt
import numpy as np

from skdisent import ProVLAE

ITERATIONS_PER_EPOCH = 1000  # illustrative: dSprites at batch 128 has 5,760


def schedule(model, iterations_per_epoch):
    """Gates and KL weights ``(n_iterations, levels)`` of every training iteration."""
    levels = model.levels
    n_epochs = levels * model.epochs_per_step
    iterations = np.arange(n_epochs * iterations_per_epoch)
    epochs = iterations // iterations_per_epoch
    steps = np.array([model.progressive_step(int(epoch)) for epoch in epochs])
    gates = np.zeros((len(iterations), levels))
    weights = np.full((len(iterations), levels), float(model.pre_kl_coef))
    for level in range(levels):  # 0 is the shallowest
        step = levels - 1 - level  # the step that switches it on
        active = steps >= step
        started = step * model.epochs_per_step * iterations_per_epoch
        if step == 0 or not model.fade_in or model.fade_in_steps == 0:
            rise = np.ones(len(iterations))
        else:
            rise = np.clip((iterations - started) / model.fade_in_steps, 0.0, 1.0)
        gates[:, level] = np.where(active, rise, 0.0)
        weights[active, level] = float(model.beta)
    return iterations / iterations_per_epoch, gates, weights


def plot_schedule(model, iterations_per_epoch=ITERATIONS_PER_EPOCH):
    epochs, gates, weights = schedule(model, iterations_per_epoch)
    levels = model.levels
    colours = plt.cm.viridis(np.linspace(0.0, 0.85, levels))
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7.5, 4.6))
    for level in reversed(range(levels)):
        label = f"level {level + 1}" + (" (deepest)" if level == levels - 1 else "")
        label += " (shallowest)" if level == 0 else ""
        offset = 0.015 * (level - (levels - 1) / 2)  # keep overlapping lines visible
        top.plot(epochs, gates[:, level] + offset, color=colours[level], lw=2, label=label)
        bottom.plot(epochs, weights[:, level] + offset, color=colours[level], lw=2)
    for step in range(1, levels):
        for axis in (top, bottom):
            axis.axvline(step * model.epochs_per_step, color="0.7", lw=1, ls="--")
    for step in range(levels):
        top.text((step + 0.5) * model.epochs_per_step, 1.1, f"step {step}",
                 ha="center", va="bottom", fontsize=9)
    top.set_ylim(-0.1, 1.3)
    top.set_ylabel("decoder gate")
    top.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    bottom.set_ylabel("KL weight")
    bottom.set_yticks([float(model.pre_kl_coef), float(model.beta)])
    bottom.set_yticklabels([f"pre_kl_coef={model.pre_kl_coef:g}", f"beta={model.beta:g}"],
                           fontsize=8)
    span = model.beta - model.pre_kl_coef
    bottom.set_ylim(model.pre_kl_coef - 0.25 * span, model.beta + 0.25 * span)
    bottom.set_xlabel(f"epoch ({iterations_per_epoch} iterations each; "
                      f"fade_in_steps={model.fade_in_steps})")
    bottom.set_xlim(0, levels * model.epochs_per_step)
    fig.tight_layout()
    return fig


# the plot directive runs this file as a script and keeps the figure it leaves open
plot_schedule(ProVLAE(levels=3, beta=1.0, epochs_per_step=15, fade_in_steps=5000,
                      pre_kl_coef=0.5))
