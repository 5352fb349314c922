"""`mvcore bench real`: a model on the real echo frames labelled by hand in `tests/data/real/`.

The set is pydicom-data's SonoSite apical four-chamber cine (`color3d_jpeg_baseline.dcm`, 120
frames, 480 x 640) with the valve marked on 16 frames (docs/LABELLING.md), and pydicom's
`examples.ybr_color`, the same clip's first 30 frames at half size, scored on the 5 marked frames
that fall in it. Per frame: IoU with the marks, whether the valve was found (IoU > 0.3), the
share of the marked pixels inside the segmenter's square (the locator's crop), the square's side
over the marks' longer extent (a square can hold the marks and still be far too large for the
segmenter), and where the IoU is lost: the share of predicted pixels on the marks (precision) and
of marked pixels predicted (recall).

With a size (`bench real --size 112`), the cine is scored in the shape of a low-resolution set
such as AML's amateur clips: its scan sector cut square and resized to size x size, as one clip of
every frame and as clips of only 3 labelled frames each (stills, as such sets keep them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..clip import Clip
from ..transforms import Roi, box_bounds, crop_stack
from .marks import REAL_DIR, marks_to_masks, read_marks, real_cine

FOUND_IOU = 0.3  # a frame whose IoU passes this has its valve found
STILLS_PER_CLIP = 3  # frames in each clip of stills: a low-resolution set keeps only its labelled frames


def labelled_clip(clip: Clip, frames: list[int], masks: np.ndarray) -> Clip:
    """`clip` with `masks` bool (H, W, k) as the labels of its `frames` (those past its end dropped)."""
    from ..corrections import corrected_clip

    return corrected_clip(clip, {t: masks[:, :, i] for i, t in enumerate(frames) if t < clip.n_frames})


def real_clips() -> list[Clip]:
    """The labelled real clips: the 480 x 640 cine (16 frames) and its half-size copy (5 frames)."""
    from pydicom import examples

    from ..data import load_inputs

    saved = np.load(REAL_DIR / "labels.npz")
    frames, masks = [int(t) for t in saved["frames"]], saved["masks"]
    full = real_cine()
    half = load_inputs([examples.get_path("ybr_color")])[0]
    _, half_masks = marks_to_masks(read_marks(), half.video.shape[:2], scale=0.5)
    return [labelled_clip(full, frames, masks), labelled_clip(half, frames, half_masks)]


def sector_square(video: np.ndarray) -> Roi:
    """The square on the centre of the scan sector of `video` uint8 (H, W, T), its side the sector's
    longer side (`mvcore.sector.sector_bounds`); it may reach past the frame."""
    from ..sector import sector_bounds

    top, left, bottom, right = sector_bounds(video)
    return Roi.around(top, left, bottom, right, margin=1.0)


def small_real_clips(size: int) -> list[tuple[Clip, list[int]]]:
    """The cine's scan sector cut square and resized to `size` x `size`, its marks drawn at that size:
    (clip, the cine's frame at each of its frames) for one clip of every frame, then for clips of
    STILLS_PER_CLIP marked frames each in their order (the last one ends on the last marked frame)."""
    full = real_cine()
    square = sector_square(full.video)
    video = crop_stack(full.video, square, size)
    scale = size / square.side
    # pixel centres: x px of the cine lies at (x - x0 + 0.5) * scale - 0.5 of the resized square
    origin = (square.x0 - 0.5 + 0.5 / scale, square.y0 - 0.5 + 0.5 / scale)
    frames, masks = marks_to_masks(read_marks(), (size, size), scale, origin)
    clips = [(labelled_clip(Clip(f"{full.name}-{size}px", video, full.fps), frames, masks),
              list(range(full.n_frames)))]
    for start in range(0, len(frames), STILLS_PER_CLIP):
        first = min(start, len(frames) - STILLS_PER_CLIP)
        picked = list(range(first, first + STILLS_PER_CLIP))
        shown = [frames[i] for i in picked]
        stills = Clip(f"{full.name}-{size}px-stills-{'-'.join(map(str, shown))}", video[:, :, shown], full.fps)
        clips.append((labelled_clip(stills, list(range(len(shown))), masks[:, :, picked]), shown))
    return clips


@dataclass
class FrameScore:
    """One labelled frame: IoU with the marks, the share of marked pixels inside the crop, the share
    of predicted pixels on the marks (`precision`, NaN when nothing is predicted), of marked
    pixels predicted (`recall`), and the crop's side over the marks' longer extent (`crop_scale`)."""

    clip: str
    frame: int
    state: str
    iou: float
    in_crop: float
    precision: float
    recall: float
    crop_scale: float


def score_real(segmenter, clips: list[Clip], marks: dict, shown: list[list[int]] | None = None) -> list[FrameScore]:
    """Per-frame scores of `segmenter` (a `mvcore.predict.Segmenter`) on the labelled `clips`;
    `shown[i][t]`: the cine's frame at frame t of clip i (default: clip frames are the cine's)."""
    from ..metrics import frame_iou
    from ..predict import annotated_mask

    scores = []
    for i, clip in enumerate(clips):
        mask = annotated_mask(segmenter, clip)
        roi = segmenter.locate(clip.video).roi
        fr, fc, _, _ = roi.clipped(*clip.video.shape[:2])
        for t in clip.frames:
            truth, pred = clip.label[:, :, t], mask[:, :, t]
            hits = np.count_nonzero(truth & pred)
            frame = shown[i][t] if shown else t
            scores.append(FrameScore(clip.name, frame, marks["frames"][str(frame)]["state"], frame_iou(truth, pred),
                                     truth[fr, fc].sum() / max(truth.sum(), 1),
                                     hits / pred.sum() if pred.any() else float("nan"), hits / max(truth.sum(), 1),
                                     roi.side / marks_extent(truth)))
    return scores


def marks_extent(truth: np.ndarray) -> int:
    """The longer side px of the bounding box of the marks, bool (H, W) with at least one True."""
    top, left, bottom, right = box_bounds(truth)
    return max(bottom - top, right - left)


def summary(scores: list[FrameScore]) -> dict:
    """Mean IoU, share of frames found (IoU > FOUND_IOU), share whose crop holds 90% of the marks,
    mean precision over the frames with a prediction (NaN if none has one), mean recall, and the
    median of the crop's side over the marks' extent."""
    iou = np.array([s.iou for s in scores])
    precision = [s.precision for s in scores if not np.isnan(s.precision)]
    return {"frames": len(scores), "mean_iou": float(iou.mean()), "found": float((iou > FOUND_IOU).mean()),
            "crop_holds": float(np.mean([s.in_crop >= 0.9 for s in scores])),
            "precision": float(np.mean(precision)) if precision else float("nan"),
            "recall": float(np.mean([s.recall for s in scores])),
            "crop_scale": float(np.median([s.crop_scale for s in scores]))}


def run_real(model_dir: Path | None, size: int | None = None, threshold: float | None = None) -> dict[str, dict]:
    """Print the per-frame table and the summary line of a model folder (bundled if None), at its
    own threshold unless one is given; with `size`, of the cine at size x size, one summary line for
    the whole clip and one for its stills. Returns each summary (`summary`) by the words its line
    starts with ("" without `size`)."""
    from ..config import PredictConfig
    from ..predict import Segmenter

    segmenter = Segmenter.load(model_dir, PredictConfig(threshold=threshold))
    if size is None:
        groups = {"": score_real(segmenter, real_clips(), read_marks())}
    else:
        clips, shown = zip(*small_real_clips(size))
        scores = score_real(segmenter, list(clips), read_marks(), list(shown))
        whole = clips[0].name
        groups = {f"the cine at {size} x {size}, whole, ": [s for s in scores if s.clip == whole],
                  f"the cine at {size} x {size}, as clips of {STILLS_PER_CLIP} stills, ":
                      [s for s in scores if s.clip != whole]}
    print("| clip | frame | state | IoU | marks inside the crop | precision | recall | crop side / marks |\n"
          "|---|---|---|---|---|---|---|---|")
    for s in (s for scores in groups.values() for s in scores):
        print(f"| {s.clip} | {s.frame} | {s.state} | {s.iou:.3f} | {s.in_crop:.0%} | {s.precision:.3f} | "
              f"{s.recall:.3f} | {s.crop_scale:.1f} |")
    results = {what: summary(scores) for what, scores in groups.items()}
    for what, result in results.items():
        print(f"\n{what}{model_dir or 'bundled model'} at threshold {segmenter.threshold}: "
              f"mean IoU {result['mean_iou']:.3f} over {result['frames']} frames, "
              f"valve found on {result['found']:.0%} (IoU > {FOUND_IOU}), "
              f"crop holds 90% of the marks on {result['crop_holds']:.0%}, "
              f"its side {result['crop_scale']:.1f} times their extent (median); "
              f"precision {result['precision']:.2f}, recall {result['recall']:.2f}")
    return results


def read_events() -> dict:
    """events.json: the valve's openings and closings marked by eye on the cine, and its heart rate."""
    return json.loads((REAL_DIR / "events.json").read_text())


def print_marked_states() -> float:
    """The state `mvcore.measure.clip_frames` reads from each hand-drawn mask of labels.npz (together,
    as frames of one clip) beside the state marked with it; returns the share that agree (the rule
    alone, no model)."""
    from ..measure import clip_frames

    saved, marks = np.load(REAL_DIR / "labels.npz"), read_marks()
    found = [(int(t), marks["frames"][str(int(t))]["state"], frame.state)
             for t, frame in zip(saved["frames"], clip_frames(saved["masks"]))]
    agree = float(np.mean([marked == read for _, marked, read in found]))
    print("\n| marked frame | marked state | state read from the marked mask |\n|---|---|---|")
    for t, marked, read in found:
        print(f"| {t} | {marked} | {read} |")
    print(f"\nthe rule on the hand-drawn masks agrees with the marked state on {agree:.0%} of {len(found)} frames")
    return agree


def run_real_events(model_dir: Path | None) -> dict:
    """Measure the cine on a model's masks (bundled if None) and print each event marked by eye
    beside the nearest measured one of its kind (within half a beat), and both heart rates."""
    from ..measure import calibration_of, measure_clip
    from ..predict import Segmenter
    from .measure import event_errors

    clip = real_cine()
    marked = read_events()
    m = measure_clip(Segmenter.load(model_dir).segment(clip).mask, clip.fps, calibration_of(clip.mm_per_px), clip.name)
    period = 60.0 * clip.fps / marked["heart_rate_bpm"]
    print("| marked frame | event | sure | measured frame | error (frames) |\n|---|---|---|---|---|")
    errors = []
    for event in marked["events"]:
        found, _ = event_errors([(event["frame"], event["event"])], m.events, period)
        errors += [(event["sure"], e) for e in found]
        measured = f"{event['frame'] + found[0]} | {found[0]:+d}" if found else "none within half a beat | "
        print(f"| {event['frame']} | {event['event']} | {'yes' if event['sure'] else 'no'} | {measured} |")
    print_marked_states()
    sure = [abs(e) for is_sure, e in errors if is_sure]
    result = {"marked": len(marked["events"]), "found": len(errors),
              "median_sure_frames": float(np.median(sure)) if sure else float("nan"),
              "rate_bpm": m.heart_rate_bpm, "rate_by_eye_bpm": marked["heart_rate_bpm"], "measured_events": m.events}
    print(f"\n{model_dir or 'bundled model'}: {result['found']} of {result['marked']} marked events found within "
          f"half a beat, median error on the sure ones {result['median_sure_frames']:.1f} frames; heart rate "
          f"{m.heart_rate_bpm:.0f} bpm measured, {marked['heart_rate_bpm']} by eye; measured events {m.events}")
    return result
