"""The whole flow in a real browser: upload a DICOM cine, segment it, watch, download the overlay.

Starts `streamlit run app.py` on a free localhost port (throw-away workspace) and drives Debian's
Chromium headless with Playwright; uses the bundled model.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from playwright.sync_api import expect, sync_playwright
from pydicom.data import get_testdata_file

from conftest import REPO
from mvcore.video import read_frame_count_and_fps

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        assert process.poll() is None, "the streamlit server exited"
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"streamlit did not answer at {url} within {timeout_s} s")


@pytest.fixture
def server(tmp_path, bundled_model):
    port = free_port()
    env = dict(os.environ, MVCORE_WORKSPACE=str(tmp_path / "workspace"))
    log = open(tmp_path / "server.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


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
            print(f"\nclick to overlay video: {time.time() - started:.1f} s (120 frames, 480 x 640 DICOM)")
            expect(page.locator('[data-testid="stPlotlyChart"]')).to_be_visible(timeout=30_000)

            with page.expect_download(timeout=30_000) as download:
                page.get_by_role("button", name="Overlay MP4").click()
            saved = tmp_path / "overlay.mp4"
            download.value.save_as(saved)
        finally:
            browser.close()
    frames, fps = read_frame_count_and_fps(saved)
    assert frames == 120
    assert fps == pytest.approx(30.0, abs=0.5)  # FrameTime 33.333 ms


def chromium_exists() -> bool:
    return os.access(CHROMIUM, os.X_OK)
