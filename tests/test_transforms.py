"""Round trips of the geometry shared by training and prediction."""

import numpy as np
import pytest

from mvcore.transforms import (STILLS_UNDER, Letterbox, Roi, box_bounds, crop_stack, letterbox, neighbour_indices,
                               paste_stack, resize_stack)


def blob_stack(h, w, t):
    """bool (h, w, t) with a filled rectangle that drifts one pixel per frame."""
    stack = np.zeros((h, w, t), dtype=np.uint8)
    for i in range(t):
        stack[h // 4 + i:h // 2 + i, w // 3:w // 3 + w // 4, i] = 255
    return stack


def undo_letterbox(stack: np.ndarray, box: Letterbox) -> np.ndarray:
    """(size, size, T) -> (H, W, T): the frame's part of the square, where `box` says it is, back at its size."""
    rows, cols = box.inner
    top, left = box.offset
    return resize_stack(np.ascontiguousarray(stack[top:top + rows, left:left + cols]), box.height, box.width)


@pytest.mark.parametrize("h, w, size", [(600, 800, 128), (112, 112, 128), (731, 1007, 256), (80, 40, 64)])
def test_letterbox_then_undo_recovers_the_mask(h, w, size):
    stack = blob_stack(h, w, 3)
    small, box = letterbox(stack, size)
    assert small.shape == (size, size, 3)
    back = undo_letterbox(small, box) > 127
    truth = stack > 127
    iou = (back & truth).sum() / (back | truth).sum()
    assert back.shape == (h, w, 3) and iou > 0.9


@pytest.mark.parametrize("roi, frames", [
    (Roi(100, 200, 300), 4), (Roi(-50, -80, 200), 4), (Roi(500, 700, 160), 4), (Roi(0, 0, 800), 4),
    (Roi(300, 300, 64), 300),  # enlarging many frames at once: more than OpenCV takes in one call
    (Roi(100, 200, 300), 150),  # shrinking many frames at once
])
def test_crop_then_paste_recovers_the_inside_of_the_roi(roi, frames):
    stack = blob_stack(600, 800, frames)
    crops = crop_stack(stack, roi, 128)
    assert crops.shape == (128, 128, frames)
    out = np.zeros(stack.shape, dtype=bool)
    paste_stack(crops.astype(np.float32) / 255, roi, out, threshold=0.5)
    fr, fc, _, _ = roi.clipped(600, 800)
    truth = stack[fr, fc] > 0
    inter, union = (out[fr, fc] & truth).sum(), (out[fr, fc] | truth).sum()
    assert union == 0 or inter / union > 0.9
    outside = np.ones(stack.shape[:2], dtype=bool)
    outside[fr, fc] = False
    assert not out[outside].any()


@pytest.mark.parametrize("box, margin, expected", [
    ((10, 20, 30, 60), 1.0, Roi(0, 20, 40)),
    ((10, 20, 30, 60), 1.5, Roi(-10, 10, 60)),
    ((0, 0, 600, 800), 1.0, Roi(-100, 0, 800)),
])
def test_roi_around_a_box_is_a_centred_square(box, margin, expected):
    assert Roi.around(*box, margin=margin) == expected


def test_box_bounds():
    box = np.zeros((50, 60), dtype=bool)
    box[5:15, 7:30] = True
    assert box_bounds(box) == (5, 7, 15, 30)


@pytest.mark.parametrize("frames, offsets, n_frames, expected", [
    ([0, 5, 9], (-1, 0, 1), 10, [[0, 0, 1], [4, 5, 6], [8, 9, 9]]),   # clamped to the clip
    ([3], (-2, 0, 2), STILLS_UNDER, [[1, 3, 5]]),                     # long enough to be a cine
    ([0, 1, 2], (-2, 0, 2), 3, [[0, 0, 0], [1, 1, 1], [2, 2, 2]]),   # 3 stills: each its own neighbour
    ([0], (-2, 0, 2), 1, [[0, 0, 0]]),                               # a single image
    ([4], (0,), 5, [[4]]),
])
def test_neighbours_follow_in_time_in_a_cine_and_not_among_stills(frames, offsets, n_frames, expected):
    assert neighbour_indices(np.array(frames), offsets, n_frames).tolist() == expected
