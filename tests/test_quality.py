"""mvcore.quality: a trained model's pipeline against its crops, a fixed box and the locator's hits."""

import numpy as np
import pytest

from mvcore.clip import Clip
from mvcore.quality import assess, fixed_box_iou, share_inside
from mvcore.transforms import Roi


@pytest.mark.parametrize("pipeline, crop, trivial, hits, expected_warnings, hit_rate", [
    (0.70, 0.75, 0.10, [1.0, 0.95, 0.92], [], 1.0),
    (0.06, 0.63, 0.10, [0.0, 0.2, 1.0], ["holds the valve on only 33%", "crops miss the valve",
                                         "no better than a fixed box"], 1 / 3),
    (0.30, 0.70, 0.05, [1.0, 1.0], ["crops miss the valve"], 1.0),
    (0.50, 0.60, 0.10, [], [], None),            # no locator: no hit rate, no locator warning
    (0.50, None, 0.10, [0.5, 1.0, 1.0, 1.0, 1.0], [], 0.8),
])
def test_each_failed_check_is_one_warning(pipeline, crop, trivial, hits, expected_warnings, hit_rate):
    quality = assess(pipeline, crop, trivial, hits)
    assert len(quality["warnings"]) == len(expected_warnings)
    assert all(part in text for part, text in zip(expected_warnings, quality["warnings"]))
    assert quality["box_hit_rate"] == pytest.approx(hit_rate) if hit_rate is not None else quality["box_hit_rate"] is None


def labelled_clip(top, left, bottom, right, shape=(40, 60, 4)):
    label = np.zeros(shape, bool)
    label[top:bottom, left:right, [0, 2]] = True
    return Clip("c", np.zeros(shape, np.uint8), label=label, frames=[0, 2])


@pytest.mark.parametrize("roi, inside", [
    (Roi(0, 0, 60), 1.0),
    (Roi(10, 10, 10), 1.0),      # exactly the labelled square
    (Roi(10, 15, 10), 0.5),      # half of it
    (Roi(30, 40, 10), 0.0),
])
def test_share_of_labelled_pixels_inside_the_crop(roi, inside):
    assert share_inside(roi, labelled_clip(10, 10, 20, 20)) == pytest.approx(inside)


def test_the_fixed_box_is_the_mean_training_box_at_each_clips_scale():
    train = [labelled_clip(10, 10, 20, 20), labelled_clip(10, 10, 20, 20)]
    same, moved = labelled_clip(10, 10, 20, 20), labelled_clip(25, 40, 35, 50)
    assert fixed_box_iou(train, [same]) == pytest.approx(1.0)
    assert fixed_box_iou(train, [moved]) == 0.0
    bigger = labelled_clip(20, 20, 40, 40, shape=(80, 120, 4))   # same place, twice the size
    assert fixed_box_iou(train, [bigger]) == pytest.approx(1.0)
