"""Tests for mvcore.export: run-length CSV, npz masks, per-frame table."""

import csv

import numpy as np
import pytest

from mvcore.errors import InputError
from mvcore.export import (
    decode_runs,
    encode_runs,
    read_masks_npz,
    read_submission_csv,
    submission_csv_writer,
    write_frame_table,
    write_masks_npz,
)


def _mask(shape, true_at=()):
    mask = np.zeros(shape, dtype=bool)
    for index in true_at:
        mask[index] = True
    return mask


@pytest.mark.parametrize(
    "mask, runs",
    [
        (_mask((2, 2, 2)), []),
        (np.ones((2, 2, 2), dtype=bool), [(0, 8)]),
        # flatten is C order, frame index fastest: (0, 0, 1) -> 1, (0, 1, 0) -> 2, (1, 1, 1) -> 7
        (_mask((2, 2, 2), [(0, 0, 1), (0, 1, 0)]), [(1, 2)]),
        (_mask((2, 2, 2), [(0, 0, 0), (1, 1, 1)]), [(0, 1), (7, 1)]),
        (_mask((1, 3, 3), [(0, 0, 2), (0, 1, 0), (0, 1, 1), (0, 2, 2)]), [(2, 3), (8, 1)]),
    ],
)
def test_encode_runs_by_hand(mask, runs):
    assert encode_runs(mask) == runs
    assert all(type(v) is int for run in runs for v in run)
    np.testing.assert_array_equal(decode_runs(runs, mask.shape), mask)


@pytest.mark.parametrize("seed, density", [(0, 0.0), (1, 0.05), (2, 0.5), (3, 0.95), (4, 1.0)])
def test_runs_round_trip_random(seed, density):
    mask = np.random.default_rng(seed).random((7, 9, 5)) < density
    np.testing.assert_array_equal(decode_runs(encode_runs(mask), mask.shape), mask)


def runs_of_flatten(mask: np.ndarray) -> list[tuple[int, int]]:
    """The runs of True in `mask.flatten()` (C order), found one element at a time: the rule, spelled out."""
    runs, start = [], None
    for i, value in enumerate(mask.flatten().tolist() + [False]):
        if value and start is None:
            start = i
        elif not value and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


@pytest.mark.parametrize("view", ["transposed", "strided", "contiguous"])
def test_encode_runs_follows_numpy_flatten_whatever_the_memory_layout(view):
    mask = np.random.default_rng(5).random((6, 8, 3)) < 0.5
    given = {"transposed": mask.transpose(1, 0, 2), "strided": mask[:, ::2], "contiguous": mask}[view]
    assert [tuple(map(int, run)) for run in encode_runs(given)] == runs_of_flatten(given)


@pytest.mark.parametrize("runs", [[(-1, 2)], [(0, 0)], [(7, 2)], [(0, 9)]])
def test_decode_runs_rejects_runs_outside_the_array(runs):
    with pytest.raises(InputError, match="does not fit"):
        decode_runs(runs, (2, 2, 2))


def write_submission(masks: dict[str, np.ndarray], path) -> None:
    """The leaderboard CSV of name -> mask, written a video at a time as `mvcore predict --csv` writes it."""
    with submission_csv_writer(path) as add:
        for name, mask in masks.items():
            add(name, mask)


def test_submission_csv_text_is_the_course_format(tmp_path):
    masks = {
        "AAAAAAAAAA": _mask((2, 2, 2), [(0, 0, 1), (0, 1, 0), (1, 1, 1)]),
        "BBBBBBBBBB": _mask((2, 2, 2)),
        "CCCCCCCCCC": np.ones((1, 1, 3), dtype=bool),
    }
    path = tmp_path / "submission.csv"
    write_submission(masks, path)
    assert path.read_text().splitlines() == [
        "id,value",
        'AAAAAAAAAA_0,"[1, 2]"',
        'AAAAAAAAAA_1,"[7, 1]"',
        'CCCCCCCCCC_0,"[0, 3]"',
    ]


def test_submission_csv_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    masks = {"VIDEO00001": rng.random((5, 6, 4)) < 0.3, "VIDEO00002": rng.random((3, 8, 2)) < 0.7}
    masks["EMPTY00003"] = np.zeros((4, 4, 3), dtype=bool)
    path = tmp_path / "submission.csv"
    write_submission(masks, path)
    back = read_submission_csv(path, {name: m.shape for name, m in masks.items()})
    assert list(back) == list(masks)
    for name, mask in masks.items():
        np.testing.assert_array_equal(back[name], mask)


def test_a_submission_that_fails_midway_leaves_the_earlier_file_alone(tmp_path):
    path = tmp_path / "submission.csv"
    path.write_text('id,value\nOLD0000001_0,"[0, 1]"\n')
    with pytest.raises(InputError, match="video BROKEN: mask must be 3-D"):
        with submission_csv_writer(path) as add:
            add("GOOD000001", np.ones((2, 2, 2), dtype=bool))
            add("BROKEN", np.ones((2, 2), dtype=bool))
    assert path.read_text() == 'id,value\nOLD0000001_0,"[0, 1]"\n'
    assert [p.name for p in tmp_path.iterdir()] == ["submission.csv"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("name,value\n", "line 1: header"),
        ("", "line 1: header"),
        ('id,value\nVIDEO00001_0,"[0, 2]",x\n', "line 2: expected 2 fields"),
        ('id,value\nVIDEO00001,"[0, 2]"\n', "line 2: id"),
        ('id,value\nVIDEO00001_0,"[0 2]"\n', "line 2: value"),
        ('id,value\nVIDEO00001_0,"[0, 2]"\nOTHER_0,"[0, 1]"\n', "line 3: unknown video 'OTHER'"),
        ('id,value\nVIDEO00001_0,"[7, 2]"\n', "line 2: run \\[7, 2\\] outside"),
        ('id,value\nVIDEO00001_0,"[3, 0]"\n', "line 2: run \\[3, 0\\] outside"),
    ],
)
def test_read_submission_csv_names_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as err:
        read_submission_csv(path, {"VIDEO00001": (2, 2, 2)})
    assert str(path) in str(err.value)


def test_read_submission_csv_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_submission_csv(tmp_path / "nope.csv", {})


def test_masks_npz_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    masks = {"VIDEO00001": rng.random((4, 5, 3)) < 0.5, "VIDEO00002": np.zeros((2, 3, 1), bool)}
    path = tmp_path / "masks.npz"
    write_masks_npz(masks, path)
    back = read_masks_npz(path)
    assert list(back) == list(masks)
    for name, mask in masks.items():
        assert back[name].dtype == bool
        np.testing.assert_array_equal(back[name], mask)


def test_write_masks_npz_keeps_the_exact_path(tmp_path):
    path = tmp_path / "masks.bin"
    write_masks_npz({"A": np.ones((1, 1, 1), bool)}, path)
    assert path.exists() and not (tmp_path / "masks.bin.npz").exists()


def test_read_masks_npz_accepts_zero_one_integers(tmp_path):
    path = tmp_path / "masks.npz"
    np.savez(path, A=np.array([[[0, 1]]], dtype=np.uint8))
    np.testing.assert_array_equal(read_masks_npz(path)["A"], [[[False, True]]])


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((3, 3), dtype=bool), "must be 3-D"),
        (np.full((2, 2, 2), 2, dtype=np.uint8), "only 0 and 1"),
        (np.array([[["a"]]]), "only 0 and 1"),
    ],
)
def test_read_masks_npz_rejects_non_masks(tmp_path, array, message):
    path = tmp_path / "masks.npz"
    np.savez(path, A=array)
    with pytest.raises(InputError, match=message) as err:
        read_masks_npz(path)
    assert str(path) in str(err.value) and "'A'" in str(err.value)


def _write_text(path):
    path.write_text("not a zip")


def _write_single_npy(path):
    with open(path, "wb") as f:
        np.save(f, np.zeros((1, 1, 1), dtype=bool))


def _write_object_array(path):
    np.savez(path, A=np.array([[[{}]]], dtype=object))


@pytest.mark.parametrize(
    "write, message",
    [
        (_write_text, "not an npz"),
        (_write_single_npy, "single .npy"),
        (_write_object_array, "unreadable"),
    ],
)
def test_read_masks_npz_rejects_other_files(tmp_path, write, message):
    path = tmp_path / "masks.npz"
    write(path)
    with pytest.raises(InputError, match=message):
        read_masks_npz(path)


def test_frame_table(tmp_path):
    rows = [
        {"frame": 0, "area_px": 120, "mean_confidence": 0.91234, "iou": 0.5},
        {"frame": 1, "area_px": 0, "mean_confidence": 0.0, "iou": None},
    ]
    path = tmp_path / "frames.csv"
    write_frame_table(rows, path)
    with open(path, newline="") as f:
        assert list(csv.reader(f)) == [
            ["frame", "area_px", "mean_confidence", "iou"],
            ["0", "120", "0.9123", "0.5000"],
            ["1", "0", "0.0000", ""],
        ]
