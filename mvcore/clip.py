"""`Clip`: one echo video in memory, with its labels when it has some."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Clip:
    """One grey-level echo clip.

    video:   uint8 (H, W, T), frames last (the AML layout).
    fps:     frames per second (AML pickles carry none; 50 is assumed for them).
    label:   bool (H, W, T) or None; set only on `frames`.
    frames:  indices of the annotated frames (empty when unlabelled).
    box:     bool (H, W) or None; the rectangle the valve moves in.
    dataset: 'amateur', 'expert' or '' when unknown.
    source:  the file it was read from ('' when made in memory).
    mm_per_px: the size of a (square) pixel in mm where the file says (DICOM), else None.
    """

    name: str
    video: np.ndarray
    fps: float = 50.0
    label: np.ndarray | None = None
    frames: list[int] = field(default_factory=list)
    box: np.ndarray | None = None
    dataset: str = ""
    source: str = ""
    mm_per_px: float | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        """(H, W, T)."""
        return tuple(self.video.shape)

    @property
    def n_frames(self) -> int:
        return int(self.video.shape[2])

    @property
    def is_labelled(self) -> bool:
        return self.label is not None and len(self.frames) > 0
