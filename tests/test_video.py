"""Tests for mvcore.video: overlays, MP4/GIF round trips, contact sheets."""

import subprocess

import cv2
import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from mvcore.clip import Clip
from mvcore.data import read_video
from mvcore.errors import InputError
from mvcore.video import (
    HINGE_COLOR,
    TIP_COLOR,
    contact_sheet,
    overlay_frames,
    save_png,
    side_by_side_frames,
    write_gif,
    write_mp4,
)


def _moving_square(height=24, width=32, n_frames=5):
    """uint8 RGB frames (T, H, W, 3), a bright square moving right on a dark background."""
    frames = np.full((n_frames, height, width, 3), 20, dtype=np.uint8)
    for t in range(n_frames):
        frames[t, 4:12, 2 + 3 * t : 10 + 3 * t] = (200, 120, 40)
    return frames


def _disc_clip(height=40, width=50, n_frames=4):
    """(video uint8 (H, W, T) mid-grey with a gradient, mask bool (H, W, T): a disc of radius 8)."""
    video = np.broadcast_to(
        np.linspace(40, 160, width, dtype=np.uint8)[None, :, None], (height, width, n_frames)
    ).copy()
    rows, cols = np.mgrid[:height, :width]
    disc = (rows - height // 2) ** 2 + (cols - width // 2) ** 2 <= 8**2
    mask = np.repeat(disc[:, :, None], n_frames, axis=2)
    mask[:, :, 0] = False  # one empty frame
    return video, mask


@pytest.mark.parametrize("style", ["fill", "contour"])
def test_overlay_shape_and_dtype(style):
    video, mask = _disc_clip()
    frames = overlay_frames(video, mask, style=style, truth=mask)
    assert frames.shape == (4, 40, 50, 3) and frames.dtype == np.uint8


def test_overlay_fill_blends_only_masked_pixels():
    video, mask = _disc_clip()
    frames = overlay_frames(video, mask, color=(255, 0, 0), alpha=0.5)
    grey = video.transpose(2, 0, 1)
    inside, outside = mask.transpose(2, 0, 1), ~mask.transpose(2, 0, 1)
    for channel in range(3):
        np.testing.assert_array_equal(frames[..., channel][outside], grey[outside])
    expected_red = np.rint(grey[inside] * 0.5 + 127.5)
    np.testing.assert_array_equal(frames[..., 0][inside], expected_red)
    np.testing.assert_array_equal(frames[..., 1][inside], np.rint(grey[inside] * 0.5))


def test_overlay_contour_draws_only_near_the_mask_edge():
    video, mask = _disc_clip()
    frames = overlay_frames(video, mask, style="contour", color=(255, 0, 0))
    changed = (frames != video.transpose(2, 0, 1)[..., None]).any(axis=3)
    kernel = np.ones((3, 3), np.uint8)
    for t in range(mask.shape[2]):
        m = mask[:, :, t].astype(np.uint8)
        edge = m ^ cv2.erode(m, kernel)
        near_edge = cv2.dilate(edge, kernel, iterations=2).astype(bool)
        assert not (changed[t] & ~near_edge).any()
        assert changed[t].any() == bool(m.any())
    assert not changed[0].any()  # the empty frame is untouched


def test_overlay_truth_is_a_green_contour():
    video, mask = _disc_clip()
    frames = overlay_frames(video, np.zeros_like(mask), truth=mask)
    changed = (frames != video.transpose(2, 0, 1)[..., None]).any(axis=3)
    assert changed[1:].any() and not changed[0].any()
    assert (frames[changed] == (0, 255, 0)).all()


def test_overlay_marks_hinges_and_tips_where_measured():
    video, mask = _disc_clip()
    points = np.full((video.shape[2], 4, 2), np.nan)
    points[1] = [[10, 10], [40, 10], [10, 30], [40, 30]]   # frame 1: two hinges (top), two tips (bottom)
    points[2, 0] = [25, 5]                                  # frame 2: one hinge
    with_points = overlay_frames(video, mask, "contour", points=points)
    plain = overlay_frames(video, mask, "contour")
    assert tuple(with_points[1, 10, 10]) == tuple(with_points[1, 10, 40]) == HINGE_COLOR
    assert tuple(with_points[1, 30, 10]) == tuple(with_points[1, 30, 40]) == TIP_COLOR
    assert tuple(with_points[2, 5, 25]) == HINGE_COLOR
    assert np.array_equal(with_points[[0, 3]], plain[[0, 3]])  # no points, nothing drawn


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"style": "outline"}, "style"),
        ({"mask": np.zeros((40, 50, 3), dtype=bool)}, "mask shape"),
        ({"truth": np.zeros((2, 2, 4), dtype=bool)}, "truth shape"),
        ({"video": np.zeros((40, 50, 4), dtype=np.float32)}, "uint8"),
    ],
)
def test_overlay_rejects_bad_inputs(kwargs, message):
    video, mask = _disc_clip()
    with pytest.raises(InputError, match=message):
        overlay_frames(**{"video": video, "mask": mask, **kwargs})


def _ffmpeg_stream_info(path) -> str:
    """What `ffmpeg -i path` says about the file (it prints to stderr)."""
    result = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
        capture_output=True,
        text=True,
    )
    return result.stderr


def _decode_rgb(path, size):
    """All frames of a video as uint8 (T, H, W, 3); size is (W, H)."""
    reader = imageio_ffmpeg.read_frames(str(path))
    next(reader)
    return np.stack([np.frombuffer(b, np.uint8).reshape(size[1], size[0], 3) for b in reader])


@pytest.mark.parametrize(
    "height, width, fps",
    [(24, 32, 25.0), (23, 31, 50.0), (17, 40, 12.5)],
)
def test_mp4_round_trip(tmp_path, height, width, fps):
    frames = _moving_square(height, width, n_frames=7)
    path = write_mp4(iter(frames), tmp_path / "clip.mp4", fps)
    clip = read_video(path)  # read back as the app and the CLI read an upload
    assert (clip.n_frames, clip.fps) == (7, pytest.approx(fps))
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    reader.close()
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    assert meta["size"] == (width + width % 2, height + height % 2)
    assert "h264" in _ffmpeg_stream_info(path)
    decoded = _decode_rgb(path, meta["size"])[:, :height, :width].astype(int)
    assert np.abs(decoded - frames).mean() < 6


@pytest.mark.parametrize(
    "frames, fps, message",
    [
        ([], 25.0, "no frames"),
        ([np.zeros((8, 8), np.uint8)], 25.0, "uint8 RGB"),
        ([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 10, 3), np.uint8)], 25.0, "differs"),
        ([np.zeros((8, 8, 3), np.uint8)], 0.0, "frame rate"),
    ],
)
def test_mp4_rejects_bad_frames(tmp_path, frames, fps, message):
    path = tmp_path / "clip.mp4"
    with pytest.raises(InputError, match=message):
        write_mp4(frames, path, fps)
    assert not path.exists()


@pytest.mark.parametrize(
    "height, width, max_side, fps, expected_size, expected_ms",
    [
        (24, 32, 320, 25.0, (32, 24), 40),  # small enough: kept as is
        (60, 80, 40, 10.0, (40, 30), 100),  # longer side brought down to max_side
        (81, 30, 27, 50.0, (10, 27), 20),
        (24, 32, 320, 200.0, (32, 24), 20),  # faster than browsers play: 20 ms floor
    ],
)
def test_gif_round_trip(tmp_path, height, width, max_side, fps, expected_size, expected_ms):
    frames = _moving_square(height, width, n_frames=5)
    path = write_gif(frames, tmp_path / "clip.gif", fps, max_side=max_side)
    with Image.open(path) as gif:
        assert gif.n_frames == 5
        assert gif.size == expected_size
        assert gif.info["loop"] == 0
        assert gif.info["duration"] == expected_ms


def test_contact_sheet_tiles_and_annotations():
    video, mask = _disc_clip(height=40, width=80, n_frames=6)
    box = np.zeros((40, 80), dtype=bool)
    box[10:30, 25:55] = True
    labelled = Clip("LABELLED01", video, label=mask, frames=[1, 3, 5], box=box)
    plain = Clip("PLAIN00002", video[:, :, :5])
    sheet = contact_sheet([labelled, plain, labelled], max_clips=2, tile=64)
    assert sheet.shape == (2 * 64, 3 * 64, 3) and sheet.dtype == np.uint8
    first = sheet[:64, :64]
    assert ((first == (255, 0, 0)).all(axis=2)).any()  # the label contour
    assert ((first == (255, 255, 0)).all(axis=2)).any()  # the box
    second = sheet[64:, :64]
    assert not ((second == (255, 0, 0)).all(axis=2)).any()  # no label on the plain clip
    # frame is 40 x 80 -> 32 x 64 tile content, centred: rows 0-15 and 48-63 black except text
    assert (sheet[64 + 50 :, :, :] == 0).all()


def test_contact_sheet_needs_clips():
    with pytest.raises(InputError, match="no clips"):
        contact_sheet([])


def test_save_png_round_trip(tmp_path):
    image = _moving_square()[2]
    path = save_png(image, tmp_path / "frame.png")
    np.testing.assert_array_equal(iio.imread(path), image)


def test_save_png_bad_path(tmp_path):
    with pytest.raises(InputError, match="cannot write PNG"):
        save_png(_moving_square()[0], tmp_path / "missing" / "frame.png")


def test_side_by_side_draws_each_mask_on_its_own_copy_of_the_frame():
    video = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    left, right = np.zeros(video.shape, bool), np.zeros(video.shape, bool)
    left[2:6, 2:6], right[10:15, 20:25] = True, True
    frames = list(side_by_side_frames(video, left, right))
    assert len(frames) == 3 and frames[0].shape == (20, 60, 3) and frames[0].dtype == np.uint8
    for t, frame in enumerate(frames):
        assert np.array_equal(frame[:, :30], overlay_frames(video[:, :, t:t + 1], left[:, :, t:t + 1])[0])
        assert np.array_equal(frame[:, 30:], overlay_frames(video[:, :, t:t + 1], right[:, :, t:t + 1])[0])
