"""
================================================
Ladder features in a classifier, against PCA
================================================

A representation is also judged by what it is good for. Here the codes of a
:class:`~skdisent.ProVLAE`, learnt without labels, are the features of a logistic
regression that reads handwritten digits, next to the same number of principal
components. Both are scikit-learn transformers, so both go into the same
:class:`~sklearn.pipeline.Pipeline`.

The data are scikit-learn's bundled 8x8 digits, enlarged to 16x16 (each pixel a 2x2
block) so that a three-level ladder fits them, and passed as flat rows with
``image_shape``: the layout PCA expects.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdisent import ProVLAE
from skdisent.datasets import load_digits_images

# SKDISENT_EXAMPLE_QUICK=1 shrinks the example to a smoke test (the test suite sets it)
QUICK = os.environ.get("SKDISENT_EXAMPLE_QUICK") == "1"

images, factors = load_digits_images(size=16, return_X_y=True)
X = images.reshape(len(images), -1)  # (1797, 256) uint8 rows
digit = factors[:, 0]
if QUICK:
    X, digit = X[:300], digit[:300]
X_train, X_test, y_train, y_test = train_test_split(
    X, digit, test_size=0.25, stratify=digit, random_state=0)
print("train", X_train.shape, "test", X_test.shape)

# %%
# Two pipelines, one classifier
# -----------------------------
# Twelve features each: three levels of four latent dimensions, or twelve components.
levels, latent_dim = 3, 4
n_components = levels * latent_dim
batch_size = 64
epochs_per_step = 1 if QUICK else 10
ladder = ProVLAE(
    levels=levels,
    latent_dim=latent_dim,
    epochs_per_step=epochs_per_step,
    fade_in_steps=max(1, (len(X_train) // batch_size) * epochs_per_step // 3),
    batch_size=batch_size,
    image_shape=(16, 16),
    conv_channels=4 if QUICK else 32,
    dense_units=8 if QUICK else 256,
    random_state=0,
)


def classifier():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


pipelines = {
    "pro-VLAE codes": make_pipeline(ladder, classifier()),
    "PCA": make_pipeline(PCA(n_components=n_components, random_state=0), classifier()),
}
for name, pipe in pipelines.items():
    pipe.fit(X_train, y_train)  # the representation ignores the labels
    print(f"{name:15s} test accuracy {pipe.score(X_test, y_test):.3f}")

# %%
# Fewer labels
# ------------
# The representation needs no labels; the classifier does. Fit the classifier on a few
# labelled images per digit, on top of the representations already learnt from all the
# training images, and the gap between the two feature sets can change.
rng = np.random.default_rng(0)
per_class = [2, 5] if QUICK else [5, 10, 25, 50, 100]
features = {name: (pipe[0].transform(X_train), pipe[0].transform(X_test))
            for name, pipe in pipelines.items()}
curves = {name: [] for name in pipelines}
for k in per_class:
    chosen = np.concatenate([rng.permutation(np.flatnonzero(y_train == d))[:k]
                             for d in range(10)])
    for name, (F_train, F_test) in features.items():
        model = classifier().fit(F_train[chosen], y_train[chosen])
        curves[name].append(model.score(F_test, y_test))

fig, ax = plt.subplots(figsize=(5, 3.2))
for name, accuracy in curves.items():
    ax.plot(per_class, accuracy, "o-", label=name)
ax.set_xscale("log")
ax.set_xlabel("labelled training images per digit")
ax.set_ylabel("test accuracy")
ax.legend()
fig.tight_layout()

# %%
# Which level knows the digit?
# ----------------------------
# The ladder's codes come level by level, shallowest first;
# :meth:`~skdisent.ProVLAE.level_slices` gives each level's columns. A classifier on
# each level alone shows where the class information sits.
F_train, F_test = features["pro-VLAE codes"]
for level, columns in enumerate(ladder.level_slices(), start=1):
    model = classifier().fit(F_train[:, columns], y_train)
    print(f"level {level} alone: test accuracy {model.score(F_test[:, columns], y_test):.3f}")

# %%
# PCA keeps the directions of largest pixel variance; the ladder keeps what its
# decoder needs to redraw the digit, organised by level of abstraction. Neither was
# told about digits. On this small data set with a short training, expect PCA to hold
# its own: the point of the comparison is the protocol — same number of features, same
# classifier, test data neither saw — which carries over to any representation.
