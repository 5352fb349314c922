"""Compression artefacts of a stored clip: none, JPEG frame by frame (as a DICOM JPEG cine) or an
H.264-like code (an intra frame every `gop` frames, in between only the JPEG-coded change from
the previous decoded frame, so that small changes are dropped and blocks hold still)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def _jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    """uint8 (H, W) frame after JPEG coding at `quality` (1-100)."""
    _, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)


@dataclass
class Codec:
    """kind: 'none', 'jpeg' or 'h264'; quality: JPEG quality 1-100; gop: frames from one intra
    frame to the next ('h264'); previous: the last decoded frame uint8 (H, W) or None."""

    kind: str
    quality: int
    gop: int
    previous: np.ndarray | None = None
    count: int = 0

    def code(self, frame: np.ndarray) -> np.ndarray:
        """The next frame uint8 (H, W) as a viewer would decode it."""
        if self.kind == "jpeg" or (self.kind == "h264" and self.count % self.gop == 0):
            self.previous = _jpeg(frame, self.quality)
        elif self.kind == "h264":
            change = (frame.astype(np.int16) - self.previous) // 2 + 128
            coded = _jpeg(np.clip(change, 0, 255).astype(np.uint8), self.quality).astype(np.int16)
            self.previous = np.clip(self.previous + 2 * (coded - 128), 0, 255).astype(np.uint8)
        else:
            self.previous = frame
        self.count += 1
        return self.previous


def _sample_codec(rng: np.random.Generator) -> Codec:
    """A clip's compression: none (40 %), JPEG at quality 40-90 (35 %), H.264-like (25 %)."""
    kind = str(rng.choice(["none", "jpeg", "h264"], p=[0.4, 0.35, 0.25]))
    return Codec(kind, int(rng.integers(40, 91)) if kind == "jpeg" else int(rng.integers(30, 76)),
                 int(rng.integers(10, 61)))
