"""The pro-VLAE paper's comparison at CPU scale: does pro-VLAE > VLAE > beta-VAE hold on MIG?

A study (``skdisent study``) of beta-VAE, VLAE and pro-VLAE, three betas and three seeds
on generated dSprites at the demo's scale: 20,000 images of 32x32, scored on 10,000
fresh ones, 3 levels of 2 latents (beta-VAE: all 6 at its one level), 3 epochs per
level, the same iterations for every model. Then its report (Figs. 2 and 3, information
per level, success rates) and ``ordering.md``: per beta, the models ranked by the mean of
their top three seeds on MIG and on MIG-sup, and whether the paper's ordering
(pro-VLAE over VLAE over beta-VAE) holds.

27 fits of about a minute each on one core: half an hour with ``--n-jobs 2`` on 2
cores. The study resumes: stop it at any time and run the same command again.
``--quick`` runs the same study on the demo's ``--quick`` sizes in about a minute
(its scores mean nothing: it checks the script)::

    python benchmarks/study_dsprites.py --out benchmarks/study_dsprites --n-jobs 2 --threads 1
    python benchmarks/study_dsprites.py --quick --out /tmp/study_quick
"""

import argparse
import pathlib
import sys

from skdisent.cli import main
from skdisent.study import aggregate, format_markdown, read_results

MODELS = ("BetaVAE", "VLAE", "ProVLAE")  # the paper's ordering, worst first
SCORES = ("mig", "mig_sup")


def ordering(rows, top_k=3):
    """Per beta and score: the models by the mean of their top ``top_k`` seeds, best first."""
    table = aggregate(rows, SCORES, top_k=top_k, by=("model", "beta"))
    out = []
    for beta in sorted({r["beta"] for r in table}):
        for score in SCORES:
            means = {r["model"]: r[f"{score}_top_k_mean"] for r in table if r["beta"] == beta}
            ranked = sorted(means, key=means.get, reverse=True)
            out.append({"beta": beta, "score": score,
                        "ranking": " > ".join(f"{m} ({means[m]:.3f})" for m in ranked),
                        "paper's ordering": ranked == list(reversed(MODELS))})
    return out


def run(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="study_dsprites", help="the study's folder")
    parser.add_argument("--quick", action="store_true", help="the demo's --quick sizes")
    parser.add_argument("--n-jobs", type=int, default=1, help="fits at once")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per fit")
    parser.add_argument("--betas", nargs="+", default=["1", "4", "8"])
    parser.add_argument("--seeds", nargs="+", default=["0", "1", "2"])
    args = parser.parse_args(argv)
    command = ["study", "--models", *MODELS, "--betas", *args.betas, "--seeds", *args.seeds,
               "--dataset", "dsprites", "--out", args.out, "--n-jobs", str(args.n_jobs)]
    command += ["--quick"] * args.quick + ["--threads", str(args.threads)] * bool(args.threads)
    status = main(command)
    if status:
        return status
    status = main(["study", "report", args.out])
    if status:
        return status
    table = ordering(read_results(args.out))
    text = format_markdown(table)
    path = pathlib.Path(args.out) / "report" / "ordering.md"
    path.write_text(f"Models ranked by the mean of their top 3 seeds\n\n{text}\n", encoding="utf-8")
    print(text)
    held = sum(r["paper's ordering"] for r in table)
    print(f"the paper's ordering (ProVLAE > VLAE > BetaVAE) holds in {held} of {len(table)} "
          f"(beta, score) pairs; table in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run())
