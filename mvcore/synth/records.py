"""One synthetic clip rendered frame by frame and labelled, as an AML train or test record."""

from __future__ import annotations

import string

import cv2
import numpy as np

from mvcore.synth.anatomy import Heart, _sample_heart
from mvcore.synth.labels import (
    _amateur_label,
    _annotated_frames,
    _exact_label,
    _mitral_px,
    _motion_box,
)
from mvcore.synth.motion import _frame_pose
from mvcore.synth.render import (
    TISSUE_SHAPE,
    Scan,
    _burned_in,
    _draw_leaflets,
    _probe_grid,
    _render_frame,
    _sample_scan,
    _scan_conversion_maps,
    _tissue_map,
)


def _random_name(rng: np.random.Generator) -> str:
    """10 upper-case letters/digits."""
    alphabet = np.array(list(string.ascii_uppercase + string.digits))
    return "".join(rng.choice(alphabet, 10))


def _clip_size(rng: np.random.Generator, amateur: bool, scale: float) -> tuple[int, int, float, float, float]:
    """(rows, cols, fps, depth mm, fraction of the rows the fan reaches) of one clip."""
    if amateur:
        return 112, 112, float(rng.integers(44, 57)), rng.uniform(150, 185), rng.uniform(0.97, 1.05)
    rows = max(64, round(rng.uniform(579, 732) * scale))
    cols = max(64, round(rng.uniform(600, 1007) * scale))
    return rows, cols, round(float(rng.uniform(25, 60)), 1), rng.uniform(130, 175), rng.uniform(0.85, 0.96)


def _limit_thickness(heart: Heart, scan: Scan, scale: float) -> None:
    """Clamp the mitral leaflets to 4-15 px thick at full resolution (times `scale`)."""
    mm_to_px = heart.scale * scan.px_per_mm / scale
    valve = heart.valves["mitral"]
    valve.half_width = np.clip(valve.half_width, 2.1 / mm_to_px, 7.3 / mm_to_px)


def _make_clip(rng: np.random.Generator, amateur: bool, scale: float) -> dict:
    """One synthetic clip: name, video uint8 (H, W, T), label bool (H, W, T) on 3 frames, frames,
    box bool (H, W), fps."""
    name = _random_name(rng)
    rows, cols, fps, depth, fill = _clip_size(rng, amateur, scale)
    heart = _sample_heart(rng)
    low = int(np.ceil(1.15 * fps * 60 / heart.bpm))
    n_frames = int(rng.integers(109, 335)) if amateur else int(np.clip(rng.integers(39, 160), low, 159))
    scan = _sample_scan(rng, rows, cols, depth, fill)
    if not amateur:
        _limit_thickness(heart, scan, scale)
    refl, grid, maps = _tissue_map(rng, heart), _probe_grid(scan), _scan_conversion_maps(scan)
    scatterers = rng.standard_normal(TISSUE_SHAPE + (2,), dtype=np.float32)
    overlay, cursor = (None, None) if amateur or rng.random() < 0.3 else _burned_in(rng, scan, heart, fps, n_frames)
    poses = [_frame_pose(heart, t / fps) for t in range(n_frames)]
    video = np.empty((rows, cols, n_frames), np.uint8)
    for t, pose in enumerate(poses):
        frame = _render_frame(scan, grid, maps, _draw_leaflets(refl, heart, pose), scatterers, heart, pose, rng)
        if overlay is not None:
            frame = cv2.max(frame, overlay)
        if cursor is not None:
            cv2.circle(frame, tuple(int(v) for v in cursor[t]), max(2, rows // 150), 255, -1)
        video[:, :, t] = frame
    leaflets = [_mitral_px(heart, scan, pose) for pose in poses]
    nodes = np.stack([n for n, _ in leaflets])
    frames = _annotated_frames(rng, np.array([p.openings["mitral"] for p in poses]))
    label = np.zeros(video.shape, bool)
    strokes = ([0, 1] if rng.random() < 0.7 else [0], int(rng.integers(3, 5)))
    for f in frames:
        label[:, :, f] = (_amateur_label(rng, nodes[f], (rows, cols), *strokes) if amateur
                          else _exact_label(*leaflets[f], (rows, cols)))
    box = _motion_box(rng, nodes, leaflets[0][1], (rows, cols), amateur)
    return {"name": name, "video": video, "label": label, "frames": frames, "box": box, "fps": fps}


def make_train_record(rng: np.random.Generator, dataset: str, scale: float = 1.0) -> dict:
    """An AML train record: name, video uint8 (H, W, T), box bool (H, W), label bool (H, W, T) set
    on the 3 `frames` only, dataset ('amateur' 112 x 112 strokes, or 'expert' high resolution
    times `scale`, exact labels) and fps (frames per second, float)."""
    if dataset not in ("amateur", "expert"):
        raise ValueError(f"dataset must be 'amateur' or 'expert', not {dataset!r}")
    clip = _make_clip(rng, dataset == "amateur", scale)
    return {"name": clip["name"], "video": clip["video"], "box": clip["box"], "label": clip["label"],
            "frames": clip["frames"], "dataset": dataset, "fps": clip["fps"]}


def make_test_record(rng: np.random.Generator, scale: float = 1.0) -> tuple[dict, dict]:
    """An expert-like high-resolution test clip: ({name, video, fps}, {name, frames, label})."""
    clip = _make_clip(rng, False, scale)
    return ({"name": clip["name"], "video": clip["video"], "fps": clip["fps"]},
            {"name": clip["name"], "frames": clip["frames"], "label": clip["label"]})
