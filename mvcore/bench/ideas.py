"""`mvcore bench ideas`: named `TrainConfig` variants trained side by side and scored alike."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from ..config import TrainConfig
from ..errors import InputError
from .accuracy import score_model, synth_set, trained_model


def parse_variant(text: str) -> tuple[str, TrainConfig]:
    """'wide=default:base_filters=24,seed=1' -> ('wide', the default recipe with those two fields).

    NAME=PRESET[:FIELD=VALUE,...]; values are read as JSON where they parse (numbers, true/false,
    null, lists for `offsets`), else as text; `threshold=null` chooses it on the validation videos.
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
        config = TrainConfig.preset_config(preset, **overrides)  # which leaves the recipe's value for a null
        return name, dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is None and k != "fast"})
    except ValueError as err:
        raise InputError(f"'{text}': {err}") from None


def score_variant(name: str, config: TrainConfig, data: Path, work: Path) -> dict:
    """Train (or reuse) one variant on the set in `data` and score it; runs in a worker process."""
    from ..data import load_aml

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
