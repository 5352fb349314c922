"""Stress-set options applied to finished records: keep only the labelled frames (as a scanner data
set whose clips hold just their 3 labelled frames), one dataset kind only, and every clip resized
to a small square."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

N_ANNOTATED = 3  # labelled frames per synthetic clip


@dataclass(frozen=True)
class StressOptions:
    """How a synthetic set departs from the AML-like default (which it equals with no arguments).

    frames_per_clip: keep only each clip's annotated frames, padded with evenly spaced others up
    to this count (None: every frame); datasets: the train clips' kinds, ('amateur',) or
    ('expert',) for a one-kind set (amateur-only also makes 112 x 112 test clips); size: resize
    every clip (video, label, box) to size x size px (None: keep each clip's own size).
    """

    frames_per_clip: int | None = None
    datasets: tuple[str, ...] = ("amateur", "expert")
    size: int | None = None

    def __post_init__(self):
        if not self.datasets or set(self.datasets) - {"amateur", "expert"}:
            raise ValueError(f"datasets must hold 'amateur' and/or 'expert', not {self.datasets!r}")
        if self.frames_per_clip is not None and self.frames_per_clip < N_ANNOTATED:
            raise ValueError(f"frames_per_clip must be at least {N_ANNOTATED}, not {self.frames_per_clip}")
        if self.size is not None and self.size < 16:
            raise ValueError(f"size must be at least 16 px, not {self.size}")

    @property
    def kind_of_test_clips(self) -> str:
        """'amateur' (112 x 112 test clips) for an amateur-only set, else 'expert'."""
        return "amateur" if set(self.datasets) == {"amateur"} else "expert"


def kept_frames(frames: list[int], n_frames: int, frames_per_clip: int) -> list[int]:
    """Sorted frame indices to keep: the annotated `frames`, plus evenly spaced others until there
    are `frames_per_clip` (or all `n_frames`)."""
    others = [t for t in range(n_frames) if t not in frames]
    extra = min(max(frames_per_clip - len(frames), 0), len(others))
    picks = np.round(np.linspace(0, len(others) - 1, extra)).astype(int) if extra else []
    return sorted([*frames, *(others[i] for i in picks)])


def cut_to_frames(record: dict, kept: list[int]) -> dict:
    """Copy of `record` with its `video` and `label` (H, W, T) cut to the `kept` frames and its
    `frames` renumbered to match."""
    out = dict(record)
    for key in ("video", "label"):
        if key in out:
            out[key] = np.ascontiguousarray(out[key][:, :, kept])
    if "frames" in out:
        out["frames"] = [kept.index(f) for f in out["frames"]]
    return out


def _resize_frames(stack: np.ndarray, size: int, interpolation: int) -> np.ndarray:
    """uint8 (H, W, T) -> uint8 (size, size, T), frame by frame."""
    out = np.empty((size, size, stack.shape[2]), np.uint8)
    for t in range(stack.shape[2]):
        out[:, :, t] = cv2.resize(stack[:, :, t], (size, size), interpolation=interpolation)
    return out


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """bool (H, W, T) -> bool (size, size, T) by nearest neighbour; a frame that had a mask but
    would lose it (a leaflet thinner than one output pixel) keeps the pixels its area-average
    covers most."""
    small = _resize_frames(mask.astype(np.uint8), size, cv2.INTER_NEAREST) > 0
    for t in np.flatnonzero(mask.any(axis=(0, 1)) & ~small.any(axis=(0, 1))):
        cover = cv2.resize(mask[:, :, t].astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
        small[:, :, t] = cover >= 0.5 * cover.max()
    return small


def resize_record(record: dict, size: int) -> dict:
    """Copy of `record` with its `video` uint8 (H, W, T) (area average), `label` bool (H, W, T) and
    `box` bool (H, W) (nearest neighbour, never emptied) resized to `size` x `size`."""
    out = dict(record)
    if "video" in out:
        out["video"] = _resize_frames(out["video"], size, cv2.INTER_AREA)
    if "label" in out:
        out["label"] = resize_mask(out["label"], size)
    if "box" in out:
        out["box"] = resize_mask(out["box"][:, :, None], size)[:, :, 0]
    return out


def stress_train_record(record: dict, options: StressOptions) -> dict:
    """A train record cut to `options.frames_per_clip` frames around its annotated ones and resized
    to `options.size` (each skipped when None)."""
    if options.frames_per_clip is not None:
        record = cut_to_frames(record, kept_frames(record["frames"], record["video"].shape[2], options.frames_per_clip))
    return record if options.size is None else resize_record(record, options.size)


def stress_test_pair(test: dict, label: dict, options: StressOptions) -> tuple[dict, dict]:
    """A (test record, test label record) pair cut and resized alike, as `stress_train_record`."""
    if options.frames_per_clip is not None:
        kept = kept_frames(label["frames"], test["video"].shape[2], options.frames_per_clip)
        test, label = cut_to_frames(test, kept), cut_to_frames(label, kept)
    if options.size is not None:
        test, label = resize_record(test, options.size), resize_record(label, options.size)
    return test, label
