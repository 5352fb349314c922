"""Click-to-overlay time in the real app (issue: at most 10 s for a 100-frame 600 x 800 clip).

Starts `streamlit run app.py` on a free local port with a scratch workspace, uploads a synthetic
100-frame 600 x 800 MP4 on the Segment page in headless Chromium, clicks Segment and times until
the overlay video has a decoded frame and the per-frame chart is shown. Prints the figures.

    .venv/bin/python benchmarks/click_to_overlay.py [--runs 3] [--screenshot shot.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]
from appserver import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402
from mvcore.speedbench import CLIP_FRAMES, test_clip_file  # noqa: E402


def time_one_click(page, url: str, clip: Path) -> float:
    """Seconds from clicking Segment to a playable overlay video and the chart."""
    page.goto(url)
    page.get_by_text("Upload", exact=True).click()
    page.locator('input[type="file"]').set_input_files(str(clip))
    expect(page.get_by_text(f"{CLIP_FRAMES} frames")).to_be_visible(timeout=60_000)
    button = page.get_by_role("button", name="Segment", exact=True)
    expect(button).to_be_enabled(timeout=60_000)
    started = time.perf_counter()
    button.click()
    page.wait_for_function("() => { const v = document.querySelector('video'); return v && v.readyState >= 2; }",
                           timeout=60_000)
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_be_visible(timeout=60_000)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        clip = test_clip_file(Path(scratch), CLIP_FRAMES)
        with running_app(Path(scratch) / "workspace", Path(scratch) / "server.log") as url, \
                sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for run in range(args.runs):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                seconds = time_one_click(page, f"{url}/Segment_a_clip", clip)
                print(f"run {run + 1}: click -> overlay playing and chart shown in {seconds:.2f} s", flush=True)
                if args.screenshot and run == args.runs - 1:
                    page.screenshot(path=str(args.screenshot), full_page=True)
                page.close()
            browser.close()


if __name__ == "__main__":
    main()
