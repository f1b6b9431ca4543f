import numpy as np
import pytest

from skdisent.datasets import indices_to_factors, make_moving_sprites

SIZES = (4, 8, 8, 4, 4)


def sprite_pixels(video, background):
    """Per frame, the pixels (H, W) that differ from the background texture."""
    return (video != background[None]).any(axis=1)


def test_layout_and_data_conventions(check_bunch):
    bunch = make_moving_sprites(n_samples=20, random_state=0)
    check_bunch(bunch, 20, SIZES, key="videos")
    assert bunch.videos.shape == (20, 5, 3, 32, 32)
    assert bunch.factor_names == ["shape", "start_x", "start_y", "direction", "background"]
    assert bunch.backgrounds.shape == (4, 3, 32, 32) and bunch.backgrounds.dtype == np.uint8
    X, y = make_moving_sprites(n_samples=20, random_state=0, return_X_y=True)
    np.testing.assert_array_equal(X, bunch.videos)
    np.testing.assert_array_equal(y, bunch.factors)


def test_full_grid_order_and_determinism(assert_deterministic):
    bunch = make_moving_sprites(size=16)
    assert bunch.videos.shape == (4096, 5, 3, 16, 16)
    np.testing.assert_array_equal(bunch.factors, indices_to_factors(np.arange(4096), SIZES))
    rows = [0, 1, 77, 4095]
    np.testing.assert_array_equal(make_moving_sprites(factors=bunch.factors[rows], size=16).videos, bunch.videos[rows])
    assert_deterministic(make_moving_sprites)


def test_background_is_textured_and_fixed_across_frames():
    bunch = make_moving_sprites(n_samples=40, random_state=0)
    for texture in bunch.backgrounds:
        edges = (texture[:, :, 1:] != texture[:, :, :-1]).any(axis=0)
        assert len(np.unique(texture.reshape(3, -1), axis=1)) >= 3 and edges.mean() > 0.1  # not a flat colour
    for video, factors in zip(bunch.videos, bunch.factors):
        background = bunch.backgrounds[factors[4]]
        covered = sprite_pixels(video, background)
        assert covered.any(axis=(1, 2)).all()  # the sprite is visible in every frame
        assert covered.mean() < 0.15  # and small: the rest of each frame is the fixed background
        path = covered.any(axis=0)
        for frame in video:
            np.testing.assert_array_equal(frame[:, ~path], background[:, ~path])


def test_sprite_moves_a_little_in_its_direction():
    steps = {0: (1, 0), 1: (0, 1), 2: (-1, 0), 3: (0, -1)}  # (dx, dy), y down
    for direction, (dx, dy) in steps.items():
        factors = np.array([[1, 3, 4, direction, 2]])
        bunch = make_moving_sprites(factors=factors)
        covered = sprite_pixels(bunch.videos[0], bunch.backgrounds[2])
        centres = np.array([[np.nonzero(c)[1].mean(), np.nonzero(c)[0].mean()] for c in covered])  # x, y
        moves = np.diff(centres, axis=0)
        np.testing.assert_allclose(moves, np.tile([dx, dy], (4, 1)) * 0.04 * 32, atol=0.5)


def test_every_step_of_every_factor_changes_the_video(assert_every_step_changes):
    assert_every_step_changes(make_moving_sprites, SIZES, n_points=4)


def test_shapes_differ():
    videos = make_moving_sprites(factors=[[s, 3, 3, 0, 0] for s in range(4)]).videos
    for a in range(4):
        for b in range(a + 1, 4):
            assert not np.array_equal(videos[a], videos[b])


def test_bad_parameters():
    with pytest.raises(ValueError, match="too many"):
        make_moving_sprites(n_samples=1, n_frames=12)
    with pytest.raises(ValueError, match="n_frames"):
        make_moving_sprites(n_samples=1, n_frames=1)
    assert make_moving_sprites(n_samples=2, n_frames=3, size=48).videos.shape == (2, 3, 3, 48, 48)
