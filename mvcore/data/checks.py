"""What every reader of user input shares: the check of a decoded clip, and error messages
that fit on one line and start with the file path."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mvcore.errors import InputError

MIN_SIDE = 8  # pixels: smaller frames cannot hold a valve


def _one_line(exc: BaseException) -> str:
    """The first line of an exception's message, short enough for an error banner."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def check_video(video, path) -> np.ndarray:
    """Return `video` if it is a usable uint8 (H, W, T) clip, else raise InputError.

    H and W must be at least 8 pixels, T at least 1 (a still image is a clip of one frame).
    `path` starts the message (a file, or a file and a record).
    """
    if not isinstance(video, np.ndarray):
        raise InputError(f"{path}: the video is a {type(video).__name__}, not an image array")
    if video.dtype != np.uint8:
        raise InputError(f"{path}: the video is {video.dtype}, expected uint8 grey levels")
    if video.ndim != 3:
        raise InputError(f"{path}: the video has shape {video.shape}, expected (H, W, T)")
    height, width, n_frames = video.shape
    if height < MIN_SIDE or width < MIN_SIDE:
        raise InputError(f"{path}: frames of {height} x {width} pixels are too small "
                         f"(at least {MIN_SIDE} x {MIN_SIDE})")
    if n_frames < 1:
        raise InputError(f"{path}: the video holds no frames")
    return video


def _existing_file(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if not path.is_file():
        raise InputError(f"{path}: is a folder, not a file")
    return path
