"""README.md's Python code runs as written, on shrunk sizes, so that it cannot rot.

Each shrinking substitution must find its text in the README: a README that changes
its code changes this list too.
"""

import re
import warnings
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

#: What the README's blocks say, and what the test runs instead (a few seconds in all).
SHRINK = [
    ("n_samples=5_000, size=32", "n_samples=384, size=16"),
    ("conv_channels=16, dense_units=128", "conv_channels=4, dense_units=8"),
    ("epochs_per_step=2, fade_in_steps=50", "epochs_per_step=1, fade_in_steps=2"),
    ("n_epochs=3", "n_epochs=1"),
]


def python_blocks(text):
    """The code of every fenced ``python`` block, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def test_the_readme_shows_python_code():
    assert len(python_blocks(README.read_text(encoding="utf-8"))) >= 2


def test_the_readme_code_runs(tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    for written, shrunk in SHRINK:
        assert written in text, f"README no longer says {written!r}: update SHRINK"
        text = text.replace(written, shrunk)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    for number, code in enumerate(python_blocks(text), 1):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # a warning the README does not explain
            # ... but fits this short may leave every latent of a β-VAE at the prior
            warnings.filterwarnings("ignore", message="mig_sup: no latent is active")
            try:
                exec(compile(code, f"README.md block {number}", "exec"), namespace)
            except Exception as error:
                pytest.fail(f"README.md's Python block {number} failed: {error!r}")
