"""``skdisent study``: a resumable study of models x betas (or any grid) x seeds.

``skdisent study`` runs a :class:`skdisent.study.Study` into a folder, one row of
``results.csv`` per finished fit, and prints the mean of the top k seeds of each
setting; run again, it fits only what the folder lacks. ``skdisent study report DIR``
draws the figures and tables of a folder, also while its study runs.
"""

import ast
import json
import pathlib

from ._common import CommandError, Parser, positive_int, progress
from .demo import DEMO_DEFAULTS, add_comparison_options, comparison_settings

__all__ = ["add_parser", "run", "STUDY_DEFAULTS"]

#: ``skdisent study`` with no options: the demo's comparison with three seeds.
STUDY_DEFAULTS = {**DEMO_DEFAULTS, "seeds": [0, 1, 2]}
#: Keys a config file may hold besides those of :data:`STUDY_DEFAULTS`.
_CONFIG_EXTRA = ("grid", "n_jobs", "output", "save_models", "top_k", "extra_metrics")


def add_parser(commands):
    """Add ``study`` (and ``study report``) to the subcommands ``commands``."""
    study = commands.add_parser(
        "study", help="a resumable study: models x betas (or any grid) x seeds, one row per fit",
        description="Fit every model with every beta (and --grid value) and seed, at the same "
                    "total latents and iterations, writing one row per finished fit to "
                    "DIR/results.csv; run again, it fits only what is missing. Prints the mean "
                    "of the top k seeds of each setting. `skdisent study report DIR` draws the "
                    "figures and tables.",
    )
    study.add_argument("-o", "--out", "--output", dest="output", metavar="DIR",
                       help="the study's folder (default skdisent_study)")
    study.add_argument("--config", metavar="FILE",
                       help="settings from a JSON (or, on Python 3.11+, TOML) file: keys as the "
                            "options' names with underscores (models, betas, seeds, grid, "
                            "n_samples, ...); options given on the command line win")
    study.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2",
                       help="another parameter to cross, e.g. --grid fade_in=true,false --grid "
                            "pre_kl_coef=0,0.5 (repeatable; each model takes the ones it has)")
    add_comparison_options(study, seeds_default="0 1 2")
    study.add_argument("--extra-metrics", nargs="*", metavar="NAME",
                       choices=["sap", "modularity", "dci", "beta_vae", "factor_vae"],
                       help="disentanglement_lib metrics besides MIG, MIG-sup and FactorVAE "
                            "(default: sap modularity; dci and beta_vae cost more)")
    study.add_argument("--n-jobs", type=int, metavar="N",
                       help="fits at once, in worker processes (default 1: one at a time, "
                            "in this process, with the progress of each epoch)")
    study.add_argument("--resume", action="store_true", default=None,
                       help="skip the fits DIR/results.csv holds (the default)")
    study.add_argument("--no-resume", dest="resume", action="store_false",
                       help="fit everything again; the new rows supersede the old ones")
    study.add_argument("--save-models", action="store_true", default=None,
                       help="save every fitted model in DIR/models/")
    study.add_argument("--top-k", type=positive_int, metavar="K",
                       help="seeds averaged per setting in the printed table (default 3)")
    reports = study.add_subparsers(dest="study_command", metavar="report", parser_class=Parser)
    report = reports.add_parser("report", help="draw the figures and tables of a results folder",
                                description="Fig. 2 (scores against reconstruction error), "
                                            "Fig. 3 (MIG against MIG-sup), the information per "
                                            "level and the success rates, each as a PNG and a "
                                            "CSV and Markdown table, and report.md.")
    report.add_argument("folder", metavar="DIR", help="a study's folder (with results.csv)")
    report.add_argument("-o", "--output", metavar="OUT",
                        help="where to write (default DIR/report)")
    report.add_argument("--top-k", type=positive_int, default=3, metavar="K",
                        help="seeds averaged per setting (default 3)")
    report.add_argument("--min-level-information", type=float, metavar="NATS",
                        help="count a fit as a success only if every level holds this much "
                             "information (default: status ok is success)")
    study.set_defaults(run=run)


def _literal(text):
    text = text.strip()
    lowered = text.lower()
    if lowered in ("true", "false", "none", "null"):
        return {"true": True, "false": False}.get(lowered)
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _grid(pairs):
    grid = {}
    for pair in pairs:
        name, sep, values = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name or not values.strip():
            raise CommandError(f"--grid expects NAME=V1,V2,..., got {pair!r}")
        grid[name] = [_literal(v) for v in values.split(",")]
    return grid


def _read_config(path):
    path = pathlib.Path(path)
    if not path.is_file():
        raise CommandError(f"no such config file: {path}")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            raise CommandError("TOML config files need Python 3.11; use a .json file") from None
        config = tomllib.loads(text)
    else:
        try:
            config = json.loads(text)
        except json.JSONDecodeError as error:
            raise CommandError(f"{path} is not JSON: {error}") from None
    if not isinstance(config, dict):
        raise CommandError(f"{path} must hold an object of settings")
    config = {key.replace("-", "_"): value for key, value in config.items()}
    unknown = sorted(set(config) - set(STUDY_DEFAULTS) - set(_CONFIG_EXTRA))
    if unknown:
        raise CommandError(f"{path}: unknown settings {', '.join(unknown)}; known: "
                           f"{', '.join([*STUDY_DEFAULTS, *_CONFIG_EXTRA])}")
    return config


def _study_settings(args):
    config = _read_config(args.config) if args.config else {}
    extra = {key: config.pop(key) for key in _CONFIG_EXTRA if key in config}
    settings = comparison_settings(args, STUDY_DEFAULTS, config)
    grid = {**extra.get("grid", {}), **_grid(args.grid)}
    if "beta" in grid:
        raise CommandError("give betas with --betas (or 'betas' in the config), not in the grid")
    settings["grid"] = grid
    run = {"n_jobs": extra.get("n_jobs"), "output": extra.get("output", "skdisent_study"),
           "extra_metrics": extra.get("extra_metrics", ["sap", "modularity"]),
           "save_models": bool(extra.get("save_models", False)), "top_k": extra.get("top_k", 3),
           "resume": True}
    for key in run:
        if getattr(args, key, None) is not None:
            run[key] = getattr(args, key)
    return settings, run


_SUMMARY = [("setting", "setting", "{}"), ("n_fits", "fits", "{}"),
            ("success_rate", "success", "{:.0%}"),
            ("reconstruction_error_top_k_mean", "recon. error", "{:.2f}"),
            ("mig_top_k_mean", "MIG", "{:.3f}"), ("mig_sup_top_k_mean", "MIG-sup", "{:.3f}"),
            ("factor_vae_score_top_k_mean", "FactorVAE", "{:.3f}")]


def _summary(rows, top_k):
    from ..study import aggregate, success_rates
    from ._table import format_table

    rates = {r["setting"]: r["success_rate"] for r in success_rates(rows)}
    table = [{**r, "success_rate": rates[r["setting"]]} for r in aggregate(rows, top_k=top_k)]
    return format_table(table, _SUMMARY)


def run(args):
    """Run ``skdisent study`` (or ``skdisent study report``) with the parsed ``args``."""
    if args.study_command == "report":
        return _report(args)
    settings, options = _study_settings(args)
    from ._study_run import (  # torch, once the options are read
        make_study,
        run_study,
        study_data,
    )

    output = pathlib.Path(options["output"])
    make_study(settings, 0).plan(settings["n_samples"])  # a mistake fails before the data is made
    size, dataset = settings["image_size"], settings["dataset"]
    progress(f"skdisent study: {settings['n_samples'] or 'the full grid of'} {dataset} images "
             f"of {size}x{size} ...")
    X, X_eval, factors_eval = study_data(settings)
    study = make_study(settings, factors_eval.shape[1], n_jobs=options["n_jobs"],
                       save_models=options["save_models"],
                       extra_metrics=options["extra_metrics"])
    try:
        rows = run_study(study, output, X, X_eval, factors_eval, resume=options["resume"])
    except KeyboardInterrupt as interrupt:
        detail = str(interrupt) or "interrupted"
        raise KeyboardInterrupt(f"{detail}; the finished fits are in {output / 'results.csv'}, "
                                "and the same command, run again, runs the rest") from None
    progress(f"skdisent study: {len(rows)} fits in {output / 'results.csv'}; `skdisent study "
             f"report {output}` draws the figures")
    print(f"mean of the top {options['top_k']} seeds per setting; recon. error in nats per image")
    print(_summary(rows, options["top_k"]))
    return 0


def _report(args):
    folder = pathlib.Path(args.folder)
    if not (folder / "results.csv").is_file():
        raise CommandError(f"{folder} holds no results.csv: not a study's folder")
    from ..plotting import write_study_report

    written = write_study_report(folder, args.output, top_k=args.top_k,
                                 min_level_information=args.min_level_information)
    progress(f"skdisent study report: {len(written)} files in {written[-1].parent}/")
    print(written[-1])
    return 0
