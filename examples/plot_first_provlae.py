"""
=============================================
A first pro-VLAE on dSprites, with traversals
=============================================

Fit a progressive variational ladder autoencoder (:class:`~skdisent.ProVLAE`) to
generated dSprites, follow its progressive steps in ``history_``, score the codes with
MIG and MIG-sup, and look at what each latent dimension learnt by *traversing* it: vary
one dimension of an image's code while the others stay fixed, and decode.

The settings are small enough for a CPU in a minute or two (32x32 images, a few
thousand of them, two epochs per step). The paper trains for 30 epochs per step on the
full grid of 737,280 64x64 images; expect cleaner traversals and higher scores there.
"""

# %%
# Data
# ----
# :func:`~skdisent.datasets.make_dsprites` draws sprites from their five factors (shape,
# scale, orientation, x, y) with no download. ``y`` holds every image's factor classes.
import os

import numpy as np

from skdisent import ProVLAE
from skdisent.datasets import make_dsprites
from skdisent.metrics import mig, mig_sup
from skdisent.plotting import plot_reconstructions, plot_samples_per_level, plot_traversals

# SKDISENT_EXAMPLE_QUICK=1 shrinks the example to a smoke test (the test suite sets it)
QUICK = os.environ.get("SKDISENT_EXAMPLE_QUICK") == "1"

n_samples, size = (256, 16) if QUICK else (8000, 32)
X, y = make_dsprites(n_samples=n_samples, size=size, random_state=0, return_X_y=True)
X_eval, y_eval = make_dsprites(n_samples=n_samples // 2, size=size, random_state=1,
                               return_X_y=True)
print(X.shape, X.dtype, "factors:", y.shape)

# %%
# Fit
# ---
# Three levels of two latent dimensions each. Training runs in three progressive steps:
# the deepest level alone, then the middle level is faded in, then the shallowest.
# ``fade_in_steps`` counts iterations; here a new level fades in over the first 40% of
# its step.
batch_size = 64
epochs_per_step = 1 if QUICK else 2
iterations_per_step = (n_samples // batch_size) * epochs_per_step
model = ProVLAE(
    levels=3,
    latent_dim=2,
    beta=1.0,
    epochs_per_step=epochs_per_step,
    fade_in_steps=int(0.4 * iterations_per_step),
    pre_kl_coef=0.5,
    batch_size=batch_size,
    conv_channels=4 if QUICK else 32,
    dense_units=8 if QUICK else 256,
    random_state=0,
)
model.fit(X)

for record in model.history_:
    kl = "  ".join(f"KL{level}={max(record[f'kl_{level}'], 0.0):.2f}" for level in (1, 2, 3))
    print(f"epoch {record['epoch']}  step {record['step']}  fade-in {record['fade_in']:.2f}  "
          f"reconstruction {record['reconstruction']:.1f}  {kl}")

# %%
# While a level is inactive, the pre-KL penalty keeps its KL near zero; once it is
# switched on it starts to carry information.
#
# Scores
# ------
# MIG asks whether each factor is held by one latent; MIG-sup whether each latent holds
# one factor. Both use the histogram estimator of disentanglement_lib, here on images
# the model did not see.
Z = model.transform(X_eval)
print(f"MIG {mig(Z, y_eval):.3f}   MIG-sup {mig_sup(Z, y_eval):.3f}")

# %%
# Reconstructions
# ---------------
fig_reconstructions = plot_reconstructions(model, X_eval, n_images=8)

# %%
# Traversals
# ----------
# One row per latent dimension, grouped by level from the deepest: each row decodes the
# code of one image with that dimension set to values from -2.5 to 2.5. A row that
# changes one property of the sprite (its position, its size, ...) and nothing else is a
# disentangled dimension; a row that does not change is a latent the model does not use.
fig_traversals = plot_traversals(model, X_eval, index=0, n_values=9)

# %%
# Samples per level
# -----------------
# Another view of the hierarchy: keep an image's code, replace one level's latents by
# draws from the prior, decode. What changes along a row is what that level encodes.
fig_levels = plot_samples_per_level(model, X_eval, index=0, n_samples=8)

# %%
# The traversals are one command away for a saved model:
# ``skdisent traverse model.safetensors``. To learn more, read the user guide's pages
# on :ref:`the models <models>`, :ref:`the progressive schedule <progressive>` and
# :ref:`the metrics <metrics>`.
