"""Each page of the web app through streamlit's AppTest: the happy path and bad input.

The pages run in-process against a throw-away workspace (MVCORE_WORKSPACE) and the bundled model.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from conftest import BAD_UPLOADS, REPO, SAMPLES, small_video_bytes, wait_for
from mvcore.app import jobs
from mvcore.data import load_aml
from mvcore.export import read_submission_csv

TIMEOUT_S = 120  # the first run imports TensorFlow and loads the model
PAGES = {"segment": "1_Segment_a_clip", "data": "2_Data", "train": "3_Train", "evaluate": "4_Evaluate"}


def open_page(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT_S)
    if page:
        at.switch_page(f"pages/{PAGES[page]}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def button(at: AppTest, label: str):
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r} among {[b.label for b in at.button]}"
    return matches[0]


def errors(at: AppTest) -> str:
    return " | ".join(e.value for e in at.error)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def upload(at: AppTest, key: str, name: str, data: bytes) -> AppTest:
    at.radio(key=f"{key}_source").set_value("Upload").run()
    at.file_uploader(key=f"{key}_upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, at.exception
    return at


def test_home_one_click_segments_a_labelled_sample(ws, bundled_model):
    at = open_page()
    assert at.title[0].value == "Mitral valve segmentation"
    button(at, "Segment a sample clip").click().run()
    assert not at.exception and not at.error, errors(at)
    assert at.title[0].value == "Segment a clip"
    assert len(at.get("video")) == 1 and len(at.get("plotly_chart")) == 2  # per-frame chart, valve timeline
    assert any("labelled" in c.value for c in at.caption)
    assert at.slider(key=next(s.key for s in at.slider)).value > 0  # starts on an annotated frame
    assert not at.warning  # the bundled locator sees the sample's valve


def test_segment_warns_where_the_locator_sees_no_valve(ws, blind_model):
    import shutil

    shutil.copytree(blind_model, ws / "models" / "blind")
    at = open_page("segment")
    model = at.selectbox(key="seg_model")
    model.set_value(next(o for o in model.options if o.startswith("blind"))).run()
    button(at, "Segment").click().run()
    assert not at.exception and not at.error, errors(at)
    assert len(at.get("video")) == 1
    assert [w.value for w in at.warning if w.value.startswith("The locator did not see a valve")], at.warning

    at.radio(key="seg_source").set_value("Sample").run()
    at.selectbox(key="seg_sample").set_value("test_small.pkl").run()
    button(at, "Segment").click().run()
    button(at, "Segment all 2 clips").click().run()
    assert not at.exception and not at.error, errors(at)
    names = ", ".join(c.name for c in load_aml(SAMPLES / "test_small.pkl"))
    assert f"The locator did not see a valve in 2 of the 2 clips ({names})" in [w.value for w in at.warning][-1]


def test_segment_upload_style_downloads_and_submission(ws, bundled_model):
    at = upload(open_page("segment"), "seg", "my clip.mp4", small_video_bytes())
    assert not at.error, errors(at)
    button(at, "Segment").click().run()
    assert not at.error, errors(at)
    assert [d.label for d in at.get("download_button")] == ["Measurements per frame CSV", "Cycles CSV", "Summary JSON",
                                                            "Overlay MP4", "Overlay GIF", "Masks .npz", "Per-frame CSV"]
    caption = next(c.value for c in at.caption if c.value.startswith("Segmented"))
    at.radio(key="seg_style").set_value("contour").run()  # new overlay, same segmentation
    assert next(c.value for c in at.caption if c.value.startswith("Segmented")) == caption
    assert sorted((p.parent.name, p.name) for p in (ws / "results").rglob("*.mp4")) == [("contour", "my_clip.mp4"),
                                                                                     ("fill", "my_clip.mp4")]
    assert [p.parent.name for p in (ws / "uploads").rglob("*.mp4")] and not at.exception

    at.radio(key="seg_source").set_value("Sample").run()
    at.selectbox(key="seg_sample").set_value("test_small.pkl").run()
    button(at, "Segment").click().run()
    button(at, "Segment all 2 clips").click().run()
    assert not at.error, errors(at)
    assert "Submission CSV" in [d.label for d in at.get("download_button")]
    assert not [w for w in at.warning if "did not see a valve" in w.value]
    submission = ws / "submission.csv"
    submission.write_bytes(at.session_state["seg_submission"][1])
    clips = load_aml(SAMPLES / "test_small.pkl")
    masks = read_submission_csv(submission, {c.name: c.video.shape for c in clips})
    assert all(masks[c.name].any() for c in clips)


def _npy_bytes(shape) -> bytes:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, (np.arange(np.prod(shape)) % 251).astype(np.uint8).reshape(shape))
    return buffer.getvalue()


@pytest.mark.parametrize("name, data, axis, caption", [
    ("frames_first.npy", _npy_bytes((5, 40, 50)), "THW", "5 frames, 40 x 50 pixels"),
    ("frames_last.npy", _npy_bytes((40, 50, 5)), None, "5 frames, 40 x 50 pixels"),
    ("single.dcm", None, None, "1 frame, 128 x 128 pixels"),
], ids=["npy THW", "npy HWT", "single-frame DICOM"])
def test_segment_other_inputs(ws, bundled_model, name, data, axis, caption):
    from pydicom.data import get_testdata_file

    data = data or Path(get_testdata_file("CT_small.dcm")).read_bytes()
    at = upload(open_page("segment"), "seg", name, data)
    if axis:
        at.radio(key="seg_axis").set_value(axis).run()
    assert not at.error, errors(at)
    assert any(caption in c.value for c in at.caption), [c.value for c in at.caption]
    button(at, "Segment").click().run()
    assert not at.exception and not at.error and len(at.get("video")) == 1


def test_segment_measures_the_real_cine_in_mm_then_in_pixels(ws, bundled_model):
    from pydicom import examples

    # the real cine's first second at half size (30 frames of 240 x 320), with the cine's calibration
    cine = Path(examples.get_path("ybr_color")).read_bytes()
    at = upload(open_page("segment"), "seg", "cine.dcm", cine)
    button(at, "Segment").click().run()
    assert not at.exception and not at.error, errors(at)
    size = at.number_input(key="seg_mm_cine")
    assert size.value == pytest.approx(0.5105, abs=1e-4)  # the DICOM file's 0.051 cm per pixel
    card = metrics(at)
    assert list(card) == ["Heart rate", "Cycles", "Mean open duration", "Max opening"]
    assert card["Max opening"].endswith(" mm") and any("from the DICOM file" in c.value for c in at.caption)
    timeline = at.get("plotly_chart")[-1].proto.spec
    assert "opening (mm)" in timeline and "annulus (mm)" in timeline
    size.set_value(0.0).run()
    assert not at.exception and metrics(at)["Max opening"].endswith(" px")
    assert "opening (px)" in at.get("plotly_chart")[-1].proto.spec


def test_segment_refuses_bad_uploads_and_keeps_working(ws, bundled_model):
    at = upload(open_page("segment"), "seg", "good.mp4", small_video_bytes())
    stored = sorted((ws / "uploads").rglob("*"))
    for name, data in BAD_UPLOADS.values():
        at.file_uploader(key="seg_upload").set_value((name, data, "application/octet-stream")).run()
        assert not at.exception, at.exception
        assert "Upload refused" in errors(at) and name in errors(at)
        assert not [b for b in at.button if b.label == "Segment" and not b.disabled]
    previous = st_config.get_option("server.maxUploadSize")
    st_config.set_option("server.maxUploadSize", 1)
    try:
        at.file_uploader(key="seg_upload").set_value(("big.mp4", b"\x00" * (2 * 2**20), "video/mp4")).run()
        assert "over the upload limit" in errors(at)
    finally:
        st_config.set_option("server.maxUploadSize", previous)
    assert sorted((ws / "uploads").rglob("*")) == stored
    at.file_uploader(key="seg_upload").set_value(("good.mp4", small_video_bytes(), "video/mp4")).run()
    assert not at.error
    button(at, "Segment").click().run()
    assert len(at.get("video")) == 1 and not at.error


def test_data_page_summarises_a_pickle(ws, train_pickle):
    lengths = [clip.n_frames for clip in load_aml(train_pickle)]   # the sample is regenerated with the generator
    at = open_page("data")
    assert not at.error, errors(at)
    assert metrics(at) == {"Clips": "5", "Amateur": "3", "Expert": "2", "Labelled": "5",
                           "Frames per clip": f"{min(lengths)}-{max(lengths)}"}
    assert len(at.dataframe) == 2 and len(at.get("image")) == 1   # the storage table, the clips


@pytest.mark.parametrize("name, data, message", [
    ("clip.mp4", None, "not an AML pickle"),
    (*BAD_UPLOADS["malicious pickle"], "refuses"),
    (*BAD_UPLOADS["not AML pickle"], "numbers.pkl"),
], ids=["video", "malicious pickle", "pickle of numbers"])
def test_data_page_refuses_what_is_not_an_aml_pickle(ws, name, data, message):
    at = upload(open_page("data"), "data", name, data or small_video_bytes())
    assert "Upload refused" in errors(at) and message in errors(at)
    assert not at.metric


def test_train_page_starts_refuses_second_and_cancels(ws):
    at = open_page("train")
    at.checkbox[0].check()
    at.text_input[0].set_value("from-the-page")
    button(at, "Start training").click().run()
    assert not at.error, errors(at)
    assert metrics(at)["Status"] == "running"
    at.text_input[0].set_value("second")
    button(at, "Start training").click().run()
    assert "already running" in " ".join(w.value for w in at.warning)
    button(at, "Cancel training").click().run()
    assert metrics(at)["Status"] == "cancelled"
    assert jobs.active_job() is None and not (ws / "models" / "from-the-page").exists()


START_IN_ANOTHER_SERVER = """
import sys
from pathlib import Path
from mvcore.app import jobs
print(jobs.start_training([Path(sys.argv[1])], "survivor", jobs.TrainSettings(fast=True, epochs_stage2=40)).id)
"""


@pytest.mark.long
def test_train_page_finds_a_job_started_before_a_server_restart(ws, train_pickle):
    """A server starts a job and goes away; a new server finds it from the workspace, follows and cancels it."""
    started = subprocess.run([sys.executable, "-c", START_IN_ANOTHER_SERVER, str(train_pickle)], check=True,
                             capture_output=True, text=True, env=dict(os.environ, MVCORE_WORKSPACE=str(ws)))
    job = jobs.Job(ws / "jobs" / started.stdout.strip())
    assert job.pid not in jobs._CHILDREN and os.getsid(job.pid) == job.pid  # not ours: the old server's
    wait_for(lambda: job.progress().done_epochs >= 1 or not job.is_alive(), 180, "the job's first epoch")
    at = open_page("train")
    shown = metrics(at)
    assert shown["Status"] == "running", job.error()
    assert at.subheader[0].value == "Job: survivor" and int(shown["Epochs"].split(" / ")[0]) >= 1
    button(at, "Cancel training").click().run()
    assert metrics(at)["Status"] == "cancelled" and not job.is_alive()
    assert not jobs.group_exists(job.pid)  # the whole process group is gone


def test_train_page_refuses_unlabelled_data(ws):
    at = upload(open_page("train"), "train", "test.pkl", (SAMPLES / "test_small.pkl").read_bytes())
    assert "no labelled clips" in errors(at)
    assert button(at, "Start training").disabled


def test_evaluate_page_scores_the_sample(ws, bundled_model):
    at = open_page("evaluate")
    button(at, "Evaluate").click().run()
    assert not at.error, errors(at)
    scores = metrics(at)
    assert set(scores) == {"Score (median IoU over videos)", "Mean IoU over videos", "Mean IoU over 15 frames"}
    assert 0 <= float(scores["Score (median IoU over videos)"]) <= 1
    assert len(at.dataframe) == 1 and len(at.get("plotly_chart")) == 1
    assert len(at.get("image")) == 4  # the worst frames


def test_evaluate_page_refuses_a_corrupt_pickle(ws, bundled_model):
    at = upload(open_page("evaluate"), "eval", "train.pkl", b"\x1f\x8b\x08\x00garbage")
    assert "Upload refused" in errors(at)
    assert button(at, "Evaluate").disabled


def test_data_page_clears_cached_results(ws):
    from mvcore.app.storage import workspace_dir

    (workspace_dir("results") / "old").mkdir()
    (workspace_dir("results") / "old" / "clip.mp4").write_bytes(b"\0" * 3_000_000)
    at = open_page("data")
    button(at, "Clear results").click().run()
    assert not at.error, errors(at)
    assert "3.0 MB freed" in " ".join(s.value for s in at.success)
    assert not any(workspace_dir("results").iterdir())
