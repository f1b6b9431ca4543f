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
