"""The ``skdisent`` command: ``demo``, ``study``, ``fit``, ``evaluate`` and ``traverse``.

``skdisent demo`` is the library's first picture (see :mod:`skdisent.cli.demo`), a small
study; ``skdisent study`` runs a resumable study of models x betas x seeds and ``skdisent
study report`` draws its figures (see :mod:`skdisent.cli.study`); ``fit``, ``evaluate``
and ``traverse`` do the same steps one at a time on saved models. Each command is a
module of this package with ``add_parser`` and ``run``; the parsers import nothing
heavy, so ``skdisent --help`` answers at once, and torch is loaded once a command runs.

Progress goes to standard error, tables to standard output. A mistake (an unknown model,
a missing file, a bad option) ends with one line on standard error and a non-zero exit
status: 2 for a bad command line, 1 for anything else that went wrong, 130 after Ctrl-C,
which stops the whole command (a fit keeps a checkpoint the same command resumes from).
Set the environment variable ``SKDISENT_TRACEBACK=1`` to see the full traceback instead.
"""

import os
import sys

from .._version import __version__
from . import demo, evaluate, fit, study, traverse
from ._common import CommandError, Parser
from ._table import format_table

__all__ = ["main", "build_parser", "run_demo", "format_table"]

_COMMANDS = (demo, study, fit, evaluate, traverse)


def __getattr__(name):
    if name == "run_demo":  # imports torch: only when asked for
        from ._demo_run import run_demo

        return run_demo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_parser():
    """The command line of ``skdisent``.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    parser = Parser(
        prog="skdisent",
        description="Disentangled representation learning: beta-VAE, VLAE and pro-VLAE as "
                    "scikit-learn estimators. Start with `skdisent demo`.",
    )
    parser.add_argument("--version", action="version", version=f"skdisent {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in _COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv=None):
    """Run the ``skdisent`` command.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments after the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success, 1 after an error (one line on standard error), 130 after Ctrl-C.
        Command-line mistakes exit with status 2 from the parser.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.run(args) or 0
    except KeyboardInterrupt as interrupt:
        detail = str(interrupt) or "interrupted"
        print(f"skdisent {args.command}: {detail}", file=sys.stderr)
        return 130
    except (CommandError, ValueError, TypeError, OSError, ImportError, MemoryError,
            FloatingPointError) as error:  # ModelFileError, NonFiniteLossError among them
        if os.environ.get("SKDISENT_TRACEBACK"):
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        if isinstance(error, FileNotFoundError) and error.filename and error.filename not in message:
            message = f"{message}: {error.filename}"
        print(f"skdisent {args.command}: error: {message}", file=sys.stderr)
        return 1
