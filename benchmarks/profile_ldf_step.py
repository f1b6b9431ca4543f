"""Where LDF's training time goes: the two levels' shares, and the operators under the profiler.

Usage::

    python benchmarks/profile_ldf_step.py [--size 32] [--lower-batch-size all] [--threads 1]

Fits :class:`skdisent.LDFModel` on frames of moving sprites (``--size`` x ``--size``, cut
into 16x16 patches, the widths of ``bench_ldf.py``) for a warm-up epoch, then times
``--epochs`` more with every level's update timed apart (the upper level's share is what
running the two levels side by side could save at most), and profiles one more epoch:
operators by their own CPU time. Relative shares only: they hold on a loaded machine
better than seconds do.
"""

import argparse
import time
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile

import skdisent.models._ldf_training as training
from skdisent import LDFModel
from skdisent.datasets import make_moving_sprites


def main(argv=None):
    """Time and profile LDF's epochs; print the shares."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lower-batch-size", default=None,
                        help="an int, 'all', or nothing for LDF's default")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    lower_batch_size = args.lower_batch_size
    if lower_batch_size is not None and lower_batch_size != "all":
        lower_batch_size = int(lower_batch_size)

    videos = make_moving_sprites(n_samples=-(-args.images // 5), size=args.size,
                                 random_state=0).videos
    X = videos.reshape(-1, *videos.shape[2:])[: args.images]
    grid = args.size // 16
    model = LDFModel(patch_grid=(grid, grid), local_dim=16, global_dim=32, batch_size=64,
                     lower_batch_size=lower_batch_size, conv_channels=32, dense_units=256,
                     device="cpu", n_threads=args.threads, random_state=0, n_epochs=1,
                     warm_start=True).fit(X)

    seconds = defaultdict(float)
    update = training.ali_update

    def timed_update(model, level, x, trainer):
        started = time.perf_counter()
        try:
            return update(model, level, x, trainer)
        finally:
            seconds[level] += time.perf_counter() - started

    training.ali_update = timed_update
    try:
        started = time.perf_counter()
        model.set_params(n_epochs=model.n_iter_ + args.epochs).fit(X)
        total = time.perf_counter() - started
    finally:
        training.ali_update = update
    print(f"LDF {args.size}x{args.size}, lower_batch_size={lower_batch_size!r}, "
          f"{torch.get_num_threads()} threads: shares of {args.epochs} epochs")
    for level in ("lower", "upper"):
        print(f"  {level} level updates: {seconds[level] / total:6.1%}")
    print(f"  the rest (cutting, data, bookkeeping): {1 - sum(seconds.values()) / total:6.1%}")

    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        model.set_params(n_epochs=model.n_iter_ + 1).fit(X)
    events = sorted(profiler.key_averages(), key=lambda event: -event.self_cpu_time_total)
    own = sum(event.self_cpu_time_total for event in events)
    print(f"\n{'share':>6}  {'calls':>6}  operator (one epoch, own CPU time)")
    for event in events[:20]:
        print(f"{event.self_cpu_time_total / own:6.1%}  {event.count:6d}  {event.key[:100]}")


if __name__ == "__main__":
    main()
