"""One dataclass per job, saved as JSON beside its results so every run can be repeated."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class TrainConfig:
    """Every setting of `mvcore train`; saved as `config.json` in the model folder.

    Sizes are pixels; learning rates per optimiser step; epochs per stage.
    """

    preset: str = "default"            # 'default' (locate the valve, segment a crop) or 'baseline' (the seed project's)
    crop_size: int = 128               # segmenter input side (pixels)
    base_filters: int = 16
    depth: int = 4
    offsets: tuple[int, ...] = (-2, 0, 2)  # frames fed as channels, relative to the one segmented
    still_share: float = 0.2           # share of training crops whose neighbours are the frame itself (stills)
    margin: float = 1.25               # crop side / box's longer side
    whole_frame: bool = False          # letterbox the whole frame instead of cropping the valve
    locator_size: int = 96             # locator input side (pixels), 0 = no locator
    locator_epochs: int = 8
    locator_frames_per_clip: int = 24
    epochs_stage1: int = 24
    epochs_stage2: int = 10
    samples_per_epoch: int = 256       # augmented examples drawn per epoch (16 steps of 16: 15 min on 2 cores)
    batch_size: int = 16
    lr_stage1: float = 2e-3
    lr_stage2: float = 3e-4
    lr_schedule: str = "constant"      # 'constant', or 'cosine': each stage's rate falls to 0 by its last step
    freeze_levels: int = 1             # encoder levels frozen in stage 2
    expert_weight: float = 2.0         # how much likelier an expert example is drawn in stage 1
    loss: str = "iou_bce"
    flip: bool = False                 # mirror crops left-right at random; predict as the mean with the mirror
    scanner_aug: bool = True           # crops also rotated, blurred, lowered in resolution and contrast (scanners differ)
    texture_aug: bool = True           # with scanner_aug: speckle of another grain, a random tone curve, haze (real scanners' textures)
    sharpen_aug: bool = True           # with scanner_aug: a quarter of the crops sharpened (scanners finer than the synthetic clips)
    match_intensity: bool = True       # clips' grey levels matched to the training clips' when predicting (mvcore.intensity)
    ema: bool = False                  # keep the moving average of the weights (last ~100 steps) after each stage
    pseudo_frames: int = 0             # unlabelled frames per expert clip labelled by the stage-1 model for stage 2
    rehearsal: bool = True             # fine-tuning (init) also draws the bundled synthetic set's frames (mvcore.train)
    start: str = "bundled"             # 'bundled': begin from the bundled model's networks where their shape fits; 'scratch'
    threshold: float | None = 0.5      # probability threshold; None: the best median on the validation videos
    val_fraction: float = 0.15
    seed: int = 0
    devices: int = 1                   # devices trained on, every process's (set by mvcore.distribute's placement)
    strategy: str = "single device"    # or 'data parallel': each device a share of every batch (mvcore.distribute)

    @property
    def segmented_channel(self) -> int:
        """The input channel of the frame being segmented: that of the offset nearest 0."""
        return int(np.argmin(np.abs(self.offsets)))

    @classmethod
    def preset_config(cls, name: str, fast: bool = False, **overrides) -> "TrainConfig":
        """The named recipe (see PRESETS; an old name of PRESET_ALIASES gives its preset), optionally
        shrunk to a seconds-long `fast` run. `overrides` that are None keep the recipe's value.
        """
        name = preset_name(name)
        settings = dict(PRESETS[name], preset=name)
        if fast:
            settings.update(FAST, locator_size=FAST["locator_size"] if settings.get("locator_size") != 0 else 0)
        settings.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**settings)


PRESETS = {
    "default": {},
    # the seed project's recipe: whole frame letterboxed to 128 x 128, one frame in, threshold 0.9
    "baseline": dict(whole_frame=True, locator_size=0, offsets=(0,), threshold=0.9, margin=1.0, loss="iou"),
}
PRESET_ALIASES = {"seed": "baseline"}  # old name -> preset: scripts, bench variants and config.json files using it
FAST = dict(crop_size=64, base_filters=8, depth=3, locator_size=64, locator_epochs=4, locator_frames_per_clip=6,
            epochs_stage1=3, epochs_stage2=2, samples_per_epoch=64, batch_size=8)


def preset_name(name: str) -> str:
    """The preset `name` stands for (itself, or the preset of an old name); ValueError for an unknown one."""
    name = PRESET_ALIASES.get(name, name)
    if name not in PRESETS:
        raise ValueError(f"unknown preset '{name}' (known: {', '.join(PRESETS)})")
    return name


@dataclass
class PredictConfig:
    """Settings of `mvcore predict` that do not change the model."""

    threshold: float | None = None     # None: the model's own, chosen on validation
    batch_size: int = 32               # frames per network call
    runtime: str = "auto"              # 'auto' (ONNX Runtime where it can, else Keras), 'onnx' or 'keras'
    onnx_threads: int = 0              # ONNX Runtime's threads per network call (0: its default, one per core)


def save_config(config, path: Path) -> None:
    """Write a config dataclass as JSON."""
    Path(path).write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n")


def load_train_config(path: Path) -> TrainConfig:
    """Read `config.json`; unknown keys are ignored, missing ones take today's defaults."""
    return train_config_from_dict(json.loads(Path(path).read_text()))


def train_config_from_dict(data: dict) -> TrainConfig:
    """A `TrainConfig` from its JSON form; unknown keys are ignored, missing ones take today's defaults."""
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    data = {k: v for k, v in data.items() if k in known}
    if "offsets" in data:
        data["offsets"] = tuple(data["offsets"])
    if "preset" in data:  # a folder saved under an old preset name reads as that preset
        data["preset"] = PRESET_ALIASES.get(data["preset"], data["preset"])
    return TrainConfig(**data)
