"""Is a trained model any good? Its pipeline on the validation videos, set beside what it should beat.

Three figures judge a model after training, each on the held-out validation videos:
- the pipeline IoU (locate, crop, segment, paste back): what a user gets;
- the crop IoU: the segmenter alone, on crops around the true box (the training log's `val_iou`);
- a trivial baseline: the training clips' mean label box, filled, at the same place in every frame.
And the locator's box-hit rate: the share of validation videos whose crop holds at least
`HIT_SHARE` of the labelled pixels. A model that misses on any of these is saved (the user may
still want it) but carries warnings in `metrics.json`, on the command line and in the app.
"""

from __future__ import annotations

import numpy as np

from .clip import Clip
from .metrics import video_iou
from .transforms import box_bounds

HIT_SHARE = 0.9       # a crop "holds the valve" when this share of the labelled pixels is inside it
MIN_HIT_RATE = 0.8    # fewer validation videos than this with their valve in the crop: the locator misses
MIN_OF_CROP = 0.5     # a pipeline below this fraction of the crop IoU: the crops, not the segmenter, fail


def share_inside(roi, clip: Clip) -> float:
    """The share of `clip`'s labelled pixels (all annotated frames) inside `roi`, 1.0 when it has none."""
    labelled = clip.label[:, :, clip.frames].any(axis=2)
    fr, fc, _, _ = roi.clipped(*labelled.shape)
    total = int(labelled.sum())
    return float(labelled[fr, fc].sum()) / total if total else 1.0


def fixed_box_iou(train: list[Clip], clips: list[Clip]) -> float:
    """Median video IoU of the trivial predictor: the mean label box of `train` (relative to the frame
    size), filled on every annotated frame of `clips`."""
    relative = np.mean([np.array(box_bounds(c.label[:, :, c.frames].any(axis=2))) / np.tile(c.video.shape[:2], 2)
                        for c in train], axis=0)
    scores = []
    for clip in clips:
        h, w = clip.video.shape[:2]
        top, left, bottom, right = np.round(relative * [h, w, h, w]).astype(int)
        guess = np.zeros(clip.video.shape, dtype=bool)
        guess[top:bottom, left:right, :] = True
        scores.append(video_iou(clip.label, guess, clip.frames))
    return float(np.median(scores))


def assess(pipeline_iou: float, crop_iou: float | None, trivial_iou: float, hits: list[float]) -> dict:
    """The quality record saved in `metrics.json`: the figures and a warning for each failed check."""
    hit_rate = float(np.mean([h >= HIT_SHARE for h in hits])) if hits else None
    warnings = []
    if hit_rate is not None and hit_rate < MIN_HIT_RATE:
        warnings.append(f"the locator's crop holds the valve on only {hit_rate:.0%} of the validation videos")
    if crop_iou is not None and pipeline_iou < MIN_OF_CROP * crop_iou:
        warnings.append(f"the pipeline scores {pipeline_iou:.2f} on the validation videos against {crop_iou:.2f} "
                        "inside crops around the true valve: the crops miss the valve")
    if pipeline_iou <= trivial_iou:
        warnings.append(f"the pipeline ({pipeline_iou:.2f}) is no better than a fixed box ({trivial_iou:.2f})")
    return {"pipeline_iou": pipeline_iou, "crop_iou": crop_iou, "trivial_iou": trivial_iou,
            "box_hit_rate": hit_rate, "warnings": warnings}
