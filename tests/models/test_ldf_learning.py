"""LDFModel learns for real on moving sprites (frames as pieces) and their frames (patches).

Small 16x16 versions of the paper's tests (papers/001, section 5): reconstructions of
single pieces, a background that stays fixed across the frames of generated videos,
and images reassembled from generated patches without seams.
"""

import numpy as np
import pytest
import torch

from skdisent import LDFModel
from skdisent.datasets import make_moving_sprites

from .test_ldf import one_torch_thread  # noqa: F401 - an autouse fixture

SMALL = {"local_dim": 8, "global_dim": 8, "batch_size": 32, "conv_channels": 8,
         "dense_units": 32, "learning_rate": 2e-3, "device": "cpu", "random_state": 0}


def frame_change(videos):
    """Variance of each pixel across the frames of a video, relative to its variance across videos.

    About 0.1 for moving sprites (only the sprite moves); near 1 when frames are drawn
    independently of each other.
    """
    videos = np.asarray(videos, dtype=np.float64)
    across_frames = videos.var(axis=1).mean()
    across_videos = videos.reshape(-1, *videos.shape[2:]).var(axis=0).mean()
    return across_frames / across_videos


def seam_ratio(images, grid):
    """Mean jump between neighbouring pixels across patch borders over that elsewhere."""
    images = np.asarray(images, dtype=np.float64)
    height, width = images.shape[-2:]
    dy = np.abs(np.diff(images, axis=-2)).mean(axis=(0, 1, 3))
    dx = np.abs(np.diff(images, axis=-1)).mean(axis=(0, 1, 2))
    rows = np.arange(1, height) % (height // grid[0]) == 0
    cols = np.arange(1, width) % (width // grid[1]) == 0
    return (dy[rows].mean() + dx[cols].mean()) / (dy[~rows].mean() + dx[~cols].mean())


def _independent_pieces(model, n_samples):
    """Objects whose pieces are decoded from independent draws of the lower prior."""
    generator = torch.Generator().manual_seed(0)
    codes = torch.randn(n_samples, model.n_pieces_ * model.local_dim, generator=generator)
    with torch.no_grad():
        return model.network_.decode_local(codes).numpy()


@pytest.fixture(scope="module")
def videos():
    return make_moving_sprites(n_samples=128, size=16, random_state=0).videos


@pytest.fixture(scope="module")
def video_model(videos, one_torch_thread):  # noqa: F811
    return LDFModel(**SMALL, n_epochs=10).fit(videos)


@pytest.fixture(scope="module")
def image_model(videos, one_torch_thread):  # noqa: F811
    frames = videos[:, ::2].reshape(-1, 3, 16, 16)
    return LDFModel(**SMALL, patch_grid=(2, 2), n_epochs=6).fit(frames), frames


def test_pieces_are_reconstructed_far_better_than_by_the_mean_piece(video_model, videos):
    frames = videos.reshape(-1, 3, 16, 16) / 255.0
    model = video_model.set_params(representation="local")
    reconstructed = model.inverse_transform(model.transform(videos)).reshape(frames.shape)
    error = np.mean((reconstructed - frames) ** 2)
    baseline = np.mean((frames - frames.mean(axis=0)) ** 2)
    assert error < 0.5 * baseline, (error, baseline)
    history = video_model.history_
    assert history[-1]["lower_reconstruction"] < history[0]["lower_reconstruction"]


def test_generated_videos_keep_their_background_across_frames(video_model, videos):
    model = video_model.set_params(representation="global")
    untrained = LDFModel(**SMALL, n_epochs=0).fit(videos)
    trained = frame_change(model.sample(200, random_state=1))
    before = frame_change(untrained.sample(200, random_state=1))
    independent = frame_change(_independent_pieces(model, 200))
    data = frame_change(videos / 255.0)
    assert trained < 0.5 * before, (trained, before, data)
    # the upper level is what ties the frames together: without it they wander
    assert trained < 0.5 * independent, (trained, independent, data)


def test_samples_reassembled_from_patches_have_no_seams(image_model):
    model, frames = image_model
    data = seam_ratio(frames / 255.0, (2, 2))
    samples = seam_ratio(model.sample(300, random_state=1), (2, 2))
    assert samples < 1.2 * data, (samples, data)
    # the measure does see seams: patches decoded independently of each other have them
    assert seam_ratio(_independent_pieces(model, 300), (2, 2)) > 1.2 * data
