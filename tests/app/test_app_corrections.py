"""mvcore.app.corrections and the Segment page's editor (AppTest): corrected frames saved, listed,
reopened, deleted and exported, found again for the same content and by a new session, and a
cancelled fine-tuning."""

import hashlib

import numpy as np
import pytest

from conftest import SAMPLES
from mvcore.app import corrections, jobs, storage
from mvcore.clip import Clip
from mvcore.data import load_aml, load_inputs
from mvcore.errors import InputError
from test_pages import button, errors, open_page

VIDEO = np.random.default_rng(0).integers(0, 255, (40, 50, 8), dtype=np.uint8)


def square(top: int, left: int, side: int = 5) -> np.ndarray:
    mask = np.zeros((40, 50), bool)
    mask[top:top + side, left:left + side] = True
    return mask


def test_corrections_are_saved_listed_replaced_and_deleted(ws):
    clip = Clip("a", VIDEO)
    corrections.save_correction(clip, 5, square(0, 0))
    corrections.save_correction(clip, 2, square(10, 10))
    corrections.save_correction(clip, 5, square(20, 30))  # saving again replaces
    assert corrections.corrected_frames(clip) == [2, 5]
    stored = corrections.load_corrections(clip)
    assert np.array_equal(stored[5], square(20, 30)) and np.array_equal(stored[2], square(10, 10))
    corrections.delete_correction(clip, 2)
    corrections.delete_correction(clip, 7)  # never corrected: nothing happens
    assert corrections.corrected_frames(clip) == [5]
    assert not list((ws / "corrections").rglob("*.partial*"))


@pytest.mark.parametrize("other, same", [
    (Clip("renamed upload.mp4", VIDEO.copy(), fps=25.0, source="elsewhere"), True),  # same pixels: found again
    (Clip("a", VIDEO[:, :, :7].copy()), False),
    (Clip("a", np.where(VIDEO == 0, 1, VIDEO).astype(np.uint8)), False),
])
def test_corrections_are_keyed_by_the_clips_pixels(ws, other, same):
    corrections.save_correction(Clip("a", VIDEO), 3, square(5, 5))
    assert (corrections.corrected_frames(other) == [3]) is same


@pytest.mark.parametrize("mask, t, message", [
    (np.zeros((40, 49), bool), 0, "does not fit"),
    (np.zeros((40, 50), bool), 8, "outside the clip's 8 frames"),
])
def test_a_correction_that_does_not_fit_is_refused(ws, mask, t, message):
    with pytest.raises(InputError, match=message):
        corrections.save_correction(Clip("a", VIDEO), t, mask)
    assert corrections.corrected_frames(Clip("a", VIDEO)) == []


def test_export_writes_the_corrected_frames_as_a_train_pickle(ws):
    clip = Clip("a", VIDEO, fps=25.0)
    with pytest.raises(InputError, match="no corrected frames"):
        corrections.export_train_pickle(clip)
    corrections.save_correction(clip, 6, square(10, 20))
    corrections.save_correction(clip, 1, square(30, 40))
    [record] = load_aml(corrections.export_train_pickle(clip))
    assert (record.frames, record.dataset, record.fps) == ([1, 6], "expert", 25.0)
    assert np.array_equal(record.label[:, :, 6], square(10, 20)) and record.box[10:35, 20:45].all()
    rows = corrections.iou_rows(clip, {"before": np.zeros(VIDEO.shape, bool), "after": record.label})
    assert rows == [{"frame": 1, "IoU before": 0.0, "IoU after": 1.0}, {"frame": 6, "IoU before": 0.0, "IoU after": 1.0}]


def folder_digest(folder) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())).hexdigest()


def test_a_cancelled_fine_tuning_leaves_the_models_as_they_were(ws, bundled_model):
    clip = Clip("a", VIDEO)
    corrections.save_correction(clip, 4, square(10, 10))
    before = folder_digest(bundled_model)
    job = corrections.start_fine_tune(clip, bundled_model, "tuned")
    assert job.info["init"] == str(bundled_model) and "--init" in job.info["command"]
    jobs.cancel(job)
    assert job.status() == "cancelled" and jobs.active_job() is None
    assert folder_digest(bundled_model) == before
    assert [m.name for m in storage.list_models()] == ["default"] and not list((ws / "models").iterdir())


def test_segment_page_saves_lists_exports_reopens_and_deletes_a_correction(ws, bundled_model):
    at = open_page("segment")
    button(at, "Segment").click().run()
    assert not at.error, errors(at)
    at.slider(key="seg_frame_echo_amateur").set_value(3).run()
    button(at, "Correct this frame").click().run()
    assert any("Frame 3" in m.value for m in at.markdown), [m.value for m in at.markdown]
    button(at, "Save as label").click().run()
    assert not at.exception and not at.error, errors(at)
    assert any(m.value == "**Corrected frames** (1)" for m in at.markdown)
    clip = load_inputs([SAMPLES / "echo_amateur.mp4"])[0]
    assert corrections.corrected_frames(clip) == [3]  # the prediction, unchanged, saved as the label

    assert "Download train.pkl" in [d.label for d in at.get("download_button")]
    [record] = load_aml(corrections.export_train_pickle(clip))
    assert record.frames == [3] and record.dataset == "expert"
    assert "Fine-tune on my corrections" in [b.label for b in at.button]

    again = open_page("segment")  # a reload, or a restarted server: a new session on the same workspace
    button(again, "Segment").click().run()
    assert any(m.value == "**Corrected frames** (1)" for m in again.markdown), errors(again)

    button(at, "Reopen").click().run()
    assert any("Frame 3" in m.value and "your saved label" in m.value for m in at.markdown)
    button(at, "Close the editor").click().run()
    button(at, "Delete").click().run()
    assert not at.exception and corrections.corrected_frames(clip) == []
    assert "Download train.pkl" not in [d.label for d in at.get("download_button")]
