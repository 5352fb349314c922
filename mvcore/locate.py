"""Where is the valve? A small network looks at the frames and the clip's motion and marks the box.

The valve moves more than anything else in the picture, so the locator sees each frame beside the
clip's per-pixel standard deviation over time, both cut to the scan sector (mvcore.sector). At
test time no box is given: the locator's heatmaps of a few frames are averaged, each read with the
motion map and without it (`read_heatmap`), and the box is the bounding rectangle of the largest
blob; where the heatmap shows nothing, the box is where the training boxes lay in their sectors
(`box_prior`, kept in the model's metrics.json), and the result says so (`Location`), for the user
to check that clip's overlay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .sector import sector_bounds
from .transforms import Letterbox, Roi, box_bounds, letterbox

MOTION_FRAMES = 48  # frames sampled to estimate the motion map
HEATMAP_FRAMES = 8  # frames whose heatmaps are averaged at prediction time
SEEN_PEAK = 0.1     # a heatmap peaking lower has found no valve: the training boxes' place is used instead


def evenly_spaced(n_frames: int, count: int) -> np.ndarray:
    """At most `count` frame indices spread over a clip of `n_frames`, int (k,)."""
    return np.unique(np.linspace(0, n_frames - 1, min(count, n_frames)).round().astype(int))


def locator_inputs(video: np.ndarray, size: int, frames: np.ndarray,
                   table: np.ndarray | None = None) -> tuple[np.ndarray, Letterbox]:
    """Network inputs for `frames` of a clip: float32 (len(frames), size, size, 2) in [0, 1].

    Channel 0 is the letterboxed frame, channel 1 its clip's motion map (temporal standard
    deviation, scaled to [0, 1]). `video`: uint8 (H, W, T); `table`: uint8 (256,) grey-level
    lookup applied to the letterboxed frames (mvcore.intensity), or None.
    """
    sample = evenly_spaced(video.shape[2], MOTION_FRAMES)
    needed = np.union1d(sample, frames)
    small, box = letterbox(np.take(video, needed, axis=2), size)  # np.take: 7 times faster than video[:, :, needed]
    if table is not None:
        small = table[small]
    order = {int(t): i for i, t in enumerate(needed)}
    motion = small[:, :, [order[int(t)] for t in sample]].astype(np.float32).std(axis=2)
    motion /= max(float(motion.max()), 1e-6)
    x = np.empty((len(frames), size, size, 2), dtype=np.float32)
    x[..., 0] = small[:, :, [order[int(t)] for t in frames]].transpose(2, 0, 1) / 255.0
    x[..., 1] = motion
    return x, box


def box_target(box_mask: np.ndarray, size: int) -> np.ndarray:
    """The AML box (bool (H, W)) letterboxed like the frames: float32 (size, size) in {0, 1}."""
    small, _ = letterbox(box_mask[:, :, None].astype(np.uint8) * 255, size)
    return (small[:, :, 0] > 127).astype(np.float32)


def box_from_heatmap(heatmap: np.ndarray, box: Letterbox) -> tuple[float, float, float, float]:
    """(top, left, bottom, right) in frame pixels of the largest blob of a (size, size) heatmap.

    The blob is what reaches half the heatmap's peak, whatever the peak: a fixed level of 0.5
    would keep a single pixel of a heatmap that just passes it (a peak of 0.54 on a short clip
    gave an 8-pixel square), while one just under it kept the whole blob.
    """
    level = 0.5 * float(heatmap.max())
    blobs = (heatmap >= level).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(blobs, connectivity=4)
    if count < 2:
        return 0.0, 0.0, float(box.height), float(box.width)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = stats[largest, :4]
    top, left = box.offset
    s = box.scale
    return ((y - top) / s, (x - left) / s, (y + h - top) / s, (x + w - left) / s)


@dataclass(frozen=True)
class Location:
    """The square the segmenter looks at in a clip and how it was found: `found_by` is 'locator',
    'box prior' (the locator's heatmap never reached SEEN_PEAK, so the training boxes' place was
    taken) or 'whole frame' (a model without a locator); `peak` is the heatmap's highest value
    (0-1, averaged over HEATMAP_FRAMES frames and `read_heatmap`'s two readings), NaN for the whole frame."""

    roi: Roi
    found_by: str
    peak: float = math.nan

    @property
    def unsure(self) -> bool:
        """Whether the locator did not see a valve in the clip (its heatmap under SEEN_PEAK)."""
        return self.peak < SEEN_PEAK

    def warning(self) -> str | None:
        """What to tell the user where the locator did not see a valve, else None."""
        if not self.unsure:
            return None
        crop = ("the crop is where the training valves lay in their scan sectors" if self.found_by == "box prior"
                else "the crop is the locator's best guess")
        return (f"The locator did not see a valve in this clip (heatmap peak {self.peak:.2f}, under {SEEN_PEAK}): "
                f"{crop}. Check the overlay.")


def sector_inputs(video: np.ndarray, size: int, table: np.ndarray | None = None
                  ) -> tuple[np.ndarray, Letterbox, tuple[int, int, int, int]]:
    """(x, letterbox, sector): the locator's inputs float32 (k, size, size, 2) for HEATMAP_FRAMES
    frames of `video` uint8 (H, W, T) spread over the clip (`locator_inputs`, `table` as there), cut
    to its scan sector, whose (top, left, bottom, right) in frame px is `sector`."""
    sector = top, left, bottom, right = sector_bounds(video)
    x, box = locator_inputs(video[top:bottom, left:right], size, evenly_spaced(video.shape[2], HEATMAP_FRAMES), table)
    return x, box, sector


def read_heatmap(locator, x: np.ndarray) -> np.ndarray:
    """The locator's heatmap float32 (size, size) for inputs x float32 (N, size, size, 2)
    (`locator_inputs`): the mean over the N frames and over two readings of each, with its motion map
    and without it (zeros, a still frame's input, which training shows the locator half the time:
    mvcore.batches.MOTION_DROPOUT).

    How much a clip moves depends on its scanner as much as on its valve: on the real cine, whose
    speckle changes from frame to frame over the whole fan, two of six locator draws of the bundled
    recipe saw nothing with the motion map (peaks 0.03 and 0.10) and the valve without it (0.99 and
    0.66); where the motion map helps, as on synthetic clips, it still counts for half
    (BENCHMARKS.md, "Real echo"; `mvcore bench locators`)."""
    still = x.copy()
    still[..., 1] = 0.0
    both = np.asarray(locator.predict_on_batch(np.concatenate([x, still])))[..., 0]
    return both.mean(axis=0)


def locate_valve(locator, video: np.ndarray, size: int, margin: float, table: np.ndarray | None = None,
                 prior: list[float] | None = None) -> Location:
    """The square crop around the valve in a clip, found by `locator` (a Keras model) in the scan
    sector's bounding rectangle (mvcore.sector).

    `video`: uint8 (H, W, T); `margin`: crop side as a multiple of the box's longer side;
    `table`: the clip's grey-level lookup (mvcore.intensity), or None; `prior`: where the training
    boxes lie in their sectors (`box_prior`), taken where the heatmap never reaches SEEN_PEAK.
    """
    x, box, (top, left, bottom, right) = sector_inputs(video, size, table)
    found = read_heatmap(locator, x)
    peak = float(found.max())
    found_by = "box prior" if prior is not None and peak < SEEN_PEAK else "locator"
    if found_by == "box prior":
        y0, x0, y1, x1 = np.asarray(prior) * np.tile([bottom - top, right - left], 2)
    else:
        y0, x0, y1, x1 = box_from_heatmap(found, box)
    return Location(Roi.around(y0 + top, x0 + left, y1 + top, x1 + left, margin=margin), found_by, peak)


def box_prior(clips: list) -> list[float] | None:
    """Where the valve's box lies in the scan sector, on average over `clips` with a box: [top, left,
    bottom, right] as fractions of the sector's height and width; None without clips."""
    if not clips:
        return None
    places = []
    for clip in clips:
        top, left, bottom, right = sector_bounds(clip.video)
        corners = np.array(box_bounds(clip.box)) - [top, left, top, left]
        places.append(corners / np.tile([bottom - top, right - left], 2))
    return [round(float(v), 4) for v in np.mean(places, axis=0)]


def write_box_prior(model_dir, train_pickles) -> list[float] | None:
    """Record in a model folder's metrics.json the `box_prior` of the clips it names as its training
    videos, read from `train_pickles` (AML pickles): for a folder trained before the prior was kept."""
    import json
    from pathlib import Path

    from .data import load_aml

    path = Path(model_dir) / "metrics.json"
    metrics = json.loads(path.read_text())
    names = set(metrics["train_videos"])
    prior = box_prior([c for p in train_pickles for c in load_aml(p) if c.name in names and c.box is not None])
    metrics.setdefault("locator", {})["box_prior"] = prior
    path.write_text(json.dumps(metrics, indent=2) + "\n")
    return prior


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mvcore.locate",
                                     description="write a model folder's box prior (metrics.json) from its training set")
    parser.add_argument("model_dir")
    parser.add_argument("train", nargs="+", help="the AML pickles the model was trained on")
    args = parser.parse_args()
    print(f"box prior {write_box_prior(args.model_dir, args.train)}")
