"""Training examples and augmented batches."""

import numpy as np
import pytest

from mvcore.batches import Example, SegmentationBatches, unlabelled_frames
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
