"""`mvcore bench corrections`: correct a few real frames, fine-tune, score the frames not corrected.

On the 480 x 640 SonoSite cine of `bench real` (16 frames marked by hand): for each count of
corrected frames (1, 3, 5) and each draw of which frames (seeded), the marks of those frames become
the corrections (`mvcore.corrections.corrected_clip`), the starting model is fine-tuned on them as
the app does (`mvcore train --init`, FINE_TUNE_EPOCHS of stage 2 at FINE_TUNE_LR, the bundled
synthetic set mixed in), and both models are scored on the other marked frames.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

CORRECTIONS_HEADER = ("| corrected | frames corrected | mean IoU before (others) | after | "
                      "mean IoU on the corrected, before | after | fine-tune s |\n|---|---|---|---|---|---|---|")


def mean_iou(scores, frames) -> float:
    """Mean IoU of the `scores` (bench.real.FrameScore) of `frames`."""
    return float(np.mean([s.iou for s in scores if s.frame in frames]))


def fine_tune_on(clip, chosen: list[int], start: Path | None, out: Path) -> float:
    """Fine-tune `start` (bundled if None) on the marks of `chosen` frames of `clip` into `out`; seconds taken."""
    from ..config import TrainConfig
    from ..corrections import FINE_TUNE_EPOCHS, FINE_TUNE_LR, corrected_clip
    from ..predict import BUNDLED_MODEL
    from ..train import train

    started = time.time()
    corrected = corrected_clip(clip, {t: clip.label[:, :, t] for t in chosen})
    config = TrainConfig.preset_config("default", epochs_stage2=FINE_TUNE_EPOCHS, lr_stage2=FINE_TUNE_LR)
    train([corrected], out, config, init_dir=start or BUNDLED_MODEL)
    return time.time() - started


def corrections(counts: list[int], draws: int, start: Path | None, work: Path) -> list[dict]:
    """One row per (count, draw): the chosen frames and mean IoU of both models; printed as it comes."""
    from ..predict import Segmenter
    from .real import read_marks, real_clips, score_real

    clip, marks = real_clips()[0], read_marks()
    before = score_real(Segmenter.load(start), [clip], marks)
    rng = np.random.default_rng(0)
    rows = []
    for count in counts:
        for draw in range(draws):
            chosen = sorted(int(t) for t in rng.choice(clip.frames, count, replace=False))
            out = work / f"corrections-{count}-{draw}"
            seconds = fine_tune_on(clip, chosen, start, out) if not out.is_dir() else float("nan")
            after = score_real(Segmenter.load(out), [clip], marks)
            others = [t for t in clip.frames if t not in chosen]
            rows.append({"count": count, "chosen": chosen, "before": mean_iou(before, others),
                         "after": mean_iou(after, others), "before_own": mean_iou(before, chosen),
                         "after_own": mean_iou(after, chosen), "seconds": seconds})
            print(format_row(rows[-1]), flush=True)
    return rows


def format_row(row: dict) -> str:
    return (f"| {row['count']} | {', '.join(map(str, row['chosen']))} | {row['before']:.3f} | {row['after']:.3f} | "
            f"{row['before_own']:.3f} | {row['after_own']:.3f} | {row['seconds']:.0f} |")
