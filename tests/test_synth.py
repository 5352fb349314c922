"""Tests for mvcore.synth: record layout, label and box geometry, determinism, the pickle files."""

import gzip
import pickle
import re

import numpy as np
import pytest

from mvcore import synth

SCALE = 0.25


@pytest.fixture(scope="module")
def records():
    """Three amateur and three expert train records (expert at SCALE)."""
    return {kind: [synth.make_train_record(np.random.default_rng(seed), kind, SCALE) for seed in range(3)]
            for kind in ("amateur", "expert")}


def _label_frames(label):
    return [int(t) for t in np.flatnonzero(label.any(axis=(0, 1)))]


LAYOUT = [  # kind, rows, cols, frames
    ("amateur", (112, 112), (112, 112), (109, 334)),
    ("expert", (round(579 * SCALE), round(732 * SCALE)), (round(600 * SCALE), round(1007 * SCALE)), (39, 159)),
]


@pytest.mark.parametrize("kind, rows, cols, n_frames", LAYOUT)
def test_record_layout(records, kind, rows, cols, n_frames):
    for rec in records[kind]:
        assert set(rec) == {"name", "video", "box", "label", "frames", "dataset", "fps"}
        assert re.fullmatch(r"[A-Z0-9]{10}", rec["name"])
        assert rec["dataset"] == kind and type(rec["fps"]) is float and 25 <= rec["fps"] <= 60
        h, w, t = rec["video"].shape
        assert rec["video"].dtype == np.uint8 and rec["label"].dtype == bool and rec["box"].dtype == bool
        assert rec["label"].shape == (h, w, t) and rec["box"].shape == (h, w)
        assert rows[0] <= h <= rows[1] and cols[0] <= w <= cols[1] and n_frames[0] <= t <= n_frames[1]
        assert all(type(f) is int for f in rec["frames"]) and rec["frames"] == sorted(set(rec["frames"]))
        assert len(rec["frames"]) == 3 and 0 <= rec["frames"][0] and rec["frames"][-1] < t


@pytest.mark.parametrize("kind, area", [("amateur", (50, 220)), ("expert", (20, 4000))])
def test_labels_only_on_annotated_frames(records, kind, area):
    for rec in records[kind]:
        assert _label_frames(rec["label"]) == rec["frames"]
        for f in rec["frames"]:
            assert area[0] <= rec["label"][:, :, f].sum() <= area[1]


@pytest.mark.parametrize("kind, inside, box_rows, box_cols", [
    ("amateur", 0.8, (20, 45), (30, 60)),
    ("expert", 0.99, (8, 200), (8, 260)),
])
def test_box_is_a_rectangle_around_the_label(records, kind, inside, box_rows, box_cols):
    for rec in records[kind]:
        r, c = np.nonzero(rec["box"])
        assert rec["box"].sum() == (np.ptp(r) + 1) * (np.ptp(c) + 1)
        assert box_rows[0] <= np.ptp(r) + 1 <= box_rows[1] and box_cols[0] <= np.ptp(c) + 1 <= box_cols[1]
        label = rec["label"].any(axis=2)
        assert (label & rec["box"]).sum() >= inside * label.sum()


@pytest.mark.parametrize("kind", ["amateur", "expert"])
def test_closed_and_open_frames_differ(records, kind):
    for rec in records[kind]:
        masks = [rec["label"][:, :, f] for f in rec["frames"]]
        ious = [(a & b).sum() / (a | b).sum() for i, a in enumerate(masks) for b in masks[i + 1:]]
        assert min(ious) < 0.5


@pytest.mark.parametrize("kind", ["amateur", "expert"])
def test_video_looks_like_a_sector_scan(records, kind):
    for rec in records[kind]:
        video = rec["video"]
        assert video[0, 0].max() == 0 and video[0, -1].max() == 0  # black outside the fan
        assert 10 < video.mean() < 130 and video.max() > 150
        f = rec["frames"][0]
        in_box = rec["box"] & ~rec["label"][:, :, f]
        assert video[:, :, f][rec["label"][:, :, f]].mean() > video[:, :, f][in_box].mean()
        assert np.abs(np.diff(video[:, :, :2].astype(int), axis=2)).mean() > 0.5  # it moves


def test_thickness_of_exact_labels():
    import cv2

    scale = 0.5
    rec = synth.make_train_record(np.random.default_rng(7), "expert", scale)
    for f in rec["frames"]:
        mask = rec["label"][:, :, f].astype(np.uint8)
        thickness = 2 * cv2.distanceTransform(mask, cv2.DIST_L2, 5).max()
        assert 4 * scale - 1 <= thickness <= 15 * scale + 2


def test_same_seed_same_clip_and_other_seed_other_clip():
    a, b, c = (synth.make_train_record(np.random.default_rng(s), "expert", 0.15) for s in (3, 3, 4))
    assert a["name"] == b["name"] and np.array_equal(a["video"], b["video"])
    assert np.array_equal(a["label"], b["label"]) and a["frames"] == b["frames"]
    assert a["name"] != c["name"]


def test_test_record_layout():
    test, label = synth.make_test_record(np.random.default_rng(0), 0.2)
    assert set(test) == {"name", "video", "fps"} and set(label) == {"name", "frames", "label"}
    assert test["name"] == label["name"] and label["label"].shape == test["video"].shape
    assert _label_frames(label["label"]) == label["frames"]


def test_make_train_record_rejects_unknown_dataset():
    with pytest.raises(ValueError):
        synth.make_train_record(np.random.default_rng(0), "novice")


class _AmlUnpickler(pickle.Unpickler):
    """Admits only what the AML files need (numpy 1.x or 2.x spellings)."""

    def find_class(self, module, name):
        allowed = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                   ("numpy._core.multiarray", "_reconstruct"), ("_codecs", "encode")}
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed")
        return super().find_class(module, name)


def test_write_dataset_round_trip(tmp_path):
    args = dict(seed=1, n_train=3, n_test=2, scale=0.15)
    paths = synth.write_dataset(tmp_path, **args)
    assert [p.name for p in paths] == ["train.pkl", "test.pkl", "test_labels.pkl"]
    loaded = []
    for path in paths:
        with gzip.open(path, "rb") as f:
            loaded.append(_AmlUnpickler(f).load())
    expected = synth.synth_dataset(**args)
    assert [len(x) for x in loaded] == [3, 2, 2]
    assert [r["dataset"] for r in loaded[0]] == ["amateur", "amateur", "expert"]
    for got_list, want_list in zip(loaded, expected):
        for got, want in zip(got_list, want_list):
            assert got.keys() == want.keys()
            for key in got:
                assert np.array_equal(got[key], want[key]) if isinstance(got[key], np.ndarray) else got[key] == want[key]
    assert len({r["name"] for r in loaded[0] + loaded[1]}) == 5
