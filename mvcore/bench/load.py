"""`mvcore bench load`: several people segmenting at the same moment, each in their own Chromium session.

Starts `streamlit run app.py` on a free local port with a scratch workspace and opens SESSIONS
headless Chromium sessions on the Segment page. First each uploads a different synthetic 40-frame
600 x 800 MP4 and all click Segment at once; then each keeps the first bundled sample (all the same
clip, so the same cached result files) and all click at once again. Every page must show its
overlay video and chart, no error, and the mask area on its first frame that the bundled model gives
that clip outside the app. Prints each session's click-to-overlay seconds.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

from .appserver import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, running_app
from .click import open_segment_page, overlay_shown
from .speed import synthetic_clip_file

LOAD_FRAMES = 40
TIMEOUT_S = 600.0
FRAME_CAPTION = re.compile(r"frame (\d+): area (\d+) px")
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'


def different_clips(work: Path, count: int) -> list[Path]:
    """`count` different synthetic 600 x 800 MP4s of LOAD_FRAMES frames (seeds 11, 12, ...)."""
    return [synthetic_clip_file(Path(work), LOAD_FRAMES, seed=11 + i) for i in range(count)]


def first_sample() -> Path:
    """The bundled sample the Segment page offers first."""
    from ..app.storage import list_samples

    return list_samples()[0]


def reference_areas(clips: list[Path]) -> dict[Path, list[int]]:
    """Mask area (pixels) per frame of each clip, from the bundled model outside the app."""
    from ..data import load_inputs
    from ..predict import Segmenter

    segmenter = Segmenter.load()
    return {path: [int(a) for a in segmenter.segment(load_inputs([path])[0]).area] for path in clips}


def segment_at_once(pages: list, buttons: list, timeout_s: float = TIMEOUT_S) -> list[float]:
    """Click every page's Segment button in turn (a few milliseconds apart), then poll them all;
    returns each page's seconds from its click to its overlay video and chart."""
    clicked = []
    for button in buttons:
        button.click()
        clicked.append(time.perf_counter())
    seconds: list[float | None] = [None] * len(pages)
    while None in seconds:
        if time.perf_counter() - clicked[0] > timeout_s:
            raise AssertionError(f"{seconds.count(None)} of {len(pages)} sessions had no overlay after {timeout_s:.0f} s")
        for i, page in enumerate(pages):
            if seconds[i] is None and overlay_shown(page):
                seconds[i] = time.perf_counter() - clicked[i]
        time.sleep(0.1)
    return seconds


def check_overlay(page, areas: list[int]) -> None:
    """AssertionError unless the page shows no error and the frame viewer's area is the reference's
    (within 1% or 2 pixels: ONNX Runtime's threads may round differently)."""
    errors = page.locator(ERRORS)
    assert errors.count() == 0, f"error on the page: {errors.first.inner_text()}"
    caption = page.get_by_text(FRAME_CAPTION).first.inner_text()
    frame, area = map(int, FRAME_CAPTION.search(caption).groups())
    assert areas[frame] > 0 and abs(area - areas[frame]) <= max(2, 0.01 * areas[frame]), \
        f"frame {frame}: the page shows {area} px, the model gives {areas[frame]} px"


def sessions_at_once(browser, url: str, clips: list[Path | None], areas: dict[Path, list[int]]) -> list[float]:
    """One new browser session per entry of `clips` (None: the first bundled sample), all segmenting
    at the same moment; checks every overlay against `areas` and returns the seconds per session."""
    contexts = [browser.new_context(viewport=VIEWPORT) for _ in clips]
    try:
        pages = [context.new_page() for context in contexts]
        buttons = [open_segment_page(page, url, clip) for page, clip in zip(pages, clips)]
        seconds = segment_at_once(pages, buttons)
        for page, clip in zip(pages, clips):
            check_overlay(page, areas[clip or first_sample()])
        return seconds
    finally:
        for context in contexts:
            context.close()


def load(sessions: int, work: Path) -> dict[str, list[float]]:
    """Time `sessions` sessions on different clips, then on the same sample; prints and returns the seconds."""
    from playwright.sync_api import sync_playwright

    clips = different_clips(work, sessions)
    areas = reference_areas([*clips, first_sample()])
    times = {}
    with tempfile.TemporaryDirectory() as scratch, \
            running_app(Path(scratch) / "workspace", Path(scratch) / "server.log") as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for what, picked in ((f"{sessions} different {LOAD_FRAMES}-frame 600 x 800 MP4s", clips),
                             (f"the same sample ({first_sample().name})", [None] * sessions)):
            times[what] = sessions_at_once(browser, url, picked, areas)
            print(f"{sessions} sessions at once, {what}: click -> overlay "
                  + " / ".join(f"{s:.1f}" for s in sorted(times[what])) + " s", flush=True)
        browser.close()
    return times
