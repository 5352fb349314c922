"""One synthetic clip rendered frame by frame and labelled, as an AML train or test record."""

from __future__ import annotations

import string

import cv2
import numpy as np

from mvcore.synth.anatomy import Heart, _sample_heart
from mvcore.synth.codec import _sample_codec
from mvcore.synth.labels import (
    _amateur_label,
    _annotated_frames,
    _mitral_px,
    _motion_box,
    _observed_label,
)
from mvcore.synth.motion import Pose, _frame_pose
from mvcore.synth.render import _burned_in, _draw_leaflets, _render_frame, _sample_speckle, _tissue_map
from mvcore.synth.scan import Scan, _probe_grid, _sample_scan, _scan_conversion_maps


def _random_name(rng: np.random.Generator) -> str:
    """10 upper-case letters/digits."""
    alphabet = np.array(list(string.ascii_uppercase + string.digits))
    return "".join(rng.choice(alphabet, 10))


def _clip_size(rng: np.random.Generator, amateur: bool, scale: float) -> tuple[int, int, float, float, float]:
    """(rows, cols, fps, depth mm, fraction of the rows the fan reaches) of one clip."""
    if amateur:
        return 112, 112, float(rng.integers(44, 57)), rng.uniform(145, 200), rng.uniform(0.9, 1.05)
    rows = max(64, round(rng.uniform(579, 732) * scale))
    cols = max(64, round(rng.uniform(600, 1007) * scale))
    return rows, cols, round(float(rng.uniform(25, 60)), 1), rng.uniform(130, 200), rng.uniform(0.8, 0.96)


def _clip_length(rng: np.random.Generator, amateur: bool, fps: float, bpm: float) -> int:
    """Frames in a clip: 109-334 (amateur), else 39-159 but at least 1.15 beats."""
    if amateur:
        return int(rng.integers(109, 335))
    return int(np.clip(rng.integers(39, 160), int(np.ceil(1.15 * fps * 60 / bpm)), 159))


def _limit_thickness(heart: Heart, scan: Scan, scale: float) -> None:
    """Keep the mitral leaflets about 4-15 px thick at full resolution (times `scale`) on every frame."""
    mm_to_px = heart.scale * scan.px_per_mm / scale
    heart.valves["mitral"].width_limits = (2.3 / mm_to_px, 6.8 / mm_to_px)


def _render_video(rng: np.random.Generator, scan: Scan, heart: Heart, poses: list[Pose], fps: float,
                  amateur: bool, grid: np.ndarray, maps) -> np.ndarray:
    """uint8 (rows, cols, T): the heart at every pose as the scanner shows it, with burned-in text
    and ECG (7 in 10 expert clips), then the clip's compression. grid: probe mm (n_depth, n_beams, 2)
    of the polar samples; maps: the scan conversion maps."""
    refl, blood = _tissue_map(rng, heart)
    speckle = _sample_speckle(rng, blood, fps)
    overlay, cursor = (None, None) if amateur or rng.random() < 0.3 else _burned_in(rng, scan, heart, fps, len(poses))
    codec = _sample_codec(rng)
    frames = np.empty((len(poses), scan.rows, scan.cols), np.uint8)
    for t, pose in enumerate(poses):
        if t:
            speckle.step(rng)
        frame = _render_frame(scan, grid, maps, _draw_leaflets(refl, heart, pose), speckle, heart, pose, rng)
        if overlay is not None:
            frame = cv2.max(frame, overlay)
        if cursor is not None:
            cv2.circle(frame, tuple(int(v) for v in cursor[t]), max(2, scan.rows // 150), 255, -1)
        frames[t] = codec.code(frame)
    return np.ascontiguousarray(frames.transpose(1, 2, 0))


def _valve_truth(heart: Heart, scan: Scan, poses: list[Pose], fps: float, nodes: np.ndarray,
                 half_widths: np.ndarray) -> dict:
    """What the generator knows of the mitral valve at every frame (image px, (column, row)):
    fps, bpm, px_per_mm, opening (T,) 0 (shut) .. 1, the leaflets' tips and hinges (T, 2, 2) on
    their centre lines, opening_px (T,) tip to tip (not 0 when shut: the coapting leaflets' tips
    differ in length), annulus_px (T,) hinge to hinge, and the leaflets drawn as `_exact_label` draws
    are: nodes (T, 2, K + 1, 2) and half_widths (T, 2, K + 1)."""
    tips, hinges = nodes[:, :, -1], nodes[:, :, 0]
    return {"fps": fps, "bpm": heart.bpm, "px_per_mm": scan.px_per_mm,
            "opening": np.array([p.openings["mitral"] for p in poses]), "tips": tips, "hinges": hinges,
            "opening_px": np.linalg.norm(tips[:, 0] - tips[:, 1], axis=-1),
            "annulus_px": np.linalg.norm(hinges[:, 0] - hinges[:, 1], axis=-1),
            "nodes": nodes, "half_widths": half_widths}


def _make_clip(rng: np.random.Generator, amateur: bool, scale: float, observed: bool) -> dict:
    """One synthetic clip: name, video uint8 (H, W, T), label bool (H, W, T) on 3 frames, frames,
    box bool (H, W), fps, px_per_mm, centre_lines: the mitral leaflets (3, 2, K + 1, 2) px on the
    annotated frames, and truth: the valve at every frame (`_valve_truth`). `amateur`: 112 x 112
    and 109-334 frames, else high resolution times `scale`; `observed`: the leaflets as an observer
    sees them as labels (`_observed_label`), else an amateur's strokes."""
    name = _random_name(rng)
    rows, cols, fps, depth, fill = _clip_size(rng, amateur, scale)
    heart = _sample_heart(rng)
    n_frames = _clip_length(rng, amateur, fps, heart.bpm)
    scan = _sample_scan(rng, rows, cols, depth, fill)
    if not amateur:
        _limit_thickness(heart, scan, scale)
    poses = [_frame_pose(heart, t / fps) for t in range(n_frames)]
    grid, maps = _probe_grid(scan), _scan_conversion_maps(scan)
    video = _render_video(rng, scan, heart, poses, fps, amateur, grid, maps)
    leaflets = [_mitral_px(heart, scan, pose) for pose in poses]
    nodes, half_widths = np.stack([n for n, _ in leaflets]), np.stack([w for _, w in leaflets])
    frames = _annotated_frames(rng, np.array([p.openings["mitral"] for p in poses]))
    label = np.zeros(video.shape, bool)
    strokes = ([0, 1] if rng.random() < 0.7 else [0], int(rng.integers(3, 5)))
    for f in frames:
        label[:, :, f] = (_observed_label(leaflets[f], heart, scan, poses[f], grid, maps) if observed
                          else _amateur_label(rng, nodes[f], (rows, cols), *strokes))
    box = _motion_box(rng, nodes, half_widths, (rows, cols), amateur)
    return {"name": name, "video": video, "label": label, "frames": frames, "box": box, "fps": fps,
            "px_per_mm": scan.px_per_mm, "centre_lines": nodes[frames],
            "truth": _valve_truth(heart, scan, poses, fps, nodes, half_widths)}


def _check_dataset(dataset: str) -> None:
    """Refuse a dataset kind other than 'amateur' or 'expert'."""
    if dataset not in ("amateur", "expert"):
        raise ValueError(f"dataset must be 'amateur' or 'expert', not {dataset!r}")


def make_train_record(rng: np.random.Generator, dataset: str, scale: float = 1.0) -> dict:
    """An AML train record: name, video uint8 (H, W, T), box bool (H, W), label bool (H, W, T) set
    on the 3 `frames` only, dataset ('amateur' 112 x 112 strokes, or 'expert' high resolution
    times `scale`, observed labels) and fps (frames per second, float)."""
    _check_dataset(dataset)
    clip = _make_clip(rng, dataset == "amateur", scale, observed=dataset == "expert")
    return {"name": clip["name"], "video": clip["video"], "box": clip["box"], "label": clip["label"],
            "frames": clip["frames"], "dataset": dataset, "fps": clip["fps"]}


def make_test_record(rng: np.random.Generator, scale: float = 1.0,
                     dataset: str = "expert") -> tuple[dict, dict]:
    """A test clip with observed labels (`_observed_label`) on 3 frames: ({name, video, fps}, {name, frames, label}).
    `dataset` 'expert': high resolution times `scale`; 'amateur': 112 x 112, 109-334 frames."""
    test, label, _ = make_test_record_with_truth(rng, scale, dataset)
    return test, label


def make_test_record_with_truth(rng: np.random.Generator, scale: float = 1.0,
                                dataset: str = "expert") -> tuple[dict, dict, dict]:
    """`make_test_record`'s two records (the same clip for the same `rng`) and the valve's truth at
    every frame (`_valve_truth`)."""
    _check_dataset(dataset)
    clip = _make_clip(rng, dataset == "amateur", scale, observed=True)
    return ({"name": clip["name"], "video": clip["video"], "fps": clip["fps"]},
            {"name": clip["name"], "frames": clip["frames"], "label": clip["label"]}, clip["truth"])
