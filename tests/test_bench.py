"""Benchmarks: a bench model is reused only for the very recipe it was trained with; variants of a
recipe are read from the command line and trained side by side; the real frames are scored as
labelled; every bench names its machine."""

import dataclasses
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

from mvcore.bench.accuracy import format_margin, trained_model
from mvcore.bench.ideas import parse_variant
from mvcore.bench.machine import cpu_model, describe_cpu, header, usable_cores
from mvcore.bench.marks import REACH_PX, REAL_DIR, brightest_path, marks_to_masks, read_marks, real_cine, snap_to_ridge, snapped
from mvcore.bench.real import STILLS_PER_CLIP, FrameScore, marks_extent, sector_square, small_real_clips, summary
from mvcore.bench.scale import check_each_once
from mvcore.bench.stress import STRESS, stress
from mvcore.cli import main
from mvcore.config import TrainConfig, load_train_config
from mvcore.data import load_aml
from mvcore.errors import InputError
from mvcore.predict import Segmenter


def test_a_bench_model_is_reused_for_its_recipe_and_never_overwritten_by_another(train_pickle, tmp_path):
    clips = load_aml(train_pickle)
    tiny = dict(fast=True, epochs_stage1=1, epochs_stage2=0)  # the baseline preset has no locator: one fit each
    first = TrainConfig.preset_config("baseline", **tiny)
    other = TrainConfig.preset_config("baseline", lr_schedule="cosine", **tiny)
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


@pytest.mark.parametrize("baseline_scores, default_scores, expected", [
    ([0.4], [0.75], "baseline 0.400, default 0.750, margin **0.350**"),
    ([0.4, 0.3], [0.75, 0.77], "baseline 0.350, default 0.760, margin **0.410**"),
])
def test_the_margin_compares_each_recipes_mean_over_its_runs(baseline_scores, default_scores, expected):
    rows = [{"seed": 2, "scale": 0.5, "preset": preset, "score": score}
            for preset, scores in (("baseline", baseline_scores), ("default", default_scores)) for score in scores]
    line = format_margin(rows)
    assert line.startswith(f"| 2 | 0.5 | mean of {len(default_scores)} |") and expected in line


def test_bench_wants_at_least_one_run(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "accuracy", "--runs", "0"])
    assert exit_info.value.code == 2 and "must be 1 or more" in capsys.readouterr().err


@pytest.mark.parametrize("text, name, fields", [
    ("base=default", "base", {}),
    ("wide=default:base_filters=24,seed=1", "wide", {"base_filters": 24, "seed": 1}),
    ("ctx=default:offsets=[-1,0,1],loss=dice_bce,flip=true", "ctx",
     {"offsets": (-1, 0, 1), "loss": "dice_bce", "flip": True}),
    ("base=baseline:threshold=0.8", "base", {"preset": "baseline", "whole_frame": True, "threshold": 0.8}),
    ("old=seed:threshold=0.8", "old", {"preset": "baseline", "whole_frame": True, "threshold": 0.8}),  # its old name
    ("chosen=default:threshold=null", "chosen", {"threshold": None}),  # chosen on the validation videos
])
def test_a_variant_is_a_named_recipe_with_fields_changed(text, name, fields):
    parsed_name, config = parse_variant(text)
    assert parsed_name == name
    expected = dataclasses.replace(TrainConfig.preset_config(fields.get("preset", "default")),
                                   **{k: v for k, v in fields.items() if k != "preset"})
    assert config == expected and all(getattr(config, k) == v for k, v in fields.items())


@pytest.mark.parametrize("text, problem", [
    ("default", "NAME=PRESET"),
    ("x=default:colour=3", "'colour' is not a TrainConfig field"),
    ("x=latest", "unknown preset 'latest'"),
])
def test_a_malformed_variant_is_refused_by_name(text, problem):
    with pytest.raises(InputError, match=problem):
        parse_variant(text)


@pytest.mark.long
def test_bench_ideas_trains_and_scores_each_variant_side_by_side(tiny_set, tmp_path, capsys):
    (tmp_path / tiny_set.name).symlink_to(tiny_set)   # the set `--seeds 5 --scale 0.4` names, made once per run
    tiny = "fast=true,epochs_stage1=1,epochs_stage2=0"  # the baseline preset has no locator: one fit each
    code = main(["bench", "ideas", f"a=baseline:{tiny}", f"b=baseline:{tiny},lr_schedule=cosine",
                 "--seeds", "5", "--scale", "0.4", "--work", str(tmp_path), "--jobs", "2"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| synth-seed5-scale0.4 |")]
    assert code == 0 and sorted(row.split(" | ")[1] for row in rows) == ["a", "b"]
    assert all(0.0 <= float(row.split(" | ")[2]) <= 1.0 for row in rows)
    trained = load_train_config(tmp_path / "idea-b-synth-seed5-scale0.4" / "config.json")
    assert trained.lr_schedule == "cosine" and trained.epochs_stage1 == 1


@pytest.mark.parametrize("argv, problem", [
    (["bench", "ideas"], "name at least one variant"),
    (["bench", "accuracy", "x=default"], "takes no variants"),
    (["bench", "corrections", "x=default"], "takes no variants"),
    (["bench", "locators", "--scale", "0.5", "1"], "give one --scale"),
    (["bench", "real", "--events", "--size", "112"], "--size is for bench real's frames"),
    (["bench", "measure", "--size", "112"], "--size is for bench real's frames"),
    (["bench", "real", "--events", "--threshold", "0.5"], "--threshold is for bench real's frames"),
    (["bench", "measure", "--threshold", "0.5"], "--threshold is for bench real's frames"),
])
def test_bench_refuses_arguments_where_they_do_not_belong(argv, problem, tmp_path, capsys):
    assert main(argv + ["--work", str(tmp_path)]) == 2
    assert problem in capsys.readouterr().err


def test_the_real_labels_are_the_snapped_marks_drawn():
    saved = np.load(REAL_DIR / "labels.npz")
    frames, masks = marks_to_masks(read_marks(), saved["masks"].shape[:2])
    assert list(saved["frames"]) == frames and np.array_equal(saved["masks"], masks)
    assert len(frames) >= 16 and all(masks[:, :, i].sum() > 100 for i in range(len(frames)))
    states = [read_marks()["frames"][str(t)]["state"] for t in frames]
    assert {"open", "shut"} == set(states)


def test_the_stored_leaflets_are_the_drawn_lines_snapped_on_the_cine():
    marks = read_marks()
    again = snapped(marks, real_cine().video)
    for t, frame in marks["frames"].items():
        for stored, redone in zip(frame["leaflets"], again["frames"][t]["leaflets"]):
            # another JPEG decoder may shift a ridge by a grey level: a point may move one offset step
            gap = np.linalg.norm(np.asarray(stored) - np.asarray(redone), axis=1)
            assert gap.max() <= 1.0 and gap.mean() <= 0.25


def ridge_frame(line: np.ndarray, width: float = 2.0, peak: float = 150.0) -> np.ndarray:
    """A dark uint8 (80, 120) frame with a bright band of Gaussian profile (sigma `width` px) along
    the polyline `line` (n, 2) px (x, y)."""
    rows, cols = np.mgrid[0:80, 0:120].astype(np.float64)
    dense = np.concatenate([np.linspace(a, b, 60) for a, b in zip(line[:-1], line[1:])])
    distance = np.min(np.hypot(cols[..., None] - dense[:, 0], rows[..., None] - dense[:, 1]), axis=2)
    return np.clip(20 + peak * np.exp(-0.5 * (distance / width) ** 2), 0, 255).astype(np.uint8)


def distance_to(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Each point's distance px to the polyline `line` (n, 2)."""
    dense = np.concatenate([np.linspace(a, b, 400) for a, b in zip(line[:-1], line[1:])])
    return np.min(np.linalg.norm(points[:, None] - dense[None], axis=2), axis=1)


@pytest.mark.parametrize("ridge, shift", [
    ([(20, 40), (100, 40)], (0, 3.0)),                  # level, drawn 3 px too low
    ([(20, 60), (100, 20)], (1.5, 2.0)),                # oblique, drawn 2.5 px off across it
    ([(20, 50), (60, 35), (100, 45)], (0, -2.5)),      # bent at its middle, drawn too high
])
def test_a_drawn_line_is_snapped_onto_its_band(ridge, shift):
    ridge = np.asarray(ridge, np.float64)
    drawn = ridge + shift
    assert distance_to(drawn, ridge).mean() > 1.5
    snapped_line = snap_to_ridge(ridge_frame(ridge), drawn)
    assert distance_to(snapped_line, ridge).max() <= 0.75
    ends = np.linalg.norm(snapped_line[[0, -1]] - drawn[[0, -1]], axis=1)
    assert (ends <= np.linalg.norm(shift) + 0.75).all()  # moved across itself, not along


def test_a_line_never_moves_further_than_its_reach():
    frame = ridge_frame(np.array([(20, 10.0), (100, 10.0)]))  # the only band 30 px away
    drawn = np.array([(20, 40.0), (100, 40.0)])
    assert distance_to(snap_to_ridge(frame, drawn), drawn).max() <= REACH_PX + 1e-2


@pytest.mark.parametrize("brightness, bend, path", [
    ([[1, 5], [1, 5], [1, 5]], 0.0, [1, 1, 1]),
    ([[5, 1], [1, 9], [5, 1]], 0.0, [0, 1, 0]),         # bending is free: each row's brightest
    ([[5, 1], [1, 9], [5, 1]], 10.0, [0, 0, 0]),        # bending costs more than row 1 gains
    ([[5, 1], [1, 9], [1, 9]], 5.0, [1, 1, 1]),         # one bend of 5 is worth 8 more
])
def test_the_brightest_path_weighs_brightness_against_bends(brightness, bend, path):
    brightness = np.asarray(brightness, np.float64)
    costs = bend * np.abs(np.subtract.outer(np.arange(2), np.arange(2)))
    assert brightest_path(brightness, costs).tolist() == path


NAN = float("nan")


@pytest.mark.parametrize("ious, in_crop, precision, recall, scale, expected", [
    ([0.6, 0.2, 0.5, 0.0], [1.0, 0.95, 0.5, 0.9], [0.8, 0.4, 0.6, NAN], [0.7, 0.25, 0.75, 0.0], [1.5, 2.0, 1.8, 4.0],
     {"frames": 4, "mean_iou": 0.325, "found": 0.5, "crop_holds": 0.75, "precision": 0.6, "recall": 0.425,
      "crop_scale": 1.9}),
    ([0.9], [0.2], [0.95], [0.94], [0.5],
     {"frames": 1, "mean_iou": 0.9, "found": 1.0, "crop_holds": 0.0, "precision": 0.95, "recall": 0.94,
      "crop_scale": 0.5}),
    ([0.3, 0.31], [0.89, 0.9], [1.0, 0.5], [0.3, 0.4], [2.0, 2.0],
     {"frames": 2, "mean_iou": 0.305, "found": 0.5, "crop_holds": 0.5, "precision": 0.75, "recall": 0.35,
      "crop_scale": 2.0}),
])
def test_the_real_summary_counts_frames_found_and_crops_that_hold_the_valve(ious, in_crop, precision, recall, scale,
                                                                            expected):
    rows = [FrameScore("clip", t, "open", *values)
            for t, values in enumerate(zip(ious, in_crop, precision, recall, scale))]
    assert summary(rows) == pytest.approx(expected)


@pytest.mark.parametrize("box, extent", [((10, 20, 14, 50), 30), ((0, 0, 40, 3), 40), ((5, 5, 6, 6), 1)])
def test_the_marks_extent_is_their_longer_side(box, extent):
    truth = np.zeros((60, 80), bool)
    top, left, bottom, right = box
    truth[top:bottom, left:right] = True
    assert marks_extent(truth) == extent


def test_no_prediction_anywhere_leaves_precision_undefined():
    rows = [FrameScore("clip", 0, "shut", 0.0, 1.0, NAN, 0.0, 2.0)]
    assert np.isnan(summary(rows)["precision"])


def bench_real_rows(argv: list[str], capsys) -> tuple[list[list[str]], str]:
    """The per-frame rows (cells as text) of `mvcore bench real` with `argv`, and all it printed."""
    assert main(["bench", "real", *argv]) == 0
    out = capsys.readouterr().out
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in out.splitlines()
            if line.startswith("| color3d") or line.startswith("| examples")], out


def test_bench_real_scores_every_labelled_real_frame(capsys, bundled_model):
    rows, out = bench_real_rows(["--model", str(bundled_model)], capsys)
    assert len(rows) == 16 + 5
    assert f"at threshold {Segmenter.load(bundled_model).threshold}:" in out
    ious = [float(row[3]) for row in rows]
    precision, recall = ([float(row[k]) for row in rows] for k in (5, 6))
    assert all(0.0 <= iou <= min(p, r) for iou, p, r in zip(ious, precision, recall) if not np.isnan(p))
    printed = float(re.search(r"mean IoU (\S+) over 21 frames", out).group(1))
    assert abs(printed - np.mean(ious)) <= 0.001  # each of the 21 rows and the mean rounded to 3 decimals
    scales = [float(row[7]) for row in rows]  # the crop's side over the marks' extent
    assert all(scale > 0 for scale in scales) and "times their extent (median)" in out
    lower, out = bench_real_rows(["--model", str(bundled_model), "--threshold", "0.2"], capsys)
    assert "at threshold 0.2:" in out   # the same squares, so a lower threshold loses no marked pixel
    assert all(float(low[6]) >= float(row[6]) for low, row in zip(lower, rows))


@pytest.mark.parametrize("size", [112, 160])
def test_the_small_real_clips_are_the_cines_sector_with_its_marks_where_they_were(size):
    clips = small_real_clips(size)
    (whole, every), stills = clips[0], clips[1:]
    full = real_cine()
    assert whole.video.shape == (size, size, full.n_frames) and every == list(range(full.n_frames))
    marked = sorted(int(t) for t in read_marks()["frames"])
    in_order = [t for _, shown in stills for t in shown]
    assert sorted(set(in_order)) == marked and in_order[:-STILLS_PER_CLIP] == marked[:len(in_order) - STILLS_PER_CLIP]
    assert in_order[-STILLS_PER_CLIP:] == marked[-STILLS_PER_CLIP:] and whole.frames == marked
    square = sector_square(full.video)
    _, big = marks_to_masks(read_marks(), full.video.shape[:2])
    for i, t in enumerate(marked):
        rows, cols = np.nonzero(big[:, :, i])
        # the marks' centre in the cine, moved into the resized square (pixel centres)
        expected = ((np.array([rows.mean(), cols.mean()]) - (square.y0, square.x0) + 0.5) * size / square.side - 0.5)
        small_rows, small_cols = np.nonzero(whole.label[:, :, t])
        assert np.hypot(*(np.array([small_rows.mean(), small_cols.mean()]) - expected)) < 0.75
    for clip, shown in stills:  # each still is the whole clip's frame, with its marks
        assert np.array_equal(clip.video, whole.video[:, :, shown])
        assert np.array_equal(clip.label, whole.label[:, :, shown]) and clip.frames == [0, 1, 2]


def test_bench_real_at_a_size_scores_the_whole_cine_and_its_stills(capsys, bundled_model):
    assert main(["bench", "real", "--size", "112", "--model", str(bundled_model)]) == 0
    out = capsys.readouterr().out
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in out.splitlines()
            if line.startswith("| color3d")]
    marked = len(read_marks()["frames"])
    whole = [row for row in rows if "stills" not in row[0]]
    stills = [row for row in rows if "stills" in row[0]]
    assert len(whole) == marked and len(stills) == -(-marked // STILLS_PER_CLIP) * STILLS_PER_CLIP
    for words, group in (("whole", whole), ("as clips of 3 stills", stills)):
        printed = float(re.search(rf"at 112 x 112, {words}, .*?mean IoU (\S+) over {len(group)} frames", out).group(1))
        assert abs(printed - np.mean([float(row[3]) for row in group])) <= 0.001


@pytest.mark.long
def test_bench_locators_trains_a_draw_and_scores_it_on_the_real_frames(tiny_set, fast_model, tmp_path, capsys):
    (tmp_path / tiny_set.name).symlink_to(tiny_set)   # the set `--data-seed 5 --scale 0.4` names
    assert main(["bench", "locators", "--seeds", "3", "--data-seed", "5", "--scale", "0.4",
                 "--work", str(tmp_path), "--model", str(fast_model)]) == 0
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in capsys.readouterr().out.splitlines()
            if line.startswith("| 3 |")]
    assert len(rows) == 1
    seed, val_iou, hits, peaks, real, crop_scale, _ = rows[0]
    assert 0.0 <= float(val_iou) <= 1.0 and hits.endswith("%")
    assert len(peaks.split(" / ")) == 3 and all(0.0 <= float(p) <= 1.0 for p in peaks.split(" / "))
    assert 0.0 <= float(real.split(" / ")[0]) <= 1.0 and float(crop_scale) > 0


def test_every_bench_prints_the_machine_it_ran_on():
    text = header()
    assert cpu_model() in text and f"{usable_cores()} usable cores" in text
    assert "tensorflow intra-op" in text and f"keras {keras.__version__}" in text
    assert re.search(r"oneDNN (on|off);", text)


@pytest.mark.parametrize("setting, expected", [(None, "on"), ("0", "off"), ("1", "on")])
def test_importing_mvcore_turns_tensorflows_onednn_kernels_on_unless_told_not_to(setting, expected):
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if setting is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = setting
    probe = "import mvcore.bench.machine as m, tensorflow; print('oneDNN', 'on' if m.onednn_enabled() else 'off')"
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[-2:] == ["oneDNN", expected]


ZEN4 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\n"


@pytest.mark.parametrize("cpuinfo, expected", [
    (ZEN4 + "flags\t\t: fpu avx2 avx512f avx512bw\n", "AMD EPYC (family 25 model 17, AVX-512)"),
    (ZEN4.replace("17", "1") + "flags\t\t: fpu avx avx2 fma\n", "AMD EPYC (family 25 model 1, AVX2)"),
    # every CPU is listed; the first one's fields are read
    (ZEN4 + "flags\t\t: fpu sse4_2\n" + ZEN4.replace("17", "1") + "flags\t\t: avx2 avx512f\n",
     "AMD EPYC (family 25 model 17, no AVX2)"),
    ("", "unknown CPU (family ? model ?, no AVX2)"),
])
def test_the_cpu_is_named_with_its_generation_and_widest_vectors(cpuinfo, expected):
    assert describe_cpu(cpuinfo) == expected


def test_bench_stress_trains_on_a_small_short_low_resolution_set(tmp_path, capsys):
    tiny = "fast=true,epochs_stage1=1,epochs_stage2=0"   # the baseline preset has no locator: one fit
    shape = dict(STRESS, n_train=6, n_test=2)             # the stress set's shape, fewer clips
    rows = stress([f"s=baseline:{tiny}"], [3], tmp_path, shape)
    assert [row["name"] for row in rows] == ["s"] and 0.0 <= rows[0]["score"] <= 1.0
    assert capsys.readouterr().out.startswith("| stress-seed3 | s | ")
    clips = load_aml(tmp_path / "stress-seed3" / "train.pkl")
    assert len(clips) == 6 and all(c.video.shape == (112, 112, 3) and c.dataset == "amateur" for c in clips)


def test_bench_stress_takes_variants_and_the_others_do_not(tmp_path, capsys):
    assert main(["bench", "stress", "x=default:colour=3", "--work", str(tmp_path)]) == 2
    assert "'colour' is not a TrainConfig field" in capsys.readouterr().err


def test_the_speed_bench_times_both_ways_of_fitting_a_training_epoch():
    from mvcore.bench.speed import fitting_step_seconds
    from mvcore.config import TrainConfig
    from mvcore.model import create_model

    config = TrainConfig.preset_config("default", fast=True)
    model = create_model("unet", size=config.crop_size, channels=len(config.offsets), base=4, depth=2)
    figures = fitting_step_seconds(model, config)
    assert set(figures) == {"fit_step_s", "pydataset_step_s"}
    assert all(0.0 < seconds < 60.0 for seconds in figures.values()), figures


def test_the_measurements_on_true_masks_match_the_generator():
    """bench measure's scoring on one small clip's true masks: the measurement alone, no model."""
    from mvcore.bench.measure import score_clip, summarise, true_masks
    from mvcore.synth.dataset import clips_and_truth

    # the bench's scale: at 0.3 this clip's thinner leaflets touch through most of diastasis (88% right)
    (test, _, truth), = clips_and_truth(seed=1, n_test=1, scale=0.5)
    score = score_clip(test["name"], true_masks(truth, test["video"].shape[:2]), truth, "truth")
    assert score.state_accuracy >= 0.9 and score.events_missed == 0
    assert all(abs(e) <= 1 for e in score.event_errors)
    assert summarise([score])["annulus_mm"] < 1.0


@pytest.mark.parametrize("true_events, found, errors, missed", [
    ([(10, "opening")], [(11, "opening")], [1], 0),
    ([(10, "opening")], [(11, "closing")], [], 1),        # another kind is no match
    ([(10, "opening")], [(30, "opening")], [], 1),        # farther than half a period (20 frames)
    ([(10, "opening"), (20, "closing")], [(8, "opening"), (20, "closing")], [-2, 0], 0),
])
def test_event_errors_match_each_true_event_to_the_nearest_of_its_kind(true_events, found, errors, missed):
    from mvcore.bench.measure import event_errors

    assert event_errors(true_events, found, period_frames=20) == (errors, missed)


@pytest.mark.parametrize("clips, statuses, verdict", [
    (["a", "b", "c"], ["done"] * 3, "ok"),
    (["a", "b"], ["done"] * 2, "1 lost, 0 duplicated, 0 failed"),
    (["a", "b", "b", "c"], ["done"] * 4, "0 lost, 1 duplicated, 0 failed"),
    (["a", "b", "c"], ["done", "failed", "done"], "0 lost, 0 duplicated, 1 failed"),
])
def test_the_scale_bench_counts_clips_lost_duplicated_or_failed(clips, statuses, verdict):
    assert check_each_once([{"clip": c, "status": s} for c, s in zip(clips, statuses)], 3) == verdict


@pytest.mark.parametrize("done, seconds, whole, steady", [
    ([(2.0, 20), (4.0, 20), (6.0, 20)], 8.0, 7.5, 10.0),   # 40 frames from the first clip done to the last
    ([(10.0, 20), (10.5, 20), (11.0, 40)], 12.0, 80 / 12, 60.0),  # a slow start is not in the steady rate
])
def test_the_scale_bench_gives_frames_per_second_whole_and_steady(done, seconds, whole, steady):
    from mvcore.bench.scale import Clock

    clock = Clock()
    clock.done, clock.seconds = done, seconds
    assert clock.frames_per_s() == pytest.approx((whole, steady))
