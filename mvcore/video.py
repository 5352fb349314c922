"""Pictures of masks: overlays on the echo frames, H.264 MP4 and GIF encoding, contact sheets.

Frames for encoding are uint8 RGB (H, W, 3); clips and masks use the AML layout (H, W, T).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np

from mvcore.errors import InputError
from mvcore.files import atomic_path
from mvcore.transforms import Letterbox, resize_stack

TRUTH_COLOR = (0, 255, 0)
LABEL_COLOR = (255, 0, 0)
BOX_COLOR = (255, 255, 0)
TEXT_COLOR = (255, 255, 255)
HINGE_COLOR = (255, 210, 0)   # the measured annulus' ends, drawn as dots
TIP_COLOR = (0, 200, 255)     # the leaflet tips
MIN_GIF_FRAME_MS = 20  # browsers play GIF delays under 20 ms as 100 ms
GIF_MAX_SIDE = 320  # pixels: GIFs are previews, kept small


def overlay_frames(
    video: np.ndarray,
    mask: np.ndarray,
    style: str = "fill",
    color=(255, 64, 64),
    alpha: float = 0.45,
    truth: np.ndarray | None = None,
    points: np.ndarray | None = None,
) -> np.ndarray:
    """Draw a mask on every frame of a grey clip.

    video: uint8 (H, W, T); mask: bool (H, W, T); truth: optional bool (H, W, T) drawn as a
    green contour. style: 'fill' (colour blended with weight `alpha` in [0, 1]) or 'contour'.
    color: RGB, 0-255. points: optional float (T, 4, 2) px (column, row), each frame's two hinges
    then two tips (`mvcore.measure.landmarks`; NaN where missing), drawn as dots.
    Returns uint8 RGB frames (T, H, W, 3).
    """
    _check_overlay_inputs(video, mask, truth, style)
    frames = np.repeat(video.transpose(2, 0, 1)[..., None], 3, axis=3)
    thickness = contour_thickness(video.shape[:2])
    if style == "fill":
        _blend_where(frames, mask, color, alpha)
    else:
        _draw_mask_contours(frames, mask, color, thickness)
    if truth is not None:
        _draw_mask_contours(frames, truth, TRUTH_COLOR, thickness)
    if points is not None:
        _draw_points(frames, points, 2 * thickness + 1)
    return frames


def _draw_points(frames: np.ndarray, points: np.ndarray, radius: int) -> None:
    """In place: the hinges and tips float (T, 4, 2) as filled dots of `radius` px on frames (T, H, W, 3)."""
    for frame, found in zip(frames, points):
        for i, (column, row) in enumerate(found):
            if not np.isnan(column):
                color = HINGE_COLOR if i < 2 else TIP_COLOR
                cv2.circle(frame, (int(round(column)), int(round(row))), radius, color, -1, cv2.LINE_AA)


def iter_overlay(video: np.ndarray, mask: np.ndarray, style: str = "fill", chunk: int = 64,
                 truth: np.ndarray | None = None, points: np.ndarray | None = None):
    """`overlay_frames` one chunk of frames at a time, yielding uint8 RGB (H, W, 3) frames.

    Memory stays at one chunk however long the clip is.
    """
    for t0 in range(0, video.shape[2], chunk):
        part = slice(t0, t0 + chunk)
        yield from overlay_frames(video[:, :, part], mask[:, :, part], style,
                                  truth=None if truth is None else truth[:, :, part],
                                  points=None if points is None else points[part])


def _check_overlay_inputs(video, mask, truth, style: str) -> None:
    if video.dtype != np.uint8 or video.ndim != 3:
        raise InputError(f"video must be uint8 (H, W, T), got {video.dtype} {video.shape}")
    for what, array in (("mask", mask), ("truth", truth)):
        if array is not None and array.shape != video.shape:
            raise InputError(f"{what} shape {array.shape} != video shape {video.shape}")
    if style not in ("fill", "contour"):
        raise InputError(f"overlay style must be 'fill' or 'contour', got {style!r}")


def contour_thickness(frame_shape: tuple[int, int]) -> int:
    """Contour line width in pixels for a frame (H, W): 1 px at 112 x 112, 2 px at 600 x 800."""
    return max(1, round(max(frame_shape) / 400))


def _blend_where(frames: np.ndarray, mask: np.ndarray, color, alpha: float) -> None:
    """In place: frames (T, H, W, 3) uint8 blended towards `color` where bool `mask` (H, W, T).

    Only the masked pixels are touched: their (H, W, T) flat indices are mapped to (T, H, W)
    ones, which avoids transposing the whole mask.
    """
    height, width, n_frames = mask.shape
    rows, rest = np.divmod(np.flatnonzero(mask), width * n_frames)
    cols, times = np.divmod(rest, n_frames)
    pixels = frames.reshape(-1, 3)
    index = (times * height + rows) * width + cols
    blended = pixels[index] * (1.0 - alpha) + np.asarray(color, dtype=np.float64) * alpha
    pixels[index] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def _draw_mask_contours(frames: np.ndarray, mask: np.ndarray, color, thickness: int) -> None:
    """In place: the outline of bool `mask` (H, W, T) drawn on frames (T, H, W, 3)."""
    for t in np.flatnonzero(mask.any(axis=(0, 1))):
        contours = mask_contours(mask[:, :, t])
        cv2.drawContours(frames[t], contours, -1, tuple(int(c) for c in color), thickness)


def mask_contours(mask: np.ndarray) -> list[np.ndarray]:
    """Outer and hole outlines of a bool (H, W) mask, as OpenCV int32 point arrays (x, y)."""
    contours, _ = cv2.findContours(
        np.ascontiguousarray(mask, dtype=np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE
    )
    return list(contours)


def side_by_side_frames(video: np.ndarray, left: np.ndarray, right: np.ndarray, style: str = "fill"):
    """uint8 RGB frames (H, 2 W, 3), one at a time: each frame of `video` uint8 (H, W, T) twice, with
    the masks `left` and `right` bool (H, W, T) drawn on its two copies (a model before and after)."""
    for t in range(video.shape[2]):
        frame = video[:, :, t:t + 1]
        yield np.concatenate([overlay_frames(frame, left[:, :, t:t + 1], style)[0],
                              overlay_frames(frame, right[:, :, t:t + 1], style)[0]], axis=1)


def write_mp4(frames, path, fps: float) -> Path:
    """Encode frames as an H.264 MP4 (libx264, yuv420p, faststart) that browsers play.

    frames: iterable of uint8 RGB (H, W, 3), all the same size; an odd width or height is
    padded by one edge pixel. fps: frames per second. Returns the path written.
    """
    path = Path(path)
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise InputError(f"{path}: no frames to write")
    height, width = _check_rgb_frame(first).shape[:2]
    with atomic_path(path) as tmp:
        _encode_h264(itertools.chain([first], frames), tmp, (height, width), fps)
    return path


def _encode_h264(frames, path: Path, size: tuple[int, int], fps: float) -> None:
    """Send uint8 RGB frames of `size` (H, W) to libx264 through imageio-ffmpeg."""
    height, width = size
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (width + width % 2, height + height % 2),
        fps=_check_fps(fps),
        codec="libx264",
        pix_fmt_out="yuv420p",
        quality=None,
        macro_block_size=2,
        ffmpeg_log_level="error",
        output_params=["-preset", "veryfast", "-crf", "23", "-movflags", "+faststart"],
    )
    writer.send(None)
    try:
        for frame in frames:
            writer.send(_padded_to_even(_check_rgb_frame(frame, size)))
    finally:
        writer.close()


def _check_rgb_frame(frame: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Raise InputError unless `frame` is uint8 (H, W, 3), of (H, W) = `size` when given."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"frames must be uint8 RGB (H, W, 3), got {frame.dtype} {frame.shape}")
    if size is not None and frame.shape[:2] != size:
        raise InputError(f"frame size {frame.shape[:2]} differs from the first frame's {size}")
    return frame


def _check_fps(fps: float) -> float:
    if not fps > 0:
        raise InputError(f"frame rate must be positive, got {fps}")
    return float(fps)


def _padded_to_even(frame: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) with the last row/column repeated where H or W is odd; C-contiguous."""
    height, width = frame.shape[:2]
    if height % 2 or width % 2:
        frame = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    return np.ascontiguousarray(frame)


def write_gif(frames, path, fps: float, max_side: int = GIF_MAX_SIDE) -> Path:
    """Encode frames as an animated GIF that loops forever.

    frames: iterable of uint8 RGB (H, W, 3), downscaled so the longer side is at most
    `max_side` pixels. Each frame lasts 1000 / fps ms (at least 20 ms, the shortest delay
    browsers honour). Returns the path written.
    """
    path = Path(path)
    small = [fit_within(_check_rgb_frame(frame), max_side) for frame in frames]
    if not small:
        raise InputError(f"{path}: no frames to write")
    duration_ms = max(MIN_GIF_FRAME_MS, round(1000.0 / _check_fps(fps)))
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, np.stack(small), extension=".gif", plugin="pillow", duration=duration_ms, loop=0)
    return path


def fit_within(image: np.ndarray, max_side: int) -> np.ndarray:
    """`image` (H, W, ...) resized (area interpolation) so its longer side is at most `max_side`."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def contact_sheet(clips: list, max_clips: int = 12, tile: int = 256) -> np.ndarray:
    """One image showing the first `max_clips` clips, one row of tiles per clip.

    clips: `mvcore.clip.Clip` objects. A labelled clip shows each annotated frame with its label
    contour (red) and box (yellow); an unlabelled clip shows 3 evenly spaced frames. Each tile is
    `tile` x `tile` pixels, the frame resized so its longer side is `tile`, with the clip name and
    frame index written on it. Returns uint8 RGB (rows * tile, columns * tile, 3).
    """
    rows = [_clip_tiles(clip, tile) for clip in clips[:max_clips]]
    if not rows:
        raise InputError("no clips to show")
    sheet = np.zeros((len(rows) * tile, max(map(len, rows)) * tile, 3), dtype=np.uint8)
    for i, tiles in enumerate(rows):
        for j, image in enumerate(tiles):
            sheet[i * tile : (i + 1) * tile, j * tile : (j + 1) * tile] = image
    return sheet


def _clip_tiles(clip, tile: int) -> list[np.ndarray]:
    """uint8 RGB (tile, tile, 3) tiles: the annotated frames, or 3 spread frames if unlabelled."""
    if clip.is_labelled:
        frames = [int(t) for t in clip.frames]
    else:
        frames = sorted(set(np.linspace(0, clip.n_frames - 1, 3).round().astype(int).tolist()))
    return [_frame_tile(clip, t, tile) for t in frames]


def _frame_tile(clip, t: int, tile: int) -> np.ndarray:
    """Frame `t` of `clip` with its label contour, box and caption, centred on a black tile."""
    fit = Letterbox(*clip.video.shape[:2], tile)
    (rows, cols), (top, left), scale = fit.inner, fit.offset, fit.scale
    image = cv2.cvtColor(resize_stack(clip.video[:, :, t:t + 1], rows, cols)[:, :, 0], cv2.COLOR_GRAY2RGB)
    if clip.is_labelled:
        contours = [_scaled_points(c, scale) for c in mask_contours(clip.label[:, :, t])]
        cv2.drawContours(image, contours, -1, LABEL_COLOR, 1)
    if clip.box is not None and clip.box.any():
        _draw_box(image, clip.box, scale)
    canvas = np.zeros((tile, tile, 3), dtype=np.uint8)
    canvas[top : top + rows, left : left + cols] = image
    _write_caption(canvas, f"{clip.name} t={t}")
    return canvas


def _scaled_points(points: np.ndarray, scale: float) -> np.ndarray:
    """OpenCV pixel coordinates scaled by `scale` (pixel centres kept aligned), int32."""
    return np.rint((points + 0.5) * scale - 0.5).astype(np.int32)


def _draw_box(image: np.ndarray, box: np.ndarray, scale: float) -> None:
    """In place: the bounding rectangle of bool `box` (H, W), scaled by `scale`, in yellow."""
    rows, cols = np.nonzero(box)
    corners = np.array([[cols.min(), rows.min()], [cols.max(), rows.max()]])
    (x0, y0), (x1, y1) = _scaled_points(corners, scale).tolist()
    cv2.rectangle(image, (x0, y0), (x1, y1), BOX_COLOR, 1)


def _write_caption(image: np.ndarray, text: str) -> None:
    """In place: white text with a black outline in the top-left corner."""
    for color, thickness in (((0, 0, 0), 3), (TEXT_COLOR, 1)):
        cv2.putText(
            image, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, thickness, cv2.LINE_AA
        )


def save_png(image: np.ndarray, path) -> Path:
    """Write a uint8 RGB (H, W, 3) or grey (H, W) image as PNG. Returns the path written."""
    path = Path(path)
    pixels = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    try:
        written = cv2.imwrite(str(path), pixels)
    except cv2.error as err:
        raise InputError(f"{path}: cannot write PNG ({err})") from err
    if not written:
        raise InputError(f"{path}: cannot write PNG")
    return path
