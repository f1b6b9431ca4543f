"""Options, shared fixtures and the summary table of the speed benchmarks.

``python -m pytest benchmarks`` runs a small size (a few steps per measurement, a
few thousand images); ``--bench-size=full`` (or ``SKDISENT_BENCH_SIZE=full``) runs
the sizes the README's table was measured at, the full dSprites grid included.
``--bench-models=BetaVAE,VLAE,ProVLAE`` chooses the models of the training benchmarks.
``--bench-threads=N`` (or ``SKDISENT_BENCH_THREADS``) sets ``torch.set_num_threads``
for every measurement of the run, matrix-product ceiling included. The figures of the
run are printed as a table at the end and, with ``--bench-report=PATH``, written
there as JSON. ``SKDISENT_BENCH_DEVICE=cuda`` runs every measurement on a GPU.
"""

import json
import os
import platform
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

# Benchmarks are files named bench_*.py: collected here, never by the default test run.


def pytest_collect_file(file_path, parent):
    """Collect ``bench_*.py`` as test modules."""
    if parent.session.isinitpath(file_path):
        return None  # named on the command line: pytest collects it itself
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_addoption(parser):
    """``--bench-size``, ``--bench-threads``, ``--bench-report`` and ``--bench-models``."""
    group = parser.getgroup("skdisent benchmarks")
    group.addoption("--bench-size", choices=("small", "full"),
                    default=os.environ.get("SKDISENT_BENCH_SIZE", "small"),
                    help="small (default) or full (the README's sizes)")
    group.addoption("--bench-threads", type=int,
                    default=int(os.environ.get("SKDISENT_BENCH_THREADS", "0")),
                    help="torch threads for every measurement (default: torch's own)")
    group.addoption("--bench-report", default=os.environ.get("SKDISENT_BENCH_REPORT"),
                    help="write the run's figures to this JSON file")
    group.addoption("--bench-models", default=None,
                    help="comma-separated models of the training benchmarks, e.g. "
                    "BetaVAE,VLAE,ProVLAE (default: the size's own)")


@dataclass(frozen=True)
class BenchSize:
    """How much work one benchmark run does.

    Attributes
    ----------
    name : str
        ``"small"`` or ``"full"``.
    train_steps : int
        Optimisation steps in one timed round of a training benchmark.
    train_rounds : int
        Timed rounds of a training benchmark (after one warm-up round).
    models : tuple of str
        Models of the training benchmarks.
    transform_samples : int
        Images encoded by the transform benchmark.
    memory_samples : int
        Images of the memory benchmark.
    matmul_size : int
        Side of the square matrices of the ceiling benchmark.
    """

    name: str
    train_steps: int
    train_rounds: int
    models: tuple
    transform_samples: int
    memory_samples: int
    matmul_size: int


SIZES = {
    "small": BenchSize("small", train_steps=3, train_rounds=3, models=("ProVLAE",),
                       transform_samples=8_192, memory_samples=65_536, matmul_size=1024),
    "full": BenchSize("full", train_steps=12, train_rounds=7,
                      models=("BetaVAE", "VLAE", "ProVLAE"),
                      transform_samples=737_280, memory_samples=737_280, matmul_size=2048),
}


class Report:
    """The figures of one run, keyed by benchmark name, printed as tables at the end."""

    def __init__(self):
        self.rows = {}

    def add(self, group, name, **figures):
        """Record ``figures`` (plain numbers and strings) of benchmark ``name``."""
        self.rows.setdefault(group, {})[name] = figures

    def get(self, group, name, default=None):
        """The figures of ``name`` in ``group``, or ``default``."""
        return self.rows.get(group, {}).get(name, default)


_REPORT = Report()


@pytest.fixture(scope="session")
def bench_size(request):
    """The :class:`BenchSize` of this run."""
    return request.config.skdisent_bench_size


@pytest.fixture(scope="session")
def timer(request):
    """The clock of pytest-benchmark's ``--benchmark-timer``, for the rounds timed by hand.

    ``--benchmark-timer=time.process_time`` measures CPU time of this process rather
    than wall time: with ``--bench-threads=1`` it is much steadier on a loaded machine.
    """
    from pytest_benchmark.utils import load_timer

    return load_timer(request.config.getoption("benchmark_timer")).target


@pytest.fixture(scope="session")
def report():
    """The run's :class:`Report`."""
    return _REPORT


def pytest_configure(config):
    """Note the run's size and fix the number of torch threads for the whole run."""
    size = SIZES[config.getoption("--bench-size", default="small")]
    models = config.getoption("--bench-models", default=None)
    if models:
        size = replace(size, models=tuple(m.strip() for m in models.split(",")))
    config.skdisent_bench_size = size
    threads = config.getoption("--bench-threads", default=0)
    if threads:
        torch.set_num_threads(threads)


def _load():
    try:
        return os.getloadavg()
    except OSError:  # pragma: no cover
        return (float("nan"),) * 3


def pytest_sessionstart(session):
    """Note the load average at the start."""
    session.config._skdisent_load_start = _load()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print the run's figures and write them to ``--bench-report``."""
    if not _REPORT.rows:
        return
    load_start = getattr(config, "_skdisent_load_start", _load())
    header = {
        "size": config.getoption("--bench-size"),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "timer": config.getoption("benchmark_timer", default="time.perf_counter"),
        "device": os.environ.get("SKDISENT_BENCH_DEVICE", "cpu"),
        "cpu": _cpu_name(),
        "load_start": [round(x, 2) for x in load_start],
        "load_end": [round(x, 2) for x in _load()],
    }
    write = terminalreporter.write_line
    write("")
    write("skdisent benchmarks: " + ", ".join(f"{k}={v}" for k, v in header.items()))
    for group, rows in _REPORT.rows.items():
        write(f"-- {group}")
        columns = []
        for figures in rows.values():
            columns += [c for c in figures if c not in columns]
        write(" | ".join(["name", *columns]))
        for name, figures in rows.items():
            cells = [_cell(figures.get(c, "")) for c in columns]
            write(" | ".join([name, *cells]))
    path = config.getoption("--bench-report")
    if path:
        Path(path).write_text(json.dumps({"run": header, **_REPORT.rows}, indent=2))
        write(f"written to {path}")


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cell(value):
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)
