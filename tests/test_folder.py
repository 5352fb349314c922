"""Folders of clips clip by clip (mvcore.folder): a corrupt file's row, which clips a rerun counts
as complete, the manifest in input order, the local pool giving this process's masks, and the
message where Ray is missing."""

import sys

import numpy as np
import pytest

from mvcore.export import ClipFiles, read_masks_npz
from mvcore.folder import (COLUMNS, DONE, FAILED, FolderJob, ManifestWriter, completed_rows, decode, mask_path,
                           read_manifest, run_folder)
from mvcore.predict import Segmenter


def test_a_file_that_cannot_be_read_is_a_failed_row(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    clips, row = decode(str(broken), "video")
    assert clips == [] and row["status"] == FAILED and row["file"] == str(broken)
    assert row["error"].startswith(f"{broken}: cannot be played as a video") and set(row) == set(COLUMNS)


def done_row(file, clip):
    return {"file": file, "clip": clip, "status": DONE, "frames": 4, "seconds": 0.1, "error": "", "worker": "h:1"}


@pytest.mark.parametrize("outputs, rows, complete", [
    ({"a": 4, "b": 4}, [done_row("a.mp4", "a"), done_row("b.npz", "b")], ["a.mp4", "b.npz"]),
    ({"a": 3}, [done_row("a.mp4", "a")], []),                             # its mask .npz is missing
    ({"a": 4}, [dict(done_row("a.mp4", "a"), status=FAILED)], []),
    ({"a": 4, "b": 4}, [done_row("ab.npz", "a"), done_row("ab.npz", "b")], ["ab.npz"]),
    ({"a": 4}, [done_row("ab.npz", "a"), done_row("ab.npz", "b")], []),  # one of the file's clips is not
    ({"a": 4}, [done_row("gone.mp4", "a")], []),                          # no longer among the inputs
])
def test_a_rerun_skips_files_whose_clips_are_all_complete(tmp_path, outputs, rows, complete):
    for name, count in outputs.items():
        for path in [*ClipFiles.in_folder(name, tmp_path), mask_path(tmp_path, name)][:count]:
            path.write_bytes(b"x")
    manifest = ManifestWriter(tmp_path, [])
    for row in rows:
        manifest(row)
    manifest.file.close()
    files = [(file, "video") for file in ("a.mp4", "b.npz", "ab.npz")]
    assert sorted(completed_rows(tmp_path, files)) == complete


def test_the_manifest_ends_in_input_order(tmp_path):
    manifest = ManifestWriter(tmp_path, [done_row("b.npy", "b")])
    manifest(done_row("c.npy", "c"))
    manifest(done_row("a.npy", "a"))
    rows = manifest.finish([("a.npy", "array"), ("b.npy", "array"), ("c.npy", "array")])
    assert [r["clip"] for r in rows] == ["a", "b", "c"] == [r["clip"] for r in read_manifest(tmp_path)]


@pytest.mark.long
def test_a_local_pool_gives_the_masks_of_this_process(tmp_path, train_pickle):
    """One pool process (each starts TensorFlow and the model: 2 would double the test's time on 2 cores)."""
    from mvcore.data import load_aml, read_array

    for i, clip in enumerate(load_aml(train_pickle)[:3]):
        np.save(tmp_path / f"c{i}.npy", np.ascontiguousarray(clip.video[:, :, :4]))
    (tmp_path / "zz.mp4").write_text("not a video")
    job = FolderJob(tmp_path / "out")
    rows = run_folder([tmp_path], job, "local", jobs=1)
    assert [(r["clip"], r["status"]) for r in rows] == [("c0", DONE), ("c1", DONE), ("c2", DONE), ("", FAILED)]
    segmenter = Segmenter.load()
    for i in range(3):
        expected = segmenter.segment(read_array(tmp_path / f"c{i}.npy")).mask
        np.testing.assert_array_equal(read_masks_npz(mask_path(job.out_dir, f"c{i}"))[f"c{i}"], expected)


def test_without_ray_the_ray_engine_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    from mvcore.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as where it is not installed
    np.save(tmp_path / "c.npy", np.zeros((16, 16, 2), np.uint8))
    assert main(["predict", str(tmp_path / "c.npy"), "--engine", "ray", "--overlay-dir", str(tmp_path / "o")]) == 2
    assert "--engine ray needs Ray Data: pip install '.[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
