"""Zhao, Song and Ermon's collapse: a stacked hierarchical VAE next to a VLAE on generated dSprites.

Both models are fitted on the same generated dSprites images
(:func:`skdisent.datasets.make_dsprites`, no download) with the same latents (3 layers or
levels of 2) and the same iterations, the library's defaults otherwise (``beta=1``: the
ELBO the paper trains). For each the script prints:

- the reconstruction error (nats per image) and the KL per layer of the last epoch;
- ``I(x; z_l)`` per layer (:func:`skdisent.evaluation.information_per_level`, 2,048
  held-out images, so at most log 2,048 = 7.62 nats);
- the Gibbs chain on the bottom layer alone against ancestral sampling
  (:func:`skdisent.hierarchy.bottom_layer_gibbs`, 10 steps from 500 held-out images):
  squared MMDs Gibbs-ancestral, Gibbs-data and ancestral-data, one bandwidth;
- the variance of the images when one layer's noise is drawn again and the others are
  held (:func:`skdisent.hierarchy.layer_variation`, the paper's Fig. 3 in numbers);

and writes the pictures (``--out``): ``<model>_layers.png``
(:func:`skdisent.plotting.plot_layer_variation`) and ``<model>_gibbs.png``
(:func:`skdisent.plotting.plot_bottom_layer_gibbs`). The paper's claim: the hierarchy's
upper layers carry no meaningful variation of their own (the bottom layer alone, or
the top alone, holds it), while the ladder spreads it over its levels.

Sizes (``--size``):

- ``small`` (the default): 3,000 images of 32x32, batch 64, 30 epochs (1,410
  iterations) per model; about three and a half minutes for both on one thread of a
  2-core CPU that other jobs share.
- ``full``: 20,000 images of 64x64, batch 128, 45 epochs (the pro-VLAE paper's
  iterations per model), for a GPU.

Run::

    python benchmarks/hierarchical_collapse.py --size small --threads 1 --out collapse/
"""

import argparse
import json
import math
import os
import pathlib
import time

import torch

from skdisent import VLAE, HierarchicalVAE
from skdisent.datasets import make_dsprites
from skdisent.evaluation import information_per_level, reconstruction_error
from skdisent.hierarchy import bottom_layer_gibbs, layer_variation

SIZES = {
    "small": {"image_size": 32, "n_samples": 3000, "batch_size": 64, "n_epochs": 30},
    "full": {"image_size": 64, "n_samples": 20_000, "batch_size": 128, "n_epochs": 45},
}
LEVELS, LATENT_DIM = 3, 2
HELD_OUT, GIBBS_ROWS, GIBBS_STEPS = 2048, 500, 10


def evaluate(model, X_eval):
    """The figures of one fitted model, as a dict."""
    last = model.history_[-1]
    gibbs = bottom_layer_gibbs(model, X_eval[:GIBBS_ROWS], n_steps=GIBBS_STEPS, random_state=0)
    return {
        "reconstruction_error": reconstruction_error(model, X_eval),
        "kl": [last[f"kl_{level}"] for level in range(1, LEVELS + 1)],
        "information": information_per_level(model, X_eval, n_rows=HELD_OUT),
        "gibbs_level": gibbs.level,
        "mmd_gibbs_ancestral": gibbs.mmd,
        "mmd_gibbs_data": gibbs.mmd_gibbs_data,
        "mmd_ancestral_data": gibbs.mmd_ancestral_data,
        "mmd_bandwidth": gibbs.bandwidth,
        "variance": layer_variation(model, n_samples=16, n_references=8).variance.tolist(),
    }


def report(name, fit_s, figures):
    levels = range(1, LEVELS + 1)
    print(f"\n{name}: fitted in {fit_s:.0f} s; reconstruction error "
          f"{figures['reconstruction_error']:.1f} nats per image")
    print("  layer (1 = bottom):      " + "".join(f"{level:>9}" for level in levels))
    print("  KL, last epoch (nats):   " + "".join(f"{v:9.2f}" for v in figures["kl"]))
    print("  I(x; z_l) (nats):        " + "".join(f"{v:9.2f}" for v in figures["information"]))
    print("  variance, layer redrawn: " + "".join(f"{v:9.5f}" for v in figures["variance"]))
    print(f"  Gibbs on layer {figures['gibbs_level']} alone, {GIBBS_STEPS} steps, MMD^2 "
          f"(bandwidth {figures['mmd_bandwidth']:.2f}): Gibbs-ancestral "
          f"{figures['mmd_gibbs_ancestral']:.4f}, Gibbs-data {figures['mmd_gibbs_data']:.4f}, "
          f"ancestral-data {figures['mmd_ancestral_data']:.4f}")


def main(argv=None):
    """Fit both models, print their figures, write the pictures and optionally JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=None, help="override the size's epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", default=None, help="folder for the pictures and results.json")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    epochs = args.epochs or size["n_epochs"]

    X = make_dsprites(n_samples=size["n_samples"], size=size["image_size"],
                      random_state=args.seed, return_X_y=True)[0]
    X_eval = make_dsprites(n_samples=HELD_OUT, size=size["image_size"],
                           random_state=args.seed + 1, return_X_y=True)[0]
    common = {"n_epochs": epochs, "batch_size": size["batch_size"], "device": args.device,
              "n_threads": args.threads, "random_state": args.seed}
    models = {"HierarchicalVAE": HierarchicalVAE(LEVELS, LATENT_DIM, **common),
              "VLAE": VLAE(LEVELS, LATENT_DIM, **common)}
    iterations = math.ceil(len(X) / size["batch_size"]) * epochs
    print(f"size {args.size}: {len(X):,} dSprites images of {X.shape[1:]}, {LEVELS} layers x "
          f"{LATENT_DIM} latents, {epochs} epochs ({iterations:,} iterations) per model; "
          f"evaluated on {len(X_eval):,} held-out images (I(x; z_l) <= log {HELD_OUT:,} = "
          f"{math.log(HELD_OUT):.2f})", flush=True)
    out = pathlib.Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, model in models.items():
        started = time.perf_counter()
        model.fit(X)
        fit_s = time.perf_counter() - started
        figures = evaluate(model, X_eval)
        results[name] = {"fit_s": fit_s, **figures}
        report(name, fit_s, figures)
        if out is not None:
            from skdisent.plotting import plot_bottom_layer_gibbs, plot_layer_variation

            stem = name.lower()
            plot_layer_variation(model, n_samples=10, n_references=3,
                                 path=out / f"{stem}_layers.png")
            plot_bottom_layer_gibbs(model, X_eval[:GIBBS_ROWS], n_steps=GIBBS_STEPS,
                                    path=out / f"{stem}_gibbs.png")
    if out is not None:
        config = {**vars(args), **size, "n_epochs": epochs, "iterations": iterations,
                  "torch": torch.__version__, "threads": models["VLAE"].history_[-1]["threads"],
                  "load_at_end": list(os.getloadavg())}
        (out / "results.json").write_text(json.dumps({"config": config, "results": results},
                                                     indent=2))
        print(f"\npictures and results.json written to {out}/")
    return results


if __name__ == "__main__":
    main()
