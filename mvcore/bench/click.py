"""`mvcore bench click`: click-to-overlay time in the real app, in headless Chromium.

Starts `streamlit run app.py` on a free local port with a scratch workspace, uploads a synthetic
100-frame 600 x 800 MP4 on the Segment page, clicks Segment and times until the overlay video has
a decoded frame and the per-frame chart is shown. Prints one line per run.

`open_segment_page` and `overlay_shown` are the steps `mvcore bench load` and the browser tests share.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

from .appserver import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, running_app
from .speed import CLIP_FRAMES, synthetic_clip_file

CLIP_CAPTION = re.compile(r"\d+ frames?, \d+ x \d+ pixels")
OVERLAY_SHOWN = """() => {
    const video = document.querySelector('video');
    return Boolean(video && video.readyState >= 2 && document.querySelector('[data-testid="stPlotlyChart"]'));
}"""


def open_segment_page(page, url: str, clip: Path | None):
    """Open the Segment page at `url` (the app's root), upload `clip` (None: keep the first bundled
    sample) and wait until it is read and the model loaded; returns the Segment button."""
    from playwright.sync_api import expect

    page.goto(f"{url}/Segment_a_clip")
    if clip is not None:
        page.get_by_text("Upload", exact=True).click()
        page.locator('input[type="file"]').set_input_files(str(clip))
    expect(page.get_by_text(CLIP_CAPTION)).to_be_visible(timeout=60_000)
    button = page.get_by_role("button", name="Segment", exact=True)
    expect(button).to_be_enabled(timeout=60_000)  # the model loads when the page opens
    return button


def overlay_shown(page) -> bool:
    """True once the overlay video has a decoded frame and the per-frame chart is shown."""
    return bool(page.evaluate(OVERLAY_SHOWN))


def time_one_click(page, url: str, clip: Path) -> float:
    """Seconds from clicking Segment to a playable overlay video and the chart."""
    button = open_segment_page(page, url, clip)
    started = time.perf_counter()
    button.click()
    page.wait_for_function(OVERLAY_SHOWN, timeout=60_000)
    return time.perf_counter() - started


def click_to_overlay(runs: int, work: Path) -> list[float]:
    """Time `runs` clicks, each in a new page of one browser; returns the seconds."""
    from playwright.sync_api import sync_playwright

    clip = synthetic_clip_file(Path(work), CLIP_FRAMES)
    times = []
    with tempfile.TemporaryDirectory() as scratch, \
            running_app(Path(scratch) / "workspace", Path(scratch) / "server.log") as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for run in range(runs):
            page = browser.new_page(viewport=VIEWPORT)
            times.append(time_one_click(page, url, clip))
            print(f"run {run + 1}: click -> overlay playing and chart shown in {times[-1]:.2f} s", flush=True)
            page.close()
        browser.close()
    return times


def click_to_fine_tuned(work: Path) -> float:
    """The real SonoSite cine uploaded and segmented, its frame 0 painted and saved as a label; seconds
    from clicking "Fine-tune on my corrections" to the clip shown before and after with its IoU table."""
    from playwright.sync_api import expect, sync_playwright
    from pydicom.data import get_testdata_file

    with tempfile.TemporaryDirectory() as scratch, \
            running_app(Path(scratch) / "workspace", Path(scratch) / "server.log") as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{url}/Segment_a_clip")
        page.get_by_text("Upload", exact=True).click()
        page.locator('input[type="file"]').set_input_files(get_testdata_file("color3d_jpeg_baseline.dcm"))
        expect(page.get_by_role("button", name="Segment", exact=True)).to_be_enabled(timeout=120_000)
        page.get_by_role("button", name="Segment", exact=True).click()
        page.get_by_role("button", name="Correct this frame").click(timeout=120_000)
        expect(page.get_by_title("Undo")).to_be_visible(timeout=60_000)
        preview = page.get_by_text("The label to save")
        unpainted = preview.inner_text()
        paint_stroke(page, page.locator("canvas").last)
        expect(preview).not_to_have_text(unpainted, timeout=60_000)
        page.get_by_role("button", name="Save as label").click()
        tune = page.get_by_role("button", name="Fine-tune on my corrections")
        expect(tune).to_be_visible(timeout=60_000)
        started = time.perf_counter()
        tune.click()
        expect(page.locator('[data-testid="stDataFrame"]').last).to_be_visible(timeout=900_000)
        expect(page.locator("video")).to_have_count(2, timeout=120_000)  # the page's and the before/after one
        seconds = time.perf_counter() - started
        browser.close()
    print(f"click 'Fine-tune on my corrections' -> the clip before and after, with IoU: {seconds:.0f} s", flush=True)
    return seconds


def paint_stroke(page, canvas) -> None:
    """A short diagonal stroke on `canvas` (scrolled into view first: the mouse draws only on screen)."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 40, box["y"] + 40)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + 40 + 20 * step, box["y"] + 40 + 15 * step)
    page.mouse.up()
