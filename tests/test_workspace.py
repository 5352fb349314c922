"""Tests for mvcore.workspace: safe names, uploads that either land whole or not at all, models, samples."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import BAD_UPLOADS, SAMPLES, small_video_bytes
from mvcore import workspace
from mvcore.data import load_aml
from mvcore.errors import InputError


@pytest.mark.parametrize("name, expected", [
    ("clip.mp4", "clip.mp4"),
    ("train.pkl.gz", "train.pkl.gz"),
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\evil.dcm", "evil.dcm"),
    ("/absolute/path/video.avi", "video.avi"),
    ("../", "upload"),
    ("..", "upload"),
    ("", "upload"),
    (".bashrc", "bashrc"),
    ("...pkl", "pkl"),
    ("a..b.npy", "a.b.npy"),
    ("my clip (1).mp4", "my_clip_1_.mp4"),
    ("échographie.dcm", "echographie.dcm"),
    ("心臓.mp4", "mp4"),
    ("nul\x00byte.gif", "nulbyte.gif"),
    ("-rf.mov", "rf.mov"),
    ("x" * 300 + ".pkl.gz", "x" * 93 + ".pkl.gz"),
])
def test_sanitise_name(name, expected):
    safe = workspace.sanitise_name(name)
    assert safe == expected
    assert "/" not in safe and "\\" not in safe and not safe.startswith(".") and len(safe) <= 100


@pytest.mark.parametrize("name", ["../../escape.mp4", "/tmp/abs.mp4", "..\\x.mp4", "a/../../b.mp4"])
def test_uploads_stay_inside_the_workspace(ws, name):
    upload = workspace.ingest_upload(name, small_video_bytes())
    uploads = (ws / "uploads").resolve()
    assert upload.path.resolve().is_relative_to(uploads)
    assert upload.path.parent.parent == uploads
    assert upload.clips[0].n_frames == 12


def test_upload_is_stored_once_and_read_back(ws):
    data = small_video_bytes()
    first = workspace.ingest_upload("clip.mp4", data)
    again = workspace.ingest_upload("clip.mp4", data)
    assert first.path == again.path and first.path.read_bytes() == data
    assert [p.name for p in (ws / "uploads").iterdir()] == [first.path.parent.name]


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
def test_bad_upload_is_refused_and_leaves_nothing(ws, case):
    good = workspace.ingest_upload("good.mp4", small_video_bytes())
    before = sorted(p.relative_to(ws) for p in ws.rglob("*"))
    name, data = BAD_UPLOADS[case]
    with pytest.raises(InputError) as err:
        workspace.ingest_upload(name, data)
    assert "\n" not in str(err.value) and str(err.value)
    assert sorted(p.relative_to(ws) for p in ws.rglob("*")) == before
    assert good.path.read_bytes() == small_video_bytes()
    assert not Path("/tmp/mvcore-pwned").exists()


def test_oversized_upload_and_aml_only(ws):
    with pytest.raises(InputError, match="over the upload limit"):
        workspace.ingest_upload("big.mp4", b"x" * 2048, max_bytes=1024)
    with pytest.raises(InputError, match="not an AML pickle"):
        workspace.ingest_upload("clip.mp4", small_video_bytes(), aml_only=True)
    assert not (ws / "uploads").exists() or not list((ws / "uploads").iterdir())


def _fake_model(folder: Path, val_iou: float) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.keras").write_bytes(b"x")
    (folder / "config.json").write_text("{}")
    (folder / "metrics.json").write_text(json.dumps({"threshold": 0.5, "val_iou": val_iou}))
    return folder


def test_list_models_skips_partial_and_broken_folders(ws, tmp_path):
    models = ws / "models"
    _fake_model(models / "mine", 0.61)
    _fake_model(models / ".mine2.partial-abc", 0.1)
    (models / "empty").mkdir()
    bundled = _fake_model(tmp_path / "bundled", 0.7)
    found = workspace.list_models(bundled=bundled)
    assert [(m.name, m.source) for m in found] == [("default", "bundled"), ("mine", "trained here")]
    assert found[1].label == "mine (trained here, validation IoU 0.61)"
    assert workspace.model_rows(found)[1]["validation IoU"] == 0.61
    assert [m.name for m in workspace.list_models(bundled=tmp_path / "none")] == ["mine"]


@pytest.mark.parametrize("name, ok", [("good-model_1", True), ("mine", False), ("default", False),
                                      ("../mine", False), ("", False), ("///", False)])
def test_check_model_name(ws, name, ok):
    _fake_model(ws / "models" / "mine", 0.5)
    if ok:
        assert workspace.check_model_name(name) == name
    else:
        with pytest.raises(InputError):
            workspace.check_model_name(name)


def test_summary_of_the_bundled_train_pickle(train_pickle):
    clips = load_aml(train_pickle)
    summary = workspace.dataset_summary(clips)
    assert (summary["clips"], summary["amateur"], summary["expert"], summary["labelled"]) == (5, 3, 2, 5)
    rows = workspace.clip_rows(clips)
    assert [r["frames"] for r in rows] == [c.n_frames for c in clips]
    assert set(workspace.labels_of(clips)) == {c.name for c in clips}
    with pytest.raises(InputError):
        workspace.labels_of([c for c in load_aml(SAMPLES / "test_small.pkl")])


def test_make_samples_regenerates_the_bundled_ones(tmp_path):
    written = workspace.make_samples(tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in workspace.list_samples(SAMPLES))
    assert sum(p.stat().st_size for p in written) < 6 * 2**20
    for name in ("train_small.pkl", "test_small.pkl"):
        fresh, bundled = load_aml(tmp_path / name), load_aml(SAMPLES / name)
        assert [c.name for c in fresh] == [c.name for c in bundled]
        for a, b in zip(fresh, bundled):
            assert_same_within_float_noise(a.video, b.video)
            if a.is_labelled:
                assert np.array_equal(a.label, b.label) and a.frames == b.frames and np.array_equal(a.box, b.box)


def assert_same_within_float_noise(fresh: np.ndarray, bundled: np.ndarray) -> None:
    """Frames regenerated on another CPU or library version: floating point may round a grey level
    the other way on a few pixels, so at most 1 level apart on at most 0.01% of them. Bit-identical
    output on one machine is test_synth's `test_same_seed_same_clip_and_other_seed_other_clip`."""
    assert fresh.shape == bundled.shape
    diff = np.abs(fresh.astype(np.int16) - bundled.astype(np.int16))
    assert diff.max() <= 1
    assert np.count_nonzero(diff) <= 1e-4 * diff.size
