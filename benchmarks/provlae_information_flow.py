"""The pro-VLAE paper's Fig. 5 in numbers: I(x; z_l) per level after each progressive step.

ProVLAE is fitted on generated 3DShapes (:func:`skdisent.datasets.make_shapes3d`, no
download) at the reference settings of the paper's 3DShapes runs: 3 levels of 3
latents, beta 8, batch 100, 15 epochs per step, fade-in off, pre-KL coefficient 0.5.
At the end of each step the fit records ``I(x; z_l)`` per level and ``I(x; z)``,
estimated on every image of the training grid (``information_rows=None``). No
estimate can exceed ``log(rows)``, printed beside them: 13.08 nats on the full grid of
480,000 images, against the paper's 10.59 nats in ``z_3`` after step 0.

Sizes (``--size``):

- ``full`` (the default when a CUDA GPU is present): the full grid of 64x64 images
  and the reference settings above, on the GPU. A long run (45 epochs of 480,000
  images), not part of any test.
- ``small`` (the default otherwise): a reduced size for a CPU, a few minutes on one
  thread: a sub-grid of 10,000 images of 32x32 (every other floor, wall and object
  hue, every other scale, every shape, every third orientation) and 3 epochs per
  step; the other settings as above. Its numbers show the estimate and its bound at
  work, not the paper's values (far fewer iterations, a smaller grid).

Run::

    python benchmarks/provlae_information_flow.py --size small --threads 1 --out fig5.json
    python benchmarks/provlae_information_flow.py --size full --figure fig5.png  # on a GPU

``--figure`` also keeps a snapshot of the model at each step end
(``snapshot_steps=True``) and draws Fig. 5 with
:func:`skdisent.plotting.plot_information_flow_steps` (needs matplotlib).
"""

import argparse
import itertools
import json
import math
import os
import time

import numpy as np
import torch

from skdisent import ProVLAE
from skdisent.datasets import make_shapes3d

# The paper's Fig. 5 (3DShapes): I(x; z_l) in nats after steps 0 and 1 (step 2: "nearly
# unchanged"); level 3 the deepest.
PAPER = {0: {"z3": 10.59, "z2": 0.02, "total": 10.61}, 1: {"z3": 6.94, "z2": 5.98, "total": 12.84}}

SIZES = {
    "full": {"image_size": 64, "subgrid": None, "epochs_per_step": 15},
    "small": {"image_size": 32, "epochs_per_step": 3,
              # floor, wall, object hue, scale, shape, orientation: 5*5*5*4*4*5 = 10,000
              "subgrid": (range(0, 10, 2), range(0, 10, 2), range(0, 10, 2), range(0, 8, 2),
                          range(4), range(0, 15, 3))},
}


def images(size):
    """The training images of ``size`` (a key of SIZES): a full factor grid or a sub-grid."""
    setting = SIZES[size]
    if setting["subgrid"] is None:
        return make_shapes3d(size=setting["image_size"], return_X_y=True)[0]
    factors = np.array(list(itertools.product(*setting["subgrid"])))
    return make_shapes3d(factors=factors, size=setting["image_size"], return_X_y=True)[0]


def table(model):
    """One row per completed step: I(x; z_l) per level (deepest first), I(x; z), the bound."""
    rows = []
    for record in model.history_:
        if "information_total" not in record:
            continue
        levels = {f"z{level}": record[f"information_{level}"]
                  for level in range(model.levels_, 0, -1)}
        n = record["information_rows"]
        rows.append({"step": record["step"], **levels, "total": record["information_total"],
                     "rows": n, "log_rows": math.log(n), "epoch": record["epoch"]})
    return rows


def main(argv=None):
    """Fit, print the table of Fig. 5's numbers and the bound, optionally write JSON and a PNG."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cuda = torch.cuda.is_available()
    parser.add_argument("--size", choices=sorted(SIZES), default="full" if cuda else "small")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs-per-step", type=int, default=None,
                        help="override the size's epochs per step")
    parser.add_argument("--normalization", default=None,
                        help="ProVLAE's normalization (default: the estimator's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", default=None, help="write the figures to this JSON file")
    parser.add_argument("--figure", default=None, help="draw Fig. 5 into this PNG")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    X = images(args.size)
    generated_s = time.perf_counter() - started
    epochs = args.epochs_per_step or SIZES[args.size]["epochs_per_step"]
    extra = {} if args.normalization is None else {"normalization": args.normalization}
    model = ProVLAE(levels=3, latent_dim=3, beta=8.0, batch_size=100, epochs_per_step=epochs,
                    fade_in=False, pre_kl_coef=0.5, information_rows=None,
                    snapshot_steps=args.figure is not None, device=args.device,
                    n_threads=args.threads, random_state=args.seed, **extra)
    device = args.device if args.device != "auto" else "cuda" if cuda else "cpu"
    print(f"size {args.size} on {device}: {len(X):,} images of {X.shape[1:]}, {epochs} epochs per "
          f"step (the reference: 15 on the full 64x64 grid of 480,000), generated in "
          f"{generated_s:.1f} s", flush=True)
    started = time.perf_counter()
    model.fit(X)
    fit_s = time.perf_counter() - started
    rows = table(model)

    print(f"\nfit in {fit_s:.0f} s; I(x; z_l) in nats, estimated on all {rows[-1]['rows']:,} "
          f"training images: at most log({rows[-1]['rows']:,}) = {rows[-1]['log_rows']:.2f}")
    print(f"{'step':>4} {'I(x;z3)':>8} {'I(x;z2)':>8} {'I(x;z1)':>8} {'I(x;z)':>8} {'bound':>7}"
          "   paper (3DShapes, full grid)")
    for row in rows:
        paper = PAPER.get(row["step"])
        shown = ("  z3 {z3:.2f}, z2 {z2:.2f}, total {total:.2f}".format(**paper) if paper
                 else "  nearly unchanged")
        print(f"{row['step']:>4} {row['z3']:8.2f} {row['z2']:8.2f} {row['z1']:8.2f} "
              f"{row['total']:8.2f} {row['log_rows']:7.2f} {shown}")
    largest = max(max(row[k] for k in ("z1", "z2", "z3", "total")) for row in rows)
    holds = largest <= rows[-1]["log_rows"] + 0.05
    print(f"largest estimate {largest:.2f} <= log(rows) + 0.05: {holds}")

    if args.figure:
        from skdisent.plotting import plot_information_flow_steps

        plot_information_flow_steps(model, X, index=len(X) // 3, path=args.figure)
        print(f"Fig. 5 written to {args.figure}")
    config = {**vars(args), "epochs_per_step": epochs, "n_images": len(X),
              "image_shape": list(X.shape[1:]), "device": device, "fit_s": fit_s,
              "torch": torch.__version__, "threads": model.history_[-1]["threads"],
              "load_at_end": list(os.getloadavg())}
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"config": config, "steps": rows, "paper": PAPER,
                       "bound_holds": holds}, f, indent=2)
    return rows


if __name__ == "__main__":
    main()
