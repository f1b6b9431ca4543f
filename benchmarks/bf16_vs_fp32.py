"""Does a bf16 fit learn as well as an fp32 one? ProVLAE on generated dSprites, several seeds.

For each seed, ProVLAE is fitted twice on the same generated dSprites images, once
with ``precision="fp32"`` and once with ``precision="bf16"`` (same seed, so the same
initial weights, batches and noise). Both are then evaluated in fp32 on the same
held-out images: reconstruction error (cross-entropy per image in nats, and mean
squared error per pixel, of ``inverse_transform(transform(X))``), the ELBO
(``score``), and MIG and MIG-sup of the codes against the true factors. bf16 is
recommended when, for every figure, the mean difference between the precisions is
within the seed-to-seed spread (the standard deviation over seeds of the fp32 fits).

Run (tens of minutes on 2 cores; the README says which options its figures used)::

    python benchmarks/bf16_vs_fp32.py --seeds 0 1 2 --threads 1 --n-jobs 2 --out bf16.json
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from joblib import Parallel, delayed

from skdisent import ProVLAE
from skdisent.datasets import make_dsprites


def _metrics():
    """``mig`` and ``mig_sup`` from the public module, when it exports them."""
    try:
        from skdisent.metrics import mig, mig_sup
    except ImportError:
        from skdisent.metrics._mig import mig, mig_sup

        print("note: skdisent.metrics does not export mig/mig_sup yet; using "
              "skdisent.metrics._mig", file=sys.stderr)
    return mig, mig_sup


def _cross_entropy(probabilities, X):
    """Bernoulli cross-entropy of uint8 images under pixel probabilities, per image (nats)."""
    x = X.reshape(len(X), -1) / 255.0
    p = np.clip(probabilities.reshape(len(X), -1).astype(np.float64), 1e-7, 1 - 1e-7)
    return float(-np.mean(np.sum(x * np.log(p) + (1 - x) * np.log1p(-p), axis=1)))


def evaluate(model, X, factors):
    """Figures of a fitted model on ``X``, computed in fp32 whatever it was trained in."""
    mig, mig_sup = _metrics()
    model = model.set_params(precision="fp32", compile=False)
    codes = model.transform(X)
    probabilities = model.inverse_transform(codes)
    return {
        "cross_entropy": _cross_entropy(probabilities, X),
        "mse": float(np.mean((probabilities - X / 255.0) ** 2)),
        "elbo": model.score(X),
        "mig": mig(codes, factors),
        "mig_sup": mig_sup(codes, factors),
        "train_reconstruction": model.history_[-1]["reconstruction"],
    }


def fit_and_evaluate(seed, precision, X, X_eval, factors, args):
    """Fit one ProVLAE and return its figures (run in a worker process)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    model = ProVLAE(levels=3, latent_dim=args.latent_dim, epochs_per_step=args.epochs_per_step,
                    fade_in_steps=args.fade_in_steps, batch_size=args.batch_size,
                    precision=precision, compile=args.compile, device="cpu", random_state=seed,
                    n_threads=torch.get_num_threads())
    started = time.perf_counter()
    model.fit(X)
    seconds = time.perf_counter() - started
    figures = evaluate(model, X_eval, factors)
    figures.update(seed=seed, precision=precision, fit_s=seconds,
                   images_per_s=float(np.median([r["images_per_s"] for r in model.history_])))
    print(json.dumps(figures), flush=True)
    return figures


def main(argv=None):
    """Fit, evaluate and compare; print a table and optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-samples", type=int, default=12_000)
    parser.add_argument("--n-eval", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=64, help="image height and width")
    parser.add_argument("--epochs-per-step", type=int, default=3)
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--fade-in-steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--compile", action="store_true", help="compile both fits")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per fit")
    parser.add_argument("--n-jobs", type=int, default=1, help="fits run in parallel")
    parser.add_argument("--out", default=None, help="write the figures to this JSON file")
    args = parser.parse_args(argv)

    X, _ = make_dsprites(n_samples=args.n_samples, size=args.size, random_state=1000,
                         return_X_y=True)
    X_eval, factors = make_dsprites(n_samples=args.n_eval, size=args.size, random_state=2000,
                                    return_X_y=True)
    jobs = [(seed, precision) for seed in args.seeds for precision in ("fp32", "bf16")]
    runs = Parallel(n_jobs=args.n_jobs)(
        delayed(fit_and_evaluate)(seed, precision, X, X_eval, factors, args)
        for seed, precision in jobs
    )

    keys = ["cross_entropy", "mse", "elbo", "mig", "mig_sup", "train_reconstruction",
            "images_per_s"]
    summary = {}
    for key in keys:
        fp32 = np.array([r[key] for r in runs if r["precision"] == "fp32"])
        bf16 = np.array([r[key] for r in runs if r["precision"] == "bf16"])
        spread = float(fp32.std(ddof=1)) if len(fp32) > 1 else float("nan")
        difference = float(bf16.mean() - fp32.mean())
        summary[key] = {
            "fp32_mean": float(fp32.mean()), "bf16_mean": float(bf16.mean()),
            "difference": difference, "fp32_seed_std": spread,
            "bf16_seed_std": float(bf16.std(ddof=1)) if len(bf16) > 1 else float("nan"),
            "within_spread": bool(abs(difference) <= spread) if key != "images_per_s" else None,
        }
    print(f"\n{'figure':22s} {'fp32':>10s} {'bf16':>10s} {'diff':>10s} {'seed std':>10s}  ok")
    for key, s in summary.items():
        print(f"{key:22s} {s['fp32_mean']:10.4g} {s['bf16_mean']:10.4g} {s['difference']:10.3g} "
              f"{s['fp32_seed_std']:10.3g}  {'' if s['within_spread'] is None else s['within_spread']}")
    config = {**vars(args), "torch": torch.__version__, "load_at_end": list(os.getloadavg())}
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"config": config, "runs": runs, "summary": summary}, f, indent=2)
    return summary


if __name__ == "__main__":
    main()
