"""mvcore.corrections: strokes onto masks, the labelled clip of corrected frames, its train.pkl, and
a fine-tuning on it that moves the model towards the corrections."""

import numpy as np
import pytest

from mvcore.bench.real import real_clips
from mvcore.cli import main
from mvcore.clip import Clip
from mvcore.config import PredictConfig
from mvcore.corrections import (ADD_COLOUR, ERASE_COLOUR, FINE_TUNE_LR, View, apply_strokes, corrected_clip,
                                write_train_pickle)
from mvcore.data import load_aml
from mvcore.metrics import frame_iou
from mvcore.predict import Segmenter


def stroke(colour: str, points, width: float) -> dict:
    """A Fabric.js freedraw path object through `points` (x, y) in canvas pixels."""
    path = [["M", *points[0]]] + [["Q", *points[i - 1], *points[i]] for i in range(1, len(points) - 1)]
    return {"type": "Path", "stroke": colour, "strokeWidth": width, "path": path + [["L", *points[-1]]]}


FULL = np.ones((40, 60), bool)
EMPTY = np.zeros((40, 60), bool)
WHOLE = View(0, 0, 40, 1.0)
ZOOMED = View(10, 20, 20, 4.0)  # frame rows 10-30, cols 20-40 at 4 screen pixels per frame pixel


@pytest.mark.parametrize("start, strokes, view, on, off", [
    # a horizontal paint stroke 3 px wide along row 10 from column 5 to 30
    (EMPTY, [stroke(ADD_COLOUR, [(5, 10), (15, 10), (30, 10)], 3)], WHOLE, [(10, 5), (11, 20), (9, 30)],
     [(13, 20), (10, 35), (0, 0)]),
    # erasing from a full mask
    (FULL, [stroke(ERASE_COLOUR, [(5, 10), (30, 10)], 3)], WHOLE, [(13, 20), (30, 50)], [(10, 5), (10, 20)]),
    # paint then erase part of it: the order counts
    (EMPTY, [stroke(ADD_COLOUR, [(5, 10), (30, 10)], 3), stroke(ERASE_COLOUR, [(20, 0), (20, 39)], 5)], WHOLE,
     [(10, 10), (10, 28)], [(10, 20)]),
    # on the zoomed view, canvas (40, 20) is frame (col 20 + 40 / 4, row 10 + 20 / 4) = (30, 15)
    (EMPTY, [stroke(ADD_COLOUR, [(40, 20), (41, 20)], 4)], ZOOMED, [(15, 30)], [(15, 25), (10, 30)]),
    # other colours and shapes are not corrections
    (EMPTY, [stroke("#000000", [(5, 10), (30, 10)], 3), {"type": "Rect", "stroke": ADD_COLOUR}], WHOLE, [],
     [(10, 5), (10, 20)]),
])
def test_strokes_paint_and_erase_in_frame_pixels(start, strokes, view, on, off):
    mask = apply_strokes(start, strokes, view)
    assert mask.shape == start.shape and mask.dtype == bool
    assert all(mask[r, c] for r, c in on) and not any(mask[r, c] for r, c in off)
    assert not np.shares_memory(mask, start)


@pytest.mark.parametrize("mask_box, canvas, expected", [
    ((90, 140, 110, 160), 480, View(52, 102, 96, 5.0)),  # a small valve: at least 96 px around it
    ((0, 0, 60, 10), 240, View(0, 0, 120, 2.0)),         # 2 x the valve's longer side, moved inside the frame
    ((0, 0, 200, 300), 400, View(0, 50, 200, 2.0)),      # no more than the frame's shorter side
    (None, 400, View(0, 50, 200, 2.0)),                  # no valve: the frame's centre square
])
def test_view_frames_the_valve_inside_the_frame(mask_box, canvas, expected):
    mask = np.zeros((200, 300), bool)
    if mask_box:
        top, left, bottom, right = mask_box
        mask[top:bottom, left:right] = True
    view = View.around(mask, canvas)
    assert view == expected
    assert view.cut(np.zeros((200, 300, 3), np.uint8)).shape == (canvas, canvas, 3)


def test_corrected_frames_make_an_aml_train_record(tmp_path):
    video = np.random.default_rng(0).integers(0, 255, (50, 70, 9), dtype=np.uint8)
    masks = {2: np.zeros((50, 70), bool), 6: np.zeros((50, 70), bool)}
    masks[2][10:20, 30:35] = True
    masks[6][25:28, 12:50] = True
    path = write_train_pickle([corrected_clip(Clip("my clip", video, fps=30.0), masks)], tmp_path / "train.pkl")
    [clip] = load_aml(path)
    assert (clip.name, clip.frames, clip.dataset, clip.fps) == ("my clip", [2, 6], "expert", 30.0)
    assert np.array_equal(clip.video, video)
    assert all(np.array_equal(clip.label[:, :, t], masks[t]) for t in masks)
    assert not clip.label[:, :, [0, 1, 3, 4, 5, 7, 8]].any()
    rows, cols = np.flatnonzero(clip.box.any(axis=1)), np.flatnonzero(clip.box.any(axis=0))
    assert (rows[0], rows[-1], cols[0], cols[-1]) == (10, 27, 12, 49)  # the labels' bounds, no more
    assert list(tmp_path.iterdir()) == [path]  # no partial file left behind


@pytest.mark.long
def test_fine_tuning_on_an_exported_pickle_moves_the_model_towards_the_corrections(bundled_model, tmp_path):
    """3 hand-marked frames of the real cine, where the bundled model is poor (IoU 0.21 with its
    grey-level matching), as corrections: the exported train.pkl loads, a short fine-tuning on it at
    the app's learning rate (half the app's crops) trains, and the IoU on those frames rises (to 0.28
    on the development machine)."""
    real = real_clips()[0]
    chosen = [56, 72, 88]
    path = write_train_pickle([corrected_clip(real, {t: real.label[:, :, t] for t in chosen})], tmp_path / "train.pkl")
    [loaded] = load_aml(path)
    assert loaded.frames == chosen and np.array_equal(loaded.label, real.label * np.isin(range(120), chosen))

    def iou(model_dir) -> float:
        segmenter = Segmenter.load(model_dir, PredictConfig(runtime="keras"))  # no ONNX copy to export
        masks = segmenter.probabilities_at(real, chosen) > segmenter.threshold
        return float(np.mean([frame_iou(real.label[:, :, t], masks[:, :, i]) for i, t in enumerate(chosen)]))

    assert main(["train", str(path), "--init", str(bundled_model), "--out", str(tmp_path / "tuned"), "--fast",
                 "--epochs-stage2", "8", "--lr-stage2", str(FINE_TUNE_LR)]) == 0
    before, after = iou(bundled_model), iou(tmp_path / "tuned")
    assert after > before + 0.05, (before, after)
