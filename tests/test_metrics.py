"""Tests for mvcore.metrics: the leaderboard score computed by hand on tiny masks."""

import numpy as np
import pytest

from mvcore.errors import InputError
from mvcore.metrics import evaluate, frame_iou, video_iou


def _frame(*pixels, shape=(3, 3)):
    """bool (H, W) with the given (row, col) pixels set."""
    mask = np.zeros(shape, dtype=bool)
    for pixel in pixels:
        mask[pixel] = True
    return mask


def _video(*frames):
    """bool (H, W, T) from bool (H, W) frames."""
    return np.stack(frames, axis=2)


EMPTY = _frame()


@pytest.mark.parametrize(
    "truth, pred, expected",
    [
        (EMPTY, EMPTY, 1.0),  # both empty
        (_frame((0, 0)), EMPTY, 0.0),  # empty prediction, non-empty truth
        (EMPTY, _frame((0, 0)), 0.0),  # prediction where there is nothing
        (_frame((0, 0)), _frame((0, 0)), 1.0),
        (_frame((0, 0), (0, 1)), _frame((0, 1), (0, 2)), 1 / 3),  # I = {(0,1)}, U = 3 pixels
        (_frame((0, 0), (1, 1)), _frame((2, 2)), 0.0),
        (_frame((0, 0), (0, 1), (0, 2), (1, 0)), _frame((0, 0), (0, 1)), 2 / 4),
    ],
)
def test_frame_iou(truth, pred, expected):
    assert frame_iou(truth, pred) == pytest.approx(expected)


@pytest.mark.parametrize(
    "truth, pred, frames, expected",
    [
        # summed over frames, not averaged: frame 0 has I=1, U=1; frame 1 has I=0, U=3 -> 1/4
        (
            _video(_frame((0, 0)), _frame((1, 1), (1, 2))),
            _video(_frame((0, 0)), _frame((2, 2))),
            [0, 1],
            1 / 4,
        ),
        # only annotated frames count: frame 1 (a wrong prediction) is not annotated
        (
            _video(_frame((0, 0)), EMPTY, _frame((2, 2))),
            _video(_frame((0, 0)), _frame((1, 1)), _frame((2, 2))),
            [0, 2],
            1.0,
        ),
        # empty truth and prediction on every annotated frame -> 1
        (_video(EMPTY, EMPTY), _video(EMPTY, _frame((1, 1))), [0], 1.0),
        # empty prediction against a labelled frame -> 0
        (_video(EMPTY, _frame((1, 1))), _video(EMPTY, EMPTY), [0, 1], 0.0),
    ],
)
def test_video_iou(truth, pred, frames, expected):
    assert video_iou(truth, pred, frames) == pytest.approx(expected)


@pytest.mark.parametrize(
    "frames, message", [([], "no annotated frames"), ([2], "outside"), ([-1], "outside")]
)
def test_video_iou_rejects_bad_frames(frames, message):
    with pytest.raises(InputError, match=message):
        video_iou(_video(EMPTY, EMPTY), _video(EMPTY, EMPTY), frames)


def _three_videos():
    """Three 3x3 videos of 2 frames, both annotated.

    AAAAAAAAAA: frame 0 truth {(0,0),(0,1)}, pred {(0,1),(0,2)}: I=1, U=3 -> frame IoU 1/3
                frame 1 truth {(1,1)},       pred {(1,1)}:       I=1, U=1 -> frame IoU 1
                video: I=2, U=4 -> 1/2
    BBBBBBBBBB: frame 0 truth {(0,0)}, pred {}: I=0, U=1 -> 0
                frame 1 truth {},      pred {}: I=0, U=0 -> 1 (both empty)
                video: I=0, U=1 -> 0
    CCCCCCCCCC: frame 0 truth {(2,0),(2,1),(2,2)}, pred {(2,0),(2,1),(2,2)}: I=3, U=3 -> 1
                frame 1 truth {(0,0)}, pred {(0,0),(0,1),(0,2)}: I=1, U=3 -> 1/3
                video: I=4, U=6 -> 2/3
    Per video: 1/2, 0, 2/3 -> median 1/2, mean 7/18.
    Per frame: 1/3, 1, 0, 1, 1, 1/3 -> mean (11/3)/6 = 11/18.
    """
    labels = {
        "AAAAAAAAAA": ([0, 1], _video(_frame((0, 0), (0, 1)), _frame((1, 1)))),
        "BBBBBBBBBB": ([0, 1], _video(_frame((0, 0)), EMPTY)),
        "CCCCCCCCCC": ([0, 1], _video(_frame((2, 0), (2, 1), (2, 2)), _frame((0, 0)))),
    }
    preds = {
        "AAAAAAAAAA": _video(_frame((0, 1), (0, 2)), _frame((1, 1))),
        "BBBBBBBBBB": _video(EMPTY, EMPTY),
        "CCCCCCCCCC": _video(_frame((2, 0), (2, 1), (2, 2)), _frame((0, 0), (0, 1), (0, 2))),
    }
    return preds, labels


def test_evaluate_by_hand():
    preds, labels = _three_videos()
    result = evaluate(preds, labels)
    assert result.per_video == pytest.approx(
        {"AAAAAAAAAA": 1 / 2, "BBBBBBBBBB": 0.0, "CCCCCCCCCC": 2 / 3}
    )
    assert result.score == pytest.approx(1 / 2)
    assert result.mean_video == pytest.approx(7 / 18)
    assert result.mean_frame == pytest.approx(11 / 18)
    assert [(r["name"], r["frame"]) for r in result.per_frame] == [
        (name, t) for name in labels for t in (0, 1)
    ]
    assert [r["iou"] for r in result.per_frame] == pytest.approx([1 / 3, 1, 0, 1, 1, 1 / 3])


def test_evaluate_ignores_predictions_without_labels():
    preds, labels = _three_videos()
    preds["UNLABELLED"] = np.ones((3, 3, 2), dtype=bool)
    assert list(evaluate(preds, labels).per_video) == list(labels)


def test_table_lists_videos_then_summary():
    preds, labels = _three_videos()
    lines = evaluate(preds, labels).table().splitlines()
    assert lines[1].startswith("AAAAAAAAAA") and "0.5000" in lines[1]
    assert lines[2].startswith("BBBBBBBBBB") and "0.0000" in lines[2]
    assert lines[3].startswith("CCCCCCCCCC") and "0.6667" in lines[3]
    assert "0.5000" in lines[-3] and "median" in lines[-3]
    assert f"{7 / 18:.4f}" in lines[-2]
    assert f"{11 / 18:.4f}" in lines[-1] and "6 frames" in lines[-1]


@pytest.mark.parametrize(
    "preds, message",
    [
        ({}, "video AAAAAAAAAA: labelled but has no prediction"),
        (
            {"AAAAAAAAAA": np.zeros((3, 4, 2), dtype=bool)},
            r"video AAAAAAAAAA: prediction shape \(3, 4, 2\) != label shape \(3, 3, 2\)",
        ),
    ],
)
def test_evaluate_rejects_missing_or_misshapen_predictions(preds, message):
    labels = {"AAAAAAAAAA": ([0], _video(EMPTY, EMPTY))}
    with pytest.raises(InputError, match=message):
        evaluate(preds, labels)


def test_evaluate_needs_labels():
    with pytest.raises(InputError, match="no labelled videos"):
        evaluate({}, {})
