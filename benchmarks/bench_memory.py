"""Peak memory of ``fit`` and ``transform`` on the full dSprites grid (``--bench-size=full``).

Each measurement runs in a fresh interpreter, which makes ``bench_size.memory_samples``
random ``uint8`` images of dSprites' shape (737,280 x 1 x 64 x 64 at full size: 2.8 GiB)
and reports its own peak resident set size. The goal: the peak stays under twice the
size of the ``uint8`` data, i.e. no float copy of the data set (which alone would be
four times its size) is ever made.

``fit`` runs on the whole array and is stopped after a few steps (an interrupt, which
``fit`` handles by keeping its last completed epoch): validation, the shuffle and the
batches of a real epoch all happen, without an hour of training. ``transform`` encodes
every image, and its images/s are reported too.
"""

import pytest
import torch

from plain_loop import run_in_subprocess

PRELUDE = """
import time, warnings, numpy as np, psutil, torch
torch.set_num_threads({threads})
from plain_loop import make_model, random_images
process = psutil.Process()
baseline = process.memory_info().rss
X = random_images({n})
with_data = process.memory_info().rss
model = make_model("ProVLAE", 128, "{setting}", epochs_per_step=1)
"""

FIT = PRELUDE + """
import skdisent._data as base
batch, calls = base.BatchSource.batch, {{"n": 0}}

def stopping_batch(self, indices, device):
    calls["n"] += 1
    if calls["n"] > {steps}:
        raise KeyboardInterrupt
    return batch(self, indices, device)

base.BatchSource.batch = stopping_batch
started = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    model.fit(X)
result = {{"seconds": time.perf_counter() - started, "steps": calls["n"] - 1,
          "data_bytes": X.nbytes, "baseline_rss": baseline, "rss_with_data": with_data}}
"""

TRANSFORM = PRELUDE + """
model.fit(X[:256])
started = time.perf_counter()
Z = model.transform(X)
seconds = time.perf_counter() - started
result = {{"seconds": seconds, "images_per_s": len(X) / seconds, "data_bytes": X.nbytes,
          "baseline_rss": baseline, "rss_with_data": with_data, "codes_bytes": Z.nbytes}}
"""


@pytest.mark.parametrize("method, setting", [
    ("fit", "eager-fp32"), ("fit", "eager-bf16"), ("transform", "eager-fp32"),
    ("transform", "compiled-bf16"),
])
def test_peak_memory(bench_size, report, method, setting):
    """Peak RSS of one ``fit`` or ``transform`` over ``memory_samples`` uint8 images."""
    template = FIT if method == "fit" else TRANSFORM
    code = template.format(threads=torch.get_num_threads(), n=bench_size.memory_samples,
                           setting=setting, steps=20)
    result = run_in_subprocess(code)
    data = result["data_bytes"]
    peak = result["peak_rss_bytes"]
    figures = {
        "n_images": bench_size.memory_samples,
        "data_gib": data / 2**30,
        "peak_rss_gib": peak / 2**30,
        "peak_over_data": peak / data,
        "peak_above_data_and_runtime_gib": (peak - result["rss_with_data"]) / 2**30,
        "seconds": result["seconds"],
    }
    if "images_per_s" in result:
        figures["images_per_s"] = result["images_per_s"]
    report.add("memory", f"{method} {setting}", **figures)
    if bench_size.name == "full":
        assert peak < 2 * data, figures
