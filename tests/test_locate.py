"""The locator's geometry: its box target, and the box read back from its heatmap (mvcore/locate.py)."""

import numpy as np
import pytest

from mvcore.locate import box_from_heatmap, box_target, evenly_spaced
from mvcore.transforms import Letterbox, box_bounds


def blob_heatmap(peak: float) -> np.ndarray:
    """A 16 x 16 heatmap: a plateau at 0.6 x `peak` over rows 4-9, columns 6-11, its top at (6, 8)."""
    heatmap = np.zeros((16, 16), np.float32)
    heatmap[4:10, 6:12] = 0.6 * peak
    heatmap[6, 8] = peak
    return heatmap


@pytest.mark.parametrize("heatmap, expected", [
    # the blob is what reaches half the peak, whether the peak is under 0.5, just over it, or high
    (blob_heatmap(0.45), (4, 6, 10, 12)),
    (blob_heatmap(0.54), (4, 6, 10, 12)),
    (blob_heatmap(1.0), (4, 6, 10, 12)),
    # a lone peak above a low floor is the box
    (np.where(blob_heatmap(1.0) == 1.0, 1.0, 0.2).astype(np.float32), (6, 8, 7, 9)),
    # nothing at all: the whole frame
    (np.zeros((16, 16), np.float32), (0, 0, 16, 16)),
])
def test_the_box_is_the_largest_blob_over_half_the_peak(heatmap, expected):
    assert box_from_heatmap(heatmap, Letterbox(16, 16, 16)) == pytest.approx(expected)


def test_the_box_is_given_in_frame_pixels_of_a_letterboxed_frame():
    heatmap = np.zeros((16, 16), np.float32)
    heatmap[6:8, 2:6] = 0.9  # a 32 x 64 frame fills rows 4-11 of the 16 x 16 square, at a quarter scale
    assert box_from_heatmap(heatmap, Letterbox(32, 64, 16)) == pytest.approx((8, 8, 16, 24))


@pytest.mark.parametrize("shape, box", [((600, 800), (200, 300, 320, 480)), ((112, 112), (40, 30, 70, 80)),
                                         ((731, 1007), (100, 500, 300, 760))])
def test_a_box_heatmap_maps_back_to_the_box_in_frame_pixels(shape, box):
    mask = np.zeros(shape, bool)
    mask[box[0]:box[2], box[1]:box[3]] = True
    size = 96
    found = box_from_heatmap(box_target(mask, size), Letterbox(*shape, size))
    tolerance = max(shape) / size * 1.5
    assert np.allclose(found, box_bounds(mask), atol=tolerance)


@pytest.mark.parametrize("n_frames, count, expected", [
    (100, 5, [0, 25, 50, 74, 99]), (3, 8, [0, 1, 2]), (1, 8, [0]),
])
def test_evenly_spaced_frames_cover_the_clip(n_frames, count, expected):
    assert evenly_spaced(n_frames, count).tolist() == expected
