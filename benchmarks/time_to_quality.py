"""LDF's claim of time to quality, measured: sample quality against training time, LDF and a joint GAN.

The LDF paper (papers/001) claims that its decoupled, local training reaches a given
sample quality sooner than a joint model (Inception Score on CIFAR after 8 epochs, its
Fig. 3; Pacman videos after 21 minutes, its Fig. 7). This script trains, in one process
on the same threads, the joint GAN of the paper (:class:`skdisent.JointGAN`: generator
and discriminator over the whole object, a video's frames stacked on the channels) and
three LDF models (:class:`skdisent.LDFModel`):

- ``LDF``: from scratch, the defaults (one lower-level update per ``batch_size`` pieces);
- ``LDF pretrained``: the first ``--pretrain-epochs`` epochs train the lower level only
  (``pretrain_lower``); **its clock includes that pretraining** (the CSV also gives the
  pretraining's seconds, and the summary the times without it);
- ``LDF all pieces``: ``lower_batch_size="all"``, one lower-level update on all of a
  step's pieces (the fastest epoch the decoupling allows; fewer, larger updates).

Data: (a) ``sprites``, videos of :func:`skdisent.datasets.make_moving_sprites` (5 frames;
LDF cuts them into frames); (b) ``shapes3d``, 32x32 images of
:func:`skdisent.datasets.make_shapes3d` (LDF cuts them into 2x2 patches of 16x16). Each
data set is split in two: the models train on one part; the other is the reference,
whose first half trains a :class:`skdisent.metrics.FactorClassifier` once, before the
models, and is the real reference of :func:`~skdisent.metrics.frechet_factor_distance`,
and whose second half, unseen by the classifier, is scored as the ``real`` row. Models are of comparable
size: the same ``conv_channels`` and ``dense_units`` (the same layer rules), and the
joint GAN's noise as large as LDF's local codes together (``n_pieces * local_dim``).

The models train in turn, one epoch at a time (``warm_start``), so that a change in the
machine's load falls on all of them. A model's clock is the sum of its epochs' ``time``
in ``history_`` (training only: neither the evaluation nor the set-up of each
incremental ``fit``). Each time a model's clock passes a checkpoint (every
``--every`` seconds, up to ``--budget``), ``--samples`` samples drawn with a fixed seed
are scored: the factor Inception Score of each factor and their mean (higher is better),
and the Frechet factor distance to the held-out data (lower is better). Real held-out
data give the scores' ceiling and floor (the ``real`` row).

Outputs, in ``--output-dir``: ``time_to_quality_<data>.csv`` (model, seconds, epoch,
scores), ``time_to_quality.png`` (the curves) and ``time_to_quality.md`` (the time each
model takes to reach the joint GAN's best quality, in FFD and in FIS, and its ratio to
the joint GAN's own time to it).

Usage::

    python benchmarks/time_to_quality.py --size small                 # smoke, about a minute
    python benchmarks/time_to_quality.py --threads 1                  # ~20 minutes on one thread
    python benchmarks/time_to_quality.py --device cuda --budget 300   # on a GPU
"""

import argparse
import csv
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from skdisent import JointGAN, LDFModel
from skdisent.datasets import make_moving_sprites, make_shapes3d
from skdisent.metrics import (
    FactorClassifier,
    factor_inception_score,
    frechet_factor_distance,
)

#: Settings per ``--size``: data, widths, the classifier, the clock.
SIZES = {
    "small": {"frame": 16, "n_train": 256, "n_reference": {"sprites": 512, "shapes3d": 512}, "conv_channels": 8,
              "dense_units": 32, "local_dim": 4, "global_dim": 8, "batch_size": 32,
              "classifier": {"conv_channels": (8, 16), "feature_dim": 32, "n_epochs": 2},
              "samples": 200, "budget": 4.0, "every": 2.0, "pretrain_epochs": 1},
    # Reference sets: the 3,072 videos of the moving sprites' grid (4,096) not trained on,
    # 4,096 images of shapes3d (scale, shape and orientation need them); the classifier
    # trains on half of each (its held-out accuracy is printed and written to the summary).
    "default": {"frame": 32, "n_train": 1024, "n_reference": {"sprites": 3072, "shapes3d": 4096},
                "conv_channels": 16, "dense_units": 128, "local_dim": 16, "global_dim": 32,
                "batch_size": 32,
                "classifier": {"conv_channels": (32, 64, 64), "feature_dim": 128, "n_epochs": 30},
                "samples": 1000, "budget": 120.0, "every": 15.0, "pretrain_epochs": 2},
}
MODELS = ("joint GAN", "LDF", "LDF pretrained", "LDF all pieces")


def load_data(name, settings, random_state=0):
    """``(train, reference, reference_factors, factor_names)`` of a data set, uint8."""
    n_reference = settings["n_reference"][name]
    n = settings["n_train"] + n_reference
    if name == "sprites":  # the whole grid, split: no video is both trained on and held out
        data = make_moving_sprites(size=settings["frame"])
        X, y = data.videos, data.factors
    else:
        data = make_shapes3d(n_samples=n, size=settings["frame"], random_state=random_state)
        X, y = data.images, data.factors
    order = np.random.default_rng(random_state).permutation(len(X))
    train, reference = order[: settings["n_train"]], order[settings["n_train"]: n]
    return X[train], X[reference], y[reference], list(data.factor_names)


def make_models(data_name, settings, device, threads, random_state=0):
    """The four models, unfitted, of comparable size."""
    n_pieces = 5 if data_name == "sprites" else 4
    shared = {"batch_size": settings["batch_size"], "conv_channels": settings["conv_channels"],
              "dense_units": settings["dense_units"], "device": device, "n_threads": threads,
              "warm_start": True, "random_state": random_state, "n_epochs": 0}
    ldf = {"patch_grid": (2, 2), "local_dim": settings["local_dim"],
           "global_dim": settings["global_dim"], **shared}
    return {
        "joint GAN": JointGAN(latent_dim=n_pieces * settings["local_dim"], **shared),
        "LDF": LDFModel(**ldf),
        "LDF pretrained": LDFModel(pretrain_lower=settings["pretrain_epochs"], **ldf),
        "LDF all pieces": LDFModel(lower_batch_size="all", **ldf),
    }


def scores(samples, classifier, reference_features, factor_names):
    """Factor Inception Scores (each and mean) and the Frechet factor distance."""
    fis = factor_inception_score(samples, classifier)
    row = {f"fis_{name}": float(value) for name, value in zip(factor_names, fis)}
    row["fis_mean"] = float(np.mean(fis))
    row["ffd"] = float(frechet_factor_distance(classifier.features(samples), reference_features))
    return row


def training_seconds(model):
    """The model's clock: the seconds of its epochs, as ``history_`` records them."""
    return float(sum(record["time"] for record in getattr(model, "history_", [])))


def pretraining_seconds(model):
    """Seconds of the epochs in which only LDF's lower level trained."""
    return float(sum(record["time"] for record in getattr(model, "history_", [])
                     if not record.get("trains_upper", True)))


def run_data_set(data_name, settings, device, threads, budget, every, random_state=0, log=print):
    """Train the four models in turn on one data set; return the rows of the curves."""
    train, reference, reference_factors, factor_names = load_data(data_name, settings, random_state)
    # The classifier learns from the first half of the reference (its features of that
    # half are the Frechet reference); the "real" row is the second half, which it never saw.
    half = len(reference) // 2
    started = time.perf_counter()
    classifier = FactorClassifier(**settings["classifier"], device=device,
                                  random_state=random_state).fit(reference[:half],
                                                                 reference_factors[:half])
    log(f"[{data_name}] classifier: {time.perf_counter() - started:.0f} s, held-out accuracy "
        + ", ".join(f"{n} {a:.2f}" for n, a in zip(factor_names, classifier.accuracy_)))
    reference_features = classifier.features(reference[:half])
    n_samples = min(settings["samples"], len(reference) - half)
    real = {"model": "real", "seconds": 0.0, "epoch": 0, "pretrain_seconds": 0.0,
            **scores(reference[half: half + n_samples], classifier, reference_features,
                     factor_names)}
    rows = [real]
    models = make_models(data_name, settings, device, threads, random_state)
    next_checkpoint = dict.fromkeys(models, every)
    while any(training_seconds(model) < budget for model in models.values()):
        for name, model in models.items():
            if training_seconds(model) >= budget:
                continue
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="pretrain_lower")
                model.set_params(n_epochs=getattr(model, "n_iter_", 0) + 1).fit(train)
            seconds = training_seconds(model)
            if seconds < next_checkpoint[name] and seconds < budget:
                continue
            while next_checkpoint[name] <= seconds:
                next_checkpoint[name] += every
            samples = model.sample(n_samples, random_state=random_state)
            row = {"model": name, "seconds": seconds, "epoch": model.n_iter_,
                   "pretrain_seconds": pretraining_seconds(model),
                   **scores(samples, classifier, reference_features, factor_names)}
            rows.append(row)
            log(f"[{data_name}] {name:15s} {seconds:7.1f} s  epoch {model.n_iter_:3d}  "
                f"FIS mean {row['fis_mean']:.3f}  FFD {row['ffd']:.3f}")
    return rows, factor_names, dict(zip(factor_names, classifier.accuracy_.tolist()))


def first_time_reaching(rows, model, key, level, pretraining=True):
    """Training seconds at the model's first checkpoint at least as good as ``level``.

    ``key`` is ``"ffd"`` (lower is better) or ``"fis_mean"`` (higher is better); None
    when no checkpoint reached it. ``pretraining=False`` leaves out the seconds of the
    epochs that trained LDF's lower level only, and the checkpoints among them.
    """
    for row in rows:
        good = row[key] <= level if key == "ffd" else row[key] >= level
        pretraining_only = 0 < row["pretrain_seconds"] == row["seconds"]
        if row["model"] == model and good and (pretraining or not pretraining_only):
            return row["seconds"] - (0.0 if pretraining else row["pretrain_seconds"])
    return None


def summary(results):
    """Markdown: best and final scores, and the time to reach the joint GAN's best quality."""
    lines = ["# Time to quality: LDF against a joint GAN", "",
             ("FIS: factor Inception Score, the mean over factors (higher is better); FFD: "
             "Frechet factor distance to held-out real data (lower is better); `real`: held-out "
             "real data scored the same way. Seconds are training seconds (LDF pretrained: "
             "including its lower level's pretraining; the last column without it); ratios "
             "are to the joint GAN's time to the same level (below 1: sooner than the joint "
             "GAN)."), ""]
    for data_name, (rows, _, accuracy) in results.items():
        curves = {}
        for row in rows:
            curves.setdefault(row["model"], []).append(row)
        joint = curves.get("joint GAN")
        lines += [f"## {data_name}", "",
                  "Classifier's accuracy on held-out real data: "
                  + ", ".join(f"{name} {value:.2f}" for name, value in accuracy.items()), ""]
        if joint is None:
            continue
        best_ffd = min(row["ffd"] for row in joint)
        best_fis = max(row["fis_mean"] for row in joint)
        lines += [(f"Levels: the joint GAN's best FFD, {best_ffd:.4g}, and best FIS mean, "
                  f"{best_fis:.4g}."), "",
                  ("| model | epochs | training s | best FFD | final FFD | best FIS | final FIS "
                  "| s to joint's best FFD (ratio) | s to joint's best FIS (ratio) "
                  "| s to joint's best FFD, no pretraining |"),
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        joint_ffd = first_time_reaching(rows, "joint GAN", "ffd", best_ffd)
        joint_fis = first_time_reaching(rows, "joint GAN", "fis_mean", best_fis)
        for name, curve in curves.items():
            final = curve[-1]
            cells = [name, final["epoch"], f"{final['seconds']:.1f}",
                     f"{min(r['ffd'] for r in curve):.4g}", f"{final['ffd']:.4g}",
                     f"{max(r['fis_mean'] for r in curve):.4g}", f"{final['fis_mean']:.4g}"]
            if name == "real":
                cells += ["-", "-", "-"]
            else:
                cells += [_reached(first_time_reaching(rows, name, "ffd", best_ffd), joint_ffd),
                          _reached(first_time_reaching(rows, name, "fis_mean", best_fis),
                                   joint_fis),
                          _seconds(first_time_reaching(rows, name, "ffd", best_ffd,
                                                       pretraining=False))]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _reached(seconds, joint_seconds):
    if seconds is None:
        return "not reached"
    return f"{seconds:.1f} ({seconds / joint_seconds:.2f})" if joint_seconds else f"{seconds:.1f}"


def _seconds(value):
    return "not reached" if value is None else f"{value:.1f}"


def write_csv(rows, factor_names, path):
    """One row per checkpoint."""
    fields = ["model", "seconds", "epoch", "pretrain_seconds", "fis_mean", "ffd",
              *(f"fis_{n}" for n in factor_names)]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def plot(results, path):
    """Mean factor Inception Score and Frechet factor distance against training seconds."""
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError("the plot needs matplotlib: pip install 'skdisent[plot]'") from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 2, figsize=(10, 3.6 * len(results)), squeeze=False)
    for (data_name, (rows, _, _)), row_axes in zip(results.items(), axes):
        for ax, key, label in ((row_axes[0], "fis_mean", "factor Inception Score (mean)"),
                               (row_axes[1], "ffd", "Frechet factor distance")):
            for name in MODELS:
                points = [(r["seconds"], r[key]) for r in rows if r["model"] == name]
                if points:
                    ax.plot(*zip(*points), marker="o", markersize=3, label=name)
            real = next(r for r in rows if r["model"] == "real")
            ax.axhline(real[key], color="grey", linestyle="--", linewidth=1, label="real data")
            ax.set_xlabel("training seconds")
            ax.set_ylabel(label)
            ax.set_title(data_name, fontsize=10)
            if key == "ffd":
                ax.set_yscale("log")
        row_axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="default")
    parser.add_argument("--data", nargs="+", choices=("sprites", "shapes3d"),
                        default=["sprites", "shapes3d"])
    parser.add_argument("--budget", type=float, default=None,
                        help="training seconds per model and data set (default: by --size)")
    parser.add_argument("--every", type=float, default=None,
                        help="training seconds between evaluations (default: by --size)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default=".")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = SIZES[args.size]
    budget = args.budget if args.budget is not None else settings["budget"]
    every = args.every if args.every is not None else settings["every"]
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    results = {}
    for data_name in args.data:
        rows, factor_names, accuracy = run_data_set(data_name, settings, args.device,
                                                    args.threads, budget, every, args.seed)
        results[data_name] = (rows, factor_names, accuracy)
        write_csv(rows, factor_names, output / f"time_to_quality_{data_name}.csv")
    plot(results, output / "time_to_quality.png")
    text = summary(results)
    (output / "time_to_quality.md").write_text(text)
    print(text)
    print(f"written to {output}")


if __name__ == "__main__":
    main()
