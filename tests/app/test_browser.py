"""The whole flow in a real browser: upload a DICOM cine, segment it, watch, download the overlay;
correct a frame in the mask editor and save it as a label; two sessions segmenting the same sample
at the same moment.

Starts `streamlit run app.py` once on a free localhost port (throw-away workspace) and drives
Debian's Chromium headless with Playwright, a new browser session per test; uses the bundled model.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import pytest
from playwright.sync_api import Browser, expect, sync_playwright
from pydicom.data import get_testdata_file

from conftest import SAMPLES
from mvcore.bench import load
from mvcore.bench.appserver import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, running_app
from mvcore.bench.click import paint_stroke
from mvcore.data import load_inputs, read_video
from mvcore.predict import Segmenter


@dataclass
class BrowserApp:
    url: str             # the app's server
    browser: Browser     # headless Chromium; each test opens its own pages
    workspace: Path      # the server's MVCORE_WORKSPACE


@pytest.fixture(scope="module")
def browser_app(tmp_path_factory, bundled_model):
    """One app server (throw-away workspace) and one Chromium for this module's tests: starting each
    costs seconds of a worker's CPU, and every test works in its own browser session."""
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing (make chromium)"
    folder = tmp_path_factory.mktemp("browser")
    with running_app(folder / "workspace", folder / "server.log") as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield BrowserApp(url, browser, folder / "workspace")
        finally:
            browser.close()


@pytest.fixture
def page(browser_app):
    """A new browser session's page on the app's server, closed after the test."""
    context = browser_app.browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.mark.long
def test_upload_dicom_segment_watch_and_download(browser_app, page, tmp_path):
    dicom = get_testdata_file("color3d_jpeg_baseline.dcm")
    page.goto(f"{browser_app.url}/Segment_a_clip")
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
    overlay = read_video(saved)
    assert overlay.n_frames == 120
    assert overlay.fps == pytest.approx(30.0, abs=0.5)  # FrameTime 33.333 ms


@pytest.mark.long
def test_two_sessions_segmenting_the_same_sample_at_once_both_get_its_overlay(browser_app):
    """The same clip, so the same cached result files written by both at once (mvcore bench load, 2 sessions)."""
    areas = load.reference_areas([load.first_sample()])
    seconds = load.sessions_at_once(browser_app.browser, browser_app.url, [None, None], areas)
    print(f"\ntwo sessions at once, click to overlay: {seconds[0]:.1f} s and {seconds[1]:.1f} s")
    assert max(seconds) < 120, seconds  # generous: alone it takes seconds; the suite runs two workers beside it


@pytest.mark.long
def test_paint_a_stroke_in_the_editor_and_save_it_as_a_label(browser_app, page):
    page.goto(f"{browser_app.url}/Segment_a_clip")
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
    [saved] = (browser_app.workspace / "corrections").glob("*/frame_0000.png")
    clip = load_inputs([SAMPLES / "echo_amateur.mp4"])[0]
    predicted = Segmenter.load().segment(clip).mask[:, :, 0]
    label = cv2.imread(str(saved), cv2.IMREAD_GRAYSCALE) > 127
    assert label.shape == predicted.shape and (label & ~predicted).sum() > 50  # the painted stroke
