"""LDF against the joint baseline of the same size: peak memory and time per epoch.

The LDF paper (papers/001) claims that its lower level "only ever sees one piece", so
that its memory follows the size of a piece and not of the object, and that it trains
faster than a joint model. Here both models train on images of moving sprites (frames
of ``make_moving_sprites``) at 32x32 and 64x64: LDF cut into patches of 16x16 (a 2x2
grid, then 4x4), :class:`joint_ali.JointALI` on the whole image, with the same layer
rules and widths and a code as large as LDF's local codes together.

- ``test_peak_memory``: each measurement runs in a fresh interpreter; the peak resident
  set size is reset (``/proc/self/clear_refs``) once the model and data exist, and
  read after one more training epoch. The figure is the peak above that starting
  point: what training itself allocates.
- ``test_time_per_epoch``: pytest-benchmark times one more epoch (``warm_start=True``)
  after a warm-up epoch.
- ``test_ratios`` prints LDF / joint for both figures at each size, and how each
  model's memory grows from 32x32 to 64x64 (4x the pixels).
- ``LDF-all`` is LDF with ``lower_batch_size="all"``: one lower-level update on all of
  a step's pieces instead of one per ``batch_size`` pieces; ``test_ratios`` gives its
  time and memory over LDF's and over the joint model's, measured in the same run.

Run with ``python -m pytest benchmarks/bench_ldf.py``; ``--bench-size=full`` uses 1,024
images instead of 128, and ``--bench-threads=1`` is much steadier on a loaded machine.
"""

import pytest
import torch
from plain_loop import run_in_subprocess

PIECE = 16
SIZES = (32, 64)
MODELS = ("LDF", "LDF-all", "joint")
SETTINGS = {"local_dim": 16, "batch_size": 64, "conv_channels": 32, "dense_units": 256}

MAKE = """
import numpy as np, torch
from skdisent import LDFModel
from skdisent.datasets import make_moving_sprites
from joint_ali import JointALI

def make(name, size, n_images, **extra):
    torch.set_num_threads({{threads}})
    videos = make_moving_sprites(n_samples=-(-n_images // 5), size=size, random_state=0).videos
    X = videos.reshape(-1, *videos.shape[2:])[:n_images]
    local_dim, rest = {local_dim}, dict(batch_size={batch_size}, conv_channels={conv_channels},
                                       dense_units={dense_units}, device="cpu", random_state=0,
                                       n_threads=torch.get_num_threads())
    grid = size // {piece}
    if name.startswith("LDF"):
        if name == "LDF-all":
            extra["lower_batch_size"] = "all"
        model = LDFModel(patch_grid=(grid, grid), local_dim=local_dim, global_dim=32, **rest, **extra)
    else:
        model = JointALI(latent_dim=grid * grid * local_dim, **rest, **extra)
    return model, X
""".format(piece=PIECE, **SETTINGS)

MEMORY = MAKE + """
import re
model, X = make("{name}", {size}, {n_images}, n_epochs=1, warm_start=True)
model.fit(X)

def status(field):
    with open("/proc/self/status") as f:
        return int(re.search(field + r":\\s+(\\d+) kB", f.read()).group(1)) * 1024

with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak resident set size to the current one
start = status("VmRSS")
model.set_params(n_epochs=2).fit(X)
ali = model.network_.lower
result = {{"peak_bytes": status("VmHWM") - start, "seconds": model.history_[-1]["time"],
          "piece_shape": list(ali.observation_shape),
          "parameters": sum(p.numel() for p in ali.parameters()),
          "upper_parameters": sum(p.numel() for p in model.network_.upper.parameters())}}
"""


def _n_images(bench_size):
    return 1024 if bench_size.name == "full" else 128


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", MODELS)
def test_peak_memory(bench_size, report, name, size):
    """Peak memory of one training epoch above the fitted model's starting point."""
    result = run_in_subprocess(MEMORY.format(name=name, size=size, n_images=_n_images(bench_size),
                                             threads=torch.get_num_threads()))
    report.add("ldf memory", f"{name} {size}x{size}",
               peak_mib=result["peak_bytes"] / 2**20, piece=str(tuple(result["piece_shape"])),
               lower_or_joint_parameters=result["parameters"],
               upper_parameters=result["upper_parameters"] if name != "joint" else 0,
               epoch_seconds=result["seconds"])


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", MODELS)
def test_time_per_epoch(benchmark, bench_size, report, name, size):
    """Seconds of one more epoch, after a warm-up epoch."""
    scope = {}
    exec(MAKE.format(threads=torch.get_num_threads()), scope)  # noqa: S102 - the same constructor
    model, X = scope["make"](name, size, _n_images(bench_size), n_epochs=1, warm_start=True)
    model.fit(X)

    def one_more_epoch():
        model.set_params(n_epochs=model.n_iter_ + 1).fit(X)

    benchmark.pedantic(one_more_epoch, rounds=3 if bench_size.name == "full" else 2,
                       iterations=1)
    report.add("ldf time", f"{name} {size}x{size}", epoch_seconds=benchmark.stats["median"],
               images_per_s=len(X) / benchmark.stats["median"])


def test_ratios(report):
    """LDF / joint at each size, LDF-all / LDF and LDF-all / joint, and each model's growth."""
    for size in SIZES:
        memory = {name: report.get("ldf memory", f"{name} {size}x{size}") for name in MODELS}
        time = {name: report.get("ldf time", f"{name} {size}x{size}") for name in MODELS}
        if not (all(memory.values()) and all(time.values())):
            pytest.skip("run the whole file to get the ratios")
        ratios = {}
        for top, bottom in (("LDF", "joint"), ("LDF-all", "joint"), ("LDF-all", "LDF")):
            key = f"{top}_over_{bottom}".replace("-", "_")
            ratios[f"memory_{key}"] = memory[top]["peak_mib"] / memory[bottom]["peak_mib"]
            ratios[f"time_{key}"] = time[top]["epoch_seconds"] / time[bottom]["epoch_seconds"]
        report.add("ldf ratios", f"{size}x{size}", **ratios)
    for name in MODELS:
        small = report.get("ldf memory", f"{name} 32x32")["peak_mib"]
        large = report.get("ldf memory", f"{name} 64x64")["peak_mib"]
        report.add("ldf ratios", f"{name} memory 64x64 / 32x32", growth=large / small)
