"""The leaderboard score (docs/FORMATS.md): IoU per video over its annotated frames, median over videos.

Also reported: the mean over videos and the mean per-frame IoU. A frame (or video) where truth and
prediction are both empty has IoU 1; an empty prediction against a non-empty truth has IoU 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvcore.errors import InputError


def _iou(intersection: int, union: int) -> float:
    """Intersection over union (pixel counts), 1.0 when the union is empty."""
    return 1.0 if union == 0 else intersection / union


def frame_iou(truth: np.ndarray, pred: np.ndarray) -> float:
    """IoU of two bool (H, W) masks of one frame; 1.0 when both are empty."""
    _check_same_shape("frame", truth.shape, pred.shape)
    truth, pred = truth.astype(bool, copy=False), pred.astype(bool, copy=False)
    return _iou(int(np.count_nonzero(truth & pred)), int(np.count_nonzero(truth | pred)))


def video_iou(truth: np.ndarray, pred: np.ndarray, frames) -> float:
    """IoU of bool (H, W, T) masks, intersection and union summed over `frames` only.

    frames: indices of the annotated frames (at least one, each in [0, T)).
    Returns 1.0 when truth and prediction are empty on all those frames.
    """
    _check_same_shape("video", truth.shape, pred.shape)
    index = _frame_index(frames, truth.shape[2])
    truth = truth[:, :, index].astype(bool, copy=False)
    pred = pred[:, :, index].astype(bool, copy=False)
    return _iou(int(np.count_nonzero(truth & pred)), int(np.count_nonzero(truth | pred)))


def _frame_index(frames, n_frames: int) -> np.ndarray:
    """`frames` as an int array, checked non-empty and inside [0, n_frames)."""
    index = np.asarray(list(frames), dtype=np.int64)
    if index.size == 0:
        raise InputError("no annotated frames to score")
    if index.min() < 0 or index.max() >= n_frames:
        raise InputError(f"annotated frames {index.tolist()} outside a clip of {n_frames} frames")
    return index


def _check_same_shape(what: str, truth_shape, pred_shape) -> None:
    if tuple(truth_shape) != tuple(pred_shape):
        raise InputError(
            f"{what}: prediction shape {tuple(pred_shape)} != label shape {tuple(truth_shape)}"
        )


@dataclass
class Evaluation:
    """Scores of a set of predictions against labels.

    per_frame:  one dict per annotated frame: name, frame (index), iou.
    per_video:  name -> IoU over that video's annotated frames.
    score:      median of per_video (the leaderboard figure).
    mean_video: mean of per_video.
    mean_frame: mean of the per-frame IoUs.
    """

    per_frame: list[dict]
    per_video: dict[str, float]
    score: float
    mean_video: float
    mean_frame: float

    def table(self) -> str:
        """A plain-text table: one row per video (its IoU and per-frame IoUs), then the summary."""
        width = max([len("video"), *map(len, self.per_video)])
        lines = [f"{'video':<{width}}  {'IoU':>6}  frames (index: IoU)"]
        for name, iou in self.per_video.items():
            frames = "  ".join(
                f"{row['frame']}: {row['iou']:.3f}" for row in self.per_frame if row["name"] == name
            )
            lines.append(f"{name:<{width}}  {iou:6.4f}  {frames}")
        lines += [
            "",
            f"median IoU over {len(self.per_video)} videos (score): {self.score:.4f}",
            f"mean IoU over videos: {self.mean_video:.4f}",
            f"mean IoU over {len(self.per_frame)} frames: {self.mean_frame:.4f}",
        ]
        return "\n".join(lines)


def evaluate(
    preds: dict[str, np.ndarray], labels: dict[str, tuple[list[int], np.ndarray]]
) -> Evaluation:
    """Score predictions against labels as the leaderboard does.

    preds:  name -> bool (H, W, T) predicted mask; videos without a label are ignored.
    labels: name -> (annotated frame indices, bool (H, W, T) label).
    Raises InputError when a labelled video has no prediction or its shape differs.
    """
    if not labels:
        raise InputError("no labelled videos to evaluate")
    per_frame, per_video = [], {}
    for name, (frames, label) in labels.items():
        pred = _prediction_for(name, preds, label.shape)
        per_video[name] = video_iou(label, pred, frames)
        per_frame += [
            {"name": name, "frame": int(t), "iou": frame_iou(label[:, :, t], pred[:, :, t])}
            for t in frames
        ]
    video_scores = list(per_video.values())
    return Evaluation(
        per_frame=per_frame,
        per_video=per_video,
        score=float(np.median(video_scores)),
        mean_video=float(np.mean(video_scores)),
        mean_frame=float(np.mean([row["iou"] for row in per_frame])),
    )


def _prediction_for(name: str, preds: dict[str, np.ndarray], shape) -> np.ndarray:
    """The prediction for `name`, checked present and of the label's shape."""
    if name not in preds:
        raise InputError(f"video {name}: labelled but has no prediction")
    pred = preds[name]
    if pred.shape != tuple(shape):
        raise InputError(
            f"video {name}: prediction shape {tuple(pred.shape)} != label shape {tuple(shape)}"
        )
    return pred
