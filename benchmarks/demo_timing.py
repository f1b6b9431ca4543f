"""Time ``skdisent demo`` as a new user runs it, and say how busy the machine was.

Usage::

    python benchmarks/demo_timing.py [demo options...]      # e.g. --quick, --precision bf16

Runs the demo in this process with the given options (none: the defaults, which must finish
within 10 minutes on 2 CPU cores), then prints one JSON line: wall time, CPU time of the
process, torch's thread count, the CPU count and the load average before and after. On a
shared machine, compare ``cpu_s / torch_threads`` with ``wall_s``: a wall time far above it
means the run waited for the CPU, and the load average says why.
"""

import json
import os
import resource
import sys
import tempfile
import time


def main(argv):
    """Run the demo with ``argv`` and print its timing as one JSON line.

    Parameters
    ----------
    argv : list of str
        Options of ``skdisent demo``; ``-o`` defaults to a temporary folder.

    Returns
    -------
    status : int
        The demo's exit status.
    """
    import torch

    from skdisent.cli import main as skdisent_main

    if "-o" not in argv and "--output" not in argv:
        argv = [*argv, "-o", tempfile.mkdtemp(prefix="skdisent_demo_")]
    load_before = os.getloadavg()
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    status = skdisent_main(["demo", *argv])
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    print(json.dumps({
        "options": argv,
        "status": status,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
