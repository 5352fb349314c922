"""`mvcore bench stress`: the default recipe on a set shaped like a small real scanner set.

36 training and 10 test clips, amateur-style, 112 x 112, each holding only its 3 labelled
frames: the shape of the real set on which the locator once collapsed. It does not reproduce
real echo; it reproduces the problem's shape (few, short, low-resolution clips, a motion map
from 3 frames). Each row is one recipe (the default, or `bench ideas`-style variants) on one
seed: the AML score on the test clips and the quality check's figures (mvcore.quality).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..config import TrainConfig
from .accuracy import score_model, trained_model
from .ideas import parse_variant

STRESS = dict(n_train=36, n_test=10, frames_per_clip=3, datasets=("amateur",), size=112)


def stress_set(work: Path, seed: int, shape: dict = STRESS) -> Path:
    """The stress set of `seed` in `work` (`write_dataset` arguments `shape`), generated the first time."""
    from ..synth import write_dataset

    data = work / f"stress-seed{seed}"
    if not (data / "test_labels.pkl").is_file():
        write_dataset(data, seed=seed, **shape)
    return data


def stress(variants: list[str], seeds: list[int], work: Path, shape: dict = STRESS) -> list[dict]:
    """Train and score each recipe (the default when none is named) on each seed's stress set
    (`shape`: its `write_dataset` arguments, STRESS unless a test makes a smaller one).

    Prints one row each as it finishes; returns the rows.
    """
    from ..data import load_aml

    recipes = [parse_variant(text) for text in variants] or [("default", TrainConfig.preset_config("default"))]
    rows = []
    for seed in seeds:
        data = stress_set(work, seed, shape)
        clips = load_aml(data / "train.pkl")
        for name, config in recipes:
            folder = trained_model(work / f"stress-{name}-seed{seed}", clips, config)
            quality = json.loads((folder / "metrics.json").read_text()).get("quality", {})
            rows.append({"set": data.name, "name": name, **score_model(folder, data), **quality})
            print(format_stress_row(rows[-1]), flush=True)
    return rows


def format_stress_row(row: dict) -> str:
    hits = row.get("box_hit_rate")
    return (f"| {row['set']} | {row['name']} | {row['score']:.3f} | {row['mean_video']:.3f} | "
            f"{'-' if hits is None else f'{hits:.0%}'} | {len(row.get('warnings', []))} | "
            f"{row['train_s'] / 60:.1f} |")


STRESS_HEADER = ("| set | recipe | AML score (median video IoU) | mean video IoU | validation box hits | "
                 "quality warnings | training min |\n|---|---|---|---|---|---|---|")
