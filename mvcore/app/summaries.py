"""Table rows and counts the pages show: clips of a file, a data set's summary, the models at hand."""

from __future__ import annotations

import numpy as np

from mvcore.app.storage import ModelInfo
from mvcore.clip import Clip
from mvcore.errors import InputError


def clip_rows(clips: list[Clip]) -> list[dict]:
    """One table row per clip: name, dataset, height, width, frames, fps, annotated frames."""
    return [{"clip": c.name, "dataset": c.dataset or "-", "height": c.shape[0], "width": c.shape[1],
             "frames": c.n_frames, "fps": round(c.fps, 1),
             "annotated frames": ", ".join(map(str, c.frames)) if c.is_labelled else "-"} for c in clips]


def dataset_summary(clips: list[Clip]) -> dict:
    """Counts for a data set: clips, amateur, expert, labelled, frames (min/max), sizes (H x W range)."""
    if not clips:
        raise InputError("no clips in the data set")
    heights = [c.shape[0] for c in clips]
    widths = [c.shape[1] for c in clips]
    frames = [c.n_frames for c in clips]
    return {"clips": len(clips),
            "amateur": sum(c.dataset == "amateur" for c in clips),
            "expert": sum(c.dataset == "expert" for c in clips),
            "labelled": sum(c.is_labelled for c in clips),
            "frames": (min(frames), max(frames)),
            "size": f"{min(heights)}-{max(heights)} x {min(widths)}-{max(widths)}"
                    if len(set(heights + widths)) > 2 else f"{heights[0]} x {widths[0]}"}


def labels_of(clips: list[Clip]) -> dict[str, tuple[list[int], np.ndarray]]:
    """name -> (annotated frames, label) of the labelled clips, as mvcore.metrics.evaluate takes."""
    labels = {c.name: (list(c.frames), c.label) for c in clips if c.is_labelled}
    if not labels:
        raise InputError("the data set has no labelled clips (need a train.pkl with label and frames)")
    return labels


def model_rows(models: list[ModelInfo]) -> list[dict]:
    """One table row per model: name, source, validation IoU, locator box hits, threshold, train videos,
    seconds and the quality check's warnings."""
    return [{"model": m.name, "source": m.source, "validation IoU": m.val_iou,
             "box hits": m.metrics.get("quality", {}).get("box_hit_rate"),
             "threshold": m.metrics.get("threshold"), "train videos": len(m.metrics.get("train_videos", [])),
             "train seconds": m.metrics.get("train_seconds"), "warnings": "; ".join(m.warnings)} for m in models]
