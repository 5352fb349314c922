"""Tests for mvcore.files: file names made safe."""

import pytest

from mvcore.files import sanitise_name


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
