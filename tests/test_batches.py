"""Training examples and augmented batches: segmenter crops and locator examples moved with their box."""

import numpy as np
import pytest

from mvcore.batches import (MOTION_DROPOUT, Example, LocatorBatches, SegmentationBatches, augment_appearance,
                            augment_texture, random_affine, unlabelled_frames)
from mvcore.clip import Clip


@pytest.mark.parametrize("n_frames, frames, count, expected_len", [
    (50, [10, 20, 30], 8, 8),
    (50, [10, 20, 30], 100, 50 - 9),   # every frame but the annotated ones and their neighbours
    (5, [0, 2, 4], 3, 0),              # nothing is 2 frames away from all of them
])
def test_unlabelled_frames_keep_two_frames_away_from_the_annotated_ones(n_frames, frames, count, expected_len):
    clip = Clip("c", np.zeros((4, 4, n_frames), np.uint8), frames=frames)
    chosen = unlabelled_frames(clip, count)
    assert len(chosen) == expected_len and len(set(chosen.tolist())) == len(chosen)
    assert all(min(abs(int(t) - f) for f in frames) >= 2 for t in chosen)


def left_bar_example() -> Example:
    """A bright bar in the left third of a frame, labelled exactly."""
    label = np.zeros((60, 60), bool)
    label[20:40, 12:18] = True
    return Example((label * 255).astype(np.uint8)[:, :, None], label, (10, 10, 50, 50), True, "bar")


@pytest.mark.parametrize("flip, some_on_the_right", [(False, False), (True, True)])
def test_flipping_mirrors_frame_and_label_together(flip, some_on_the_right):
    batches = SegmentationBatches([left_bar_example()], size=32, margin=1.2, batch_size=32, augment=True,
                                  samples=32, flip=flip, seed=1)
    x, y = batches[0]
    columns = np.arange(32)
    bright, labelled = x[..., 0] > 0.5, y[..., 0] > 0.5
    bright_x = (bright * columns).sum(axis=(1, 2)) / bright.sum(axis=(1, 2))
    label_x = (labelled * columns).sum(axis=(1, 2)) / labelled.sum(axis=(1, 2))
    assert np.abs(bright_x - label_x).max() < 1.0
    on_the_right = y[:, :, 16:, 0].sum(axis=(1, 2)) > y[:, :, :16, 0].sum(axis=(1, 2))
    assert on_the_right.any() == some_on_the_right
    assert not on_the_right.all()


@pytest.mark.parametrize("seed", range(6))
def test_a_locator_example_moves_with_its_box(seed):
    x = np.zeros((64, 64, 2), np.float32)
    y = np.zeros((64, 64, 1), np.float32)
    x[20:40, 24:44, 0] = 1.0      # a bright square exactly where the box is
    x[..., 1] = 0.5
    y[20:40, 24:44, 0] = 1.0
    moved_x, moved_y = random_affine(x, y, np.random.default_rng(seed))
    assert moved_x.shape == x.shape and moved_y.shape == y.shape
    assert 0 < moved_y.sum() and 0.0 <= moved_y.min() and moved_y.max() <= 1.0
    agree = (moved_x[..., 0] > 0.5) == (moved_y[..., 0] > 0.5)
    assert agree.mean() > 0.99


def test_the_motion_map_is_dropped_on_about_a_quarter_of_the_locator_examples():
    x = np.full((400, 32, 32, 2), 0.5, np.float32)
    y = np.zeros((400, 32, 32, 1), np.float32)
    y[:, 8:24, 8:24] = 1.0
    batches = LocatorBatches(x, y, batch_size=400, augment=True, seed=3)
    bx, by = batches[0]
    dropped = np.mean([not bx[i, ..., 1].any() for i in range(len(bx))])
    assert abs(dropped - MOTION_DROPOUT) < 0.07
    assert bx.shape == x.shape and by.shape == y.shape


@pytest.mark.parametrize("augment", [augment_appearance, augment_texture])
@pytest.mark.parametrize("seed", range(8))
def test_appearance_changes_keep_a_crop_a_crop(augment, seed):
    yy, xx = np.mgrid[:48, :48]
    x = (((xx // 6 + yy // 6) % 2) * 0.6 + 0.2).astype(np.float32)[..., None]
    out = augment(x.copy(), np.random.default_rng(seed))
    assert out.shape == x.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert np.corrcoef(out.ravel(), x.ravel())[0, 1] > 0.3   # still the same picture


def test_texture_changes_most_crops_and_leaves_the_input_alone():
    """Each of the three changes is drawn half the time: about 7 crops in 8 change."""
    yy, xx = np.mgrid[:32, :32]
    x = (((xx // 4 + yy // 4) % 2) * 0.6 + 0.2).astype(np.float32)[..., None]
    before = x.copy()
    rng = np.random.default_rng(0)
    changed = [not np.allclose(augment_texture(x, rng), x, atol=1e-3) for _ in range(80)]
    assert np.array_equal(x, before)
    assert 0.75 <= np.mean(changed) <= 0.97
