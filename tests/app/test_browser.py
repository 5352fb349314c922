"""The whole flow in a real browser: upload a DICOM cine, segment it, watch, download the overlay;
correct a frame in the mask editor and save it as a label; two sessions segmenting the same sample
at the same moment.

Starts `streamlit run app.py` on a free localhost port (throw-away workspace) and drives Debian's
Chromium headless with Playwright; uses the bundled model.
"""

import os
import time

import cv2
import pytest
from playwright.sync_api import expect, sync_playwright
from pydicom.data import get_testdata_file

from conftest import SAMPLES
from mvcore.bench import load
from mvcore.bench.appserver import CHROMIUM, CHROMIUM_ARGS, running_app
from mvcore.bench.click import paint_stroke
from mvcore.data import load_inputs, read_video
from mvcore.predict import Segmenter


@pytest.fixture
def server(tmp_path, bundled_model):
    with running_app(tmp_path / "workspace", tmp_path / "server.log") as url:
        yield url


@pytest.mark.long
def test_upload_dicom_segment_watch_and_download(server, tmp_path):
    dicom = get_testdata_file("color3d_jpeg_baseline.dcm")
    assert chromium_exists(), f"{CHROMIUM} is missing (make chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            page.goto(f"{server}/Segment_a_clip")
            page.get_by_text("Upload", exact=True).click()
            page.locator('input[type="file"]').set_input_files(dicom)
            expect(page.get_by_text("120 frames, 480 x 640 pixels")).to_be_visible(timeout=60_000)

            segment = page.get_by_role("button", name="Segment", exact=True)
            expect(segment).to_be_enabled(timeout=60_000)  # the model loads when the page opens
            started = time.time()
            segment.click()
            expect(page.locator("video")).to_be_visible(timeout=60_000)
            seconds = time.time() - started
            print(f"\nclick to overlay video: {seconds:.1f} s (120 frames, 480 x 640 DICOM)")
            # generous: the target is 10 s alone, and the test runs beside another pytest worker
            assert seconds < 30, f"click to overlay took {seconds:.1f} s"
            expect(page.locator('[data-testid="stPlotlyChart"]').first).to_be_visible(timeout=30_000)

            with page.expect_download(timeout=30_000) as download:
                page.get_by_role("button", name="Overlay MP4").click()
            saved = tmp_path / "overlay.mp4"
            download.value.save_as(saved)
        finally:
            browser.close()
    overlay = read_video(saved)
    assert overlay.n_frames == 120
    assert overlay.fps == pytest.approx(30.0, abs=0.5)  # FrameTime 33.333 ms


@pytest.mark.long
def test_two_sessions_segmenting_the_same_sample_at_once_both_get_its_overlay(server):
    """The same clip, so the same cached result files written by both at once (mvcore bench load, 2 sessions)."""
    assert chromium_exists(), f"{CHROMIUM} is missing (make chromium)"
    areas = load.reference_areas([load.first_sample()])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            seconds = load.sessions_at_once(browser, server, [None, None], areas)
        finally:
            browser.close()
    print(f"\ntwo sessions at once, click to overlay: {seconds[0]:.1f} s and {seconds[1]:.1f} s")
    assert max(seconds) < 120, seconds  # generous: alone it takes seconds; the suite runs two workers beside it


def chromium_exists() -> bool:
    return os.access(CHROMIUM, os.X_OK)


@pytest.mark.long
def test_paint_a_stroke_in_the_editor_and_save_it_as_a_label(server, tmp_path):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{server}/Segment_a_clip")
            segment = page.get_by_role("button", name="Segment", exact=True)
            expect(segment).to_be_enabled(timeout=60_000)
            segment.click()
            page.get_by_role("button", name="Correct this frame").click(timeout=60_000)
            canvas = page.locator("canvas").last
            expect(page.get_by_title("Undo")).to_be_visible(timeout=30_000)  # the editor's toolbar: mounted
            preview = page.get_by_text("The label to save")
            expect(preview).to_be_visible(timeout=30_000)
            unpainted = preview.inner_text()
            paint_stroke(page, canvas)
            expect(preview).not_to_have_text(unpainted, timeout=20_000)  # the stroke reached the server
            page.get_by_role("button", name="Save as label").click()
            expect(page.get_by_text("Corrected frames (1)")).to_be_visible(timeout=30_000)
            expect(page.get_by_text("frame 0", exact=True)).to_be_visible()
        finally:
            browser.close()
    [saved] = (tmp_path / "workspace" / "corrections").glob("*/frame_0000.png")
    clip = load_inputs([SAMPLES / "echo_amateur.mp4"])[0]
    predicted = Segmenter.load().segment(clip).mask[:, :, 0]
    label = cv2.imread(str(saved), cv2.IMREAD_GRAYSCALE) > 127
    assert label.shape == predicted.shape and (label & ~predicted).sum() > 50  # the painted stroke
