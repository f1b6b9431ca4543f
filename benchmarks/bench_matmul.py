"""The machine's matrix-product ceiling, in fp32 and bf16, measured in the same run.

The training benchmarks report achieved GFLOP/s as a fraction of these figures. The
ceiling is the median of twenty products of square matrices (``--bench-size`` sets their
side), with as many threads as the rest of the run: the rate a product sustains, as the
training figures are medians; the best of the twenty is reported beside it.
"""

import pytest

from plain_loop import matmul_target, measure_matmul


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_matmul_ceiling(benchmark, bench_size, report, precision):
    """GFLOP/s of ``torch.mm`` on square matrices: the median and the best of twenty rounds."""
    n = bench_size.matmul_size
    benchmark.pedantic(matmul_target(precision, n), rounds=20, warmup_rounds=2)
    flop = 2 * n**3
    gflops = flop / benchmark.stats.stats.median / 1e9
    best = flop / benchmark.stats.stats.min / 1e9
    benchmark.extra_info.update(gflop_s=gflops, gflop_s_best=best)
    report.add("matmul ceiling", precision, size=n, gflop_s=gflops, gflop_s_best=best,
               gflop_s_at_1024=measure_matmul(precision, 1024))
