"""Where the time of one training step goes: the plain loop of a model under the profiler.

Usage::

    python benchmarks/profile_step.py [--model ProVLAE] [--batch-size 128]
        [--setting compiled-bf16] [--steps 6] [--shapes]

Trains :class:`plain_loop.PlainLoop` on random ``uint8`` images in the given setting (compiled
settings with a dynamic batch and the estimators' inductor options, as the estimators
compile), times three rounds of 12 steps, then profiles ``--steps`` more and prints the
operators by their own CPU time per step. ``--shapes`` splits the convolutions and matrix
products by their input shapes, which tells the layers apart. Profile on an otherwise idle
machine; the figures of ``benchmarks/README.md`` ("Where a step goes") come from this script.
"""

import argparse
import os
import sys

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plain_loop import MODELS, SETTINGS, PlainLoop, make_model, random_images  # noqa: E402

#: Operators listed by shape with ``--shapes``.
LAYER_OPERATORS = (
    "aten::convolution_backward",
    "aten::_convolution",
    "aten::mkldnn_convolution",
    "aten::mm",
    "aten::addmm",
)


def main(argv=None):
    """Profile the plain loop of one model and setting; print the operators' times.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line options (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="ProVLAE")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="compiled-bf16")
    parser.add_argument("--steps", type=int, default=6, help="profiled steps")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--shapes", action="store_true",
                        help="split convolutions and matrix products by input shape")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    model = make_model(args.model, args.batch_size, args.setting)
    loop = PlainLoop.in_setting_of(model, args.batch_size)
    X = torch.from_numpy(random_images(4096))
    loop.run(X, 3)  # compiles, and warms the allocator
    for round_ in range(3):
        seconds = loop.run(X, 12)
        print(f"round {round_}: {1000 * seconds / 12:.1f} ms a step, "
              f"{12 * args.batch_size / seconds:.0f} images/s")

    with profile(activities=[ProfilerActivity.CPU], record_shapes=args.shapes) as profiler:
        loop.run(X, args.steps)
    events = profiler.key_averages(group_by_input_shape=args.shapes)
    events = sorted(events, key=lambda event: -event.self_cpu_time_total)
    total = sum(event.self_cpu_time_total for event in events) / args.steps / 1000
    print(f"\nprofiled: {total:.1f} ms of own CPU time a step "
          f"({args.model}, batch {args.batch_size}, {args.setting}, "
          f"{torch.get_num_threads()} threads)")
    print(f"{'ms a step':>9}  {'share':>5}  {'calls':>5}  operator")
    for event in events[:40]:
        if args.shapes and event.key in LAYER_OPERATORS:
            name = f"{event.key} {event.input_shapes[:3]}"
        else:
            name = event.key
        per_step = event.self_cpu_time_total / args.steps / 1000
        print(f"{per_step:9.2f}  {per_step / total:5.1%}  {event.count // args.steps:5d}  "
              f"{name[:110]}")


if __name__ == "__main__":
    main()
