"""Progress bars in a terminal, and none where output is not one."""

import io

import numpy as np
import pytest

from skdisent import VLAE
from skdisent.engine import ProgressBar, extra_callbacks

X = np.random.default_rng(0).integers(0, 256, size=(64, 1, 16, 16), dtype=np.uint8)
TINY = dict(levels=2, latent_dim=2, n_epochs=2, conv_channels=4, dense_units=8, batch_size=16,
            device="cpu", random_state=0)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_gets_a_bar_per_epoch_with_rate_and_time_left():
    pytest.importorskip("tqdm")
    screen = Terminal()
    with extra_callbacks(ProgressBar(file=screen)):
        VLAE(**TINY).fit(X)
    shown = screen.getvalue()
    assert "VLAE epoch 1/2" in shown and "VLAE epoch 2/2" in shown
    assert "img/s" in shown


def test_no_bar_where_output_is_not_a_terminal():
    log = io.StringIO()
    with extra_callbacks(ProgressBar(file=log)):
        VLAE(**TINY).fit(X)
    assert log.getvalue() == ""


def test_epoch_lines_order_the_kl_by_level_and_name_information_without_a_step(capsys):
    from skdisent.cli._progress import EpochLines

    lines = EpochLines(total_epochs=3, indent="")
    record = {"epoch": 1, "reconstruction": 5.0, "time": 1.0, "information_rows": 8,
              "information_1": 0.5, **{f"kl_{level}": float(level) for level in (10, 2, 1)}}
    lines.on_epoch_end(trainer=None, record=record)
    shown = capsys.readouterr().err.splitlines()
    assert shown[0] == "epoch 1/3  recon 5.00  KL 1.00 2.00 10.00  1.0 s"
    assert shown[1] == "information: information_1=0.500"
    lines.on_epoch_end(trainer=None, record={**record, "step": 2})
    assert capsys.readouterr().err.splitlines()[1].startswith("end of step 2: ")
