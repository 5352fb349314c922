"""Folders of clips clip by clip (mvcore.folder): a corrupt file's row, files whose clips would share
a name refused before any work on every engine, which clips a rerun counts as complete, the manifest
in input order, the local pool giving this process's masks and measurements, each clip's row saying
how its crop was found, and the message where Ray is missing."""

import sys

import numpy as np
import pytest

from conftest import SAMPLES
from mvcore.cli import main
from mvcore.errors import InputError
from mvcore.export import read_masks_npz
from mvcore.config import PredictConfig
from mvcore.data import load_inputs
from mvcore.folder import (COLUMNS, DONE, FAILED, FolderJob, ManifestWriter, assemble_measurements, clip_outputs,
                           completed_rows, decode, list_files, mask_path, read_manifest, run_folder,
                           segment_and_write, sharing_cores)
from mvcore.locate import SEEN_PEAK


def test_a_file_that_cannot_be_read_is_a_failed_row(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    clips, row = decode(str(broken), "video")
    assert clips == [] and row["status"] == FAILED and row["file"] == str(broken)
    assert row["error"].startswith(f"{broken}: cannot be played as a video") and set(row) == set(COLUMNS)


def done_row(file, clip):
    return {"file": file, "clip": clip, "status": DONE, "frames": 4, "seconds": 0.1, "crop": "locator",
            "locator_peak": "0.900", "error": "", "worker": "h:1"}


def write_input(path, kind):
    """A file at `path` (its folders made): 'array' a small .npy, 'arrays' a .npz of arrays x and y,
    'bytes' anything (never read: names come from file names)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.zeros((16, 16, 2), np.uint8)
    if kind == "array":
        np.save(path, frames)
    elif kind == "arrays":
        np.savez(path, x=frames, y=frames)
    else:
        path.write_bytes(b"not read")


@pytest.mark.parametrize("files, inputs, clash", [
    ({"a.mp4": "bytes", "a.avi": "bytes"}, ["."], ("a.avi", "a.mp4", "a clip named 'a'", "a")),
    ({"a.npy": "array", "sub/a.npy": "array"}, [".", "sub"], ("a.npy", "sub/a.npy", "a clip named 'a'", "a")),
    ({"a b.npy": "array", "a_b.mp4": "bytes"}, ["."], ("a b.npy", "a_b.mp4", "clips named 'a b' and 'a_b'", "a_b")),
    ({"k.npz": "arrays", "x.npy": "array"}, ["."], ("k.npz", "x.npy", "a clip named 'x'", "x")),  # k.npz: clips x, y
    ({"scan.dcm": "bytes", "scan.mp4": "bytes"}, ["."], ("scan.dcm", "scan.mp4", "a clip named 'scan'", "scan")),
    ({"sub.mp4": "bytes", "sub/1.png": "bytes"}, [".", "sub"], ("sub.mp4", "sub", "a clip named 'sub'", "sub")),
    ({"a.mp4": "bytes", "b.avi": "bytes", "sub/a.npz": "arrays"}, [".", "sub"], None),
    ({"k.npy": "array", "sub/k.npz": "bytes"}, [".", "sub"], None),  # a damaged .npz fails when read, alone
])
def test_files_whose_clips_would_share_a_name_are_refused_naming_both(tmp_path, files, inputs, clash):
    for name, kind in files.items():
        write_input(tmp_path / name, kind)
    paths = [tmp_path / p for p in inputs]
    if clash is None:
        assert len(list_files(paths)) == len(files) - sum(name.endswith(".png") for name in files)
        return
    first, second, clips, saved_as = clash
    with pytest.raises(InputError) as refusal:
        list_files(paths)
    assert str(refusal.value) == (f"{tmp_path / first} and {tmp_path / second} both give {clips}, whose outputs "
                                  f"({saved_as}.*) would overwrite each other; rename one of the files")


ENGINES = [pytest.param([], id="default"), pytest.param(["--jobs", "2"], id="local pool"),
           pytest.param(["--engine", "ray", "--jobs", "2"], id="ray")]


@pytest.mark.parametrize("engine", ENGINES)
def test_every_engine_refuses_clips_sharing_a_name_before_any_work(tmp_path, capsys, engine):
    if "ray" in engine:
        pytest.importorskip("ray")
    for name in ("a.npy", "sub/a.npy", "b.npy"):
        write_input(tmp_path / "in" / name, "array")
    out = tmp_path / "out"
    assert main(["predict", str(tmp_path / "in"), str(tmp_path / "in" / "sub"), "--overlay-dir", str(out),
                 *engine]) == 2
    assert f"{tmp_path / 'in' / 'a.npy'} and {tmp_path / 'in' / 'sub' / 'a.npy'} both give" in capsys.readouterr().err
    assert not out.exists()
    if "ray" in engine:
        import ray

        assert not ray.is_initialized()


@pytest.mark.parametrize("written, rows, measure, complete", [
    ({"a": 4, "b": 4}, [done_row("a.mp4", "a"), done_row("b.npz", "b")], False, ["a.mp4", "b.npz"]),
    ({"a": 3}, [done_row("a.mp4", "a")], False, []),                             # its frames CSV is missing
    ({"a": 4}, [dict(done_row("a.mp4", "a"), status=FAILED)], False, []),
    ({"a": 4, "b": 4}, [done_row("ab.npz", "a"), done_row("ab.npz", "b")], False, ["ab.npz"]),
    ({"a": 4}, [done_row("ab.npz", "a"), done_row("ab.npz", "b")], False, []),  # one of the file's clips is not
    ({"a": 4}, [done_row("gone.mp4", "a")], False, []),                          # no longer among the inputs
    ({"a": 4}, [done_row("a.mp4", "a")], True, []),                              # not measured
    ({"a": 5}, [done_row("a.mp4", "a")], True, []),                              # its summary is missing
    ({"a": 6}, [done_row("a.mp4", "a")], True, ["a.mp4"]),
])
def test_a_rerun_skips_files_whose_clips_are_all_complete(tmp_path, written, rows, measure, complete):
    for name, count in written.items():
        for path in clip_outputs(name, tmp_path, measure=True)[:count]:
            path.write_bytes(b"x")
    manifest = ManifestWriter(tmp_path, [])
    for row in rows:
        manifest(row)
    manifest.file.close()
    files = [(file, "video") for file in ("a.mp4", "b.npz", "ab.npz")]
    assert sorted(completed_rows(tmp_path, files, measure)) == complete


@pytest.mark.parametrize("cores, workers, asked, threads", [
    (2, 2, 0, 1), (2, 1, 0, 2), (16, 3, 0, 5), (2, 4, 0, 1), (8.0, 2, 0, 4),
    (2, 2, 3, 3),  # the job's own setting stays
])
def test_each_worker_runs_its_networks_on_its_share_of_the_cores(cores, workers, asked, threads):
    job = FolderJob("out", predict=PredictConfig(threshold=0.4, onnx_threads=asked))
    shared = sharing_cores(job, cores, workers)
    assert shared.predict == PredictConfig(threshold=0.4, onnx_threads=threads) and shared.out_dir == job.out_dir


def test_the_manifest_ends_in_input_order(tmp_path):
    manifest = ManifestWriter(tmp_path, [done_row("b.npy", "b")])
    manifest(done_row("c.npy", "c"))
    manifest(done_row("a.npy", "a"))
    rows = manifest.finish([("a.npy", "array"), ("b.npy", "array"), ("c.npy", "array")])
    assert [r["clip"] for r in rows] == ["a", "b", "c"] == [r["clip"] for r in read_manifest(tmp_path)]


@pytest.mark.long
def test_a_local_pool_gives_the_masks_and_measurements_of_this_process(tmp_path, train_pickle):
    """One pool process (each starts TensorFlow and the model: 2 would double the test's time on 2 cores)
    measuring its clips, against `predict --measure` in this process."""
    from mvcore.data import load_aml

    clips = tmp_path / "clips"
    clips.mkdir()
    for i, clip in enumerate(load_aml(train_pickle)[:3]):
        np.save(clips / f"c{i}.npy", np.ascontiguousarray(clip.video[:, :, :12]))
    one = tmp_path / "one"
    assert main(["predict", *sorted(map(str, clips.iterdir())), "--overlay-dir", str(one), "--measure",
                 "--mm-per-pixel", "0.2", "--npz", str(tmp_path / "one.npz")]) == 0
    (clips / "zz.mp4").write_text("not a video")
    job = FolderJob(tmp_path / "out", measure=True, mm_per_pixel=0.2)
    rows = run_folder([clips], job, "local", jobs=1)
    assert [(r["clip"], r["status"]) for r in rows] == [("c0", DONE), ("c1", DONE), ("c2", DONE), ("", FAILED)]
    single = read_masks_npz(tmp_path / "one.npz")
    assert any(mask.any() for mask in single.values())
    for name, mask in single.items():
        np.testing.assert_array_equal(read_masks_npz(mask_path(job.out_dir, name))[name], mask)
        for path in clip_outputs(name, one, measure=True)[3:]:  # the per-frame CSV, cycles and summary
            assert (job.out_dir / path.name).read_bytes() == path.read_bytes(), path.name
    assert assemble_measurements(rows, job.out_dir).read_text() == (one / "measurements.csv").read_text()


@pytest.mark.parametrize("model, crop, seen", [("bundled_model", "locator", True), ("blind_model", "box prior", False)])
def test_a_clips_row_says_how_its_crop_was_found(request, tmp_path, model, crop, seen):
    from mvcore.predict import Segmenter

    clip = load_inputs([sorted(SAMPLES.glob("*.mp4"))[0]])[0]
    segmenter = Segmenter.load(request.getfixturevalue(model))
    row = segment_and_write(segmenter, clip, "echo.mp4", FolderJob(tmp_path))
    assert row["status"] == DONE and row["crop"] == crop and set(row) == set(COLUMNS)
    assert (float(row["locator_peak"]) >= SEEN_PEAK) == seen


def test_without_ray_the_ray_engine_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    from mvcore.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as where it is not installed
    np.save(tmp_path / "c.npy", np.zeros((16, 16, 2), np.uint8))
    assert main(["predict", str(tmp_path / "c.npy"), "--engine", "ray", "--overlay-dir", str(tmp_path / "o")]) == 2
    assert "--engine ray needs Ray Data: pip install '.[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
