"""Tests for mvcore.files: file names made safe, and writes of one path from many threads at once."""

import os
import stat
import threading

import pytest

from mvcore.files import atomic_path, sanitise_name


@pytest.mark.parametrize("name, expected", [
    ("clip.mp4", "clip.mp4"),
    ("train.pkl.gz", "train.pkl.gz"),
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\evil.dcm", "evil.dcm"),
    ("/absolute/path/video.avi", "video.avi"),
    ("../", "upload"),
    ("..", "upload"),
    ("", "upload"),
    (".bashrc", "bashrc"),
    ("...pkl", "pkl"),
    ("a..b.npy", "a.b.npy"),
    ("my clip (1).mp4", "my_clip_1_.mp4"),
    ("échographie.dcm", "echographie.dcm"),
    ("心臓.mp4", "mp4"),
    ("nul\x00byte.gif", "nulbyte.gif"),
    ("-rf.mov", "rf.mov"),
    ("x" * 300 + ".pkl.gz", "x" * 93 + ".pkl.gz"),
])
def test_sanitise_name(name, expected):
    safe = sanitise_name(name)
    assert safe == expected
    assert "/" not in safe and "\\" not in safe and not safe.startswith(".") and len(safe) <= 100


def test_threads_writing_one_path_at_once_leave_one_whole_file(tmp_path):
    target, writers, chunk = tmp_path / "overlay.mp4", 8, 256 * 1024
    start = threading.Barrier(writers)
    errors = []

    def write(byte: int):
        try:
            start.wait()
            with atomic_path(target) as tmp, open(tmp, "wb") as f:
                for _ in range(8):  # several writes each, so the writers overlap
                    f.write(bytes([byte]) * chunk)
                    f.flush()
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    data = target.read_bytes()
    assert len(data) == 8 * chunk and data == bytes([data[0]]) * len(data)  # one writer's content, whole
    assert [p.name for p in tmp_path.iterdir()] == ["overlay.mp4"]  # no temporary file left


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_an_atomic_write_gets_the_permissions_a_plain_write_gets(tmp_path, umask):
    """Exported models and overlays are as readable as any other file the user writes, not private."""
    old = os.umask(umask)
    try:
        with atomic_path(tmp_path / "model.onnx") as tmp, open(tmp, "wb") as f:
            f.write(b"onnx")
        with open(tmp_path / "plain.bin", "wb") as f:
            f.write(b"plain")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "model.onnx").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.bin").stat().st_mode) == 0o666 & ~umask
