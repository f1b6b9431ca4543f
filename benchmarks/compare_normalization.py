"""Batch norm against the reference's affine normalisation, over seeds, on the demo's settings.

Either with PyTorch's initialisation or the reference's (TF1's Glorot-uniform, zero biases).

Runs ``skdisent demo`` (beta-VAE, VLAE and pro-VLAE on 20,000 generated 32x32 dSprites
images, scored on 10,000 fresh ones) once per normalisation with the given seeds, and prints
per model and normalisation the mean, standard deviation and values of the reconstruction
error, MIG, MIG-sup and FactorVAE score. About 10 minutes per setting on one core::

    python benchmarks/compare_normalization.py --seeds 0 1 2 --threads 1 --out normalization \
        --initializations torch glorot

Settings can run at once on two cores (``--normalizations batch`` in one shell, ``affine``
in another, the same ``--out``), then ``--report-only`` prints the table.
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys

SCORES = ["reconstruction_error", "mig", "mig_sup", "factor_vae_score"]


def _folder(out, normalization, initialization):
    return out / f"{normalization}-{initialization}"


def run(normalization, initialization, seeds, threads, out):
    command = ["skdisent", "demo", "--normalization", normalization, "--initialization",
               initialization, "--threads", str(threads), "--seeds", *map(str, seeds),
               "-o", str(_folder(out, normalization, initialization))]
    subprocess.run(command, check=True)


def report(out, normalizations, initializations):
    rows = {}
    for normalization in normalizations:
        for initialization in initializations:
            folder = _folder(out, normalization, initialization)
            document = json.loads((folder / "results.json").read_text())
            for result in document["results"]:
                key = (result["model"], f"{normalization}, {initialization}")
                rows.setdefault(key, []).append(result)
    print("| model | normalization, initialization | " + " | ".join(SCORES) + " |")
    print("| --- " * (len(SCORES) + 2) + "|")
    for (model, normalization), results in sorted(rows.items()):
        cells = []
        for score in SCORES:
            values = [r[score] for r in results]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.3f} ± {spread:.3f} "
                         f"({', '.join(f'{v:.3f}' for v in values)})")
        print(f"| {model} | {normalization} | " + " | ".join(cells) + " |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--normalizations", nargs="+", default=["batch", "affine"])
    parser.add_argument("--initializations", nargs="+", default=["torch", "glorot"])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("normalization"))
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    if not args.report_only:
        for normalization in args.normalizations:
            for initialization in args.initializations:
                run(normalization, initialization, args.seeds, args.threads, args.out)
    report(args.out, args.normalizations, args.initializations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
