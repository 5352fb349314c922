"""The command line end to end on a small synthetic set, and one table of bad inputs."""

import gzip
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

from conftest import SAMPLES
from mvcore.cli import main
from mvcore.export import read_submission_csv


@pytest.mark.long
def test_train_writes_every_file_of_a_model_folder(fast_model):
    names = {p.name for p in fast_model.iterdir()}
    assert {"model.keras", "config.json", "history.csv", "metrics.json", "curves.png", "intensity.json"} <= names
    # the locator is kept unless it missed the valve on validation and the recipe fell back to whole frames
    fallback = json.loads((fast_model / "metrics.json").read_text())["locator"]["fallback"]
    assert ("locator.keras" in names) == (fallback is None)
    # its own partial folder is gone (other shared models may be mid-save beside it)
    assert not list(fast_model.parent.glob(f".{fast_model.name}.partial*"))


def test_predict_then_evaluate_end_to_end(tiny_set, fast_model, tmp_path, capsys):
    csv_path, npz_path, overlays = tmp_path / "sub.csv", tmp_path / "masks.npz", tmp_path / "overlays"
    assert main(["predict", str(tiny_set / "test.pkl"), "--model", str(fast_model), "--csv", str(csv_path),
                 "--npz", str(npz_path), "--overlay-dir", str(overlays)]) == 0
    masks = np.load(npz_path)
    test = pickle.load(gzip.open(tiny_set / "test.pkl"))
    assert sorted(masks.files) == sorted(r["name"] for r in test)
    for record in test:
        assert masks[record["name"]].shape == record["video"].shape
        for suffix in (".mp4", ".gif", "_frames.csv"):
            assert (overlays / f"{record['name']}{suffix}").stat().st_size > 0
    from_csv = read_submission_csv(csv_path, {r["name"]: r["video"].shape for r in test})
    assert all(np.array_equal(from_csv[name], masks[name]) for name in masks.files)
    capsys.readouterr()
    for pred in (csv_path, npz_path):
        assert main(["evaluate", str(pred), "--labels", str(tiny_set / "test_labels.pkl")]) == 0
        assert "score" in capsys.readouterr().out.lower()


@pytest.mark.parametrize("model, engine, warning", [
    ("bundled_model", [], None),
    ("blind_model", [], "warning: The locator did not see a valve in this clip (heatmap peak 0.00, under 0.1): "
                        "the crop is where the training valves lay"),
    ("blind_model", ["--jobs", "2"], "the locator did not see a valve (heatmap peak 0.000, crop by box prior)"),
], ids=["bundled", "blind", "blind, pool"])
def test_predict_warns_where_the_locator_sees_no_valve(request, model, engine, warning, tmp_path, capsys):
    sample = sorted(SAMPLES.glob("*.mp4"))[0]
    assert main(["predict", str(sample), "--model", str(request.getfixturevalue(model)), *engine,
                 "--csv", str(tmp_path / "sub.csv"), "--overlay-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert ("did not see a valve" in out) == (warning is not None), out
    assert warning is None or warning in out


def test_preview_writes_a_contact_sheet(tiny_set, tmp_path):
    out = tmp_path / "sheet.png"
    assert main(["preview", str(tiny_set / "train.pkl"), str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def write_text(path, text):
    path.write_text(text)
    return path


def write_gz_pickle(path, obj):
    with gzip.open(path, "wb") as f:
        pickle.dump(obj, f)
    return path


class Pwn:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned",))


BAD_INPUTS = {
    "text renamed mp4": lambda d: ["predict", str(write_text(d / "clip.mp4", "not a video"))],
    "empty folder": lambda d: ["predict", str((d / "empty").mkdir() or d / "empty")],
    "unsupported type": lambda d: ["predict", str(write_text(d / "notes.txt", "hello"))],
    "missing file": lambda d: ["predict", str(d / "nowhere.mp4")],
    "malicious pickle": lambda d: ["train", str(write_gz_pickle(d / "train.pkl", [Pwn()])), "--out", str(d / "m")],
    "not AML": lambda d: ["train", str(write_gz_pickle(d / "train.pkl", {"a": 1})), "--out", str(d / "m")],
    "no model folder": lambda d: ["predict", str(write_gz_pickle(d / "t.pkl", [
        {"name": "A", "video": np.zeros((16, 16, 4), np.uint8)}])), "--model", str(d)],
    "bad csv": lambda d: ["evaluate", str(write_text(d / "p.csv", "x,y\n1,2\n")), "--labels",
                          str(write_gz_pickle(d / "l.pkl", [{"name": "A", "frames": [0],
                                                            "label": np.zeros((4, 4, 2), bool)}]))],
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_error_line_and_exit_2(case, tmp_path, capsys):
    argv = BAD_INPUTS[case](tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err


@pytest.mark.parametrize("value, problem", [("1.5", "must be from 0 to 1"), ("-0.1", "must be from 0 to 1"),
                                            ("half", "not a number")])
def test_a_threshold_outside_0_to_1_is_refused(value, problem, tmp_path, capsys):
    with pytest.raises(SystemExit) as leaving:
        main(["predict", str(tmp_path / "clip.mp4"), "--threshold", value])
    assert leaving.value.code == 2 and problem in capsys.readouterr().err


def test_the_module_runs_as_a_program_and_fails_cleanly(tmp_path):
    bad = write_text(tmp_path / "clip.avi", "garbage")
    run = subprocess.run([sys.executable, "-m", "mvcore", "predict", str(bad)], capture_output=True, text=True)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and str(bad) in run.stderr


def test_two_inputs_with_one_name_are_refused_before_any_work(tmp_path, capsys):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        np.save(tmp_path / folder / "clip.npy", np.zeros((16, 16, 3), np.uint8))
    assert main(["predict", str(tmp_path / "a" / "clip.npy"), str(tmp_path / "b" / "clip.npy")]) == 2
    assert (f"{tmp_path / 'a' / 'clip.npy'} and {tmp_path / 'b' / 'clip.npy'} both give a clip named 'clip'"
            in capsys.readouterr().err)


@pytest.mark.parametrize("extra, unit, calibration", [([], "px", "none"), (["--mm-per-pixel", "0.25"], "mm", "user")])
def test_predict_measure_writes_the_tables_in_the_right_unit(extra, unit, calibration, tmp_path, capsys):
    import csv

    np.save(tmp_path / "clip.npy", np.random.default_rng(0).integers(0, 255, (64, 80, 6), dtype=np.uint8))
    out = tmp_path / "out"
    assert main(["predict", str(tmp_path / "clip.npy"), "--overlay-dir", str(out), "--measure", *extra]) == 0
    header = next(csv.reader((out / "clip_frames.csv").open()))
    assert header[:4] == ["frame", "area_px", "mean_confidence", "iou"]
    measured = {"t_ms", "valve", "valve_confidence", "event", f"opening_{unit}", f"annulus_{unit}", f"area_{unit}2"}
    assert measured <= set(header)
    assert next(csv.reader((out / "clip_cycles.csv").open()))[7] == f"max_opening_{unit}"
    summary = json.loads((out / "clip_summary.json").read_text())
    assert summary["summary"]["calibration"] == calibration and summary["summary"]["frames"] == 6
    assert list(csv.DictReader((out / "measurements.csv").open()))[0]["clip"] == "clip"


@pytest.mark.parametrize("argv, problem", [
    (["--measure"], "give --overlay-dir too"),
    (["--measure", "--overlay-dir", "o", "--mm-per-pixel", "0"], "must be above 0"),
])
def test_measure_needs_a_folder_and_a_positive_pixel_size(argv, problem, tmp_path, capsys):
    np.save(tmp_path / "clip.npy", np.zeros((16, 16, 3), np.uint8))
    try:
        code = main(["predict", str(tmp_path / "clip.npy"), *argv])
    except SystemExit as leaving:  # argparse refuses a bad --mm-per-pixel itself
        code = leaving.code
    assert code == 2 and problem in capsys.readouterr().err
