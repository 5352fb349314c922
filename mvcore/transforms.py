"""Geometry shared by training and prediction: letterbox, square crops, temporal stacks.

Every function works on stacks of frames, `(H, W, T)` arrays with frames last (the AML layout),
so one `cv2.resize` call handles several frames at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MAX_CHANNELS = 128  # cv2.resize handles at most this many channels in one call (OpenCV 5)...
MAX_AREA_CHANNELS = 4  # ...but only 4 when shrinking with area averaging


def resize_stack(stack: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize every frame of `stack` (H, W, T) to (height, width, T); same dtype.

    Shrinking uses area averaging (no aliasing of speckle), enlarging bilinear interpolation.
    """
    h, w = stack.shape[:2]
    shrink = height * width < h * w
    interp, step = (cv2.INTER_AREA, MAX_AREA_CHANNELS) if shrink else (cv2.INTER_LINEAR, MAX_CHANNELS)
    out = np.empty((height, width, stack.shape[2]), dtype=stack.dtype)
    for t0 in range(0, stack.shape[2], step):
        # np.take copies the frames-last channels into a contiguous block faster than ascontiguousarray
        part = cv2.resize(np.take(stack, np.arange(t0, min(t0 + step, stack.shape[2])), axis=2), (width, height),
                          interpolation=interp)
        out[:, :, t0:t0 + step] = part.reshape(height, width, -1)
    return out


@dataclass(frozen=True)
class Letterbox:
    """How a (height, width) frame was fitted into a size x size square: scale, then pad."""

    height: int
    width: int
    size: int

    @property
    def scale(self) -> float:
        return self.size / max(self.height, self.width)

    @property
    def inner(self) -> tuple[int, int]:
        """(rows, cols) the frame occupies inside the square."""
        return (max(1, round(self.height * self.scale)), max(1, round(self.width * self.scale)))

    @property
    def offset(self) -> tuple[int, int]:
        """(top, left) padding."""
        rows, cols = self.inner
        return ((self.size - rows) // 2, (self.size - cols) // 2)


def letterbox(stack: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """Fit `stack` (H, W, T) into (size, size, T), keeping the aspect ratio, zero padding."""
    box = Letterbox(stack.shape[0], stack.shape[1], size)
    rows, cols = box.inner
    top, left = box.offset
    out = np.zeros((size, size, stack.shape[2]), dtype=stack.dtype)
    out[top:top + rows, left:left + cols] = resize_stack(stack, rows, cols)
    return out, box


@dataclass(frozen=True)
class Roi:
    """A square region of interest in frame pixels: rows y0..y0+side, cols x0..x0+side.

    It may reach outside the frame; what lies outside reads as black.
    """

    y0: int
    x0: int
    side: int

    @classmethod
    def around(cls, top: float, left: float, bottom: float, right: float, margin: float) -> "Roi":
        """The square centred on a (top, left, bottom, right) box, `margin` times its longer side."""
        side = max(8, int(round(max(bottom - top, right - left) * margin)))
        cy, cx = (top + bottom) / 2, (left + right) / 2
        return cls(int(round(cy - side / 2)), int(round(cx - side / 2)), side)

    def clipped(self, height: int, width: int) -> tuple[slice, slice, slice, slice]:
        """(frame rows, frame cols, roi rows, roi cols) slices of the overlap with a frame."""
        fy0, fx0 = max(self.y0, 0), max(self.x0, 0)
        fy1, fx1 = min(self.y0 + self.side, height), min(self.x0 + self.side, width)
        fy1, fx1 = max(fy1, fy0), max(fx1, fx0)
        return (slice(fy0, fy1), slice(fx0, fx1),
                slice(fy0 - self.y0, fy1 - self.y0), slice(fx0 - self.x0, fx1 - self.x0))


def box_bounds(box: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the True pixels of a bool (H, W) image; bottom/right exclusive."""
    rows, cols = np.flatnonzero(box.any(axis=1)), np.flatnonzero(box.any(axis=0))
    if rows.size == 0:
        return 0, 0, box.shape[0], box.shape[1]
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def crop_stack(stack: np.ndarray, roi: Roi, size: int) -> np.ndarray:
    """Cut `roi` out of `stack` (H, W, T) and resize it to (size, size, T); black outside the frame."""
    fr, fc, rr, rc = roi.clipped(*stack.shape[:2])
    square = np.zeros((roi.side, roi.side, stack.shape[2]), dtype=stack.dtype)
    square[rr, rc] = stack[fr, fc]
    return resize_stack(square, size, size)


def paste_stack(crops: np.ndarray, roi: Roi, out: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Inverse of `crop_stack`: resize (size, size, T) maps to the roi and write them into `out`.

    `out`: (H, W, T), left untouched outside the roi. With `threshold`, writes `map > threshold`
    (thresholding after resizing keeps smooth edges at full resolution). Returns `out`.
    """
    square = resize_stack(crops, roi.side, roi.side)
    fr, fc, rr, rc = roi.clipped(*out.shape[:2])
    out[fr, fc] = square[rr, rc] if threshold is None else square[rr, rc] > threshold
    return out


STILLS_UNDER = 8  # frames: a shorter clip is taken for stills (a set that keeps only its labelled frames)


def neighbour_indices(frames: np.ndarray, offsets: tuple[int, ...], n_frames: int) -> np.ndarray:
    """Frame indices (len(frames), len(offsets)) of each frame's temporal neighbours, clamped to the clip.

    In a clip of fewer than STILLS_UNDER frames the frames are not taken to follow each other in
    time (the AML-style sets that keep only their 3 labelled frames): each frame is then its own
    neighbour at every offset.
    """
    offsets = np.asarray(offsets) if n_frames >= STILLS_UNDER else np.zeros(len(offsets), dtype=int)
    return np.clip(np.asarray(frames)[:, None] + offsets[None, :], 0, n_frames - 1)
