"""Digests of fits with a fixed ``random_state``: is a change of code bit for bit the same fit?

Fits each model (the ladders in fp32 and bf16, flat rows with a Gaussian likelihood, LDF on
videos with extra pieces and on images) on small generated data with one torch thread, and
records per fit a SHA-256 of its weights, codes, samples, score and ``history_`` (timings
left out). Run it before and after a change, from the project root, and compare:

    python benchmarks/fit_digests.py before.json          # on the old code
    python benchmarks/fit_digests.py after.json --against before.json

On one CPU, a change that leaves training alone gives equal digests; CPUs round float32
differently, so compare digests taken on the same machine.
"""

import argparse
import hashlib
import json
import sys
import warnings

import numpy as np
import torch

from skdisent import VLAE, BetaVAE, LDFModel, ProVLAE
from skdisent.datasets import make_dsprites, make_moving_sprites

TINY = {"conv_channels": 4, "dense_units": 8, "batch_size": 16, "device": "cpu"}


def fits():
    """``{name: (model, data, fit_params)}`` of the fits compared."""
    images = np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)
    sprites, _ = make_dsprites(n_samples=512, size=16, random_state=0, return_X_y=True)
    rows = np.random.default_rng(1).random((80, 12)).astype(np.float32)
    videos = make_moving_sprites(n_samples=32, size=16, random_state=0).videos
    return {
        "betavae": (BetaVAE(n_components=3, n_epochs=3, depth=2, random_state=0, **TINY),
                    images, {}),
        "vlae": (VLAE(levels=2, latent_dim=2, n_epochs=3, random_state=0, **TINY), images, {}),
        "provlae": (ProVLAE(levels=3, latent_dim=2, epochs_per_step=2, fade_in_steps=6,
                            random_state=0, **TINY), images, {}),
        "provlae_dsprites": (ProVLAE(levels=3, latent_dim=2, epochs_per_step=1, fade_in_steps=10,
                                     random_state=3, conv_channels=8, dense_units=32,
                                     batch_size=64, device="cpu"), sprites, {}),
        "provlae_bf16": (ProVLAE(levels=2, latent_dim=2, epochs_per_step=2, fade_in_steps=4,
                                 precision="bf16", random_state=0, **TINY), images, {}),
        "vlae_rows_gaussian": (VLAE(levels=2, latent_dim=2, n_epochs=3, likelihood="gaussian",
                                    random_state=5, **TINY), rows, {}),
        "ldf_videos_pieces": (LDFModel(local_dim=4, global_dim=8, n_epochs=3, batch_size=16,
                                       conv_channels=4, dense_units=16, pretrain_lower=1,
                                       random_state=0, device="cpu"), videos,
                              {"pieces": videos[:, 0]}),
        "ldf_images": (LDFModel(local_dim=3, global_dim=5, n_epochs=2, batch_size=16,
                                conv_channels=4, dense_units=16, random_state=1, device="cpu"),
                       images, {}),
    }


def _sha(*arrays):
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def digests():
    """``{name: {part: sha256}}`` of every fit of :func:`fits`."""
    torch.set_num_threads(1)
    found = {}
    for name, (model, data, params) in fits().items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model.fit(data, **params)
        weights = [v.detach().cpu().reshape(-1).view(torch.uint8).numpy()
                   for v in model.network_.state_dict().values()]
        history = [{k: v for k, v in r.items() if k not in ("time", "images_per_s", "threads")}
                   for r in model.history_]
        found[name] = {
            "weights": _sha(*weights),
            "codes": _sha(model.transform(data)),
            "samples": _sha(model.sample(3, random_state=0)),
            "score": repr(model.score(data)),
            "history": _sha(json.dumps(history, sort_keys=True).encode()),
        }
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", help="JSON file for the digests")
    parser.add_argument("--against", help="digests of another run to compare with")
    args = parser.parse_args(argv)
    found = digests()
    with open(args.output, "w") as file:
        json.dump(found, file, indent=1)
    if args.against is None:
        return 0
    with open(args.against) as file:
        other = json.load(file)
    differing = 0
    for name, parts in found.items():
        changed = [part for part, value in parts.items() if other.get(name, {}).get(part) != value]
        differing += bool(changed)
        print(f"{name:22s} {'same' if not changed else 'differs: ' + ', '.join(changed)}")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
