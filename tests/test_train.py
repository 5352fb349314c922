"""Training: split by video, threshold choice, stage 2 skipped without experts, a tiny real run
that must beat a trivial predictor on clips it never saw, and what each step leaves in the model:
stage 2's new weights beside its frozen levels, the threshold chosen on validation, the locator's boxes."""

import csv
import dataclasses
import json
import os
import shutil
import stat
from pathlib import Path

import keras
import numpy as np
import pytest

from conftest import made_once
from mvcore.clip import Clip
from mvcore.config import PredictConfig, TrainConfig
from mvcore.data import load_aml, load_labels
from mvcore.distribute import place
from mvcore.errors import InputError
from mvcore.fit import learning_rate
from mvcore.metrics import video_iou
from mvcore.model import create_model
from mvcore.predict import Segmenter
from mvcore.batches import Example, collect_examples
from mvcore.locate import locate_valve
from mvcore.quality import HIT_SHARE, MIN_HIT_RATE, fixed_box_iou, share_inside
from mvcore.train import (REHEARSAL_SET, Run, choose_threshold, pipeline_iou, pretrained_networks,
                          pseudo_label_examples, split_by_video, train, with_rehearsal)
from mvcore.transforms import Roi, box_bounds


def fake_clips(n_amateur, n_expert):
    video = np.zeros((8, 8, 2), np.uint8)
    return ([Clip(f"A{i}", video, dataset="amateur") for i in range(n_amateur)]
            + [Clip(f"E{i}", video, dataset="expert") for i in range(n_expert)])


@pytest.mark.parametrize("n_amateur, n_expert, fraction, n_val", [
    (46, 19, 0.15, 7 + 3),
    (5, 3, 0.15, 1 + 1),
    (2, 2, 0.5, 0),          # too few of each kind to hold any out
    (10, 0, 0.2, 2),
])
def test_validation_is_split_by_video_and_per_kind(n_amateur, n_expert, fraction, n_val):
    clips = fake_clips(n_amateur, n_expert)
    train_part, val_part = split_by_video(clips, fraction, seed=0)
    assert len(val_part) == n_val
    assert {c.name for c in train_part}.isdisjoint(c.name for c in val_part)
    assert len(train_part) + len(val_part) == len(clips)


@pytest.mark.parametrize("scores, expected", [
    ({0.3: [0.5, 0.6], 0.5: [0.7, 0.8], 0.7: [0.6, 0.6]}, 0.5),
    ({0.4: [0.8, 0.8], 0.5: [0.8, 0.8], 0.9: [0.8, 0.8]}, 0.5),   # ties go to the threshold nearest 0.5
    ({0.3: [0.1, 0.2, 0.9], 0.8: [0.5, 0.5, 0.5]}, 0.8),
])
def test_threshold_with_the_best_median_is_chosen(scores, expected):
    assert choose_threshold(scores)[0] == expected


@pytest.mark.parametrize("schedule, step, expected", [
    ("constant", 0, 1e-3), ("constant", 100, 1e-3),
    ("cosine", 0, 1e-3), ("cosine", 50, 5e-4), ("cosine", 100, 0.0), ("cosine", 150, 0.0),
])
def test_learning_rate_follows_its_schedule(schedule, step, expected):
    rate = learning_rate(1e-3, schedule, steps=100)
    value = rate if isinstance(rate, float) else float(rate(step))
    assert value == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("field, value", [("loss", "dice"), ("lr_schedule", "linear"), ("start", "imagenet")])
def test_an_unknown_loss_or_schedule_is_refused_before_training(tiny_set, tmp_path, field, value):
    config = TrainConfig.preset_config("default", fast=True, **{field: value})
    with pytest.raises(InputError, match=f"unknown .*'{value}' \\(known: "):
        train(load_aml(tiny_set / "train.pkl"), tmp_path / "m", config)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("start, fast, started_from", [
    ("bundled", False, "bundled"),
    ("scratch", False, "scratch"),
    ("bundled", True, "scratch"),   # the fast recipe's networks are smaller than the bundled ones
])
def test_a_new_training_begins_from_the_bundled_networks_where_they_fit(bundled_model, start, fast, started_from):
    events = []
    run = Run(TrainConfig.preset_config("default", fast=fast, start=start), [], [], events.append, placement=place(1))
    model, locator = pretrained_networks(run)
    assert run.metrics["start"] == started_from
    if started_from == "scratch":
        assert model is None and locator is None
        assert [e["text"] for e in events] == (["starting from random weights: the bundled model's networks have "
                                               "another shape than this recipe's"] if start == "bundled" else [])
        return
    for network, name in [(model, "model.keras"), (locator, "locator.keras")]:
        saved = keras.saving.load_model(bundled_model / name, compile=False)
        assert all(np.array_equal(a, b) for a, b in zip(network.get_weights(), saved.get_weights()))


def test_stage_2_is_skipped_with_a_message_without_expert_clips(tiny_set, tmp_path):
    amateurs = [c for c in load_aml(tiny_set / "train.pkl") if c.dataset == "amateur"]
    events = []
    config = TrainConfig.preset_config("default", fast=True, epochs_stage1=1, locator_size=0)
    metrics = train(amateurs, tmp_path / "m", config, on_event=events.append)
    assert "stage2" not in metrics and "stage1" in metrics
    assert any(e["kind"] == "message" and "stage 2 skipped" in e["text"] for e in events)


# 16 locator epochs: every training clip's box held on training seeds 0, 1 and 2 (at 8 to 12 they
# are loose or seed-dependent)
SMALL_RECIPE = dict(fast=True, epochs_stage1=15, epochs_stage2=5, locator_epochs=16, locator_frames_per_clip=12,
                    samples_per_epoch=128)


@pytest.fixture(scope="session")
def small_model(tiny_set, tmp_path_factory):
    """A model folder from a short but complete run of the default recipe on the tiny set, made once
    per test run: long enough that its segmenter and locator must have learned something."""
    return made_once(tmp_path_factory, "small-model", lambda folder: train(
        load_aml(tiny_set / "train.pkl"), folder, TrainConfig.preset_config("default", **SMALL_RECIPE)))


@pytest.mark.long
def test_a_short_training_run_beats_a_trivial_predictor_on_unseen_clips(tiny_set, small_model):
    segmenter = Segmenter.load(small_model, PredictConfig(runtime="keras"))
    labels = load_labels(tiny_set / "test_labels.pkl")
    test_clips = [dataclasses.replace(c, frames=labels[c.name][0], label=labels[c.name][1])
                  for c in load_aml(tiny_set / "test.pkl")]
    ious = [video_iou(c.label, segmenter.segment(c).mask, c.frames) for c in test_clips]
    trivial = fixed_box_iou(load_aml(tiny_set / "train.pkl"), test_clips)   # the quality check's own trivial baseline
    assert float(np.median(ious)) > max(2 * trivial, 0.1), (ious, trivial)


@pytest.mark.long
def test_a_trained_locators_box_holds_the_valve_on_its_training_clips(tiny_set, small_model):
    trained_on = json.loads((small_model / "metrics.json").read_text())["train_videos"]
    clips = [c for c in load_aml(tiny_set / "train.pkl") if c.box is not None and c.name in trained_on]
    segmenter = Segmenter.load(small_model, PredictConfig(runtime="keras"))
    config = segmenter.config
    held = []
    for clip in clips:
        found = locate_valve(segmenter.locator, clip.video, config.locator_size, config.margin).roi
        exact = Roi.around(*box_bounds(clip.box), margin=config.margin)
        # the valve inside, and not by covering the frame: at most twice the side of the crop around the true box
        held.append(share_inside(found, clip) >= HIT_SHARE and found.side <= 2 * exact.side)
    assert np.mean(held) >= MIN_HIT_RATE, held


def test_fine_tuning_keeps_the_starting_models_shape(tiny_set, fast_model, tmp_path):
    clips = load_aml(tiny_set / "train.pkl")
    first = Segmenter.load(fast_model).config
    asked = TrainConfig.preset_config("default", fast=True, crop_size=128, offsets=(-1, 0, 1), epochs_stage2=1)
    metrics = train(clips, tmp_path / "tuned", asked, init_dir=fast_model)
    tuned = Segmenter.load(tmp_path / "tuned")
    assert (tuned.config.crop_size, tuned.config.offsets) == (first.crop_size, first.offsets)
    assert metrics["start"] == str(fast_model)
    assert tuned.segment(clips[0]).mask.shape == clips[0].video.shape


@pytest.mark.parametrize("asked, kept", [
    (None, 0.35),   # a threshold to be chosen on validation, with none to choose it on: the starting model's
    (0.5, 0.5),     # the recipe's own
])
def test_fine_tuning_without_validation_keeps_the_recipes_threshold_else_the_starting_models(
        tiny_set, fast_model, tmp_path, asked, kept):
    clips = load_aml(tiny_set / "train.pkl")
    tiny = dict(fast=True, epochs_stage1=1, epochs_stage2=1, locator_epochs=1)
    shutil.copytree(fast_model, tmp_path / "first")
    metrics_path = tmp_path / "first" / "metrics.json"
    metrics_path.write_text(json.dumps(dict(json.loads(metrics_path.read_text()), threshold=0.35)))
    two_experts = [c for c in clips if c.dataset == "expert"][:2]  # too few to hold any out
    config = dataclasses.replace(TrainConfig.preset_config("default", pseudo_frames=2, **tiny), threshold=asked)
    tuned = train(two_experts, tmp_path / "tuned", config, init_dir=tmp_path / "first")
    assert "stage2" in tuned and not tuned["stage2"]
    assert tuned["threshold"] == kept and Segmenter.load(tmp_path / "tuned").threshold == kept
    assert any("not checked on clips it did not train on" in w for w in tuned["quality"]["warnings"])
    with open(tmp_path / "tuned" / "history.csv") as f:   # no validation figures rather than a training example's
        assert all(row["val_iou"] == "nan" and row["val_loss"] == "nan" for row in csv.DictReader(f))


@pytest.mark.parametrize("n_own, n_amateur, expected_own", [(1, 0, 15), (3, 2, 15), (4, 0, 16), (20, 1, 20), (0, 3, 0)])
def test_fine_tuning_mixes_the_bundled_set_with_the_users_frames_at_least_half(n_own, n_amateur, expected_own):
    bundled = collect_examples(load_aml(REHEARSAL_SET), (0,))
    assert len(bundled) == 15  # samples/train_small.pkl: 5 clips of 3 labelled frames
    own = [Example(np.zeros((8, 8, 1), np.uint8), np.zeros((8, 8), bool), (0, 0, 8, 8), i < n_own, f"mine{i}")
           for i in range(n_own + n_amateur)]
    mixed = with_rehearsal(own, (0,))
    if not n_own:  # no expert frames: stage 2 is skipped as before, nothing to mix into
        assert mixed == own
        return
    mine = [e for e in mixed if e.clip.startswith("mine")]
    assert len(mine) == expected_own and len(mixed) == expected_own + len(bundled)
    assert {e.clip for e in mine} == {e.clip for e in own if e.expert} and all(e.expert for e in mixed)


def test_training_records_its_quality_check(fast_model):
    metrics = json.loads((fast_model / "metrics.json").read_text())
    quality = metrics["quality"]
    assert quality["pipeline_iou"] == metrics["val_iou"]
    assert 0.0 <= quality["trivial_iou"] <= 1.0
    if metrics["locator"]["fallback"] is None:   # a locator was kept: its hit rate on validation is recorded
        assert 0.0 <= quality["box_hit_rate"] <= 1.0
        top, left, bottom, right = metrics["locator"]["box_prior"]  # and where its training boxes lay
        assert 0.0 <= top < bottom <= 1.0 and 0.0 <= left < right <= 1.0
    else:
        assert quality["box_hit_rate"] is None and not (fast_model / "locator.keras").exists()
    with open(fast_model / "history.csv") as f:
        last_epoch = list(csv.DictReader(f))[-1]
    assert last_epoch["stage"] == "stage2" and quality["crop_iou"] == pytest.approx(float(last_epoch["val_iou"]))
    assert isinstance(quality["warnings"], list)


def test_a_trained_model_folder_is_as_readable_as_anything_else_the_user_writes(fast_model):
    """The folder, its networks and their ONNX copies get 0777 / 0666 less the umask, so that another
    account serving the app (or a colleague) can read a model: nothing is made private on the way."""
    Segmenter.load(fast_model)  # exports the ONNX copies beside the Keras files
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fast_model.stat().st_mode) == 0o777 & ~umask
    for path in fast_model.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path.name
    assert (fast_model / "model.onnx").is_file()


def test_pseudo_labels_come_from_unlabelled_frames_inside_the_clips_box(tiny_set):
    experts = [c for c in load_aml(tiny_set / "train.pkl") if c.dataset == "expert"]
    config = TrainConfig.preset_config("default", fast=True)
    model = create_model("unet", size=config.crop_size, channels=len(config.offsets), base=4, depth=2)
    examples = pseudo_label_examples(Segmenter(model, None, config, threshold=0.3), experts, count=5)
    assert len(examples) == 5 * len(experts)
    for clip in experts:
        mine = [e for e in examples if e.clip == clip.name]
        outside = np.ones(clip.video.shape[:2], bool)
        fr, fc, _, _ = Roi.around(*box_bounds(clip.box), margin=config.margin).clipped(*outside.shape)
        outside[fr, fc] = False
        assert all(e.expert and e.label.shape == clip.video.shape[:2] and not e.label[outside].any() for e in mine)
        segmented = config.segmented_channel
        assert not any(any((e.pixels[:, :, segmented] == clip.video[:, :, f]).all() for f in clip.frames)
                       for e in mine)
    assert any(e.label.any() for e in examples)


@pytest.mark.parametrize("option", [dict(flip=True, ema=True, pseudo_frames=4, loss="iou_focal", texture_aug=False,
                                         sharpen_aug=False),
                                    dict(loss="iou", lr_schedule="cosine", scanner_aug=False)])  # each option once
def test_every_training_option_trains_a_model_that_segments(tiny_set, tmp_path, option):
    clips = load_aml(tiny_set / "train.pkl")
    # no locator (the options are the segmenter's): the segmenter sees the whole frame's square
    config = TrainConfig.preset_config("default", fast=True, epochs_stage1=1, epochs_stage2=1, locator_size=0,
                                       **option)
    metrics = train(clips, tmp_path / "m", config)
    assert "stage2" in metrics
    segmenter = Segmenter.load(tmp_path / "m")
    assert {k: getattr(segmenter.config, k) for k in option} == option
    assert segmenter.segment(clips[0]).mask.shape == clips[0].video.shape


@pytest.mark.parametrize("hit_rate, falls_back", [(0.25, True), (0.79, True), (0.8, False), (None, False)])
def test_a_locator_that_misses_on_validation_gives_way_to_whole_frames(monkeypatch, hit_rate, falls_back):
    from mvcore import train as training

    untrained = create_model("unet", size=64, channels=2, base=4, depth=2)
    monkeypatch.setattr(training, "train_locator", lambda *args: untrained)
    monkeypatch.setattr(training, "locator_hit_rate", lambda *args: hit_rate)
    config, events, metrics = TrainConfig.preset_config("default", fast=True), [], {}
    used, locator = training.located_or_whole_frame(config, [], [], events.append, [], metrics)
    assert metrics["locator"]["val_box_hit_rate"] == hit_rate
    if falls_back:
        assert locator is None and used.whole_frame and used.locator_size == 0
        assert metrics["locator"]["fallback"] == "whole_frame"
        assert [e["kind"] for e in events] == ["warning"] and "whole frames" in events[0]["text"]
    else:
        assert locator is untrained and used == config and metrics["locator"]["fallback"] is None and not events


def layer_weights(model_dir) -> dict[str, list[np.ndarray]]:
    """The segmenter's weights (moving statistics included) per layer that has any."""
    model = keras.saving.load_model(model_dir / "model.keras", compile=False)
    return {layer.name: [np.array(w) for w in layer.weights] for layer in model.layers if layer.weights}


@pytest.mark.parametrize("freeze_levels", [0, 2])
def test_stage_2_changes_every_layer_but_its_frozen_encoder_levels(tiny_set, fast_model, tmp_path, freeze_levels):
    config = TrainConfig.preset_config("default", fast=True, epochs_stage2=1, freeze_levels=freeze_levels)
    train(load_aml(tiny_set / "train.pkl"), tmp_path / "tuned", config, init_dir=fast_model)  # stage 2 only
    before, after = layer_weights(fast_model), layer_weights(tmp_path / "tuned")
    assert before.keys() == after.keys()
    unchanged = {name for name in before if all(np.array_equal(a, b) for a, b in zip(before[name], after[name]))}
    frozen = {name for name in before if name.startswith(tuple(f"enc{level}_" for level in range(freeze_levels)))}
    assert len(frozen) == 4 * freeze_levels  # two convolutions and two batch norms a level
    assert unchanged == frozen  # bit for bit, batch-norm statistics included


@pytest.fixture(scope="module")
def chosen_threshold_model(tiny_set, tmp_path_factory) -> Path:
    """`mvcore train --fast --choose-threshold` on the tiny set."""
    from mvcore.cli import main

    folder = tmp_path_factory.mktemp("chosen") / "model"
    assert main(["train", str(tiny_set / "train.pkl"), "--out", str(folder), "--fast", "--choose-threshold"]) == 0
    return folder


@pytest.mark.parametrize("model, chosen", [("fast_model", False), ("chosen_threshold_model", True)])
def test_the_saved_threshold_is_the_recipes_or_the_one_chosen_on_validation(tiny_set, request, model, chosen):
    folder = request.getfixturevalue(model)
    metrics = json.loads((folder / "metrics.json").read_text())
    clips = {c.name: c for c in load_aml(tiny_set / "train.pkl")}
    validated = [clips[name] for name in metrics["stage2"]["val_videos"]]
    assert validated and not {c.name for c in validated} & set(metrics["train_videos"])
    segmenter = Segmenter.load(folder, PredictConfig(runtime="keras"))  # the network training scored
    scores = pipeline_iou(segmenter, validated)
    threshold, best = choose_threshold(scores) if chosen else (0.5, float(np.median(scores[0.5])))
    assert segmenter.config.threshold == (None if chosen else 0.5)
    assert metrics["threshold"] == metrics["stage2"]["threshold"] == threshold == segmenter.threshold
    assert metrics["val_iou"] == pytest.approx(best, abs=1e-6)


