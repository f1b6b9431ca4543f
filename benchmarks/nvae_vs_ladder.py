"""NVAE next to VLAE and pro-VLAE on generated 3DShapes (and CelebA with a GPU and its files).

The three models get the study's fair budget (:mod:`skdisent.study`): ``levels`` levels
(NVAE: one group per scale, ``levels`` scales) of ``latent_dim`` latents (NVAE: latent
channels, each a feature map) and the same epochs; the library's defaults otherwise.
For each model the script reports, on held-out images:

- the reconstruction error (:func:`skdisent.evaluation.reconstruction_error`, nats per
  image) and the ELBO (``score``, nats per image);
- MIG, MIG-sup, the FactorVAE score and the active latents
  (:func:`skdisent.evaluation.evaluate_model`; 3DShapes only: CelebA has no factors);
- the fit's time, its parameters, and its training images/s (the mean over the epochs
  after the first) against a plain PyTorch loop of the same network, measured in the
  same run (:class:`PlainNVAELoop` for NVAE; :class:`benchmarks.plain_loop.PlainLoop`
  for the ladders);

as a markdown table, and ``results.json`` with ``--out``.

Sizes (``--size``):

- ``smoke``: 256 images of 32x32, 3 epochs, tiny widths: checks that the script runs
  (seconds); its figures mean nothing.
- ``small``: 5,000 images of 32x32, batch 64, 9 epochs per model, the default
  widths: a CPU run of tens of minutes.
- ``gpu``: 50,000 images of 64x64, batch 64, 30 epochs, NVAE with 32 channels, for a
  GPU; ``--celeba FOLDER`` adds a CelebA 64x64 run (the folder of
  :func:`skdisent.datasets.load_celeba`) with ``--celeba-images`` images.

Run::

    python benchmarks/nvae_vs_ladder.py --size smoke --threads 1
    python benchmarks/nvae_vs_ladder.py --size small --threads 1 --out DIR
    # the ladders given NVAE's training time instead of its epochs
    python benchmarks/nvae_vs_ladder.py --size small --threads 1 --models VLAE \\
        --ladder-epochs 207 --out DIR
    python benchmarks/nvae_vs_ladder.py --size gpu --device cuda --out nvae_gpu/
"""

import argparse
import json
import math
import pathlib
import time

import numpy as np
import torch
from plain_loop import PlainLoop

from skdisent import NVAE, VLAE, ProVLAE
from skdisent.datasets import make_shapes3d
from skdisent.engine.device import resolve_device
from skdisent.evaluation import evaluate_model, reconstruction_error
from skdisent.models._nvae_regime import balanced_kl, kl_balance_weights
from skdisent.nn.nvae import NVAENetwork
from skdisent.nn.nvae_cells import (
    batchnorm_regularization,
    spectral_regularization,
)

SIZES = {
    "smoke": {"image_size": 32, "n_samples": 256, "n_eval": 128, "batch_size": 32,
              "n_epochs": 3, "ladder": {"conv_channels": 8, "dense_units": 32},
              "nvae": {"channels": 4, "information_every": 0}, "loop_steps": 4},
    "small": {"image_size": 32, "n_samples": 5000, "n_eval": 2000, "batch_size": 64,
              "n_epochs": 9, "ladder": {}, "nvae": {"information_every": 0},
              "loop_steps": 40},
    "gpu": {"image_size": 64, "n_samples": 50_000, "n_eval": 5000, "batch_size": 64,
            "n_epochs": 30, "ladder": {}, "nvae": {"channels": 32, "information_every": 0},
            "loop_steps": 200},
}
LEVELS, LATENT_DIM = 3, 3


class PlainNVAELoop:
    """NVAE's network trained by a hand-written loop: the estimator's loss, nothing around it.

    The same :class:`~skdisent.nn.NVAENetwork` (a fresh copy of ``model``'s
    configuration), Adamax at the model's rate, random batches of ``uint8`` images
    scaled to [0, 1], the negative ELBO with the KL coefficient held at 1 and the
    spectral regulariser; no schedule, records or checks.
    """

    def __init__(self, model, batch_size, device, seed=0):
        torch.manual_seed(seed)
        self.network = NVAENetwork(**model.network_.config).to(device)
        self.network.initialize_(torch.Generator().manual_seed(seed))
        self.optimizer = torch.optim.Adamax(self.network.parameters(), lr=model.learning_rate,
                                            weight_decay=model.weight_decay, eps=1e-3)
        self.alpha = kl_balance_weights(model._groups_per_scale()).to(device)
        self.weight = model.spectral_regularization
        self.batch_size, self.device = batch_size, device
        self.rng = np.random.default_rng(seed)

    def run(self, X, n_steps):
        """Train ``n_steps`` steps; images per second (the first step, a warm-up, excluded)."""
        self.network.train()
        started = None
        for step in range(n_steps + 1):
            if step == 1:
                if self.device.type == "cuda":
                    torch.cuda.synchronize()
                started = time.perf_counter()
            rows = self.rng.integers(0, len(X), self.batch_size)
            x = torch.from_numpy(X[rows]).to(self.device).float() / 255.0
            noise = [torch.randn(len(x), *s, device=self.device)
                     for s in self.network.group_shapes]
            log_likelihood, kl = self.network(x, noise)
            loss = (balanced_kl(kl, 1.0, self.alpha)[0] - log_likelihood).mean()
            loss = loss + self.weight * (
                spectral_regularization(self.network.convolutions(), 4)
                + batchnorm_regularization(self.network.batch_norms()))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return n_steps * self.batch_size / (time.perf_counter() - started)


def _models(size, common, ladder_epochs=None):
    ladder, nvae = {**common, **size["ladder"]}, {**common, **size["nvae"]}
    epochs = size["n_epochs"]
    ladder_epochs = ladder_epochs or epochs
    return {
        "VLAE": VLAE(LEVELS, LATENT_DIM, n_epochs=ladder_epochs, **ladder),
        # the same epochs in all: one progressive step per level (epochs a multiple of 3)
        "ProVLAE": ProVLAE(LEVELS, LATENT_DIM, epochs_per_step=max(1, ladder_epochs // LEVELS),
                           fade_in_steps=1, **ladder),
        "NVAE": NVAE(n_scales=LEVELS, groups_per_scale=1, adaptive_groups=False,
                     latent_per_group=LATENT_DIM, n_epochs=epochs, **nvae),
    }


def _loop_speed(name, model, X, size, device):
    if name == "NVAE":
        return PlainNVAELoop(model, size["batch_size"], device).run(X, size["loop_steps"])
    # PlainLoop builds a dSprites ladder; it trains a fresh copy of this one instead
    loop = PlainLoop(model, size["batch_size"], device=str(device))
    network = type(model.network_)(**model.network_.config).to(device)
    loop.network = loop.forward = network
    loop.optimizer = torch.optim.Adam(network.parameters(), lr=model.learning_rate)
    loop.gates = torch.ones(network.depth, device=device)
    images = torch.from_numpy(X)
    loop.run(images, 1)  # warm-up
    return size["loop_steps"] * size["batch_size"] / loop.run(images, size["loop_steps"])


def _speed(model):
    rates = [r["images_per_s"] for r in model.history_[1:]] or [model.history_[0]["images_per_s"]]
    return float(np.mean(rates))


def run(name, model, X, X_eval, factors, size, device):
    """Fit, evaluate and time one model; a dict of figures."""
    started = time.perf_counter()
    model.fit(X)
    fit_s = time.perf_counter() - started
    figures = {"fit_s": fit_s, "n_epochs": model.n_iter_,
               "parameters": sum(p.numel() for p in model.network_.parameters()),
               "n_components": int(model.n_components_),
               "elbo": model.score(X_eval), "images_per_s": _speed(model)}
    if factors is not None:
        figures.update(evaluate_model(model, X_eval, factors))
    else:
        figures["reconstruction_error"] = reconstruction_error(model, X_eval)
    loop = _loop_speed(name, model, X, size, device)
    figures.update(loop_images_per_s=loop, ratio_to_loop=figures["images_per_s"] / loop)
    return figures


def table(results, title):
    """The results as a markdown table."""
    columns = [("reconstruction_error", "recon. (nats)", ".1f"), ("elbo", "ELBO", ".1f"),
               ("mig", "MIG", ".3f"), ("mig_sup", "MIG-sup", ".3f"),
               ("factor_vae_score", "FactorVAE", ".3f"), ("n_active", "active", "d"),
               ("n_components", "latents", "d"), ("parameters", "params", ",d"),
               ("fit_s", "fit (s)", ".0f"), ("images_per_s", "img/s", ".0f"),
               ("loop_images_per_s", "loop img/s", ".0f"), ("ratio_to_loop", "/loop", ".2f")]
    present = [c for c in columns if any(c[0] in r for r in results.values())]
    lines = [f"\n**{title}**\n", "| model | " + " | ".join(h for _, h, _ in present) + " |",
             "|---|" + "---|" * len(present)]
    for name, figures in results.items():
        cells = [format(figures[k], f) if k in figures else "" for k, _, f in present]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    """Fit the three models on each data set, print the tables, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="smoke")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=None, help="override the size's epochs")
    parser.add_argument("--ladder-epochs", type=int, default=None,
                        help="epochs of VLAE and ProVLAE (default: --epochs); give them "
                             "NVAE's time with about NVAE's fit seconds / their seconds "
                             "per epoch")
    parser.add_argument("--models", nargs="+", choices=("VLAE", "ProVLAE", "NVAE"),
                        default=["VLAE", "ProVLAE", "NVAE"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--celeba", default=None, help="folder of CelebA for load_celeba")
    parser.add_argument("--celeba-images", type=int, default=50_000)
    parser.add_argument("--out", default=None, help="folder for results.json")
    args = parser.parse_args(argv)
    size = dict(SIZES[args.size])
    if args.epochs:
        size["n_epochs"] = args.epochs
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    common = {"batch_size": size["batch_size"], "device": args.device,
              "n_threads": args.threads, "random_state": args.seed}
    n_all = size["n_samples"] + size["n_eval"]
    images, factors = make_shapes3d(n_samples=n_all, size=size["image_size"],
                                    random_state=args.seed, return_X_y=True)
    sets = {"3DShapes": (images[:size["n_samples"]], images[size["n_samples"]:],
                         factors[size["n_samples"]:])}
    if args.celeba:
        from skdisent.datasets import load_celeba

        faces = load_celeba(folder=args.celeba, n_images=args.celeba_images, size=64,
                            return_X_y=True)[0]
        cut = int(0.9 * len(faces))
        sets["CelebA"] = (faces[:cut], faces[cut:], None)
    steps = math.ceil(size["n_samples"] / size["batch_size"]) * size["n_epochs"]
    print(f"size {args.size} on {device}: {size['n_epochs']} epochs ({steps:,} steps on "
          f"3DShapes) per model, {LEVELS} levels x {LATENT_DIM} latents", flush=True)
    results = {}
    for data_name, (X, X_eval, y_eval) in sets.items():
        results[data_name] = {}
        for name, model in _models(size, common, args.ladder_epochs).items():
            if name not in args.models:
                continue
            results[data_name][name] = run(name, model, X, X_eval, y_eval, size, device)
            print(f"  {data_name} {name}: fitted in {results[data_name][name]['fit_s']:.0f} s",
                  flush=True)
        print(table(results[data_name], f"{data_name}, {len(X):,} images of {X.shape[1:]}"))
    if args.out:
        out = pathlib.Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        config = {**vars(args), **{k: v for k, v in size.items()}, "torch": torch.__version__}
        (out / "results.json").write_text(json.dumps({"config": config, "results": results},
                                                     indent=2, default=float))
        print(f"\nresults.json written to {out}/")


if __name__ == "__main__":
    main()
