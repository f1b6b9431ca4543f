"""The parts of LDF: cutting into pieces, the Roth et al. penalty, decoupled levels."""

import numpy as np
import pytest
import torch

from skdisent import LDFModel
from skdisent.engine import Trainer
from skdisent.nn.ali import ALI, gradient_norm_penalty
from skdisent.nn.pieces import make_piece_grid

from .test_ldf import TINY_LDF, one_torch_thread  # noqa: F401 - an autouse fixture


def test_patches_are_cut_row_major_and_joined_back():
    x = torch.arange(2 * 3 * 8 * 12, dtype=torch.float32).reshape(2, 3, 8, 12)
    grid = make_piece_grid((3, 8, 12), (2, 3))
    pieces = grid.cut(x)
    assert pieces.shape == (12, 3, 4, 4) and grid.piece_shape == (3, 4, 4)
    for n in range(2):
        for r in range(2):
            for c in range(3):
                expected = x[n, :, 4 * r: 4 * r + 4, 4 * c: 4 * c + 4]
                torch.testing.assert_close(pieces[n * 6 + r * 3 + c], expected)
    torch.testing.assert_close(grid.join(pieces), x)
    assert grid.piece_names()[:4] == ["patch0_0", "patch0_1", "patch0_2", "patch1_0"]


def test_videos_are_cut_into_frames_and_rows_into_padded_blocks():
    video = torch.rand(3, 5, 2, 6, 6)
    frames = make_piece_grid((5, 2, 6, 6), (2, 2))
    assert frames.n_pieces == 5 and frames.piece_shape == (2, 6, 6)
    torch.testing.assert_close(frames.cut(video)[7], video[1, 2])
    torch.testing.assert_close(frames.join(frames.cut(video)), video)
    rows = torch.rand(4, 5)
    blocks = make_piece_grid((5,), (2, 2))
    assert blocks.grid == (3,) and blocks.piece_shape == (2,)
    cut = blocks.cut(rows)
    assert cut.shape == (12, 2) and torch.all(cut[2::3, 1] == 0)  # the padding
    torch.testing.assert_close(blocks.join(cut), rows)
    assert make_piece_grid((1,), (2, 2)).grid == (1,)


@pytest.mark.parametrize("shape, grid, match", [
    ((3, 32, 30), (2, 4), r"patch_grid=\(2, 4\) does not cut images of 32x30.*\(2, 2\)"),
    ((3, 32, 32), (0, 2), "two positive integers"),
    ((3, 32, 32), (2, 2, 2), "two positive integers"),
    ((1, 3, 16, 16), (2, 2), "at least 2 frames, got 1"),
])
def test_grids_that_do_not_fit_are_refused(shape, grid, match):
    with pytest.raises(ValueError, match=match):
        make_piece_grid(shape, grid)


def test_gradient_norm_penalty_of_a_linear_discriminator():
    # D(x, z) = w.x + v.z has the same gradient everywhere: ||grad||^2 = |w|^2 + |v|^2.
    w, v = torch.tensor([1.0, -2.0]), torch.tensor([0.5])
    x_real, z_real = torch.randn(6, 2, requires_grad=True), torch.randn(6, 1, requires_grad=True)
    x_fake, z_fake = torch.randn(6, 2, requires_grad=True), torch.randn(6, 1, requires_grad=True)
    real, fake = x_real @ w + z_real @ v, x_fake @ w + z_fake @ v
    penalty = gradient_norm_penalty(real, (x_real, z_real), fake, (x_fake, z_fake))
    norm = w.pow(2).sum() + v.pow(2).sum()
    expected = norm * ((1 - torch.sigmoid(real)).pow(2).mean() + torch.sigmoid(fake).pow(2).mean())
    torch.testing.assert_close(penalty, expected)


@pytest.mark.parametrize("shape", [(3, 16, 16), (3, 10, 6), (1, 4, 4), (7,)],
                         ids=["16x16", "10x6", "4x4", "dense"])
def test_ali_shapes_and_a_step_that_trains_the_discriminator(shape):
    ali = ALI(shape, latent_dim=3, conv_channels=4, dense_units=8)
    x, z = torch.rand(5, *shape), torch.randn(5, 3)
    assert ali.encode(x).shape == (5, 3) and ali.generate(z).shape == (5, *shape)
    seen = {}

    def optimize_discriminator(loss):
        loss.backward()
        seen["grads"] = [p.grad is not None for p in ali.discriminator.parameters()]

    loss, stats, codes = ali.losses(x, z, optimize_discriminator)
    assert all(seen["grads"]) and codes.shape == (5, 3) and not codes.requires_grad
    assert set(stats) == {"discriminator", "penalty", "adversarial", "reconstruction", "shortcut"}
    loss.backward()
    assert all(p.grad is not None for p in ali.encoder_parameters())


def _parameters(model, level):
    return list(getattr(model.network_, level).parameters())


@pytest.fixture
def untrained():
    videos = np.random.default_rng(0).integers(0, 256, size=(8, 3, 1, 8, 8), dtype=np.uint8)
    model = LDFModel(**{**TINY_LDF, "n_epochs": 0}).fit(videos)
    return model, torch.from_numpy(videos).float() / 255


@pytest.mark.parametrize("level, other", [("upper", "lower"), ("lower", "upper")])
def test_no_gradient_crosses_between_the_levels(untrained, level, other):
    model, x = untrained
    network = model.network_
    network.zero_grad(set_to_none=True)
    data = network.local_codes(x) if level == "upper" else network.pieces.cut(x)
    model._ali_update(level, data, Trainer(model, torch.device("cpu")))
    assert all(p.grad is None for p in _parameters(model, other))
    assert any(p.grad is not None for p in _parameters(model, level))
    # and the level's own objective has no path to the other level's parameters
    z = torch.randn(len(data), getattr(network, level).latent_dim)
    loss, _, _ = getattr(network, level).losses(data, z, lambda d_loss: None)
    grads = torch.autograd.grad(loss, _parameters(model, other), allow_unused=True)
    assert all(g is None for g in grads)


def test_each_level_has_its_own_optimisers(untrained):
    model, _ = untrained
    owned = {}
    for name, optimizer in model._training.optimizers.items():
        owned[name] = {id(p) for group in optimizer.param_groups for p in group["params"]}
    lower = {id(p) for p in _parameters(model, "lower")}
    upper = {id(p) for p in _parameters(model, "upper")}
    assert owned["lower_generator"] | owned["lower_discriminator"] == lower
    assert owned["upper_generator"] | owned["upper_discriminator"] == upper
    assert not owned["lower_generator"] & owned["lower_discriminator"]


def test_encoder_and_generator_loss_leaves_the_discriminator_gradients_alone(untrained):
    """The encoder and generator's loss back-propagates through D into their inputs only."""
    model, x = untrained
    ali = model.network_.lower
    pieces = model.network_.pieces.cut(x)
    z = torch.randn(len(pieces), ali.latent_dim)
    kept = {}

    def optimize_discriminator(d_loss):
        d_loss.backward()
        kept.update({name: p.grad.clone() for name, p in ali.discriminator.named_parameters()})

    ali.zero_grad(set_to_none=True)
    loss, _, _ = ali.losses(pieces, z, optimize_discriminator)
    loss.backward()
    assert all(p.requires_grad for p in ali.discriminator.parameters())  # unfrozen after
    assert all(torch.equal(p.grad, kept[name]) for name, p in ali.discriminator.named_parameters())
    assert all(p.grad is not None for p in ali.encoder_parameters())


@pytest.mark.parametrize("lower_batch_size, updates_per_step", [(None, 5), (20, 2), ("all", 1)])
def test_lower_batch_size_sets_the_lower_level_updates_per_step(lower_batch_size,
                                                                 updates_per_step):
    videos = np.random.default_rng(0).integers(0, 256, size=(8, 5, 1, 8, 8), dtype=np.uint8)
    model = LDFModel(**{**TINY_LDF, "n_epochs": 1, "lower_batch_size": lower_batch_size}).fit(
        videos)  # one step of 8 videos: 40 frames, batch_size 8
    for name in ("lower_generator", "upper_generator"):
        optimizer = model._training.optimizers[name]
        steps = {int(optimizer.state[p]["step"]) for p in optimizer.param_groups[0]["params"]}
        assert steps == {updates_per_step if name.startswith("lower") else 1}
