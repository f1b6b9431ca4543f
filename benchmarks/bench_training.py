"""Training speed of the ladder models against a plain PyTorch loop, measured in one run.

For each model, batch size (64, 128) and setting (eager or compiled, fp32 or bf16),
every timed round trains the estimator (``fit`` with ``warm_start=True``, one more
epoch of ``bench_size.train_steps`` steps, everything ``fit`` does included) and,
just before it, the plain
loop of ``plain_loop.py`` over as many images: once in the estimator's setting (the
ratio ``vs_plain_same``: the estimator's own overhead, 1.0 is none) and once as plain
eager fp32 (``speedup``: the gain of the setting). Ratios are of medians over the
rounds, so a load that drifts during the run touches both sides alike.

Also reported: achieved GFLOP/s (the matrix products and convolutions of a training
step, counted by ``FlopCounterMode``) as a fraction of the machine's matrix-product
ceiling measured in the same run, the first fit's time (the compilation cost of the
compiled settings), and ``history_``'s own images/s next to the measured one.
"""

import statistics
import time

import numpy as np
import pytest
import torch

from plain_loop import (
    SETTINGS,
    PlainLoop,
    make_model,
    measure_matmul,
    random_images,
    run_in_subprocess,
    training_flops_per_image,
)

BATCH_SIZES = (64, 128)


def pytest_generate_tests(metafunc):
    """Parametrise over the models of the run's size, the batch sizes and the settings."""
    if "model_name" in metafunc.fixturenames:
        metafunc.parametrize("model_name", metafunc.config.skdisent_bench_size.models)


@pytest.fixture(scope="session")
def matmul_ceiling(report, bench_size):
    """GFLOP/s ceiling per precision: from ``bench_matmul.py`` if it ran, else measured."""
    ceiling = {}
    for precision in ("fp32", "bf16"):
        row = report.get("matmul ceiling", precision)
        ceiling[precision] = row["gflop_s"] if row else measure_matmul(
            precision, bench_size.matmul_size)
    return ceiling


def _one_more_epoch(model):
    """Make the next ``fit`` (with ``warm_start=True``) run exactly one more epoch.

    BetaVAE and VLAE take it as ``n_epochs``. ProVLAE's budget is ``levels *
    epochs_per_step``, so its budget is set on the instance instead: its rounds stay in
    progressive step 0 (the gates change nothing of the cost) and never reach the end
    of a step, whose information record would be timed as part of a round.
    """
    if "n_epochs" in model.get_params():
        model.set_params(n_epochs=getattr(model, "n_iter_", 0) + 1)
    else:
        model._n_epochs_total = lambda: getattr(model, "n_iter_", 0) + 1


def _median(values):
    return statistics.median(values)


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_fit_speed(benchmark, bench_size, report, matmul_ceiling, timer, model_name,
                   batch_size, setting):
    """Images/s of ``fit`` and its ratios to the plain loop, in one setting."""
    steps = bench_size.train_steps
    X = random_images(batch_size * steps)
    X_torch = torch.from_numpy(X)
    model = make_model(model_name, batch_size, setting, warm_start=True)
    images_per_round, steps_per_round = len(X), steps

    # The plain loops: in the estimator's own setting, and eager fp32 as people write it
    # (PyTorch's default Adam, the classic contiguous (C, H, W) layout).
    same = PlainLoop.in_setting_of(model, batch_size, timer=timer)
    baseline = PlainLoop(model, batch_size, channels_last=False, timer=timer)
    started = time.perf_counter()
    same.run(X_torch, 2)
    plain_first = time.perf_counter() - started
    baseline.run(X_torch, 1)

    # First fit: building the network and, when compiled, compiling it.
    _one_more_epoch(model)
    started, started_cpu = time.perf_counter(), time.process_time()
    model.fit(X)
    first_fit = time.perf_counter() - started
    first_fit_cpu = time.process_time() - started_cpu

    plain_times, baseline_times = [], []

    def plain_round():
        plain_times.append(same.run(X_torch, steps_per_round))
        baseline_times.append(baseline.run(X_torch, steps_per_round))

    def estimator_round():
        _one_more_epoch(model)
        model.fit(X)

    benchmark.pedantic(estimator_round, setup=plain_round, rounds=bench_size.train_rounds,
                       iterations=1, warmup_rounds=0)
    fit_time = benchmark.stats.stats.median
    images_per_s = images_per_round / fit_time
    flops = training_flops_per_image(model)
    gflop_s = flops * images_per_s / 1e9
    precision = model.precision
    history = [r["images_per_s"] for r in model.history_[-bench_size.train_rounds:]]
    figures = {
        "images_per_s": images_per_s,
        "plain_same_images_per_s": images_per_round / _median(plain_times),
        "plain_fp32_images_per_s": images_per_round / _median(baseline_times),
        "vs_plain_same": _median(plain_times) / fit_time,
        "speedup": _median(baseline_times) / fit_time,
        "gflop_s": gflop_s,
        f"of_{precision}_ceiling": gflop_s / matmul_ceiling[precision],
        "of_bf16_ceiling": gflop_s / matmul_ceiling["bf16"],
        "mflop_per_image": flops / 1e6,
        "first_fit_s": first_fit,
        "first_fit_cpu_s": first_fit_cpu,
        "plain_first_2_steps_s": plain_first,
        "history_images_per_s": _median(history),
    }
    benchmark.extra_info.update(figures)
    report.add("fit", f"{model_name} b{batch_size} {setting}", **figures)
    assert np.isfinite(model.history_[-1]["loss"])


COMPILE_COST = """
import os, time, numpy as np, torch
torch.set_num_threads({threads})
from plain_loop import make_model, random_images
X = random_images({n})
times = []
for i in range(2):
    model = make_model("ProVLAE", {batch}, "{setting}", epochs_per_step=1)
    started = time.perf_counter()
    model.fit(X)
    times.append(time.perf_counter() - started)
eager = make_model("ProVLAE", {batch}, "eager-{precision}", epochs_per_step=1)
started = time.perf_counter()
eager.fit(X)
result = {{"first_fit_s": times[0], "second_model_fit_s": times[1],
          "eager_fit_s": time.perf_counter() - started}}
"""


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_compile_first_call(tmp_path, bench_size, report, precision):
    """Cost of compilation: a compiled fit from a cold and from a warm inductor cache.

    Each fit runs in a fresh interpreter (so nothing compiled earlier in this run
    helps): first with an empty ``TORCHINDUCTOR_CACHE_DIR`` (cold), then again with
    the cache that run left (warm: what a user's second session pays). Within each
    interpreter a second model is fitted too, and an eager one for comparison.
    """
    batch = 128
    code = COMPILE_COST.format(threads=torch.get_num_threads(), n=batch * 2, batch=batch,
                               setting=f"compiled-{precision}", precision=precision)
    env = {"TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor")}
    cold = run_in_subprocess(code, env=env)
    warm = run_in_subprocess(code, env=env)
    report.add("compilation", f"ProVLAE b{batch} compiled-{precision}",
               cold_first_fit_s=cold["first_fit_s"],
               cold_second_model_s=cold["second_model_fit_s"],
               warm_first_fit_s=warm["first_fit_s"],
               eager_fit_s=cold["eager_fit_s"])
