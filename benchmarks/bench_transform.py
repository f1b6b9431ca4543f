"""Encoding speed: images/s of ``transform`` over a large ``uint8`` set, per setting.

The model is fitted briefly on a small set (the weights do not change the cost of
encoding), then encodes ``bench_size.transform_samples`` random ``uint8`` images of
dSprites' shape. The full dSprites grid, with peak memory, is in ``bench_memory.py``.
"""

import time

import numpy as np
import pytest

from plain_loop import SETTINGS, make_model, random_images


@pytest.fixture(scope="module")
def data(bench_size):
    """The images to encode, and a small set to fit on."""
    return random_images(bench_size.transform_samples), random_images(256, seed=1)


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_transform_speed(benchmark, bench_size, report, data, setting):
    """Images/s of ``ProVLAE.transform`` (posterior means of every level)."""
    X, X_fit = data
    model = make_model("ProVLAE", 128, setting, epochs_per_step=1).fit(X_fit)
    started = time.perf_counter()
    model.transform(X_fit)  # the first call compiles the encoder when compile=True
    first = time.perf_counter() - started
    rounds = 1 if len(X) > 100_000 else 3
    Z = benchmark.pedantic(model.transform, args=(X,), rounds=rounds, iterations=1)
    assert Z.shape == (len(X), model.n_components_) and np.isfinite(Z).all()
    images_per_s = len(X) / benchmark.stats.stats.median
    benchmark.extra_info["images_per_s"] = images_per_s
    report.add("transform", f"ProVLAE {setting}", n_images=len(X), images_per_s=images_per_s,
               first_call_s=first)
