"""Benchmarks that print figures (kept out of the test run): `mvcore bench accuracy|speed`.

accuracy: for each (seed, scale), generate a synthetic set, train the seed preset and the default
recipe with the same code, segment the test clips and score them as the course does.
speed: parameters, FLOPs, training step time, frames/s model-only and end to end, peak memory,
for the default model and the seed's architecture.
ideas: train named variants of a recipe (`TrainConfig` fields) on generated sets, several at
once, and score each the same way.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import platform
import re
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import date
from pathlib import Path

import numpy as np

from .config import TrainConfig, load_train_config
from .errors import InputError


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


def score_model(model_dir: Path, data: Path) -> dict:
    """Segment every test clip of a generated set with a model folder and score it: AML score,
    means, frames/s, with the training seconds, validation IoU and threshold from `metrics.json`."""
    from .data import load_aml, load_labels
    from .metrics import evaluate
    from .predict import Segmenter, segment_clips

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
    from .train import train

    candidates = [stem] + [stem.with_name(f"{stem.name}-{n}") for n in range(2, 100)]
    for folder in candidates:
        if not folder.exists():
            train(clips, folder, config)
            return folder
        if (folder / "metrics.json").is_file() and load_train_config(folder / "config.json") == config:
            return folder
    raise RuntimeError(f"{stem}: 99 models of other recipes already there; clear the bench folder")


def synth_set(work: Path, seed: int, scale: float) -> Path:
    """The folder of `mvcore synth --seed S --scale X` in `work`, generated the first time."""
    from .synth import write_dataset

    data = work / f"synth-seed{seed}-scale{scale}"
    if not (data / "test_labels.pkl").is_file():
        write_dataset(data, seed=seed, scale=scale)
    return data


def accuracy(seeds: list[int], scales: list[float], work: Path, runs: int = 1) -> list[dict]:
    """Train and score both recipes `runs` times (training seeds 0, 1, ...) on each generated set.

    Prints one row per run, then per set the mean of each recipe over its runs and the margin of
    the default over the seed preset; returns the per-run rows.
    """
    from .data import load_aml

    rows = []
    for scale in scales:
        for seed in seeds:
            data = synth_set(work, seed, scale)
            clips = load_aml(data / "train.pkl")
            set_rows = []
            for preset in ("seed", "default"):
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
    mean = {p: float(np.mean([r["score"] for r in rows if r["preset"] == p])) for p in ("seed", "default")}
    runs = sum(r["preset"] == "default" for r in rows)
    return (f"| {rows[0]['seed']} | {rows[0]['scale']} | mean of {runs} | seed {mean['seed']:.3f}, "
            f"default {mean['default']:.3f}, margin **{mean['default'] - mean['seed']:.3f}** | | | | | |")


ACCURACY_HEADER = ("| data seed | scale | recipe | run | AML score (median video IoU) | mean video IoU | "
                   "mean frame IoU | training min | predict frames/s |\n|---|---|---|---|---|---|---|---|---|")


def parse_variant(text: str) -> tuple[str, TrainConfig]:
    """'wide=default:base_filters=24,seed=1' -> ('wide', the default recipe with those two fields).

    NAME=PRESET[:FIELD=VALUE,...]; values are read as JSON where they parse (numbers, true/false,
    lists for `offsets`), else as text.
    """
    name, _, recipe = text.partition("=")
    preset, _, fields = recipe.partition(":")
    if not name or not preset:
        raise InputError(f"'{text}': a variant is NAME=PRESET[:FIELD=VALUE,...], e.g. wide=default:base_filters=24")
    known = {f.name for f in dataclasses.fields(TrainConfig)} | {"fast"}
    overrides = {}
    for item in filter(None, re.split(r",(?![^\[]*\])", fields)):  # commas inside [...] belong to a list
        key, _, value = item.partition("=")
        if key not in known:
            raise InputError(f"'{text}': '{key}' is not a TrainConfig field (known: {', '.join(sorted(known))})")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        overrides[key] = tuple(parsed) if isinstance(parsed, list) else parsed
    try:
        return name, TrainConfig.preset_config(preset, **overrides)
    except ValueError as err:
        raise InputError(f"'{text}': {err}") from None


def score_variant(name: str, config: TrainConfig, data: Path, work: Path) -> dict:
    """Train (or reuse) one variant on the set in `data` and score it; runs in a worker process."""
    from .data import load_aml

    folder = trained_model(work / f"idea-{name}-{data.name}", load_aml(data / "train.pkl"), config)
    return {"name": name, "set": data.name, **score_model(folder, data)}


def ideas(variants: list[str], seeds: list[int], scales: list[float], work: Path, jobs: int = 1) -> list[dict]:
    """Train and score every variant on every generated set, `jobs` trainings at a time.

    Prints one row per variant and set as each finishes; returns the rows.
    """
    if not variants:
        raise InputError("bench ideas: name at least one variant, NAME=PRESET[:FIELD=VALUE,...]")
    recipes = [parse_variant(text) for text in variants]  # every typo before any training
    sets = [synth_set(work, seed, scale) for scale in scales for seed in seeds]
    rows = []
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:  # no fork under JAX
        futures = [pool.submit(score_variant, name, config, data, work) for data in sets for name, config in recipes]
        for future in as_completed(futures):
            rows.append(future.result())
            print(format_idea_row(rows[-1]), flush=True)
    return rows


def format_idea_row(row: dict) -> str:
    return (f"| {row['set']} | {row['name']} | {row['score']:.3f} | {row['mean_video']:.3f} | {row['val_iou']:.3f} | "
            f"{row['threshold']} | {row['train_s'] / 60:.1f} | {row['predict_fps']:.0f} |")


IDEAS_HEADER = ("| set | variant | AML score (median video IoU) | mean video IoU | validation IoU | threshold | "
                "training min | predict frames/s |\n|---|---|---|---|---|---|---|---|")


def run(args) -> None:
    """Entry point of `mvcore bench`."""
    if args.variants and args.what != "ideas":
        raise InputError(f"bench {args.what} takes no variants (only bench ideas does)")
    print(f"{date.today()} on {machine()}")
    if args.what == "accuracy":
        print(ACCURACY_HEADER, flush=True)
        accuracy(args.seeds, args.scale, Path(args.work), args.runs)
    elif args.what == "ideas":
        print(IDEAS_HEADER, flush=True)
        ideas(args.variants, args.seeds, args.scale, Path(args.work), args.jobs)
    else:
        from .speedbench import speed

        speed(Path(args.work))
