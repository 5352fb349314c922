"""A user's corrected masks: brush strokes onto a mask, and the labelled clip they make.

A correction is a whole bool (H, W) mask for one frame. The editor shows a square `View` of the
frame enlarged; strokes drawn on it in ADD_COLOUR add valve, in ERASE_COLOUR remove it. The
corrected frames of a clip become an AML train record (`label` on those frames, `frames`, a `box`
around the labels, `dataset='expert'`), which `mvcore train --init` fine-tunes a model on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .clip import Clip
from .files import atomic_path
from .transforms import box_bounds

ADD_COLOUR = "#ff0000"    # a stroke in this colour paints valve
ERASE_COLOUR = "#00bfff"  # a stroke in this colour erases it
FINE_TUNE_EPOCHS = 4      # stage-2 epochs of a fine-tuning on corrections: about a minute on 2 cores
FINE_TUNE_LR = 1e-3       # its learning rate: above stage 2's 3e-4, which moved the model less (BENCHMARKS.md)


@dataclass(frozen=True)
class View:
    """The part of a frame the editor shows: the square from (top, left) of `side` frame pixels,
    drawn `zoom` screen pixels per frame pixel (canvas side = side * zoom)."""

    top: int
    left: int
    side: int
    zoom: float

    @classmethod
    def around(cls, mask: np.ndarray, canvas: int, min_side: int = 96, margin: float = 2.0) -> "View":
        """A square `margin` times the longer side of the True pixels of `mask` bool (H, W) (or the
        whole frame where there are none), at least `min_side`, inside the frame, fitting `canvas` pixels."""
        h, w = mask.shape
        top, left, bottom, right = box_bounds(mask)
        side = int(min(max(min_side, margin * max(bottom - top, right - left)), h, w))
        top = int(np.clip((top + bottom - side) // 2, 0, h - side))
        left = int(np.clip((left + right - side) // 2, 0, w - side))
        return cls(top, left, side, canvas / side)

    def cut(self, image: np.ndarray) -> np.ndarray:
        """The view's square of `image` (H, W, ...) enlarged to the canvas (nearest neighbour)."""
        square = image[self.top:self.top + self.side, self.left:self.left + self.side]
        size = int(round(self.side * self.zoom))
        return cv2.resize(square, (size, size), interpolation=cv2.INTER_NEAREST)


def stroke_points(path: list) -> np.ndarray:
    """The points float (N, 2) as (x, y) of a Fabric.js freedraw path (['M', x, y], ['Q', cx, cy, x, y], ...)."""
    return np.array([command[-2:] for command in path if len(command) >= 3], dtype=np.float64)


def apply_strokes(mask: np.ndarray, strokes: list[dict], view: View) -> np.ndarray:
    """`mask` bool (H, W) with `strokes` painted in: Fabric.js path objects in canvas pixels (each with
    `path`, `stroke` colour and `strokeWidth`), in the order drawn. Returns a new mask."""
    out = mask.astype(np.uint8)
    for stroke in strokes:
        colour = str(stroke.get("stroke", "")).lower()
        if stroke.get("type", "").lower() != "path" or colour not in (ADD_COLOUR, ERASE_COLOUR):
            continue
        points = stroke_points(stroke["path"]) / view.zoom + (view.left, view.top)
        width = max(1, int(round(float(stroke.get("strokeWidth", 1)) / view.zoom)))
        value = 1 if colour == ADD_COLOUR else 0
        cv2.polylines(out, [np.round(points).astype(np.int32)], False, value, thickness=width)
        for x, y in np.round(points[[0, -1]]).astype(int):  # round caps, as the brush draws them
            cv2.circle(out, (int(x), int(y)), width // 2, value, thickness=-1)
    return out.astype(bool)


def corrected_clip(clip: Clip, masks: dict[int, np.ndarray]) -> Clip:
    """`clip` labelled with `masks` (frame index -> bool (H, W)) alone: an expert clip whose box
    bounds every labelled pixel."""
    frames = sorted(masks)
    label = np.zeros(clip.video.shape, dtype=bool)
    for t in frames:
        label[:, :, t] = masks[t]
    box = np.zeros(clip.video.shape[:2], dtype=bool)
    top, left, bottom, right = box_bounds(label.any(axis=2))
    box[top:bottom, left:right] = True
    return Clip(clip.name, clip.video, clip.fps, label, frames, box, "expert", clip.source)


def aml_record(clip: Clip) -> dict:
    """The AML train record of a labelled clip: name, video, label, frames, box, dataset, fps."""
    return {"name": clip.name, "video": clip.video, "label": clip.label, "frames": list(clip.frames),
            "box": clip.box, "dataset": clip.dataset, "fps": float(clip.fps)}


def write_train_pickle(clips: list[Clip], path: Path) -> Path:
    """Write labelled `clips` as an AML train.pkl (gzip pickle of records) at `path`, whole or not at all."""
    from .synth.dataset import write_records

    path = Path(path)
    with atomic_path(path) as partial:
        write_records((aml_record(c) for c in clips), partial)
    return path
