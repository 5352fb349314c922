"""Training examples and augmented batches: segmenter crops and locator examples moved with their box."""

from functools import partial

import cv2
import numpy as np
import pytest

from mvcore.batches import (MOTION_DROPOUT, STILLS_SHARE, Example, LocatorBatches, SegmentationBatches,
                            augment_appearance, augment_texture, collect_locator_examples, random_affine,
                            sharpened, unlabelled_frames)
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


@pytest.mark.parametrize("still_share, centre", [(0.0, 1), (0.3, 1), (0.5, 0)])
def test_a_share_of_the_crops_see_the_segmented_frame_as_every_neighbour(still_share, centre):
    label = np.zeros((40, 40), bool)
    label[15:25, 15:25] = True
    pixels = np.stack([np.full((40, 40), v, np.uint8) for v in (50, 130, 210)], axis=2)  # three distinct frames
    batches = SegmentationBatches([Example(pixels, label, (10, 10, 30, 30), True, "three")], size=16, margin=1.2,
                                  batch_size=400, augment=True, samples=400, still_share=still_share,
                                  centre=centre, seed=2)
    x, _ = batches[0]
    inner = x[:, 4:12, 4:12].mean(axis=(1, 2))  # (400, 3): each crop's channel levels, away from the edge
    stills = np.ptp(inner, axis=1) < 0.05
    assert abs(stills.mean() - still_share) < 0.07
    if stills.any():  # a still repeats the segmented frame: its level is that channel's
        levels = inner[~stills].mean(axis=0)
        assert abs(inner[stills].mean() - levels[centre]) < 0.1


@pytest.mark.parametrize("seed, per_clip, stills", [(None, 8, 0), (0, 8, 2), (1, 12, 3)])
def test_a_share_of_the_locator_examples_see_the_motion_of_three_stills(seed, per_clip, stills):
    rng = np.random.default_rng(5)
    video = rng.integers(0, 255, (32, 32, 40), dtype=np.uint8)
    box = np.zeros((32, 32), bool)
    box[8:20, 10:22] = True
    x, y = collect_locator_examples([Clip("c", video, box=box, label=np.zeros_like(video, bool), frames=[0])],
                                    size=32, per_clip=per_clip, seed=seed)
    assert x.shape == (per_clip, 32, 32, 2) and y.shape == (per_clip, 32, 32, 1)
    whole_clip = [np.allclose(x[i, ..., 1], x[0, ..., 1]) for i in range(per_clip)]
    assert per_clip - sum(whole_clip) == stills == int(per_clip * STILLS_SHARE) * (seed is not None)
    assert all((y[i] == y[0]).all() for i in range(per_clip))


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


def test_the_motion_map_is_dropped_on_about_half_of_the_locator_examples():
    x = np.full((400, 32, 32, 2), 0.5, np.float32)
    y = np.zeros((400, 32, 32, 1), np.float32)
    y[:, 8:24, 8:24] = 1.0
    batches = LocatorBatches(x, y, batch_size=400, augment=True, seed=3)
    bx, by = batches[0]
    dropped = np.mean([not bx[i, ..., 1].any() for i in range(len(bx))])
    assert abs(dropped - MOTION_DROPOUT) < 0.07
    assert bx.shape == x.shape and by.shape == y.shape


@pytest.mark.parametrize("augment", [augment_appearance, partial(augment_appearance, sharpen=True), augment_texture])
@pytest.mark.parametrize("seed", range(8))
def test_appearance_changes_keep_a_crop_a_crop(augment, seed):
    yy, xx = np.mgrid[:48, :48]
    x = (((xx // 6 + yy // 6) % 2) * 0.6 + 0.2).astype(np.float32)[..., None]
    out = augment(x.copy(), np.random.default_rng(seed))
    assert out.shape == x.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert np.corrcoef(out.ravel(), x.ravel())[0, 1] > 0.3   # still the same picture


def band_width(profile: np.ndarray) -> float:
    """Equivalent width px of a bright band's profile (S,): its area over the far background (the
    first value) divided by its peak's height over it."""
    rise = profile - profile[0]
    return float(rise.sum() / rise.max())


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("sigma, amount, narrowing", [(0.7, 0.3, 0.0), (1.0, 0.8, 0.02), (2.0, 1.2, 0.15)])
def test_sharpening_narrows_a_blurred_band_and_keeps_flat_crops(channels, sigma, amount, narrowing):
    """A leaflet-like band blurred by a point-spread function shows narrower once sharpened, the more
    so the stronger the unsharp mask; an even crop stays as it is."""
    x = np.full((40, 40, channels), 0.1, np.float32)
    x[18:22] = 0.8
    blurred = cv2.GaussianBlur(x, (0, 0), 2.5).reshape(x.shape)
    out = sharpened(blurred.copy(), sigma, amount)
    assert out.shape == x.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    before, after = band_width(blurred[:, 20, 0]), band_width(out[:, 20, 0])
    assert after < before * (1 - narrowing)
    assert np.array_equal(out[..., 0], out[..., -1])
    flat = np.full((16, 16, channels), 0.4, np.float32)
    np.testing.assert_allclose(sharpened(flat, sigma, amount), flat, atol=1e-6)


def test_texture_changes_most_crops_and_leaves_the_input_alone():
    """Each of the three changes is drawn half the time: about 7 crops in 8 change."""
    yy, xx = np.mgrid[:32, :32]
    x = (((xx // 4 + yy // 4) % 2) * 0.6 + 0.2).astype(np.float32)[..., None]
    before = x.copy()
    rng = np.random.default_rng(0)
    changed = [not np.allclose(augment_texture(x, rng), x, atol=1e-3) for _ in range(80)]
    assert np.array_equal(x, before)
    assert 0.75 <= np.mean(changed) <= 0.97
