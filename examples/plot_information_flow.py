"""
=========================================
Information flow across progressive steps
=========================================

Where does a ladder model put what it knows about an image? The information a level
holds is ``I(x; z_l)``, in nats: zero for a level whose posterior never leaves the prior,
larger the more the level's code tells images apart. The pro-VLAE paper follows it at
the end of each progressive step (its Fig. 5): as each new level is switched on, some
information *flows* from the levels already there into it, and at the end the levels
hold a descending amount from the deepest to the shallowest.

:class:`~skdisent.ProVLAE` records ``I(x; z_l)`` at the end of every step during
``fit`` (``information_per_step_``), estimated by sampling the posteriors as the paper
did (:func:`~skdisent.metrics.information_per_level`). Here on generated 3DShapes, the
paper's data set for that figure, next to a :class:`~skdisent.VLAE` that trains every
level from the start with the same budget.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from skdisent import VLAE, ProVLAE
from skdisent.datasets import make_shapes3d
from skdisent.plotting import plot_information_flow, plot_information_flow_steps

# SKDISENT_EXAMPLE_QUICK=1 shrinks the example to a smoke test (the test suite sets it)
QUICK = os.environ.get("SKDISENT_EXAMPLE_QUICK") == "1"

n_samples, size = (128, 16) if QUICK else (3000, 32)
X, y = make_shapes3d(n_samples=n_samples, size=size, random_state=0, return_X_y=True)
print(X.shape, X.dtype)  # RGB images: floor, wall and object hue, scale, shape, orientation

levels, latent_dim, batch_size = 3, 3, 64
epochs_per_step = 1 if QUICK else 2
common = dict(levels=levels, latent_dim=latent_dim, beta=1.0, batch_size=batch_size,
              conv_channels=4 if QUICK else 32, dense_units=8 if QUICK else 256,
              random_state=0)

# %%
# The progressive model
# ---------------------
pro = ProVLAE(epochs_per_step=epochs_per_step,
              fade_in_steps=max(1, (n_samples // batch_size) * epochs_per_step // 3),
              pre_kl_coef=0.5, snapshot_steps=True, **common).fit(X)

information = pro.information_per_step_  # (steps, levels), shallowest level first
for step, row in enumerate(information):
    cells = "  ".join(f"I(x; z{level + 1}) = {value:5.2f}" for level, value in enumerate(row))
    print(f"after step {step}: {cells}")

# %%
# One panel per step, the deepest level on top. Step 0 trains the deepest level alone:
# the others hold nothing, held at the prior by the pre-KL penalty. Each later step adds
# a level, which takes up information.
fig_flow = plot_information_flow(pro)

# %%
# The estimate is made on ``information_rows`` rows of the training data (2,048 by
# default, None for all of them), and it can never exceed the log of that number
# (7.62 nats for 2,048 rows): compare numbers estimated on the same rows only.
#
# The paper's Fig. 5 whole: with ``snapshot_steps=True`` the model kept a copy of itself
# at the end of each step (``step_snapshots_``). Each row draws one level from its prior
# while the other levels keep the code of one image, step by step, beside the same bars:
# what a level changes in the images is what it holds.
fig_steps = plot_information_flow_steps(pro, X, index=5)

# %%
# KL per level, epoch by epoch
# ----------------------------
# ``history_`` records the KL of every level for every epoch. The mean KL of a level is
# an upper bound on ``I(x; z_l)`` (it adds how far the level's aggregate posterior is
# from the prior), and it is free: no extra pass over the data. The same budget of
# epochs for a VLAE, every level on from the start, for comparison.
vlae = VLAE(n_epochs=levels * epochs_per_step, **common).fit(X)

fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
for ax, model, title in [(axes[0], pro, "pro-VLAE"), (axes[1], vlae, "VLAE")]:
    epochs = [record["epoch"] for record in model.history_]
    for level in range(levels, 0, -1):
        kl = [record[f"kl_{level}"] for record in model.history_]
        ax.plot(epochs, kl, "o-", label=f"level {level}" + (" (deepest)" if level == levels
                                                           else ""))
    for step in range(1, levels):
        if title == "pro-VLAE":
            ax.axvline(step * epochs_per_step + 0.5, color="0.7", ls="--", lw=1)
    ax.set_title(title)
    ax.set_xlabel("epoch")
axes[0].set_ylabel("KL per level (nats)")
axes[0].legend(fontsize=8)
fig.tight_layout()

final = {name: np.array([model.history_[-1][f"kl_{level}"] for level in range(1, levels + 1)])
         for name, model in [("pro-VLAE", pro), ("VLAE", vlae)]}
for name, kl in final.items():
    print(f"{name:8s} final KL, deepest to shallowest: {np.round(kl[::-1], 2)}")

# %%
# What to look for: the paper expects the progressive model to end with the
# information descending from the deepest level to the shallowest, each level taking
# up information when it is switched on. A VLAE, whose levels all start together, has
# no reason to order them so, and often does the opposite: its shallow levels, closest
# to the pixels, are the easiest way to reconstruct. The run above is short (two epochs
# per step on 3,000 images); the paper trains 15 epochs per step on all 480,000 images.
# Small values below zero for a level still at the prior are Monte Carlo noise of the
# estimator, defined on the user guide's page on
# :ref:`the metrics <information_per_level>`.
