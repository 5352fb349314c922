"""Benchmark bookkeeping: a bench model is reused only for the very recipe it was trained with."""

import pytest

from mvcore.bench import format_margin, trained_model
from mvcore.cli import main
from mvcore.config import TrainConfig, load_train_config
from mvcore.data import load_aml


def test_a_bench_model_is_reused_for_its_recipe_and_never_overwritten_by_another(train_pickle, tmp_path):
    clips = load_aml(train_pickle)
    tiny = dict(fast=True, epochs_stage1=1, epochs_stage2=1, locator_epochs=1)
    first = TrainConfig.preset_config("default", **tiny)
    other = TrainConfig.preset_config("default", lr_schedule="cosine", **tiny)
    stem = tmp_path / "model-default"

    folder = trained_model(stem, clips, first)
    weights = (folder / "model.keras").read_bytes()
    assert folder == stem
    assert trained_model(stem, clips, first) == folder

    second = trained_model(stem, clips, other)
    assert second == tmp_path / "model-default-2"
    assert load_train_config(second / "config.json") == other
    assert (folder / "model.keras").read_bytes() == weights
    assert trained_model(stem, clips, other) == second


@pytest.mark.parametrize("seed_scores, default_scores, expected", [
    ([0.4], [0.75], "seed 0.400, default 0.750, margin **0.350**"),
    ([0.4, 0.3], [0.75, 0.77], "seed 0.350, default 0.760, margin **0.410**"),
])
def test_the_margin_compares_each_recipes_mean_over_its_runs(seed_scores, default_scores, expected):
    rows = [{"seed": 2, "scale": 0.5, "preset": preset, "score": score}
            for preset, scores in (("seed", seed_scores), ("default", default_scores)) for score in scores]
    line = format_margin(rows)
    assert line.startswith(f"| 2 | 0.5 | mean of {len(default_scores)} |") and expected in line


def test_bench_wants_at_least_one_run(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "accuracy", "--runs", "0"])
    assert exit_info.value.code == 2 and "must be 1 or more" in capsys.readouterr().err
