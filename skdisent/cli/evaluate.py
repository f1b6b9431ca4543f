"""``skdisent evaluate``: score a saved model on a data set with ground-truth factors."""

import pathlib

from ._common import (
    GENERATED,
    CommandError,
    add_data_options,
    add_model_file_argument,
    add_run_options,
    load_data,
    model_image_size,
    model_of,
    notes,
    progress,
    write_json,
)
from ._table import format_table

__all__ = ["add_parser", "run"]


def add_parser(commands):
    """Add ``evaluate`` to the subcommands ``commands``."""
    evaluate = commands.add_parser(
        "evaluate", help="score a saved model on a data set with ground-truth factors",
        description="Score a saved model: reconstruction error, MIG, MIG-sup and FactorVAE "
                    "score, printed as a table and written as JSON.",
    )
    add_model_file_argument(evaluate)
    add_data_options(evaluate, required=True, size_default_note="default: the model's",
                     seed_default=1)
    evaluate.add_argument("--estimator", choices=["histogram", "sampling"], default="histogram",
                          help="MIG estimator (sampling uses the full factor grid of a generated set)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the FactorVAE votes")
    evaluate.add_argument("-o", "--output", metavar="FILE",
                          help="JSON file for the scores (default <MODEL_FILE>.scores.json)")
    add_run_options(evaluate, device=False)
    evaluate.set_defaults(run=run)


def run(args):
    """Run ``skdisent evaluate`` with the parsed ``args``."""
    from ..evaluation import evaluate_model

    model = model_of(args)
    size = args.image_size
    if size is None and args.dataset:
        size = model_image_size(model)
    seed = 1 if args.data_seed is None else args.data_seed
    n_samples = args.n_samples
    if args.estimator == "sampling":
        if args.dataset not in GENERATED:
            raise CommandError("--estimator sampling needs a generated data set (its full factor grid)")
        n_samples = None
    elif n_samples is None and args.dataset in GENERATED:
        n_samples = 10_000
    X, factors, name = load_data(args, size=size, n_samples=n_samples, seed=seed, need_factors=True)
    progress(f"skdisent evaluate: {type(model).__name__} on {len(X):,} images of {name}")
    sampling_factors = list(range(1, factors.shape[1])) if name.startswith("dsprites") else None
    with notes():
        scores = evaluate_model(model, X, factors, estimator=args.estimator,
                                sampling_factors=sampling_factors, random_state=args.seed)
    record = {"model": type(model).__name__, "beta": getattr(model, "beta", None),
              "seed": getattr(model, "random_state", None), **scores}
    output = pathlib.Path(args.output or f"{args.model_file}.scores.json")
    write_json(output, {"model_file": str(args.model_file), "data": name, "n_images": len(X),
                        "estimator": args.estimator, "scores": record})
    print(format_table([record]))
    progress(f"skdisent evaluate: scores written to {output}")
    return 0
