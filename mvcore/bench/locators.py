"""`mvcore bench locators`: draws of a recipe's locator, behind one model's segmenter, on the real echo frames.

Where the locator looks decides a model's real-frame score, and draws of one recipe differ there
while they agree on synthetic clips (BENCHMARKS.md, "Real echo"). A locator is a minute or two of
the recipe's training, so many draws can be measured where whole trainings cannot. Each draw is the
locator of the model's recipe trained alone on a synthetic set as `mvcore train` trains it from
random weights (`start=scratch`, as the bundled model was), with training seed S: its split, weights
and augmentation. Seed 0 on `synth --seed 0 --scale 1` is the bundled model's own locator. Per
draw: its validation IoU and box-hit rate, the peak of its heatmap on the real cine read with the
motion map, without it and without the frame, and `bench real`'s scores of the model with this
locator in place of its own.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

LOCATORS_HEADER = ("| training seed | validation IoU | validation box hits | cine heatmap peak: as trained / "
                   "without motion map / without frame | real frames: mean IoU / found | crop side / marks | "
                   "seconds |\n|---|---|---|---|---|---|---|")


def cine_peaks(locator, segmenter, clip) -> tuple[float, float, float]:
    """The peak of `locator`'s heatmap on `clip`, averaged over HEATMAP_FRAMES frames as prediction
    does, read three ways: on its inputs as trained (frame and motion map), with the motion map
    zeroed and with the frame zeroed. `segmenter`: the model whose locator size and grey levels apply."""
    from ..locate import sector_inputs

    x, _, _ = sector_inputs(clip.video, segmenter.config.locator_size, segmenter.intensity_table(clip.video))
    peaks = []
    for zeroed in (None, 1, 0):
        seen = x.copy()
        if zeroed is not None:
            seen[..., zeroed] = 0.0
        peaks.append(float(np.asarray(locator.predict_on_batch(seen))[..., 0].mean(axis=0).max()))
    return tuple(peaks)


def locator_draw(config, clips: list, seed: int, intensity: np.ndarray | None) -> tuple[object, float, float]:
    """(locator, validation IoU, validation box-hit rate): the locator of recipe `config` trained on
    `clips` (an AML train set) with training seed `seed`, split and seeded as `mvcore train` does;
    the validation clips' grey levels matched to `intensity` (mvcore.intensity) where given."""
    import keras

    from ..locate import box_prior
    from ..train import locator_hit_rate, split_by_video, train_locator

    config = dataclasses.replace(config, seed=seed)
    keras.utils.set_random_seed(seed)
    train, val = (list(filter(lambda c: c.box is not None, part))
                  for part in split_by_video(clips, config.val_fraction, seed))
    history = []
    locator = train_locator(config, train, val, lambda event: None, history)
    return locator, history[-1]["val_iou"], locator_hit_rate(locator, config, val, intensity, box_prior(train))


def locators(seeds: list[int], data_seed: int, scale: float, work: Path, model_dir: Path | None) -> list[dict]:
    """Train a locator draw per training seed on `synth --seed data_seed --scale scale` (generated in
    `work` the first time), score each behind the segmenter of `model_dir` (bundled if None), print
    a row per draw and return them."""
    from ..data import load_aml
    from ..predict import Segmenter
    from .accuracy import synth_set
    from .marks import read_marks
    from .real import real_clips, score_real, summary

    clips = load_aml(synth_set(work, data_seed, scale) / "train.pkl")
    segmenter = Segmenter.load(model_dir)
    real, marks = real_clips(), read_marks()
    rows = []
    for seed in seeds:
        started = time.time()
        locator, val_iou, hits = locator_draw(segmenter.config, clips, seed, segmenter.intensity)
        segmenter.locator = segmenter.locator_net = locator
        row = {"seed": seed, "val_iou": val_iou, "box_hits": hits, "peaks": cine_peaks(locator, segmenter, real[0]),
               **summary(score_real(segmenter, real, marks)), "seconds": time.time() - started}
        print(format_locator_row(row), flush=True)
        rows.append(row)
    return rows


def format_locator_row(row: dict) -> str:
    return (f"| {row['seed']} | {row['val_iou']:.3f} | {row['box_hits']:.0%} | "
            f"{' / '.join(f'{p:.2f}' for p in row['peaks'])} | {row['mean_iou']:.3f} / {row['found']:.0%} | "
            f"{row['crop_scale']:.1f} | {row['seconds']:.0f} |")
