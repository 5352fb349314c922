"""`mvcore bench measure`: the clinical measurements (`mvcore.measure`) against the generator's truth.

On the test clips of `mvcore synth --seed S --scale X` (the same clips, made again with their truth),
each clip is measured twice: on the masks of a model (bundled unless --model) and on the true
masks (the leaflets drawn exactly, every frame), which separates measurement error from
segmentation error. Truth: the valve is open where the generator's mitral opening is above 0
(from the start of the E wave to the end of the atrial kick), and its heart rate is the clip's bpm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..measure import Calibration, measure_clip, valve_events

MIN_BEATS_FOR_RATE = 2  # heart rate is scored on clips holding at least this many beats


@dataclass
class ClipScore:
    """One clip measured from one kind of masks ('model' or 'truth'): share of frames whose state
    is right, event timing errors (frames, signed: measured minus true) of the true events found,
    true events not found, heart-rate error bpm (NaN on clips under MIN_BEATS_FOR_RATE beats),
    |annulus error| mm on the frames measured, and the share of frames with an annulus."""

    clip: str
    masks: str
    fps: float
    state_accuracy: float
    event_errors: list
    events_missed: int
    rate_error_bpm: float
    annulus_errors_mm: list
    annulus_found: float


def true_masks(truth: dict, shape: tuple[int, int]) -> np.ndarray:
    """bool (H, W, T): both leaflets drawn exactly at every frame, as the test labels are."""
    from ..synth.labels import _exact_label

    return np.stack([_exact_label(truth["nodes"][t], truth["half_widths"][t], shape)
                     for t in range(len(truth["opening"]))], axis=2)


def event_errors(true_events: list, found: list, period_frames: float) -> tuple[list[int], int]:
    """(signed frame errors, missed): each true (frame, kind) matched to the nearest found event of
    its kind within half a period; one with none that near is missed."""
    errors, missed = [], 0
    for t, kind in true_events:
        near = [f - t for f, k in found if k == kind and abs(f - t) <= period_frames / 2]
        if near:
            errors.append(min(near, key=abs))
        else:
            missed += 1
    return errors, missed


def score_clip(name: str, masks: np.ndarray, truth: dict, kind: str) -> ClipScore:
    """Measure `masks` bool (H, W, T) of one clip and score it against its `truth`."""
    fps, mm_per_px = truth["fps"], 1.0 / truth["px_per_mm"]
    m = measure_clip(masks, fps, Calibration(mm_per_px, "synth"), name)
    true_open = truth["opening"] > 0
    measured_open = np.array([s == "open" for s in m.states])
    known = np.array([s is not None for s in m.states])
    period = 60.0 * fps / truth["bpm"]
    errors, missed = event_errors(valve_events(["open" if o else "shut" for o in true_open]), m.events, period)
    beats = len(true_open) / period
    annulus = np.array([f.annulus_px for f in m.frames])
    found = np.isfinite(annulus)
    return ClipScore(name, kind, fps, float(((measured_open == true_open) & known).mean()), errors, missed,
                     abs(m.heart_rate_bpm - truth["bpm"]) if beats >= MIN_BEATS_FOR_RATE else math.nan,
                     list(np.abs(annulus[found] - truth["annulus_px"][found]) * mm_per_px), float(found.mean()))


def summarise(scores: list[ClipScore]) -> dict:
    """Over clips: mean and least state accuracy, median |event error| frames and ms, events
    missed, median and largest heart-rate error on clips of >= 2 beats (and how many), median
    annulus error mm and the share of frames with one."""
    frames = [abs(e) for s in scores for e in s.event_errors]
    ms = [1000.0 * abs(e) / s.fps for s in scores for e in s.event_errors]
    rates = [s.rate_error_bpm for s in scores if math.isfinite(s.rate_error_bpm)]
    annulus = [e for s in scores for e in s.annulus_errors_mm]
    median = lambda values: float(np.median(values)) if values else math.nan  # noqa: E731
    return {"clips": len(scores), "accuracy": float(np.mean([s.state_accuracy for s in scores])),
            "worst_accuracy": float(min(s.state_accuracy for s in scores)),
            "event_frames": median(frames), "event_ms": median(ms),
            "events": len(frames) + sum(s.events_missed for s in scores),
            "missed": sum(s.events_missed for s in scores), "rate_bpm": median(rates),
            "worst_rate_bpm": max(rates, default=math.nan), "rate_clips": len(rates),
            "annulus_mm": median(annulus), "annulus_found": float(np.mean([s.annulus_found for s in scores]))}


def measure_bench(seeds: list[int], scales: list[float], n_test: int, model_dir=None) -> list[ClipScore]:
    """Score the measurements on model and true masks for each (seed, scale)'s first `n_test` test
    clips; print one summary row per set and kind of masks, and return every clip's scores."""
    from ..clip import Clip
    from ..predict import Segmenter
    from ..synth.dataset import clips_and_truth

    segmenter = Segmenter.load(model_dir)
    scores = []
    for scale in scales:
        for seed in seeds:
            per_kind = {"model": [], "truth": []}
            for test, _, truth in clips_and_truth(seed, n_test, scale):
                clip = Clip(test["name"], test["video"], test["fps"])
                per_kind["model"].append(score_clip(clip.name, segmenter.segment(clip).mask, truth, "model"))
                per_kind["truth"].append(score_clip(clip.name, true_masks(truth, clip.shape[:2]), truth, "truth"))
            for kind, kind_scores in per_kind.items():
                print(format_row(seed, scale, kind, summarise(kind_scores)), flush=True)
                scores += kind_scores
    return scores


def format_row(seed: int, scale: float, kind: str, s: dict) -> str:
    return (f"| {seed} | {scale} | {kind} | {s['clips']} | {s['accuracy']:.1%} (least {s['worst_accuracy']:.1%}) | "
            f"{s['event_frames']:.1f} | {s['event_ms']:.0f} | {s['missed']} of {s['events']} | "
            f"{s['rate_bpm']:.1f} (most {s['worst_rate_bpm']:.1f}, {s['rate_clips']} clips) | "
            f"{s['annulus_mm']:.2f} | {s['annulus_found']:.0%} |")


MEASURE_HEADER = ("| data seed | scale | masks | clips | open/shut accuracy per frame (mean, least clip) | "
                  "median event error frames | median event error ms | events missed | "
                  "heart-rate error bpm, clips of >= 2 beats (median, most) | median annulus error mm | "
                  "frames with an annulus |\n|---|---|---|---|---|---|---|---|---|---|---|")
