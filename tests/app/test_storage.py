"""Tests for mvcore.app.storage: uploads that either land whole or not at all, models, model names."""

import json
from pathlib import Path

import pytest

from conftest import BAD_UPLOADS, small_video_bytes
from mvcore.app import storage, summaries
from mvcore.errors import InputError


@pytest.mark.parametrize("name", ["../../escape.mp4", "/tmp/abs.mp4", "..\\x.mp4", "a/../../b.mp4"])
def test_uploads_stay_inside_the_workspace(ws, name):
    upload = storage.ingest_upload(name, small_video_bytes())
    uploads = (ws / "uploads").resolve()
    assert upload.path.resolve().is_relative_to(uploads)
    assert upload.path.parent.parent == uploads
    assert upload.clips[0].n_frames == 12


def test_upload_is_stored_once_and_read_back(ws):
    data = small_video_bytes()
    first = storage.ingest_upload("clip.mp4", data)
    again = storage.ingest_upload("clip.mp4", data)
    assert first.path == again.path and first.path.read_bytes() == data
    assert [p.name for p in (ws / "uploads").iterdir()] == [first.path.parent.name]


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
def test_bad_upload_is_refused_and_leaves_nothing(ws, case):
    good = storage.ingest_upload("good.mp4", small_video_bytes())
    before = sorted(p.relative_to(ws) for p in ws.rglob("*"))
    name, data = BAD_UPLOADS[case]
    with pytest.raises(InputError) as err:
        storage.ingest_upload(name, data)
    assert "\n" not in str(err.value) and str(err.value)
    assert sorted(p.relative_to(ws) for p in ws.rglob("*")) == before
    assert good.path.read_bytes() == small_video_bytes()
    assert not Path("/tmp/mvcore-pwned").exists()


def test_oversized_upload_and_aml_only(ws):
    with pytest.raises(InputError, match="over the upload limit"):
        storage.ingest_upload("big.mp4", b"x" * 2048, max_bytes=1024)
    with pytest.raises(InputError, match="not an AML pickle"):
        storage.ingest_upload("clip.mp4", small_video_bytes(), aml_only=True)
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
    found = storage.list_models(bundled=bundled)
    assert [(m.name, m.source) for m in found] == [("default", "bundled"), ("mine", "trained here")]
    assert found[1].label == "mine (trained here, validation IoU 0.61)"
    assert summaries.model_rows(found)[1]["validation IoU"] == 0.61
    assert [m.name for m in storage.list_models(bundled=tmp_path / "none")] == ["mine"]


@pytest.mark.parametrize("name, ok", [("good-model_1", True), ("mine", False), ("default", False),
                                      ("../mine", False), ("", False), ("///", False)])
def test_check_model_name(ws, name, ok):
    _fake_model(ws / "models" / "mine", 0.5)
    if ok:
        assert storage.check_model_name(name) == name
    else:
        with pytest.raises(InputError):
            storage.check_model_name(name)


@pytest.mark.parametrize("change", ["intensity.json", "metrics.json", "locator.keras", "model.keras"])
def test_a_model_s_version_changes_with_any_file_that_decides_its_masks(tmp_path, change):
    folder = _fake_model(tmp_path / "m", 0.6)
    model = storage.ModelInfo("m", folder, "trained here")
    before = model.version
    assert model.version == before  # nothing changed, the same key
    target = folder / change
    target.write_text(target.read_text() + " " if target.exists() else "{}")
    assert model.version != before
