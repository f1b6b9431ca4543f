"""The documentation cannot rot: its code runs here.

- Every ``.. code-block:: python`` of the user guide (``docs/**/*.rst``) runs, page by
  page in one namespace, in a fresh working folder and data home, with UserWarnings
  turned into errors (a guide that shows a warning it does not explain is a bug); so
  does every ``skdisent ...`` command of its ``.. code-block:: bash`` blocks.
- Every example of the gallery (``examples/plot_*.py``) runs in quick mode,
  ``SKDISENT_EXAMPLE_QUICK=1``, which shrinks its data and epochs to a smoke test;
  so does the script that draws the guide's picture of the progressive schedule.
- The API reference lists every public name of the package.
- Marked slow: the full Sphinx build with warnings as errors, examples not executed
  (the command CI runs).
"""

import os
import re
import runpy
import shlex
import subprocess
import sys
import textwrap
import time
import types
import warnings
from pathlib import Path

import pytest
from sklearn.exceptions import SkipTestWarning

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
# generated or third-party folders of docs/, never hand-written pages
_SKIP_PARTS = {"_build", "_templates", "_static", "auto_examples", "gen_modules"}

_DIRECTIVE = r"^(?P<indent>\s*)\.\. code-block:: {}\s*$"


def guide_pages():
    """The hand-written reST pages of docs/, sorted."""
    return sorted(
        path
        for path in DOCS.rglob("*.rst")
        if not _SKIP_PARTS.intersection(path.relative_to(DOCS).parts)
    )


def python_blocks(path, language="python"):
    """``(line_number, code)`` of every ``.. code-block:: python`` in a reST file.

    The block is the directive's content: after its options and a blank line, every
    line indented deeper than the directive, up to the first line that is not.
    """
    directive = re.compile(_DIRECTIVE.format(re.escape(language)))
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = directive.match(lines[i])
        if not match:
            i += 1
            continue
        indent = len(match.group("indent"))
        i += 1
        # directive options (":caption: ...") come first
        while i < len(lines) and lines[i].strip().startswith(":"):
            i += 1
        start = i
        body = []
        while i < len(lines):
            line = lines[i]
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break
            body.append(line)
            i += 1
        leading = next((n for n, line in enumerate(body) if line.strip()), len(body))
        code = textwrap.dedent("\n".join(body)).strip("\n")
        if code.strip():
            blocks.append((start + 1 + leading, code))
    return blocks


PAGES = [page for page in guide_pages() if python_blocks(page)]


def _page_id(page):
    return str(page.relative_to(DOCS))


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A fresh working folder and data home; matplotlib without a display; one torch thread.

    The networks of the docs' tiny settings are too small to gain from threads, and on a
    busy machine torch's spinning threads make them many times slower.
    """
    import matplotlib
    import torch

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SKDISENT_DATA", str(tmp_path / "skdisent_data"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield tmp_path
    finally:
        torch.set_num_threads(threads)
        import matplotlib.pyplot as plt

        plt.close("all")


def test_the_guide_has_code_to_run():
    assert len(PAGES) >= 8, [_page_id(p) for p in PAGES]


def test_code_blocks_are_found_as_sphinx_sees_them(tmp_path):
    page = tmp_path / "page.rst"
    page.write_text(
        "Text\n\n.. code-block:: python\n   :caption: x\n\n    a = 1\n\n    b = a + 1\n"
        "\nMore text\n\n  .. code-block:: python\n\n      c = 3\n  done\n"
        "\n.. code-block:: bash\n\n    echo not python\n"
    )
    assert python_blocks(page) == [(6, "a = 1\n\nb = a + 1"), (14, "c = 3")]


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_guide_code_blocks_run(page, sandbox, monkeypatch):
    # The page runs as a module of its own, so that the classes it defines pickle.
    module = types.ModuleType("__guide__")
    monkeypatch.setitem(sys.modules, "__guide__", module)
    namespace = module.__dict__
    for line, code in python_blocks(page):
        compiled = compile(code, f"{page}:{line}", "exec")
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            # scikit-learn's check suite reports the checks it skips (array API) this way
            warnings.filterwarnings("ignore", category=SkipTestWarning)
            try:
                exec(compiled, namespace)
            except Exception as error:  # name the block that failed
                raise AssertionError(
                    f"the code block at {_page_id(page)}:{line} failed: {error!r}"
                ) from error


def skdisent_commands(path):
    """``(line_number, argv)`` of every ``skdisent ...`` command in the bash blocks."""
    commands = []
    for line, code in python_blocks(path, "bash"):
        logical, start = "", None
        for offset, text in enumerate(code.splitlines()):
            start = line + offset if not logical else start
            logical += text.rstrip().removesuffix("\\") + " "
            if text.rstrip().endswith("\\"):
                continue
            words = shlex.split(logical, comments=True)
            if words[:1] == ["skdisent"]:
                commands.append((start, words[1:]))
            logical = ""
    return commands


COMMAND_PAGES = [page for page in guide_pages() if skdisent_commands(page)]


def test_commands_are_found_with_their_continuations(tmp_path):
    page = tmp_path / "page.rst"
    page.write_text(".. code-block:: bash\n\n    pip install x\n    skdisent fit a \\\n"
                    "        -p b=1  # note\n    skdisent demo --quick\n")
    assert skdisent_commands(page) == [(4, ["fit", "a", "-p", "b=1"]), (6, ["demo", "--quick"])]


@pytest.mark.parametrize("page", COMMAND_PAGES, ids=_page_id)
def test_guide_commands_run(page, sandbox):
    from skdisent.cli import main

    for line, argv in skdisent_commands(page):
        status = main(argv)
        assert status == 0, f"the command at {_page_id(page)}:{line} exited with {status}"


# ----------------------------------------------------------------- examples

EXAMPLE_SCRIPTS = sorted(EXAMPLES.glob("plot_*.py"))


def test_every_example_is_in_the_gallery():
    assert (EXAMPLES / "README.txt").is_file()
    assert len(EXAMPLE_SCRIPTS) >= 5, EXAMPLE_SCRIPTS
    for script in EXAMPLE_SCRIPTS:
        text = script.read_text(encoding="utf-8")
        # sphinx-gallery needs a module docstring with a title
        assert text.lstrip().startswith('"""'), script.name
        assert "SKDISENT_EXAMPLE_QUICK" in text, f"{script.name} has no quick mode"


@pytest.mark.parametrize("script", EXAMPLE_SCRIPTS, ids=lambda p: p.name)
def test_example_runs_in_quick_mode(script, sandbox, monkeypatch):
    monkeypatch.setenv("SKDISENT_EXAMPLE_QUICK", "1")
    monkeypatch.setattr(sys, "argv", [str(script)])
    started = time.perf_counter()
    with warnings.catch_warnings():
        # quick mode trains for a step or two: latents still at the prior are expected
        warnings.filterwarnings("ignore", message=".*no latent is active", category=UserWarning)
        runpy.run_path(str(script), run_name="__main__")
    assert time.perf_counter() - started < 120, "quick mode must stay a smoke test"


def test_the_progressive_schedule_picture_is_drawn(sandbox):
    import matplotlib.pyplot as plt

    runpy.run_path(str(DOCS / "user_guide" / "progressive_schedule.py"))
    figure = plt.gcf()
    top, bottom = figure.axes[:2]
    assert len(top.lines) >= 3 and top.get_ylabel() == "decoder gate"
    figure.savefig(sandbox / "schedule.png")


# ------------------------------------------------------------ API reference


def _documented_names():
    text = (DOCS / "api.rst").read_text(encoding="utf-8")
    names, module = set(), None
    for line in text.splitlines():
        current = re.match(r"^\.\. currentmodule:: (\S+)", line)
        if current:
            module = current.group(1)
        entry = re.match(r"^   ([A-Za-z_][\w.]*)$", line)  # an autosummary row
        data = re.match(r"^\.\. (?:autodata|data):: (\S+)", line)
        for found in (entry, data):
            if found and module:
                names.add(f"{module}.{found.group(1)}")
    return names


@pytest.mark.parametrize(
    "module", ["skdisent", "skdisent.metrics", "skdisent.datasets", "skdisent.plotting",
               "skdisent.engine", "skdisent.evaluation",
               "skdisent.hierarchy", "skdisent.study"])
def test_api_reference_lists_every_public_name(module):
    import importlib

    public = importlib.import_module(module).__all__
    missing = sorted(
        name for name in public
        if not name.startswith("__") and f"{module}.{name}" not in _documented_names()
    )
    assert not missing, f"add to docs/api.rst: {missing}"


# ------------------------------------------------------------ the Sphinx build

#: What CI runs: examples rendered, not executed (they run above in quick mode).
SPHINX_BUILD = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
                "-D", "plot_gallery=0", "docs", "docs/_build/html"]


@pytest.mark.slow
def test_sphinx_build_has_no_warnings():
    pytest.importorskip("sphinx")
    pytest.importorskip("sphinx_gallery")
    env = {k: v for k, v in os.environ.items() if k != "SKDISENT_EXAMPLE_QUICK"}
    done = subprocess.run(SPHINX_BUILD, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
