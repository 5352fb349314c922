"""The scan sector a clip's valve is located in (mvcore/sector.py), and where the training boxes lie in it
(mvcore.locate.box_prior)."""

import keras
import numpy as np
import pytest

from conftest import blind_locator
from mvcore.bench.marks import REAL_DIR, real_cine
from mvcore.clip import Clip
from mvcore.locate import SEEN_PEAK, box_prior, locate_valve
from mvcore.predict import valid_box_prior
from mvcore.sector import MIN_SHARE, fan_mask, sector_bounds


def framed_fan(shape=(120, 160), fan=(30, 50, 110, 140), frames: int = 20, text: bool = True) -> np.ndarray:
    """uint8 (H, W, frames): speckle that changes every frame inside the rectangle `fan` (top, left,
    bottom, right), black around it, and with `text` a bright static label in the top-left corner."""
    rng = np.random.default_rng(0)
    video = np.zeros(shape + (frames,), np.uint8)
    top, left, bottom, right = fan
    video[top:bottom, left:right] = rng.integers(20, 120, (bottom - top, right - left, frames), dtype=np.uint8)
    if text:
        video[4:14, 4:40] = 255
    return video


@pytest.mark.parametrize("video, expected", [
    (framed_fan(), (30, 50, 110, 140)),                                  # the fan, not the static label
    (framed_fan(fan=(0, 0, 120, 160), text=False), (0, 0, 120, 160)),    # a fan filling its frame
    (framed_fan(frames=1), (0, 0, 120, 160)),                            # a single frame: nothing changes
    (framed_fan(fan=(50, 60, 60, 70)), (0, 0, 120, 160)),                # too small to be the fan
    (np.zeros((40, 50, 6), np.uint8), (0, 0, 40, 50)),                   # black
])
def test_the_sector_is_the_bounding_rectangle_of_what_changes(video, expected):
    assert sector_bounds(video) == expected


def test_the_fan_of_a_single_frame_is_unknown():
    assert fan_mask(framed_fan(frames=1)) is None


def test_the_real_cines_sector_holds_every_marked_leaflet_and_leaves_its_margins_out():
    clip = real_cine()
    top, left, bottom, right = sector_bounds(clip.video)
    h, w = clip.video.shape[:2]
    assert (bottom - top) * (right - left) < 0.8 * h * w and (bottom - top) * (right - left) > MIN_SHARE * h * w
    marked = np.load(REAL_DIR / "labels.npz")["masks"].any(axis=2)
    rows, cols = np.flatnonzero(marked.any(axis=1)), np.flatnonzero(marked.any(axis=0))
    assert top <= rows[0] and rows[-1] < bottom and left <= cols[0] and cols[-1] < right


def one_layer_locator(size: int, frame_weight: float, motion_weight: float) -> keras.Model:
    """A real one-layer network: sigmoid(frame_weight x frame + motion_weight x motion map - 20)."""
    inputs = keras.Input((size, size, 2))
    conv = keras.layers.Conv2D(1, 1, activation="sigmoid")
    outputs = conv(inputs)
    conv.set_weights([np.array([frame_weight, motion_weight], np.float32).reshape(1, 1, 2, 1),
                      np.array([-20.0], np.float32)])
    return keras.Model(inputs, outputs)


def motion_locator(size: int) -> keras.Model:
    """Its heatmap is where the motion map (channel 1) is high."""
    return one_layer_locator(size, 0.0, 40.0)


def test_the_valve_is_located_in_frame_pixels_when_its_fan_fills_part_of_the_frame():
    video = framed_fan(shape=(200, 300), fan=(60, 120, 180, 280), frames=24)
    phase = np.arange(24) % 2 == 0
    video[100:116, 190:214, phase] = 250  # the valve: what moves most, inside the fan
    video[100:116, 190:214, ~phase] = 0
    location = locate_valve(motion_locator(64), video, 64, margin=1.0)
    roi = location.roi
    assert location.found_by == "locator" and location.peak >= SEEN_PEAK and location.warning() is None
    assert abs(roi.y0 + roi.side / 2 - 108) <= 4 and abs(roi.x0 + roi.side / 2 - 202) <= 4
    assert 20 <= roi.side <= 36


def test_a_locator_blinded_by_the_motion_map_still_sees_the_valve_in_the_frame():
    # the whole fan's speckle changes from frame to frame, as on the real cine, and the valve is bright
    video = framed_fan(shape=(200, 300), fan=(60, 120, 180, 280), frames=24)
    video[100:116, 190:214] = np.where(np.arange(24) % 2 == 0, 250, 150).astype(np.uint8)
    shy = one_layer_locator(64, 40.0, -40.0)  # bright frame pixels, unless they move
    location = locate_valve(shy, video, 64, margin=1.0, prior=[0.0, 0.0, 0.2, 0.2])
    roi = location.roi
    assert location.found_by == "locator" and location.warning() is None
    assert 0.3 <= location.peak <= 0.6  # the still reading sees the valve, the moving one nothing: half
    assert abs(roi.y0 + roi.side / 2 - 108) <= 4 and abs(roi.x0 + roi.side / 2 - 202) <= 4


def boxed_clip(video: np.ndarray, box: tuple[int, int, int, int]) -> Clip:
    mask = np.zeros(video.shape[:2], bool)
    mask[box[0]:box[2], box[1]:box[3]] = True
    return Clip("c", video, box=mask)


@pytest.mark.parametrize("clips, expected", [
    # the fan fills the frame: the box's place in the frame
    ([boxed_clip(framed_fan(fan=(0, 0, 120, 160), text=False), (30, 40, 90, 120))], [0.25, 0.25, 0.75, 0.75]),
    # a framed fan: the place within the fan's rectangle, wherever the fan sits in its frame
    ([boxed_clip(framed_fan(), (50, 68, 90, 113))], [0.25, 0.2, 0.75, 0.7]),
    ([boxed_clip(framed_fan(), (50, 68, 90, 113)), boxed_clip(framed_fan(fan=(0, 0, 120, 160), text=False),
                                                              (0, 0, 60, 80))], [0.125, 0.1, 0.625, 0.6]),
    ([], None),
])
def test_the_box_prior_is_where_the_training_boxes_lie_in_their_sectors(clips, expected):
    assert box_prior(clips) == (pytest.approx(expected) if expected else None)


def test_a_locator_that_sees_nothing_gives_the_training_boxes_place_in_the_sector():
    video = framed_fan(shape=(200, 300), fan=(60, 120, 180, 280), frames=24)
    location = locate_valve(blind_locator(64), video, 64, margin=1.0, prior=[0.25, 0.25, 0.75, 0.75])
    roi = location.roi
    # the prior's box in the fan's rectangle: rows 90-150, cols 160-240, its square 80 px around (120, 200)
    assert (roi.y0 + roi.side / 2, roi.x0 + roi.side / 2, roi.side) == pytest.approx((120, 200, 80), abs=1)
    # and the user is told: the crop is a guess
    assert location.found_by == "box prior" and location.peak < SEEN_PEAK
    assert "did not see a valve" in location.warning() and "where the training valves lay" in location.warning()
    without = locate_valve(blind_locator(64), video, 64, margin=1.0)
    assert (without.roi.y0, without.roi.x0, without.roi.side) != (roi.y0, roi.x0, roi.side)
    assert without.found_by == "locator" and "best guess" in without.warning()


@pytest.mark.parametrize("metrics, expected", [
    ({"locator": {"box_prior": [0.4, 0.35, 0.71, 0.73]}}, [0.4, 0.35, 0.71, 0.73]),
    ({"locator": {"box_prior": [0, 0, 1, 1]}}, [0.0, 0.0, 1.0, 1.0]),
    ({}, None),                                                  # a folder from before the prior was kept
    ({"locator": None}, None),
    ({"locator": {"box_prior": [0.4, 0.35, 0.71]}}, None),       # damaged: not trusted
    ({"locator": {"box_prior": [0.7, 0.35, 0.4, 0.73]}}, None),  # bottom above top
    ({"locator": {"box_prior": [0.4, 0.35, 0.71, 7.3]}}, None),  # outside the sector
    ({"locator": {"box_prior": ["a", 0.35, 0.71, 0.73]}}, None),
    ([], None),
])
def test_a_model_folders_box_prior_is_read_only_when_it_is_a_box_in_the_sector(metrics, expected):
    assert valid_box_prior(metrics) == expected
