"""The few-joint-samples experiment of the LDF paper (papers/001, section 5.3 and Fig. 6).

Only 256 full videos are available, but every single frame of the data set is: LDF
trains its lower level on all frames (``fit(videos, pieces=frames)``) and its upper
level on the 256 videos; the joint models can use the 256 videos only: the paper's joint
GAN (:class:`skdisent.JointGAN`, generator and discriminator over the frames stacked as
channels) and, as a second baseline, :class:`joint_ali.JointALI` (LDF's lower-level ALI
over the whole video). All train for the same number of epochs over the 256 videos, i.e.
the same number of steps, as in the paper ("the same number of updates"); in one step
LDF's lower level makes several updates on ``batch_size`` frames each, so
``--joint-epochs`` (and ``--ali-epochs``) can give the baselines more epochs (the same
number of optimiser updates, or the same time).

The data are :func:`skdisent.datasets.make_moving_sprites` (5 frames of 32x32 by
default): the full grid of 4,096 videos gives 20,480 frames. The script writes a PNG
with real videos and samples of each model (one video per row, frames left to right),
the samples themselves (``.npz`` beside it), and prints for each (real held-out videos
first): the sample-quality scores of :mod:`skdisent.metrics`, read by a
:class:`~skdisent.metrics.FactorClassifier` trained on the videos of the grid that are
not among the 256 (``fis_<factor>``: the factor Inception Score of each factor, higher is
better; ``fis_mean``; ``ffd``: the Frechet factor distance to held-out videos, lower is
better), then ``frame_change``, how
much the frames of a video change relative to how much videos differ (about 0.1 for
the data, where only the sprite moves; near 1 when frames have nothing to do with each
other; near 0 when nothing moves), and ``background_error``, how far the still part of
a video is from the nearest true background texture.

Usage::

    python benchmarks/few_joint_samples.py --epochs 40 --joint-epochs 40 240 --threads 1
    python benchmarks/few_joint_samples.py --size 16 --videos 64 --epochs 1 --ali-epochs \
        --classifier-epochs 1 --samples 100 --threads 1          # smoke
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))

from joint_ali import JointALI

from skdisent import JointGAN, LDFModel
from skdisent.datasets import make_moving_sprites
from skdisent.metrics import (
    FactorClassifier,
    factor_inception_score,
    frechet_factor_distance,
)


def frame_change(videos):
    """Per-pixel variance across the frames of a video over that across videos."""
    videos = np.asarray(videos, dtype=np.float64)
    return videos.var(axis=1).mean() / videos.reshape(-1, *videos.shape[2:]).var(axis=0).mean()


def background_error(videos, backgrounds):
    """Mean squared distance of each video's still part to the nearest true background.

    The still part is the per-pixel median over the frames (the sprite moves, the
    background does not); ``backgrounds`` are the data set's textures, in [0, 1].
    About 0.01 for real videos (the sprite's own pixels); larger when a model paints
    blurred or mixed textures.
    """
    still = np.median(np.asarray(videos, dtype=np.float64), axis=1)  # (n, C, H, W)
    distances = ((still[:, None] - backgrounds[None]) ** 2).mean(axis=(2, 3, 4))
    return distances.min(axis=1).mean()


def quality(videos, classifier, reference_features, factor_names):
    """Factor Inception Score of each factor and their mean, and the Frechet factor distance."""
    scores = factor_inception_score(videos, classifier)
    figures = {f"fis_{name}": float(score) for name, score in zip(factor_names, scores)}
    figures["fis_mean"] = float(np.mean(scores))
    figures["ffd"] = float(frechet_factor_distance(classifier.features(videos),
                                                   reference_features))
    return figures


def run(epochs=40, joint_epochs=None, ali_epochs=None, size=32, n_videos=256, local_dim=16,
        global_dim=16, conv_channels=16, dense_units=128, batch_size=32, learning_rate=1e-3,
        n_samples=500, classifier_epochs=15, random_state=0):
    """Fit LDF and the joint baselines; return real videos, samples and figures.

    Parameters
    ----------
    epochs : int
        Epochs of LDF over the full videos.
    joint_epochs : list of int, default=None
        One joint GAN per entry, trained for that many epochs (default: ``[epochs]``).
    ali_epochs : list of int, default=None
        One :class:`joint_ali.JointALI` per entry (default: ``[epochs]``; empty: none).
    size, n_videos : int
        Frame size, and how many full videos the models see.
    local_dim, global_dim, conv_channels, dense_units, batch_size, learning_rate, random_state
        Settings of the models; the joint codes have ``n_frames * local_dim`` dimensions.
    n_samples : int
        Samples of each model scored (and real held-out videos).
    classifier_epochs : int
        Epochs of the factor classifier, trained on the videos not among ``n_videos``.

    Returns
    -------
    result : dict
        ``samples``: name -> float videos in [0, 1] (``"real"`` first: held-out videos;
        then ``"joint GAN <epochs>"``, ``"joint ALI <epochs>"`` and ``"LDF"``),
        ``figures`` and ``scores`` (name -> the figures of that set of videos).
    """
    data = make_moving_sprites(size=size)
    videos = data.videos
    frames = videos.reshape(-1, *videos.shape[2:])
    order = np.random.default_rng(random_state).permutation(len(videos))
    chosen, held_out = order[:n_videos], order[n_videos:]
    few = videos[chosen]
    backgrounds = data.backgrounds / 255.0
    # The classifier learns from the reference videos; the "real" row is videos it never saw.
    reference, real = held_out[: len(held_out) - n_samples], held_out[-n_samples:]
    classifier = FactorClassifier(n_epochs=classifier_epochs, random_state=random_state).fit(
        videos[reference], data.factors[reference])
    reference_features = classifier.features(videos[reference])
    shared = {"batch_size": batch_size, "learning_rate": learning_rate, "conv_channels": conv_channels,
                  "dense_units": dense_units, "device": "cpu", "random_state": random_state,
                  "n_threads": torch.get_num_threads()}
    code_size = few.shape[1] * local_dim
    models = [(f"joint GAN {n}", JointGAN(code_size, n_epochs=n, **shared), {})
              for n in (joint_epochs or [epochs])]
    models += [(f"joint ALI {n}", JointALI(code_size, n_epochs=n, **shared), {})
               for n in (ali_epochs if ali_epochs is not None else [epochs])]
    models.append(("LDF", LDFModel(local_dim=local_dim, global_dim=global_dim, n_epochs=epochs,
                                   **shared), {"pieces": frames}))
    samples = {"real": videos[real] / 255.0}
    figures = {"frames_for_lower_level": len(frames), "full_videos": n_videos,
               "classifier_accuracy": " ".join(
                   f"{n}={a:.2f}" for n, a in zip(data.factor_names, classifier.accuracy_))}
    for name, model, extra in models:
        started = time.perf_counter()
        model.fit(few, **extra)
        figures[f"{name}: fit_seconds"] = time.perf_counter() - started
        figures[f"{name}: steps"] = model.n_steps_
        samples[name] = model.sample(n_samples, random_state=random_state)
    scores = {}
    for name, videos_ in samples.items():
        scores[name] = quality(videos_, classifier, reference_features, data.factor_names)
        scores[name]["frame_change"] = frame_change(videos_)
        scores[name]["background_error"] = background_error(videos_, backgrounds)
        figures.update({f"{name}: {key}": value for key, value in scores[name].items()})
    return {"samples": samples, "figures": figures, "scores": scores}


def table(scores):
    """The scores as a markdown table: one column per set of videos."""
    names = list(scores)
    lines = ["| | " + " | ".join(names) + " |", "| --- " * (len(names) + 1) + "|"]
    for key in scores[names[0]]:
        lines.append(f"| {key} | " + " | ".join(f"{scores[n][key]:.4g}" for n in names) + " |")
    return "\n".join(lines)


def plot(result, path, n_rows=8):
    """Real videos and the samples of each model side by side; one video per row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = result["samples"]
    n_frames = panels["real"].shape[1]
    fig, axes = plt.subplots(1, len(panels), figsize=(len(panels) * n_frames * 0.9,
                                                       n_rows * 0.9 + 0.6))
    for ax, (title, videos) in zip(axes, panels.items()):
        rows = [np.concatenate(list(video.transpose(0, 2, 3, 1)), axis=1) for video in videos[:n_rows]]
        ax.imshow(np.clip(np.concatenate(rows, axis=0), 0, 1), interpolation="nearest")
        ax.set_title(title if title != "real" else "real (held out)", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    """Run the experiment from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--joint-epochs", type=int, nargs="+", default=None,
                        help="epochs of the joint baseline; several give one baseline each "
                             "(default: --epochs)")
    parser.add_argument("--ali-epochs", type=int, nargs="*", default=None,
                        help="epochs of the JointALI baseline, one per entry (default: "
                             "--epochs; none when given without a value)")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--videos", type=int, default=256)
    parser.add_argument("--samples", type=int, default=500, help="videos scored per model")
    parser.add_argument("--classifier-epochs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    parser.add_argument("--output", default="few_joint_samples.png")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = run(epochs=args.epochs, joint_epochs=args.joint_epochs, ali_epochs=args.ali_epochs,
                 size=args.size, n_videos=args.videos, n_samples=args.samples,
                 classifier_epochs=args.classifier_epochs)
    plot(result, args.output)
    np.savez_compressed(Path(args.output).with_suffix(".npz"),
                        **{name.replace(" ", "_"): v for name, v in result["samples"].items()})
    for key, value in result["figures"].items():
        if ":" not in key or key.endswith(("fit_seconds", "steps")):
            print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    print(table(result["scores"]))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
