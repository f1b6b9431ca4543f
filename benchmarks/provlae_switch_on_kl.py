"""The KL of a pro-VLAE level in the first iterations after it is switched on (fade-in off).

With the reference's gating, a level not yet active encodes its input and the pre-KL
penalty holds its posterior at the prior, so switching it on starts from a KL near 0; a
gating that hides the input from an inactive head leaves a constant posterior that the
first iterations move abruptly. Prints, per normalisation, the KL of every level in the
first three iterations of progressive step 1 and at the end of step 0::

    python benchmarks/provlae_switch_on_kl.py --normalizations affine batch

(5,000 generated 32x32 dSprites, 3 levels x 2 latents, beta 4, 2 epochs per step; a
minute on one core.)
"""

import argparse

from skdisent import ProVLAE
from skdisent.datasets import make_dsprites


def first_iterations_of_step_1(normalization, n_iterations=3):
    X, _ = make_dsprites(n_samples=5000, size=32, random_state=0, return_X_y=True)
    model = ProVLAE(3, 2, beta=4.0, epochs_per_step=2, fade_in=False, batch_size=64,
                    learning_rate=1e-3, conv_channels=16, dense_units=128,
                    normalization=normalization, random_state=0, n_threads=1)
    rows, train_batch = [], type(model)._train_batch

    def traced(self, x, trainer):
        losses = train_batch(self, x, trainer)
        if self.n_iter_ == model.epochs_per_step and len(rows) < n_iterations:
            rows.append([round(v, 3) for v in losses["kl"].tolist()])
        return losses

    model._train_batch = traced.__get__(model)
    model.fit(X)
    end_of_step_0 = model.history_[model.epochs_per_step - 1]
    return rows, [round(end_of_step_0[f"kl_{level}"], 3) for level in (1, 2, 3)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--normalizations", nargs="+", default=["affine", "batch"])
    args = parser.parse_args(argv)
    for normalization in args.normalizations:
        rows, before = first_iterations_of_step_1(normalization)
        print(f"{normalization}: KL per level (shallowest first) at the end of step 0 {before}; "
              f"first iterations of step 1 {rows}")


if __name__ == "__main__":
    main()
