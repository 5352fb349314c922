"""Job configurations: presets, and the JSON saved beside every model."""

import dataclasses
import json

import pytest

from mvcore.cli import build_parser
from mvcore.config import TrainConfig, load_train_config, save_config


@pytest.mark.parametrize("preset, fast, overrides, expected", [
    ("default", False, {}, dict(crop_size=128, locator_size=96, offsets=(-2, 0, 2), whole_frame=False)),
    ("baseline", False, {}, dict(crop_size=128, locator_size=0, offsets=(0,), whole_frame=True, threshold=0.9)),
    ("default", True, {}, dict(crop_size=64, locator_size=64, epochs_stage1=3)),
    ("baseline", True, {}, dict(crop_size=64, locator_size=0)),
    ("default", False, dict(epochs_stage1=5, crop_size=None), dict(epochs_stage1=5, crop_size=128)),
])
def test_presets_and_overrides(preset, fast, overrides, expected):
    config = TrainConfig.preset_config(preset, fast=fast, **overrides)
    assert config.preset == preset
    assert {key: getattr(config, key) for key in expected} == expected


@pytest.mark.parametrize("offsets, channel", [((0,), 0), ((-2, 0, 2), 1), ((0, 1), 0), ((-3, -1), 1)])
def test_the_segmented_channel_is_the_offset_nearest_zero(offsets, channel):
    assert TrainConfig(offsets=offsets).segmented_channel == channel


def test_unknown_preset_is_refused():
    with pytest.raises(ValueError, match="unknown preset"):
        TrainConfig.preset_config("nnunet")


def test_config_json_round_trip_ignores_unknown_keys(tmp_path):
    config = TrainConfig.preset_config("baseline", seed=7)
    save_config(config, tmp_path / "config.json")
    text = (tmp_path / "config.json").read_text().replace('"seed": 7', '"seed": 7, "from_the_future": 1')
    (tmp_path / "config.json").write_text(text)
    assert dataclasses.asdict(load_train_config(tmp_path / "config.json")) == dataclasses.asdict(config)


def _saved_and_loaded(name: str, folder) -> TrainConfig:
    """The baseline recipe as read back from a config.json that names its preset `name`."""
    saved = dict(dataclasses.asdict(TrainConfig.preset_config("baseline")), preset=name)
    (folder / "config.json").write_text(json.dumps(saved))
    return load_train_config(folder / "config.json")


def _from_the_command_line(name: str, folder) -> TrainConfig:
    args = build_parser().parse_args(["train", str(folder / "train.pkl"), "--out", str(folder / "m"), "--preset", name])
    return TrainConfig.preset_config(args.preset)


@pytest.mark.parametrize("read", [lambda name, folder: TrainConfig.preset_config(name), _saved_and_loaded,
                                  _from_the_command_line], ids=["preset_config", "config.json", "--preset"])
def test_the_old_preset_name_seed_reads_as_baseline(read, tmp_path):
    old = read("seed", tmp_path)
    assert old.preset == "baseline" and old == read("baseline", tmp_path)
