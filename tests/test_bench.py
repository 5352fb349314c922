"""Benchmark bookkeeping: a bench model is reused only for the very recipe it was trained with."""

from mvcore.bench import trained_model
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
