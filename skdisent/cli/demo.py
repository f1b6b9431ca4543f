"""``skdisent demo``: beta-VAE, VLAE and pro-VLAE compared on generated dSprites.

The library's first picture: the three models with the same total number of latents
and the same number of iterations, one table of scores and the paper's pictures in an
output folder.
"""

from ._common import (
    GENERATED,
    CommandError,
    add_data_options,
    add_run_options,
    check_device,
    model_name,
    non_negative_float,
    positive_int,
    progress,
)

__all__ = ["add_parser", "run", "DEMO_DEFAULTS", "QUICK", "PAPER", "add_comparison_options",
           "comparison_settings"]

_COMPARED = ("betavae", "vlae", "provlae")  # the demo's default comparison
# Models the demo can compare (a study's registered models, named here so that the command
# line is read before torch is imported).
_DEMO_MODELS = (*_COMPARED, "hierarchicalvae", "teacherstudent", "nvae")

#: ``skdisent demo`` with no options (a few minutes on 2 CPU cores: README.md has the figures).
DEMO_DEFAULTS = {
    "dataset": "dsprites",
    "image_size": 32,
    "n_samples": 20_000,
    "eval_samples": 10_000,
    "models": list(_COMPARED),
    "betas": [4.0],
    "seeds": [0],
    "levels": 3,
    "latent_dim": 2,
    "epochs_per_level": 3,
    "batch_size": 64,
    "learning_rate": 1e-3,
    "conv_channels": 16,
    "dense_units": 128,
    "normalization": "affine",
    "initialization": "torch",
    "fade_in_steps": None,  # a third of one progressive step's iterations
    "pre_kl_coef": 0.5,
    "precision": "fp32",
    "device": "auto",
    "threads": None,  # all CPUs but one
    "estimator": "histogram",
    "data_seed": 0,
}

#: ``--quick``: a smoke run of every step in a few seconds (tests, first check of an install).
QUICK = {
    "image_size": 16,
    "n_samples": 512,
    "eval_samples": 512,
    "epochs_per_level": 1,
    "batch_size": 64,
    "conv_channels": 4,
    "dense_units": 16,
}

#: ``--paper``: the pro-VLAE reference's dSprites settings (METHOD.md section 2); a GPU job.
PAPER = {
    "image_size": 64,
    "n_samples": None,  # the full factor grid, 737,280 images
    "eval_samples": None,
    "epochs_per_level": 30,
    "batch_size": 128,
    "learning_rate": 5e-4,
    "conv_channels": 32,
    "dense_units": 256,
    "normalization": "affine",
    "initialization": "glorot",
    "fade_in_steps": 5000,
    "betas": [1.0],
    "seeds": [0, 1, 2],
    "estimator": "sampling",
}


def add_parser(commands):
    """Add ``demo`` to the subcommands ``commands``."""
    demo = commands.add_parser(
        "demo", help="compare beta-VAE, VLAE and pro-VLAE on generated dSprites: table and pictures",
        description="Fit beta-VAE, VLAE and pro-VLAE with the same total number of latents and "
                    "the same number of iterations, print one table (reconstruction error, MIG, "
                    "MIG-sup, FactorVAE score, training time) and write the pictures and "
                    "results.json to the output folder. The defaults take a few minutes on 2 CPU "
                    "cores; --paper uses the pro-VLAE paper's settings (a GPU job).",
    )
    demo.add_argument("-o", "--output", default="skdisent_output", metavar="DIR",
                      help="folder for the pictures and results.json (default skdisent_output)")
    add_comparison_options(demo, seeds_default="0")
    demo.add_argument("--save-models", action="store_true",
                      help="also save every fitted model in the output folder")
    demo.set_defaults(run=run)


def add_comparison_options(parser, *, seeds_default):
    """The options of a fair comparison: data, models, betas, seeds, sizes, estimator."""
    preset = parser.add_mutually_exclusive_group()
    preset.add_argument("--quick", action="store_true",
                        help="tiny settings: checks that every step runs, in seconds (scores mean nothing)")
    preset.add_argument("--paper", action="store_true",
                        help="the reference's dSprites settings: 64x64, the full grid, 30 epochs "
                             "per level, 3 seeds, MIG by sampling on the full grid")
    add_data_options(parser, required=False, size_default_note="default 32")
    parser.add_argument("--eval-samples", type=positive_int, metavar="N",
                        help="fresh images the scores are measured on (default 10000)")
    parser.add_argument("--models", nargs="+", type=model_name, metavar="MODEL",
                        help="models to compare (default: betavae vlae provlae)")
    parser.add_argument("--betas", nargs="+", type=non_negative_float, metavar="BETA",
                        help="KL weights; every model is fitted with each (default 4)")
    parser.add_argument("--seeds", nargs="+", type=int, metavar="SEED",
                        help=f"random states; every setting is fitted with each (default {seeds_default})")
    parser.add_argument("--levels", type=positive_int, help="levels of VLAE and pro-VLAE (default 3)")
    parser.add_argument("--latent-dim", type=positive_int,
                        help="latents per level (default 2); beta-VAE gets levels x latent-dim")
    parser.add_argument("--epochs-per-level", type=positive_int, metavar="E",
                        help="epochs of each progressive step; VLAE and beta-VAE run levels x E "
                             "epochs, the same number of iterations (default 3)")
    parser.add_argument("--batch-size", type=positive_int, help="default 64")
    parser.add_argument("--learning-rate", type=float, help="default 1e-3 (the reference: 5e-4)")
    parser.add_argument("--conv-channels", type=positive_int, help="default 16 (the reference: 32)")
    parser.add_argument("--dense-units", type=positive_int, help="default 128 (the reference: 256)")
    parser.add_argument("--normalization", choices=["batch", "affine"],
                        help="after every hidden layer: a learned scale and shift as the "
                             "reference ran (default affine), or batch norm")
    parser.add_argument("--initialization", choices=["torch", "glorot"],
                        help="initial weights: PyTorch's defaults, or TF1's Glorot-uniform as the "
                             "reference ran (default torch)")
    parser.add_argument("--fade-in-steps", type=int, metavar="N",
                        help="pro-VLAE fade-in iterations (default: a third of one step)")
    parser.add_argument("--pre-kl-coef", type=non_negative_float,
                        help="pro-VLAE pre-KL weight (default 0.5)")
    parser.add_argument("--precision", choices=["fp32", "bf16"], help="default fp32")
    add_run_options(parser)
    parser.add_argument("--estimator", choices=["histogram", "sampling"],
                        help="MIG estimator: histogram on the evaluation images (disentanglement_lib; "
                             "default) or sampling on the full factor grid (the pro-VLAE reference)")


def _demo_settings(args):
    settings = comparison_settings(args, DEMO_DEFAULTS)
    unknown = [m for m in settings["models"] if m not in _DEMO_MODELS]
    if unknown:
        raise CommandError(f"the demo compares {', '.join(_DEMO_MODELS)}; not {', '.join(unknown)}")
    return settings


def comparison_settings(args, defaults, config=None):
    """The settings of a comparison: ``defaults``, a preset, ``config``, then the options.

    Raises
    ------
    CommandError
        For settings that cannot work together.
    """
    settings = dict(defaults)
    if args.quick:
        settings.update(QUICK)
    if args.paper:
        settings.update(PAPER)
    settings.update(config or {})
    for key in list(defaults):
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    if args.images:
        raise CommandError("a comparison needs ground-truth factors; use --dataset (the evaluate "
                           "command scores a model on a file of images with factors)")
    if settings["estimator"] == "sampling" and settings["dataset"] not in GENERATED:
        raise CommandError("--estimator sampling needs a generated data set (its full factor grid)")
    settings["models"] = list(dict.fromkeys(settings["models"]))
    if settings["n_samples"] is not None and settings["n_samples"] < 2 * settings["batch_size"]:
        raise CommandError(
            f"--n-samples {settings['n_samples']} is less than two batches of "
            f"{settings['batch_size']}; use more images or a smaller --batch-size"
        )
    check_device(settings["device"])
    return settings


def run(args):
    """Run ``skdisent demo`` with the parsed ``args``."""
    settings = _demo_settings(args)
    from ._demo_run import run_demo  # torch, only once the command line is read

    document = run_demo(settings, args.output, save_models=args.save_models)
    progress(f"skdisent demo: done in {document['total_time_s']:.0f} s; pictures and "
              f"results.json in {args.output}/")
    print(_demo_header(document))
    print(document["table"])
    return 0


def _demo_header(document):
    s = document["settings"]
    estimator = ("MIG by sampling on the full factor grid" if s["estimator"] == "sampling"
                 else f"MIG by histogram on {s['n_eval']:,} fresh images")
    return (f"{s['dataset']} {s['image_size']}x{s['image_size']}, {s['n_train']:,} training images, "
            f"{s['levels']} levels x {s['latent_dim']} latents (beta-VAE: "
            f"{s['levels'] * s['latent_dim']}), {s['iterations_per_model']:,} iterations per model; "
            f"{estimator}; recon. error in nats per image")
