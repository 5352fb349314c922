"""Where is the scan sector? Scanners' frames carry black margins, text, an ECG trace and scales
around the fan, and how much of the frame the fan fills differs from one scanner to the next. The
locator judges the valve's size from what it sees, so it looks at the fan's bounding rectangle
rather than the whole frame: the SonoSite cine's fan fills a third of its frame, and located on the
whole frame its valve's square came out 3.5 to 4.5 times the valve for three trainings of one
recipe, against 2.4 to 2.6 on the fan (BENCHMARKS.md, "Real echo").
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_SHARE = 0.1  # a fan smaller than this share of the frame is not trusted: the whole frame is used
SECTOR_FRAMES = 24  # frames whose spread over time finds the fan when locating


def fan_mask(video: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray | None:
    """bool (H, W): the scan sector of `video` uint8 (H, W, T), as the convex hull of the largest
    region whose grey level changes over `frames` (default every second frame; burned-in text and
    the ECG are static, or apart from it). None where nothing changes (a single frame, a still)."""
    frames = np.arange(0, video.shape[2], 2) if frames is None else frames
    if len(frames) < 2:
        return None
    live = (np.take(video, frames, axis=2).astype(np.float32).std(axis=2) > 0.5).astype(np.uint8)
    live = cv2.morphologyEx(live, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    count, parts, stats, _ = cv2.connectedComponentsWithStats(live)
    if count < 2:
        return None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    hull = cv2.convexHull(np.argwhere(parts == biggest)[:, ::-1].astype(np.int32))
    return cv2.fillConvexPoly(np.zeros(live.shape, np.uint8), hull, 1) > 0


def sector_bounds(video: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) px, exclusive ends, of the scan sector's bounding rectangle in
    `video` uint8 (H, W, T): its fan over up to SECTOR_FRAMES frames, or the whole frame where no fan
    of at least MIN_SHARE of it is found."""
    from .locate import evenly_spaced  # here: locate uses this module

    h, w = video.shape[:2]
    fan = fan_mask(video, evenly_spaced(video.shape[2], SECTOR_FRAMES))
    if fan is None or fan.mean() < MIN_SHARE:
        return 0, 0, h, w
    rows, cols = np.flatnonzero(fan.any(axis=1)), np.flatnonzero(fan.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1
