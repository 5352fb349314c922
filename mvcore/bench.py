"""Benchmarks that print figures (kept out of the test run): `mvcore bench accuracy|speed`.

accuracy: for each (seed, scale), generate a synthetic set, train the seed preset and the default
recipe with the same code, segment the test clips and score them as the course does.
speed: parameters, FLOPs, training step time, frames/s model-only and end to end, peak memory,
for the default model and the seed's architecture.
"""

from __future__ import annotations

import json
import platform
from datetime import date
from pathlib import Path

import numpy as np


def machine() -> str:
    """One line naming this machine: CPU model, cores, Keras backend."""
    import os

    import keras

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, keras {keras.__version__} on {keras.backend.backend()}"


def score_model(model_dir: Path, test_pkl: Path, labels_pkl: Path) -> dict:
    """Segment every test clip with a model folder and score it (AML score, means, frames/s)."""
    from .data import load_aml, load_labels
    from .metrics import evaluate
    from .predict import Segmenter, segment_clips

    preds, frames, seconds = {}, 0, 0.0
    for clip, segmentation, took in segment_clips(Segmenter.load(model_dir), load_aml(test_pkl)):
        preds[clip.name] = segmentation.mask
        seconds += took
        frames += clip.n_frames
    result = evaluate(preds, load_labels(labels_pkl))
    return {"score": result.score, "mean_video": result.mean_video, "mean_frame": result.mean_frame,
            "predict_fps": frames / seconds}


def trained_model(stem: Path, clips: list, config) -> Path:
    """A model folder `stem`, `stem`-2, ... trained on `clips` with exactly `config`: an earlier one is
    reused, otherwise the first free name is trained; a model of another recipe is never overwritten."""
    from .config import load_train_config
    from .train import train

    candidates = [stem] + [stem.with_name(f"{stem.name}-{n}") for n in range(2, 100)]
    for folder in candidates:
        if not folder.exists():
            train(clips, folder, config)
            return folder
        if (folder / "metrics.json").is_file() and load_train_config(folder / "config.json") == config:
            return folder
    raise RuntimeError(f"{stem}: 99 models of other recipes already there; clear the bench folder")


def accuracy(seeds: list[int], scales: list[float], work: Path, runs: int = 1) -> list[dict]:
    """Train and score both recipes `runs` times (training seeds 0, 1, ...) on each generated set.

    Prints one row per run, then per set the mean of each recipe over its runs and the margin of
    the default over the seed preset; returns the per-run rows.
    """
    from .config import TrainConfig
    from .data import load_aml
    from .synth import write_dataset

    rows = []
    for scale in scales:
        for seed in seeds:
            data = work / f"synth-seed{seed}-scale{scale}"
            if not (data / "test_labels.pkl").is_file():
                write_dataset(data, seed=seed, scale=scale)
            clips = load_aml(data / "train.pkl")
            set_rows = []
            for preset in ("seed", "default"):
                for run in range(runs):
                    name = f"model-{preset}-seed{seed}-scale{scale}" + (f"-run{run}" if run else "")
                    out = trained_model(work / name, clips, TrainConfig.preset_config(preset, seed=run))
                    trained = json.loads((out / "metrics.json").read_text())
                    row = {"seed": seed, "scale": scale, "preset": preset, "run": run,
                           "train_s": trained["train_seconds"],
                           **score_model(out, data / "test.pkl", data / "test_labels.pkl")}
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
    mean = {p: float(np.mean([r["score"] for r in rows if r["preset"] == p])) for p in ("seed", "default")}
    runs = sum(r["preset"] == "default" for r in rows)
    return (f"| {rows[0]['seed']} | {rows[0]['scale']} | mean of {runs} | seed {mean['seed']:.3f}, "
            f"default {mean['default']:.3f}, margin **{mean['default'] - mean['seed']:.3f}** | | | | | |")


ACCURACY_HEADER = ("| data seed | scale | recipe | run | AML score (median video IoU) | mean video IoU | "
                   "mean frame IoU | training min | predict frames/s |\n|---|---|---|---|---|---|---|---|---|")


def run(args) -> None:
    """Entry point of `mvcore bench`."""
    print(f"{date.today()} on {machine()}")
    if args.what == "accuracy":
        print(ACCURACY_HEADER, flush=True)
        accuracy(args.seeds, args.scale, Path(args.work), args.runs)
    else:
        from .speedbench import speed

        speed(Path(args.work))
