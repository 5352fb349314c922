"""Matching a clip's grey levels to the training clips' (mvcore/intensity.py)."""

import json

import numpy as np
import pytest

from mvcore.clip import Clip
from mvcore.errors import InputError
from mvcore.intensity import (LEVELS, load_reference, matching_table, reference_percentiles, save_reference,
                              sector_percentiles)
from mvcore.metrics import frame_iou
from mvcore.predict import Segmenter
from mvcore.synth import make_test_record


def ramp_clip(top: int, frames: int = 4) -> np.ndarray:
    """uint8 (50, 60, frames): a dark border (0) around a sector whose 2 x 2 blocks of pixels run
    evenly over 3..top (so every second pixel of every second row sees each value once)."""
    video = np.zeros((50, 60, frames), np.uint8)
    values = np.linspace(3, top, 20 * 20).round().astype(np.uint8).reshape(20, 20)
    video[4:44, 10:50] = np.kron(values, np.ones((2, 2), np.uint8))[:, :, None]
    return video


@pytest.mark.parametrize("top", [50, 120, 255])
def test_sector_percentiles_are_the_sector_pixels_percentiles(top):
    found = sector_percentiles(ramp_clip(top))
    values = np.linspace(3, top, 400).round()
    assert found.shape == LEVELS.shape and found[0] == 3 and found[-1] == top
    assert np.abs(found - np.percentile(values, LEVELS)).max() <= 1  # the border is not counted


@pytest.mark.parametrize("video", [np.zeros((20, 20, 3), np.uint8), np.full((20, 20, 1), 2, np.uint8)])
def test_a_dark_clip_has_no_sector_and_stays_as_it_is(video):
    assert sector_percentiles(video) is None
    assert matching_table(video, np.linspace(0, 255, 101)) is None


@pytest.mark.parametrize("gain, gamma", [(0.5, 1.0), (1.0, 0.6), (0.7, 1.5), (1.0, 1.0)])
def test_a_clip_darkened_or_brightened_is_matched_back_to_the_reference(gain, gamma):
    record, _ = make_test_record(np.random.default_rng(4), scale=0.3)
    original = record["video"]
    reference = sector_percentiles(original)
    changed = np.clip(255 * gain * (original / 255.0) ** gamma, 0, 255).round().astype(np.uint8)
    table = matching_table(changed, reference)
    assert (np.diff(table.astype(int)) >= 0).all()  # a monotone table: no grey levels swap places
    matched_error = np.median(np.abs(sector_percentiles(table[changed]) - reference))
    changed_error = np.median(np.abs(sector_percentiles(changed) - reference))
    assert matched_error <= 4 and matched_error <= max(1.0, changed_error / 2), (matched_error, changed_error)


def test_the_reference_is_the_median_over_training_clips():
    clips = [ramp_clip(top) for top in (60, 100, 200)]
    assert np.array_equal(reference_percentiles(clips), sector_percentiles(clips[1]))
    with pytest.raises(ValueError, match="no training clip"):
        reference_percentiles([np.zeros((8, 8, 2), np.uint8)])


def test_the_reference_file_round_trips_and_refuses_other_files(tmp_path):
    reference = sector_percentiles(ramp_clip(180))
    save_reference(reference, tmp_path / "intensity.json")
    assert np.allclose(load_reference(tmp_path / "intensity.json"), reference, atol=1e-3)
    assert load_reference(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text(json.dumps({"percentiles": [0, 50, 100], "grey_levels": [0, 1, 2]}))
    with pytest.raises(InputError, match="not an intensity file"):
        load_reference(tmp_path / "bad.json")


def test_the_bundled_model_segments_a_darker_scanner_s_clip_as_it_does_the_original():
    """With its training clips' grey levels kept, the bundled model sees a clip at a third of the gain
    and with darker mid-tones (darker still than the real cine beside the synthetic clips) as it
    sees the original: their masks agree far better than without the matching. (At half the gain,
    gamma 1.5, the model trained with texture augmentation and stills agreed 0.86 without it.)"""
    matched = Segmenter.load()
    assert matched.intensity is not None, "the bundled model folder keeps intensity.json"
    raw = Segmenter(matched.model, matched.locator, matched.config, matched.threshold, net=matched.net,
                    locator_net=matched.locator_net)
    record, labels = make_test_record(np.random.default_rng(21), scale=0.4)
    bright = Clip("bright", record["video"], frames=labels["frames"])
    darker = np.clip(255 * 0.35 * (record["video"] / 255.0) ** 2.0, 0, 255).round().astype(np.uint8)
    dark = Clip("dark", darker, frames=labels["frames"])

    def agreement(segmenter):
        a, b = segmenter.segment(bright).mask, segmenter.segment(dark).mask
        return np.mean([frame_iou(a[:, :, t], b[:, :, t]) for t in labels["frames"]])

    with_matching, without = agreement(matched), agreement(raw)
    assert with_matching > 0.8 and with_matching > without + 0.1, (with_matching, without)
