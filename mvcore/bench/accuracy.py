"""`mvcore bench accuracy`: the baseline preset against the default recipe on generated sets.

For each (seed, scale), generate a synthetic set, train both recipes with the same code (or reuse a
model of exactly that recipe), segment the test clips and score them as the course does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..config import TrainConfig, load_train_config, train_config_from_dict


def score_model(model_dir: Path, data: Path) -> dict:
    """Segment every test clip of a generated set with a model folder and score it: AML score,
    means, frames/s, with the training seconds, validation IoU and threshold from `metrics.json`."""
    from ..data import load_aml, load_labels
    from ..metrics import evaluate
    from ..predict import Segmenter, segment_clips

    preds, frames, seconds = {}, 0, 0.0
    for clip, segmentation, took in segment_clips(Segmenter.load(model_dir), load_aml(data / "test.pkl")):
        preds[clip.name] = segmentation.mask
        seconds += took
        frames += clip.n_frames
    result = evaluate(preds, load_labels(data / "test_labels.pkl"))
    trained = json.loads((model_dir / "metrics.json").read_text())
    return {"score": result.score, "mean_video": result.mean_video, "mean_frame": result.mean_frame,
            "predict_fps": frames / seconds, "train_s": trained["train_seconds"],
            "val_iou": trained["val_iou"], "threshold": trained["threshold"]}


def trained_model(stem: Path, clips: list, config) -> Path:
    """A model folder `stem`, `stem`-2, ... trained on `clips` with exactly `config`: an earlier one is
    reused, otherwise the first free name is trained; a model of another recipe is never overwritten."""
    from ..train import train

    candidates = [stem] + [stem.with_name(f"{stem.name}-{n}") for n in range(2, 100)]
    for folder in candidates:
        if not folder.exists():
            train(clips, folder, config)
            return folder
        if (folder / "metrics.json").is_file() and trained_recipe(folder) == config:
            return folder
    raise RuntimeError(f"{stem}: 99 models of other recipes already there; clear the bench folder")


def trained_recipe(folder: Path) -> TrainConfig:
    """The recipe a model folder was asked for: `metrics.json`'s 'recipe' (its `config.json` can differ, where
    the locator fell back to whole frames), or `config.json` for folders older than that record."""
    recipe = json.loads((folder / "metrics.json").read_text()).get("recipe")
    return load_train_config(folder / "config.json") if recipe is None else train_config_from_dict(recipe)


def synth_set(work: Path, seed: int, scale: float) -> Path:
    """The folder of `mvcore synth --seed S --scale X` in `work`, generated the first time."""
    from ..synth import write_dataset

    data = work / f"synth-seed{seed}-scale{scale}"
    if not (data / "test_labels.pkl").is_file():
        write_dataset(data, seed=seed, scale=scale)
    return data


def accuracy(seeds: list[int], scales: list[float], work: Path, runs: int = 1) -> list[dict]:
    """Train and score both recipes `runs` times (training seeds 0, 1, ...) on each generated set.

    Prints one row per run, then per set the mean of each recipe over its runs and the margin of
    the default over the baseline preset; returns the per-run rows.
    """
    from ..data import load_aml

    rows = []
    for scale in scales:
        for seed in seeds:
            data = synth_set(work, seed, scale)
            clips = load_aml(data / "train.pkl")
            set_rows = []
            for preset in ("baseline", "default"):
                for run in range(runs):
                    name = f"model-{preset}-seed{seed}-scale{scale}" + (f"-run{run}" if run else "")
                    out = trained_model(work / name, clips, TrainConfig.preset_config(preset, seed=run))
                    row = {"seed": seed, "scale": scale, "preset": preset, "run": run, **score_model(out, data)}
                    set_rows.append(row)
                    print(format_row(row), flush=True)
            print(format_margin(set_rows), flush=True)
            rows += set_rows
    return rows


def format_row(row: dict) -> str:
    return (f"| {row['seed']} | {row['scale']} | {row['preset']} | {row['run']} | {row['score']:.3f} | "
            f"{row['mean_video']:.3f} | {row['mean_frame']:.3f} | {row['train_s'] / 60:.1f} | "
            f"{row['predict_fps']:.0f} |")


def format_margin(rows: list[dict]) -> str:
    """One set's line: each recipe's AML score averaged over its runs, and the default's margin."""
    mean = {p: float(np.mean([r["score"] for r in rows if r["preset"] == p])) for p in ("baseline", "default")}
    runs = sum(r["preset"] == "default" for r in rows)
    return (f"| {rows[0]['seed']} | {rows[0]['scale']} | mean of {runs} | baseline {mean['baseline']:.3f}, "
            f"default {mean['default']:.3f}, margin **{mean['default'] - mean['baseline']:.3f}** | | | | | |")


ACCURACY_HEADER = ("| data seed | scale | recipe | run | AML score (median video IoU) | mean video IoU | "
                   "mean frame IoU | training min | predict frames/s |\n|---|---|---|---|---|---|---|---|---|")
