"""``skdisent traverse``: draw a saved model's pictures."""

import pathlib

from ._common import (
    GENERATED,
    add_data_options,
    add_model_file_argument,
    add_run_options,
    load_data,
    model_image_size,
    model_of,
    positive_int,
)

__all__ = ["add_parser", "run"]


def add_parser(commands):
    """Add ``traverse`` to the subcommands ``commands``."""
    traverse = commands.add_parser(
        "traverse", help="draw a saved model's pictures",
        description="Draw a saved model's latent traversals by level, samples per level, "
                    "reconstructions and (pro-VLAE) information flow. Without data the "
                    "traversals start from the prior mean and need no images.",
    )
    add_model_file_argument(traverse)
    add_data_options(traverse, required=False, size_default_note="default: the model's",
                     seed_default=1)
    traverse.add_argument("--index", type=int, default=0, help="image whose code is the reference")
    traverse.add_argument("--n-values", type=positive_int, default=9, help="values per traversal")
    traverse.add_argument("--limit", type=float, default=2.5, help="traversal range [-limit, limit]")
    traverse.add_argument("-o", "--output", default="skdisent_pictures", metavar="DIR",
                          help="folder for the pictures (default skdisent_pictures)")
    add_run_options(traverse, device=False)
    traverse.set_defaults(run=run)


def run(args):
    """Run ``skdisent traverse`` with the parsed ``args``."""
    from .. import plotting

    model = model_of(args)
    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    X = None
    if args.dataset or args.images:
        size = args.image_size or (model_image_size(model) if args.dataset else None)
        seed = 1 if args.data_seed is None else args.data_seed
        n = args.n_samples or (2000 if args.dataset in GENERATED else None)
        X, _, _ = load_data(args, size=size, n_samples=n, seed=seed)
    written = [output / "traversals.png"]
    plotting.plot_traversals(model, X, index=args.index, n_values=args.n_values, limit=args.limit,
                             path=written[-1])
    if X is not None:
        written.append(output / "samples_per_level.png")
        plotting.plot_samples_per_level(model, X, index=args.index, path=written[-1])
        written.append(output / "reconstructions.png")
        plotting.plot_reconstructions(model, X, path=written[-1])
    if hasattr(model, "information_per_step_") and len(model.information_per_step_):
        written.append(output / "information_flow.png")
        plotting.plot_information_flow(model, path=written[-1])
    for path in written:
        print(path)
    return 0
