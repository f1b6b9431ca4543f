"""
=======================================
LDF on moving sprites: frames as pieces
=======================================

Locally disentangled factors (:class:`~skdisent.LDFModel`) cut an object into pieces
and learn in two decoupled levels: one adversarially learned inference (ALI) model
shared by every piece, and one over the codes of all the pieces of an object. For a
video the pieces are its frames: the lower level learns what one frame looks like, the
upper level how the frames of a video go together — here, that the background stays
put while the sprite moves in a straight line.

Because the levels are trained apart, single frames without their video still teach the
lower level. The LDF paper makes that point with few full videos; here the model sees a
few hundred full videos and the frames of more videos, shuffled so that their order is
lost, through ``fit(X, pieces=...)``.

Adversarial training is slow: the paper trained its 256-video setting for five thousand
epochs on a GPU, and this example runs twenty on a CPU. Expect rough reconstructions
and samples: the protocol and the API are the point.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from skdisent import LDFModel
from skdisent.datasets import make_moving_sprites

# SKDISENT_EXAMPLE_QUICK=1 shrinks the example to a smoke test (the test suite sets it)
QUICK = os.environ.get("SKDISENT_EXAMPLE_QUICK") == "1"

size = 16 if QUICK else 32
n_full, n_frames_only, n_test = (32, 32, 64) if QUICK else (256, 512, 512)
data = make_moving_sprites(n_samples=n_full + n_frames_only + n_test, size=size,
                           random_state=0)
videos, factors = data.videos, data.factors
print(videos.shape, data.factor_names)

full = videos[:n_full]                                    # whole videos
frames = videos[n_full:n_full + n_frames_only].reshape(-1, 3, size, size)
frames = frames[np.random.default_rng(0).permutation(len(frames))]   # order lost
test, test_factors = videos[-n_test:], factors[-n_test:]
print(f"{len(full)} full videos, {len(frames)} single frames, {len(test)} test videos")

# %%
# Fit
# ---
# Each step takes ``batch_size`` videos: the lower level trains on their frames and on
# as many of the single frames, the upper level on the videos' frame codes.
model = LDFModel(
    local_dim=4 if QUICK else 8,
    global_dim=8 if QUICK else 16,
    n_epochs=1 if QUICK else 20,
    batch_size=32 if QUICK else 64,
    conv_channels=4 if QUICK else 16,
    dense_units=16 if QUICK else 128,
    learning_rate=1e-3,  # faster than the default 5e-4 for so short a training
    random_state=0,
)
model.fit(full, pieces=frames)
print(model.n_pieces_, "pieces of shape", model.piece_shape_, "-", model.n_iter_, "epochs")


def show(rows, labels, title):
    """Videos as rows of frames: ``rows`` is (n, T, 3, H, W) with values in [0, 1]."""
    rows = np.asarray(rows, dtype=np.float32)
    n, n_frames = rows.shape[:2]
    fig, axes = plt.subplots(n, n_frames, figsize=(1.1 * n_frames, 1.1 * n + 0.4),
                             squeeze=False)
    for i in range(n):
        for t in range(n_frames):
            ax = axes[i, t]
            ax.imshow(np.clip(rows[i, t].transpose(1, 2, 0), 0, 1), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if t == 0:
                ax.set_ylabel(labels[i], fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# %%
# Reconstructions of test videos
# ------------------------------
# Through the global code (both levels) and through the frames' own codes (the lower
# level only): ``representation`` chooses, and can change after ``fit``.
shown = test[:2]
model.set_params(representation="global")
through_global = model.inverse_transform(model.transform(shown))
model.set_params(representation="local")
through_local = model.inverse_transform(model.transform(shown))
model.set_params(representation="global")
fig_reconstructions = show(
    np.concatenate([shown / 255.0, through_global, through_local]),
    ["video 1", "video 2", "global 1", "global 2", "local 1", "local 2"],
    "test videos and their reconstructions")

# %%
# Samples
# -------
# A global code drawn from the prior, mapped by the upper level to the codes of five
# frames, each drawn by the shared lower generator.
samples = model.sample(4, random_state=0)
fig_samples = show(samples, [f"sample {i + 1}" for i in range(4)], "videos sampled from LDF")

# %%
# What the global code knows
# --------------------------
# A linear probe: how well a logistic regression reads each factor of a test video
# from its global code (5-fold cross-validation), against chance. At this budget the
# large, fixed background is read best; the small moving sprite's position and
# direction less well, its shape least.
codes = model.transform(test)
for k, name in enumerate(data.factor_names):
    chance = np.bincount(test_factors[:, k]).max() / len(test_factors)
    accuracy = cross_val_score(LogisticRegression(max_iter=2000), codes, test_factors[:, k],
                               cv=2 if QUICK else 5).mean()
    print(f"{name:11s} probe accuracy {accuracy:.2f}   (chance {chance:.2f})")

# %%
# ALI has no likelihood bound, so :meth:`~skdisent.LDFModel.score` is minus the
# reconstruction error per video; higher is better, and it lets grid searches and
# pipelines treat LDF like the other models. See :ref:`models` for how LDF's levels
# differ from a ladder model's.
print(f"score (minus reconstruction error per video): {model.score(test):.1f}")
