"""`predict FOLDER --engine ray` on a local Ray cluster of 2 CPUs (started once for the module): 12
small clips, one of them corrupt, give the single-process path's masks, submission CSV and
measurements, the corrupt file's error in the manifest, and a rerun segments nothing. Runs where
Ray is installed (the dev requirements install it)."""

import csv

import numpy as np
import pytest

from mvcore.cli import main
from mvcore.data import load_aml
from mvcore.export import read_masks_npz
from mvcore.folder import COLUMNS, DONE, FAILED
from mvcore.ray_engine import gpus_per_actor

ray = pytest.importorskip("ray")
CLIPS = 11
ASSEMBLED = ("manifest.csv", "measurements.csv")  # rewritten by every run, a rerun too


@pytest.fixture(scope="module")
def cluster():
    """A Ray cluster on this machine with 2 CPUs, shared by the module's tests (it takes seconds to start)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory, train_pickle):
    """11 clips of 4 frames cut from the bundled samples' clips, as .npy files, and a corrupt 'broken.mp4'."""
    root = tmp_path_factory.mktemp("clips")
    videos = [clip.video for clip in load_aml(train_pickle)]
    for i in range(CLIPS):
        video = videos[i % len(videos)]
        start = (i // len(videos)) * 4 % max(1, video.shape[2] - 4)
        np.save(root / f"clip{i:02d}.npy", np.ascontiguousarray(video[:, :, start:start + 4]))
    (root / "broken.mp4").write_text("not a video")
    return root


def manifest(out_dir):
    with open(out_dir / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.long
def test_ray_gives_the_single_process_outputs_and_a_rerun_does_nothing(cluster, folder, tmp_path, capsys):
    good = sorted(str(p) for p in folder.glob("*.npy"))
    one, out = tmp_path / "one", tmp_path / "out"
    assert main(["predict", *good, "--npz", str(tmp_path / "one.npz"), "--csv", str(tmp_path / "one.csv"),
                 "--overlay-dir", str(one), "--measure"]) == 0
    ray_run = ["predict", str(folder), "--engine", "ray", "--jobs", "2", "--overlay-dir", str(out), "--measure",
               "--npz", str(tmp_path / "ray.npz"), "--csv", str(tmp_path / "ray.csv")]
    capsys.readouterr()
    assert main(ray_run) == 0
    assert f"{CLIPS} clips done, 1 failed, 0 complete before this run" in capsys.readouterr().out

    rows = manifest(out)
    assert list(rows[0]) == COLUMNS
    assert [(r["clip"], r["status"]) for r in rows] == [("", FAILED)] + [(f"clip{i:02d}", DONE) for i in range(CLIPS)]
    assert "broken.mp4: cannot be played as a video" in rows[0]["error"]
    assert all(r["frames"] == "4" and float(r["seconds"]) > 0 for r in rows[1:])
    single, on_ray = read_masks_npz(tmp_path / "one.npz"), read_masks_npz(tmp_path / "ray.npz")
    assert single.keys() == on_ray.keys() and any(mask.any() for mask in single.values())
    for name in single:
        np.testing.assert_array_equal(on_ray[name], single[name])
    assert (tmp_path / "ray.csv").read_text() == (tmp_path / "one.csv").read_text()
    assert (out / "measurements.csv").read_text() == (one / "measurements.csv").read_text()
    assert {p.name for p in out.glob("clip00*")} == {"clip00.npz", "clip00.mp4", "clip00.gif", "clip00_frames.csv",
                                                      "clip00_cycles.csv", "clip00_summary.json"}

    # the corrupt file replaced by hand, a rerun has nothing left to do (a failed file is tried again:
    # tests/test_folder.py); it runs nothing and leaves every file as it was
    written = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name not in ASSEMBLED}
    (folder / "broken.mp4").unlink()
    assert main(ray_run) == 0
    assert f"{CLIPS} clips done, 0 failed, {CLIPS} complete before this run" in capsys.readouterr().out
    assert manifest(out) == rows[1:]
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name not in ASSEMBLED} == written
    assert (tmp_path / "ray.csv").read_text() == (tmp_path / "one.csv").read_text()


def test_without_an_output_folder_the_engine_is_refused(tmp_path, capsys):
    assert main(["predict", str(tmp_path), "--engine", "ray"]) == 2
    assert "give --overlay-dir" in capsys.readouterr().err


@pytest.mark.parametrize("gpus, workers, share", [(0, 2, 0), (8, 8, 1.0), (8, 2, 1.0), (8, 32, 0.25), (1, 3, 1 / 3)])
def test_each_actor_gets_a_gpu_or_its_share_of_one(gpus, workers, share):
    assert gpus_per_actor(gpus, workers) == pytest.approx(share)
