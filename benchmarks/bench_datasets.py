"""Benchmarks of the procedural data sets (pytest-benchmark; not part of the default test run).

Run with::

    python -m pytest benchmarks/bench_datasets.py --benchmark-only --benchmark-columns=min,mean,max,rounds

Each full-grid benchmark also records, once, the peak memory traced during generation (numpy reports its
allocations to :mod:`tracemalloc`) and how far it exceeds the returned array: the generators should need the
uint8 array itself plus bounded chunks.
"""

import tracemalloc

import pytest

from skdisent.datasets import make_dsprites, make_moving_sprites, make_shapes3d

MiB = 2**20


def trace_peak(benchmark, make, **kwargs):
    """Run ``make`` once under tracemalloc; record the peak and the excess over the returned data."""
    tracemalloc.start()
    try:
        data = make(return_X_y=True, **kwargs)[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    benchmark.extra_info["data_MiB"] = round(data.nbytes / MiB, 1)
    benchmark.extra_info["peak_MiB"] = round(peak / MiB, 1)
    benchmark.extra_info["excess_MiB"] = round((peak - data.nbytes) / MiB, 1)
    return data.shape, peak - data.nbytes


def shape_only(make, **kwargs):
    """Generate and return only the shape, so that no round keeps the previous round's array alive."""
    return lambda: make(return_X_y=True, **kwargs)[0].shape


@pytest.mark.parametrize(
    "make, shape, rounds",
    [
        (make_dsprites, (737_280, 1, 64, 64), 3),
        (make_shapes3d, (480_000, 3, 64, 64), 2),
        (make_moving_sprites, (4_096, 5, 3, 32, 32), 3),
    ],
    ids=["dsprites", "shapes3d", "moving_sprites"],
)
def test_full_grid(benchmark, make, shape, rounds):
    assert trace_peak(benchmark, make)[0] == shape
    assert benchmark.pedantic(shape_only(make), rounds=rounds, iterations=1) == shape


@pytest.mark.parametrize("make", [make_dsprites, make_shapes3d, make_moving_sprites], ids=lambda f: f.__name__)
def test_random_draw_of_10000(benchmark, make):
    result = benchmark.pedantic(shape_only(make, n_samples=10_000, random_state=0), rounds=3, iterations=1)
    assert result[0] == 10_000
